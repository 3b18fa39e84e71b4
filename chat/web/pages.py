"""HTTP: the chat page and the seed's JSON greeting."""

from flask import Blueprint, current_app, jsonify, make_response, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf.csrf import generate_csrf

from ..i18n import LANG_COOKIE, LANGUAGES, STRINGS, page_language

bp = Blueprint("pages", __name__)


@bp.get("/")
def index():
    if not current_user.is_authenticated:
        return redirect(url_for("users.login_page", next=request.full_path.rstrip("?")))
    lang, explicit = page_language()
    settings = {
        "maxMessageLength": current_app.config["CHAT_MAX_MESSAGE_LENGTH"],
        "maxRoomLength": current_app.config["CHAT_MAX_ROOM_LENGTH"],
        "maxNameLength": current_app.config["CHAT_MAX_NAME_LENGTH"],
        "typingInterval": current_app.config["CHAT_TYPING_INTERVAL"],
        "historyPageMax": current_app.config["CHAT_HISTORY_PAGE_MAX"],
        "maxSearchLength": current_app.config.get("CHAT_MAX_SEARCH_LENGTH", 200),
        "maxUploadSize": current_app.config.get("CHAT_MAX_UPLOAD_SIZE", 10 * 1024 * 1024),
        "csrfToken": generate_csrf(),  # uploads and the HTTP API send it as X-CSRFToken
        "user": {**current_user.public(), "admin": bool(current_user.is_admin)},
    }
    response = make_response(
        render_template("index.html", lang=lang, t=STRINGS[lang], languages=LANGUAGES, settings=settings)
    )
    if explicit:
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 24 * 3600, samesite="Lax")
    response.vary.add("Accept-Language")
    response.vary.add("Cookie")
    return response


@bp.get("/api")
def api_root():
    """The seed's greeting at `/` moved here, since `/` is now the page."""
    return jsonify(message="SocketIO Test Backend is running")
