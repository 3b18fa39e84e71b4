"""Pages of a thread: `get_history {room, thread, since?, before?, limit?}` and its HTTP twin.

Like a room's pages (chat/messages/history.py): oldest first; `since` (catch-up, lossless: every
reply after the id, has_more while more remain) or `before` (older replies), else the newest.
The reply also holds the root (`root`, its payload with the thread's summary).
"""

from flask import Blueprint, current_app, jsonify, request
from sqlalchemy import bindparam, select

from ..database import read_connection
from ..errors import ChatError, http_reader_id
from ..messages.payloads import stored_payloads
from ..models import Message
from ..rooms.access import readable_here, readable_room
from ..validation import check_text, optional_id, optional_limit, room_name
from .replies import largest_id

bp = Blueprint("threads", __name__)


def _statement(kind):
    c = Message.__table__.c
    query = select(Message.__table__).where(c.thread_id == bindparam("thread_id"))
    if kind == "since":
        query = query.where(c.id > bindparam("bound")).order_by(c.id)
    elif kind == "before":
        query = query.where(c.id < bindparam("bound")).order_by(c.id.desc())
    else:
        query = query.order_by(c.id.desc())
    return query.limit(bindparam("limit"))


PAGES = {kind: _statement(kind) for kind in ("latest", "since", "before")}
ROOT = select(Message.__table__).where(Message.__table__.c.id == bindparam("id"))


def thread_page(ref, thread_id, since=None, before=None, limit=None):
    """A page of the thread `thread_id` of the room `ref` (which the caller may read)."""
    cfg = current_app.config
    if limit is None:
        limit = cfg["CHAT_REPLAY_LIMIT"] if since is not None else cfg["CHAT_HISTORY_ON_JOIN"] or 50
    largest = largest_id()
    if since is not None and before is not None:
        raise ChatError("invalid_query", "Give 'since' or 'before', not both.")
    with read_connection() as connection:
        root = connection.execute(ROOT, {"id": thread_id}).first() if 0 < thread_id <= largest else None
        if root is None or root.room_id != ref.id or root.thread_id is not None:
            raise ChatError("not_found", f"No thread {thread_id} in '{ref.name}' that you can read.")
        reply = {"room": ref.name, "thread": thread_id, "messages": [], "has_more": False}
        if since is not None:
            reply["since"] = since
        if before is not None:
            reply["before"] = before
        if since is not None and since >= largest:
            rows = []
        else:
            kind = "since" if since is not None else "before" if before is not None else "latest"
            bound = {} if kind == "latest" else {"bound": min(since if since is not None else before, largest)}
            rows = connection.execute(PAGES[kind], {"thread_id": thread_id, "limit": limit + 1, **bound}).all()
        reply["has_more"] = len(rows) > limit
        rows = rows[:limit]
        if since is None:
            rows.reverse()
        payloads = stored_payloads([root, *rows], ref.name, connection)
    reply["root"], reply["messages"] = payloads[0], payloads[1:]
    return reply


def thread_history(data):
    """get_history with `thread`: the room is required and must be readable here."""
    thread_id = optional_id(data, "thread")
    limit = optional_limit(data, current_app.config["CHAT_HISTORY_PAGE_MAX"])
    ref = readable_here(room_name(data))
    return {"ok": True, **thread_page(ref, thread_id, optional_id(data, "since"), optional_id(data, "before"), limit)}


def query_int(name, minimum, maximum):
    """As chat/messages/history.py's (which imports this module)."""
    raw = request.args.get(name)
    if raw is None:
        return None
    if not raw.isdigit() or not minimum <= int(raw) <= maximum:
        raise ChatError("invalid_query", f"'{name}' must be an integer from {minimum} to {maximum}.")
    return int(raw)


@bp.get("/api/rooms/<path:room>/threads/<int:thread_id>/messages")
def thread_messages_api(room, thread_id):
    user_id = http_reader_id()
    check_text(room, "room")
    ref = readable_room(room, user_id)
    since = query_int("since", 0, 2**63 - 1)
    before = query_int("before", 1, 2**63 - 1)
    limit = query_int("limit", 1, current_app.config["CHAT_HISTORY_PAGE_MAX"])
    return jsonify(thread_page(ref, thread_id, since, before, limit or 50))
