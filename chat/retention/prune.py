"""Pruning: messages older than their room's retention go, with their uploads' files.

The retention of a room is the smaller of CHAT_RETENTION_DAYS (0: none) and the room's own
`retention_days` (None: none); the global channel has the global one. A room may thus keep its
messages for less time than the operator's setting, never for longer.

A pruned message's pin goes with it; each room that lost a pin hears `pins_changed` once, after
the prune (through the message queue, like every pin change, so every node's clients hear it).
"""

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from flask import current_app
from sqlalchemy import delete, or_, select

from ..extensions import db
from ..models import Mention, Message, Reaction, Room, Upload, utc_now
from ..pins.models import Pin
from ..pins.store import announce as announce_pins
from ..uploads.files import discard

log = logging.getLogger("chat.retention")
BATCH = 500


@dataclass
class Pruned:
    """What one prune removed."""

    messages: int = 0
    files: int = 0
    rooms: dict = field(default_factory=dict)  # room name ("" for the global channel) -> messages
    pinned_rooms: set = field(default_factory=set)  # ids of the rooms that lost a pin

    def add(self, room_name, messages):
        self.messages += messages
        self.rooms[room_name] = self.rooms.get(room_name, 0) + messages


def effective_days(global_days, room_days):
    """The retention that applies: the smaller of the two that are set; None keeps forever."""
    kept = [d for d in (global_days or None, room_days) if d]
    return min(kept) if kept else None


def cutoffs(now):
    """[(room id or None, cutoff)]: every channel with a retention.

    Rooms without their own setting are covered by one "global" condition (room_id None stands
    for the global channel and every room that follows the global setting)."""
    global_days = current_app.config["CHAT_RETENTION_DAYS"]
    found = []
    rooms = db.session.execute(select(Room.id, Room.retention_days).where(Room.retention_days.is_not(None)))
    for room_id, days in rooms:
        found.append((room_id, now - timedelta(days=effective_days(global_days, days))))
    if global_days:
        found.append((None, now - timedelta(days=global_days)))
    return found


def old_messages(room_id, cutoff):
    """A batch of (message id, upload id, room id) older than the cutoff in that channel (room_id
    None: the global channel and the rooms without a retention of their own)."""
    query = select(Message.id, Message.upload_id, Message.room_id).where(Message.created_at < cutoff)
    if room_id is not None:
        query = query.where(Message.room_id == room_id)
    else:
        own = select(Room.id).where(Room.retention_days.is_not(None))
        query = query.where(or_(Message.room_id.is_(None), Message.room_id.not_in(own)))
    return db.session.execute(query.order_by(Message.id).limit(BATCH)).all()


def remove_batch(rows, pinned_rooms=None):
    """Delete these messages (their mentions, reactions, pins and uploads) and the uploads' files;
    the ids of the rooms whose pins these were go into `pinned_rooms`."""
    ids = [row[0] for row in rows]
    upload_ids = [row[1] for row in rows if row[1] is not None]
    uploads = db.session.execute(select(Upload).where(Upload.id.in_(upload_ids))).scalars().all() if upload_ids else []
    pinned = db.session.execute(select(Pin.room_id).where(Pin.message_id.in_(ids)).distinct()).scalars().all()
    if pinned:
        db.session.execute(delete(Pin).where(Pin.message_id.in_(ids)))
        if pinned_rooms is not None:
            pinned_rooms.update(pinned)
    db.session.execute(delete(Mention).where(Mention.message_id.in_(ids)))
    db.session.execute(delete(Reaction).where(Reaction.message_id.in_(ids)))
    db.session.execute(delete(Message).where(Message.id.in_(ids)))  # the search index follows (triggers, GIN)
    if upload_ids:
        db.session.execute(delete(Upload).where(Upload.id.in_(upload_ids)))
    db.session.commit()
    for upload in uploads:  # after the commit: a file is never gone while its message is still served
        discard(upload)
    return len(ids), len(uploads)


def prune(now=None):
    """Remove every message past its retention, in batches; returns Pruned."""
    now = now or utc_now()
    result = Pruned()
    names = dict(db.session.execute(select(Room.id, Room.name)).all())
    for room_id, cutoff in cutoffs(now):
        while rows := old_messages(room_id, cutoff):
            _, files = remove_batch(rows, result.pinned_rooms)
            result.files += files
            for row in rows:
                result.add(names.get(row[2], ""), 1)
    for room_id in sorted(result.pinned_rooms):  # once per room, after every batch
        room = db.session.get(Room, room_id)
        if room is not None:  # not deleted meanwhile
            announce_pins(room)
    if result.messages:
        log.info("pruned %d messages and %d files", result.messages, result.files)
    return result
