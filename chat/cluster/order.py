"""Order across nodes: each channel's messages stored one transaction at a time, and `prev`."""

from contextlib import contextmanager

from flask import current_app
from sqlalchemy import func, select, text

from ..models import Message

# Advisory lock namespace for "one channel's messages are stored one at a time" (any int32).
LOCK_NAMESPACE = 0x43484154  # "CHAT"


class ChannelOrder:
    """What `channel_order` found: each channel's newest id before this transaction's messages."""

    __slots__ = ("prev",)

    def __init__(self, prev=None):
        self.prev = prev  # {room id: newest id or None}; None when not tracked (no queue)

    def stamp(self, payload, room_id):
        """Give the payload its `prev`; call in id order (the next message of the channel follows it)."""
        if self.prev is not None:
            payload["prev"] = self.prev[room_id]
            self.prev[room_id] = payload["id"]


@contextmanager
def channel_order(room_ids, connection):
    """Store each channel's messages one at a time across nodes (inside the open transaction).

    room_ids: the channels this transaction writes to (None: the global channel); connection:
    the transaction's. Only with a message queue (one node's process lock is enough otherwise,
    and then this costs nothing).
    On PostgreSQL a transaction-level advisory lock on (namespace, room id) per channel, taken in
    one order by every node and released by the commit, makes ids grow in commit order within a
    channel, so `prev` is exact and a client asking `since` its last id can miss nothing.
    (SQLite cannot be shared by nodes.)
    """
    if not current_app.config.get("CHAT_MESSAGE_QUEUE"):
        yield ChannelOrder()
        return
    if connection.dialect.name == "postgresql":
        for key in sorted(room_id or 0 for room_id in room_ids):
            connection.execute(text("SELECT pg_advisory_xact_lock(:ns, :key)"), {"ns": LOCK_NAMESPACE, "key": key})
    yield ChannelOrder({room_id: previous_id(room_id, connection) for room_id in room_ids})


def previous_id(room_id, connection):
    """The id of the channel's newest stored message (None: the channel is empty)."""
    query = select(func.max(Message.id))
    query = query.where(Message.room_id.is_(None) if room_id is None else Message.room_id == room_id)
    return connection.execute(query).scalar()
