"""The page's two languages: chosen by ?lang=, then a cookie, then Accept-Language."""

from flask import request, url_for

from .i18n_en import EN
from .i18n_ja import JA

LANGUAGES = ("ja", "en")
LANG_COOKIE = "lang"

STRINGS = {"ja": JA, "en": EN}


def strings(lang):
    return STRINGS[lang]


def page_language():
    """The language for this request, and whether it was chosen explicitly (to remember it)."""
    chosen = request.args.get("lang")
    if chosen in LANGUAGES:
        return chosen, True
    remembered = request.cookies.get(LANG_COOKIE)
    if remembered in LANGUAGES:
        return remembered, False
    return request.accept_languages.best_match(LANGUAGES, default="en"), False


def lang_url(code):
    """This page in another language, keeping its other query arguments (such as `next`)."""
    args = {k: v for k, v in request.args.items() if k != "lang"}
    endpoint = request.endpoint if request.method == "GET" else "users.login_page"
    if request.method != "GET" and request.form.get("next"):
        args["next"] = request.form["next"]
    return url_for(endpoint, **args, lang=code)


def init_app(app):
    app.context_processor(lambda: {"lang_url": lang_url, "languages": LANGUAGES})
