"""What a socket connection remembers: one typed object, kept in the connection's session.

Flask-SocketIO gives each connection a session of its own (a copy of the cookie's, taken at
connect, kept in its environ as 'saved_session'). This module is the only one that reads or
writes it: every other module asks for the connection's `ConnectionState`. What it holds never
grants access to a private room by itself (rooms check membership in the database), and another
node's removal or logout reaches it through `state_in` (the control channel, chat/cluster/queue.py).
"""

from dataclasses import dataclass, field

from flask import session

KEY = "chat_connection"


@dataclass(slots=True, eq=False)
class ConnectionState:
    """Everything one socket connection remembers between its events."""

    identity: dict  # {id, name, guest}: who the connection is, fixed at connect
    rooms: dict = field(default_factory=dict)  # room key (chat/names.py) -> RoomRef, in join order
    announced: set = field(default_factory=set)  # keys of rooms whose join was announced (a leave notice follows)
    typing: dict = field(default_factory=dict)  # room name -> when its last typing hint went out (monotonic)
    touched: float = 0.0  # when activity was last written to its Connection row (monotonic)
    bucket: object = None  # its own write budget (chat.ratelimit.TokenBucket), made at its first write
    read_only: bool = False  # opened with a read-scope API token: writes refused (chat.ratelimit.READ_SCOPE_EVENTS)

    @property
    def user_id(self):
        return self.identity["id"]

    def forget(self, key):
        """Stop following the room with this key: its RoomRef, announced join and typing throttle go.
        Returns the RoomRef it had (or None)."""
        ref = self.rooms.pop(key, None)
        self.announced.discard(key)
        if ref is not None:
            self.typing.pop(ref.name, None)
        return ref

    def leave_all(self):
        """Forget every room (the connection is closing)."""
        self.rooms.clear()
        self.announced.clear()


def begin(identity, read_only=False):
    """At connect: this connection's state, for the identity decided there."""
    state = session[KEY] = ConnectionState(identity, read_only=read_only)
    return state


def current():
    """This connection's state, or None before its connect handler made one."""
    return session.get(KEY)


def state():
    """This connection's state (its connect handler made it)."""
    return session[KEY]


def state_in(saved_session):
    """Another connection's state, given the session Flask-SocketIO keeps in its environ (or None)."""
    return saved_session.get(KEY) if saved_session is not None else None
