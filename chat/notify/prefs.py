"""Who wants to hear about what: the notification level of a user in a room.

Only the core is imported here, so that every capability (push, desktop notifications, the
sidebar's unread counts) may call it without an import loop.
"""

from sqlalchemy import select

from ..errors import ChatError
from ..extensions import db
from ..models import Room
from .models import NotificationPref

LEVELS = ("all", "mentions", "nothing")
# A direct conversation is all about its two people; a room speaks to many.
DEFAULT_DM, DEFAULT_ROOM = "all", "mentions"


def default_level(kind):
    return DEFAULT_DM if kind == "dm" else DEFAULT_ROOM


def notification_level(user_id, room_id):
    """ "all", "mentions" or "nothing": what `user_id` wants to hear of `room_id` (None: the
    global channel, which has no preference and counts as a room)."""
    if user_id is None or room_id is None:
        return DEFAULT_ROOM
    query = (
        select(NotificationPref.level, Room.kind)
        .select_from(Room)
        .outerjoin(NotificationPref, (NotificationPref.room_id == Room.id) & (NotificationPref.user_id == user_id))
    )
    row = db.session.execute(query.where(Room.id == room_id)).first()
    if row is None:
        return DEFAULT_ROOM
    return row.level or default_level(row.kind)


def notification_levels(user_id, rooms):
    """{room id: level} for several rooms at once (each a Room or a RoomRef with .id and .kind)."""
    rooms = list(rooms)
    stored = {}
    if user_id is not None and rooms:
        query = select(NotificationPref.room_id, NotificationPref.level).where(
            NotificationPref.user_id == user_id, NotificationPref.room_id.in_([room.id for room in rooms])
        )
        stored = dict(db.session.execute(query).all())
    return {room.id: stored.get(room.id) or default_level(getattr(room, "kind", "room")) for room in rooms}


def check_level(value):
    if not isinstance(value, str) or value not in LEVELS:
        raise ChatError("invalid_level", 'The notification level must be "all", "mentions" or "nothing".')
    return value


def store_level(user_id, room, level):
    """Store `level` for `user_id` in `room` (the default removes the row); the caller commits."""
    row = db.session.get(NotificationPref, (user_id, room.id))
    if level == default_level(room.kind):
        if row is not None:
            db.session.delete(row)
        return
    if row is None:
        db.session.add(NotificationPref(user_id=user_id, room_id=room.id, level=level))
    else:
        row.level = level
