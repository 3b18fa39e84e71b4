"""HTTP: the chat page, health, and the seed's JSON greeting."""
from flask import Blueprint, jsonify, make_response, render_template

from .i18n import LANG_COOKIE, LANGUAGES, STRINGS, page_language

bp = Blueprint("pages", __name__)


@bp.get("/")
def index():
    lang, explicit = page_language()
    response = make_response(
        render_template("index.html", lang=lang, t=STRINGS[lang], languages=LANGUAGES)
    )
    if explicit:
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 24 * 3600, samesite="Lax")
    response.vary.add("Accept-Language")
    response.vary.add("Cookie")
    return response


@bp.get("/health")
def health():
    return jsonify(status="healthy")


@bp.get("/api")
def api_root():
    """The seed's greeting at `/` moved here, since `/` is now the page."""
    return jsonify(message="SocketIO Test Backend is running")
