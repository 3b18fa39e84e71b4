"""Stored messages: writing one, reading pages of them, over the socket and over HTTP."""
import threading

from flask import Blueprint, current_app, jsonify, request
from flask_login import current_user
from sqlalchemy.exc import IntegrityError

from .errors import ChatError
from .extensions import db, socketio
from .models import Message, Room
from .validation import optional_id, optional_limit, optional_room, payload_object

bp = Blueprint("history", __name__)

# Store-then-emit runs under one lock per process, so ids reach every client in the order
# they were given: a client that remembers the last id it saw can ask for "everything after".
_write_lock = threading.Lock()

MAX_ID = 2**63 - 1


def seed_text(sid, text):
    return f"クライアント {sid}: {text}"


def message_payload(message, room_name, client_id=None):
    """The seed's `data` string, plus the stored message's fields."""
    payload = {
        "data": seed_text(message.sender_sid, message.text),
        "id": message.id,
        "room": room_name,
        "sid": message.sender_sid,
        "user": {"id": message.user_id, "name": message.author_name},
        "text": message.text,
        "ts": message.created_at.isoformat(timespec="milliseconds"),
    }
    if client_id is not None:
        payload["client_id"] = client_id
    return payload


def room_id_for(name, create=False):
    """The id of the room called `name` (None for the global channel)."""
    room = db.session.execute(db.select(Room.id).filter_by(name=name)).scalar_one_or_none()
    if room is not None or not create:
        return room
    db.session.add(Room(name=name))
    try:
        db.session.commit()
    except IntegrityError:  # created meanwhile by another connection
        db.session.rollback()
    return db.session.execute(db.select(Room.id).filter_by(name=name)).scalar_one()


def store_and_send(identity, sid, room_id, room_name, text, client_id, event, to):
    """Store the message, then emit it; returns (payload, created). A retried client_id is stored once."""
    dedupe_key = f"{identity['id'] or 'anon'}:{client_id}" if client_id is not None else None
    with _write_lock:
        message = Message(
            room_id=room_id, user_id=identity["id"], author_name=identity["name"],
            sender_sid=sid, text=text, dedupe_key=dedupe_key,
        )
        db.session.add(message)
        try:
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
            existing = db.session.execute(db.select(Message).filter_by(dedupe_key=dedupe_key)).scalar_one_or_none()
            if existing is None:
                raise
            return message_payload(existing, room_name, client_id), False
        payload = message_payload(message, room_name, client_id)
        socketio.emit(event, payload, to=to)
    return payload, True


def messages_page(room_id, room_name, since=None, before=None, limit=50):
    """Messages of one channel, oldest first: after `since`, or the newest before `before`.

    Returns (payloads, has_more): has_more means older ones remain (before/latest) or newer
    ones remain (since).
    """
    query = db.select(Message).where(Message.room_id.is_(None) if room_id is None else Message.room_id == room_id)
    if since is not None:
        rows = db.session.execute(
            query.where(Message.id > since).order_by(Message.id).limit(limit + 1)
        ).scalars().all()
        has_more = len(rows) > limit
        rows = rows[:limit]
    else:
        if before is not None:
            query = query.where(Message.id < before)
        rows = db.session.execute(query.order_by(Message.id.desc()).limit(limit + 1)).scalars().all()
        has_more = len(rows) > limit
        rows = list(reversed(rows[:limit]))
    return [message_payload(m, room_name) for m in rows], has_more


def history_reply(room_name, since=None, before=None, limit=None):
    cfg = current_app.config
    if limit is None:
        limit = cfg["CHAT_REPLAY_LIMIT"] if since is not None else cfg["CHAT_HISTORY_ON_JOIN"]
    reply = {"room": room_name, "messages": [], "has_more": False}
    if since is not None:
        reply["since"] = since  # has_more: newer messages remain (ask again from the last id)
    if before is not None:
        reply["before"] = before  # has_more: older messages remain
    room_id = None
    if room_name is not None:
        room_id = room_id_for(room_name)
        if room_id is None:
            return reply
    reply["messages"], reply["has_more"] = messages_page(room_id, room_name, since, before, limit)
    return reply


@socketio.on("get_history")
def get_history_event(data=None, *_):
    data = payload_object({} if data is None else data)
    max_limit = current_app.config["CHAT_HISTORY_PAGE_MAX"]
    since, before = optional_id(data, "since"), optional_id(data, "before")
    if since is not None and before is not None:
        raise ChatError("invalid_query", "Give 'since' or 'before', not both.")
    reply = history_reply(optional_room(data), since, before, optional_limit(data, max_limit))
    return {"ok": True, **reply}


def http_error(status, code, message):
    return jsonify(error={"code": code, "message": message}), status


def query_int(name, minimum, maximum):
    raw = request.args.get(name)
    if raw is None:
        return None
    if not raw.isdigit() or not minimum <= int(raw) <= maximum:
        raise ChatError("invalid_query", f"'{name}' must be an integer from {minimum} to {maximum}.")
    return int(raw)


def http_history(room_name):
    if not current_user.is_authenticated and not current_app.config["CHAT_ALLOW_GUESTS"]:
        return http_error(401, "unauthorized", "Log in first.")
    try:
        since = query_int("since", 0, MAX_ID)
        before = query_int("before", 1, MAX_ID)
        limit = query_int("limit", 1, current_app.config["CHAT_HISTORY_PAGE_MAX"])
        if since is not None and before is not None:
            raise ChatError("invalid_query", "Give 'since' or 'before', not both.")
    except ChatError as exc:
        return http_error(400, exc.code, exc.message)
    if room_name is not None and room_id_for(room_name) is None:
        return http_error(404, "unknown_room", f"No room called '{room_name}'.")
    return jsonify(history_reply(room_name, since, before, limit or 50))


@bp.get("/api/rooms/<path:room>/messages")
def room_messages_api(room):
    return http_history(room)


@bp.get("/api/messages")
def global_messages_api():
    return http_history(None)
