"""Pinning: `pin_message`, `unpin_message`, `get_pins` and their HTTP twins.

Check (a member of the message's room, who may write there) → do (one transaction) → tell the
room (`pins_changed`). Outsiders get the same not_found as for a message they cannot read.
"""

import logging

from flask import Blueprint, current_app, jsonify
from sqlalchemy.exc import IntegrityError

from ..admin.policy import refuse_write
from ..errors import ChatError, http_reader_id
from ..extensions import db, socketio
from ..messages.edits import http_user_id, message_id, not_found, readable_message, require_identified
from ..models import utc_now
from ..ratelimit import rate_limited
from ..rooms.access import identity, is_member, readable_room
from ..validation import RoomRequest, payload_object
from .models import Pin
from .store import announce, pin_count, room_pins

log = logging.getLogger("chat.pins")
bp = Blueprint("pins", __name__)


def pinnable(user_id, message_id_value):
    """(message, room) a member of the room may pin or unpin; an error otherwise."""
    require_identified(user_id)
    message, room = readable_message(message_id_value, user_id)
    if room is None:
        raise ChatError("forbidden", "Only messages of a room can be pinned.")
    if not is_member(room.id, user_id):
        if room.private:  # removed meanwhile: as for any message one cannot read
            raise not_found(message_id_value)
        raise ChatError("forbidden", "Only members of the message's room can pin or unpin it.")
    if message.deleted_at is not None:
        raise ChatError("deleted", "This message was deleted.")
    refuse_write(user_id, room.id)
    return message, room


def set_pinned(user_id, message_id_value, pinned):
    """Pin or unpin a message; returns `pins_changed`'s payload (sent only when something changed)."""
    try:
        message, room = pinnable(user_id, message_id_value)
        row = db.session.get(Pin, message.id)
        if pinned == (row is not None):
            payload = {"room": room.name, "pins": room_pins(room)}
            db.session.rollback()
            return payload
        if pinned:
            limit = current_app.config["CHAT_MAX_PINS_PER_ROOM"]
            if pin_count(room.id) >= limit:
                raise ChatError("too_many_pins", f"A room can have at most {limit} pinned messages.")
            db.session.add(Pin(message_id=message.id, room_id=room.id, pinned_by=user_id, pinned_at=utc_now()))
        else:
            db.session.delete(row)
        db.session.commit()
    except IntegrityError:  # pinned meanwhile from another tab
        db.session.rollback()
        raise ChatError("conflict", "This pin changed meanwhile; try again.") from None
    except Exception:
        db.session.rollback()
        raise
    log.info("%s message=%s room=%s by user=%s", "pin" if pinned else "unpin", message.id, room.name, user_id)
    return announce(room)


def pins_of(name, user_id):
    """`get_pins`'s answer for a room the user may read."""
    room = readable_room(name, user_id)
    return {"ok": True, "room": room.name, "pins": room_pins(room)}


@socketio.on("pin_message")
@rate_limited
def pin_message_event(data=None, *_):
    target = message_id(payload_object(data))
    return {"ok": True, "id": target, **set_pinned(identity()["id"], target, True)}


@socketio.on("unpin_message")
@rate_limited
def unpin_message_event(data=None, *_):
    target = message_id(payload_object(data))
    return {"ok": True, "id": target, **set_pinned(identity()["id"], target, False)}


@socketio.on("get_pins")
@rate_limited
def get_pins_event(data=None, *_):
    return pins_of(RoomRequest.parse(data).room, identity()["id"])


@bp.post("/api/messages/<int:message_id_value>/pin")
def pin_api(message_id_value):
    return jsonify(ok=True, id=message_id_value, **set_pinned(http_user_id(), message_id_value, True))


@bp.delete("/api/messages/<int:message_id_value>/pin")
def unpin_api(message_id_value):
    return jsonify(ok=True, id=message_id_value, **set_pinned(http_user_id(), message_id_value, False))


@bp.get("/api/rooms/<path:name>/pins")
def pins_api(name):
    return jsonify(pins_of(name, http_reader_id()))
