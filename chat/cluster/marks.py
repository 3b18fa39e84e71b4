"""Where a joining connection's history stops: the newest message of the room this node had
handed to its clients when the connection entered the room (later ones reach it live).

With a message queue, the node's resequencer knows it (chat/cluster/reader.py); one node
without a queue keeps it here, per app.
"""

import threading

from flask import current_app
from sqlalchemy import func, select

from ..database import read_connection
from ..extensions import socketio
from ..models import Message


class DeliveredMarks:
    """One node without a queue: each channel's newest message id handed to the clients.

    A channel with none handed out since the process started has had nothing delivered live by
    this process: its bound is the newest id stored when first asked (what is stored past it and
    not sent yet arrives live). Bounded: when it forgets, the bound starts again from the newest
    id, which can cost a joining client a duplicate it drops by id, never a message.
    """

    CHANNELS = 100_000

    def __init__(self):
        self.last = {}
        self.start = None  # the newest stored id when first asked, after the last reset
        # One query for it: a connect storm's joins all ask before the first answer.
        self.start_lock = threading.Lock()

    def handed(self, channel, message_id):
        if len(self.last) >= self.CHANNELS:
            self.last.clear()
            self.start = None
        self.last[channel] = message_id

    def upto(self, channel):
        found = self.last.get(channel)
        if found is not None:
            return found
        start = self.start
        if start is None:
            with self.start_lock:
                start = self.start
                if start is None:
                    with read_connection() as connection:
                        start = connection.execute(select(func.max(Message.id))).scalar() or 0
                    self.start = start
        return start


def marks():
    marks = current_app.extensions.get("chat_delivered")
    if marks is None:
        marks = current_app.extensions["chat_delivered"] = DeliveredMarks()
    return marks


def delivered_upto(room_name):
    """The newest id of the channel (a room's name, None: the global channel) this node has
    handed to its clients, or None when it does not know.

    A connection that has just entered the room gets every later message live; its history on
    join stops at this id, so it gets each message once. Read it after entering the room: read
    later, it only grows, and the overlap is a duplicate the client drops by id, never a gap.
    """
    key = room_name or ""
    server = socketio.server
    # With a message queue, the node's resequencer (chat/cluster/reader.py) knows.
    from_queue = getattr(server.manager, "delivered_upto", None) if server is not None else None
    if from_queue is not None:
        return from_queue(key)
    return marks().upto(key)


def seed_delivered(room_name, newest):
    """A joining connection's history read, made when delivered_upto did not know, found the
    channel's messages up to `newest` (0: none stored): with a message queue the node holds a
    later live message whose predecessor has not come yet, so that the channel's first live
    messages go out in id order too (chat/cluster/sequence.py, Resequencer.seed)."""
    server = socketio.server
    seed = getattr(server.manager, "seed_delivered", None) if server is not None else None
    if seed is not None:
        seed(room_name or "", newest)
