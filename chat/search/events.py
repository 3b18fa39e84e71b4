"""Search over the socket (`search`) and HTTP (`GET /api/search`)."""

from flask import Blueprint, current_app, jsonify, request

from ..errors import ChatError, http_reader_id
from ..extensions import socketio
from ..messages.history import query_int
from ..ratelimit import rate_limited
from ..rooms.access import identity, readable_room
from ..validation import optional_limit, optional_room, payload_object, text_field
from .query import DEFAULT_LIMIT, MAX_LIMIT, search_messages

bp = Blueprint("search", __name__)


def query_text(data):
    """`q`: 1..CHAT_MAX_SEARCH_LENGTH characters, searched without surrounding spaces."""
    return text_field(data, "q", current_app.config["CHAT_MAX_SEARCH_LENGTH"]).strip()


def search_room_id(name, user_id):
    """The id of the room to search in, if the user can read it; not_found otherwise."""
    if name is None:
        return None
    try:
        return readable_room(name, user_id).id
    except ChatError:
        raise ChatError("not_found", f"No room called '{name}' that you can read.") from None


def search_reply(user_id, q, room=None, limit=None):
    results = search_messages(user_id, q, search_room_id(room, user_id), limit or DEFAULT_LIMIT)
    return {"q": q, "results": results}


@socketio.on("search")
@rate_limited  # a read, but a LIKE scan costs the database more than a write: it spends the same budget
def search_event(data=None, *_):
    data = payload_object(data)
    q = query_text(data)
    reply = search_reply(identity()["id"], q, optional_room(data), optional_limit(data, MAX_LIMIT))
    return {"ok": True, **reply}


@bp.get("/api/search")
def search_api():
    user_id = http_reader_id()
    q = query_text({"q": request.args["q"]} if "q" in request.args else {})
    room = optional_room({"room": request.args.get("room") or None})
    limit = query_int("limit", 1, MAX_LIMIT)
    return jsonify(search_reply(user_id, q, room, limit))  # a room one cannot read: not_found (404)
