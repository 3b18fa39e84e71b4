"""A room's pins as the page shows them, and telling the room when they change.

Only the core and the message payloads are imported: chat/messages/edits.py drops a deleted
message's pin through here.
"""

from sqlalchemy import delete, select

from ..cluster.queue import emit_stored
from ..extensions import db
from ..messages.payloads import stored_payloads
from ..models import Message, Room
from ..rooms.access import ref_for
from .models import Pin

CHANGED_EVENT = "pins_changed"


def room_pins(room):
    """The pinned messages of `room` (a Room or a RoomRef), newest pin first: each the message's
    payload with `pinned_by` (a user id) and `pinned_at`."""
    rows = db.session.execute(
        select(Message, Pin.pinned_by, Pin.pinned_at)
        .join(Pin, Pin.message_id == Message.id)
        .where(Pin.room_id == room.id, Message.deleted_at.is_(None))
        .order_by(Pin.pinned_at.desc(), Pin.message_id.desc())
    ).all()
    payloads = stored_payloads([row.Message for row in rows], room.name)
    for payload, row in zip(payloads, rows, strict=True):
        payload["pinned_by"] = row.pinned_by
        payload["pinned_at"] = row.pinned_at.isoformat()
    return payloads


def pin_count(room_id):
    return len(db.session.execute(select(Pin.message_id).where(Pin.room_id == room_id)).all())


def drop_pin(message_id):
    """Unpin a message (deleted, say) in the caller's transaction; True when it was pinned."""
    return db.session.execute(delete(Pin).where(Pin.message_id == message_id)).rowcount > 0


def announce(room):
    """Send `pins_changed {room, pins}` to the room's members, on every node."""
    if isinstance(room, int):
        room = db.session.get(Room, room)
    payload = {"room": room.name, "pins": room_pins(room)}
    emit_stored(CHANGED_EVENT, payload, list(ref_for(room).targets))
    return payload
