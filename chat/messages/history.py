"""Pages of a channel's stored messages: on join, `get_history`, and over HTTP."""

from flask import Blueprint, current_app, jsonify, request
from sqlalchemy import bindparam, select

from ..database import read_connection
from ..errors import ChatError, http_reader_id
from ..extensions import db, socketio
from ..models import Message
from ..rooms.access import readable_here, readable_room
from ..threads.history import thread_history
from ..validation import check_text, optional_id, optional_limit, optional_room, payload_object
from .payloads import stored_payloads
from .store import MAX_ID

bp = Blueprint("history", __name__)


def largest_id():
    """The largest id the messages table can hold: `id` is a 32-bit SERIAL on PostgreSQL (a larger
    bound parameter is an error there, not a miss); SQLite's rowid has 64 bits. Asked of the
    engine: the session's get_bind() began a session per join for it."""
    return 2**31 - 1 if db.engine.dialect.name == "postgresql" else MAX_ID


def _page_statement(global_channel, kind):
    """One of the six page queries, built once (every join runs one: building and keying a
    statement per call cost more than running it). Core rows, not ORM objects: a page is only
    read, and its rows have the attributes message_payload reads."""
    c = Message.__table__.c
    channel = c.room_id.is_(None) if global_channel else c.room_id == bindparam("room_id")
    query = select(Message.__table__).where(channel)
    if kind == "since":
        query = query.where(c.id > bindparam("bound")).order_by(c.id)
    elif kind == "before":
        query = query.where(c.id < bindparam("bound")).order_by(c.id.desc())
    else:
        query = query.order_by(c.id.desc())
    return query.limit(bindparam("limit"))


PAGE_QUERIES = {(g, k): _page_statement(g, k) for g in (False, True) for k in ("latest", "since", "before")}


def messages_page(room_id, room_name, since=None, before=None, limit=50, upto=None):
    """Messages of one channel, oldest first: after `since`, or the newest before `before`;
    none past `upto` (the newest a joining connection did not get live).

    Returns (payloads, has_more): has_more means older ones remain (before/latest) or newer
    ones remain (since).
    """
    if upto is not None and since is None and (before is None or before > upto):
        before = upto + 1
    # Ids are 32-bit on PostgreSQL (64-bit on SQLite): a bound past the largest storable id
    # means "nothing newer" / "from the newest", not a database error.
    largest = largest_id()
    if since is not None and since >= largest:
        return [], False
    if before is not None and before > largest:
        before = None
    kind = "since" if since is not None else "before" if before is not None else "latest"
    params = {"limit": limit + 1}
    if kind != "latest":
        params["bound"] = since if since is not None else before
    if room_id is not None:
        params["room_id"] = room_id
    with read_connection() as connection:
        rows = connection.execute(PAGE_QUERIES[room_id is None, kind], params).all()
        has_more = len(rows) > limit
        rows = rows[:limit]
        if kind == "since" and upto is not None and rows and rows[-1].id > upto:
            rows = [row for row in rows if row.id <= upto]
            has_more = False  # the newer ones come live
        if kind != "since":
            rows.reverse()
        payloads = stored_payloads(rows, room_name, connection)
    return payloads, has_more


def history_reply(room_name, room_id=None, since=None, before=None, limit=None, upto=None):
    """A page of a channel's history; the caller has checked that it may be read. upto: the
    newest id to include (on join: what the connection did not get live)."""
    cfg = current_app.config
    if limit is None:
        limit = cfg["CHAT_REPLAY_LIMIT"] if since is not None else cfg["CHAT_HISTORY_ON_JOIN"]
    reply = {"room": room_name, "messages": [], "has_more": False}
    if since is not None:
        reply["since"] = since  # has_more: newer messages remain (ask again from the last id)
    if before is not None:
        reply["before"] = before  # has_more: older messages remain
    reply["messages"], reply["has_more"] = messages_page(room_id, room_name, since, before, limit, upto)
    return reply


@socketio.on("get_history")
def get_history_event(data=None, *_):
    data = payload_object({} if data is None else data)
    if data.get("thread") is not None:
        return thread_history(data)  # a thread's page (chat/threads/history.py)
    max_limit = current_app.config["CHAT_HISTORY_PAGE_MAX"]
    since, before = optional_id(data, "since"), optional_id(data, "before")
    if since is not None and before is not None:
        raise ChatError("invalid_query", "Give 'since' or 'before', not both.")
    name = optional_room(data)
    room_id = None
    if name is not None:
        ref = readable_here(name)
        name, room_id = ref.name, ref.id
    reply = history_reply(name, room_id, since, before, optional_limit(data, max_limit))
    return {"ok": True, **reply}


def query_int(name, minimum, maximum):
    raw = request.args.get(name)
    if raw is None:
        return None
    if not raw.isdigit() or not minimum <= int(raw) <= maximum:
        raise ChatError("invalid_query", f"'{name}' must be an integer from {minimum} to {maximum}.")
    return int(raw)


def http_history(room_name):
    user_id = http_reader_id()
    since = query_int("since", 0, MAX_ID)
    before = query_int("before", 1, MAX_ID)
    limit = query_int("limit", 1, current_app.config["CHAT_HISTORY_PAGE_MAX"])
    if since is not None and before is not None:
        raise ChatError("invalid_query", "Give 'since' or 'before', not both.")
    room_id = None
    if room_name is not None:
        check_text(room_name, "room")  # a text field like any other (PostgreSQL cannot even look NUL up)
        ref = readable_room(room_name, user_id)  # unknown_room: 404
        room_name, room_id = ref.name, ref.id
    return jsonify(history_reply(room_name, room_id, since, before, limit or 50))


@bp.get("/api/rooms/<path:room>/messages")
def room_messages_api(room):
    return http_history(room)


@bp.get("/api/messages")
def global_messages_api():
    return http_history(None)
