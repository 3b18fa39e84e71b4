"""Who may read and write a room: room records and their cache, membership, what a connection follows."""

import logging
import threading
from contextlib import contextmanager
from typing import NamedTuple

from flask import current_app, request
from flask_socketio import join_room, leave_room
from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError

from ..connections.state import state
from ..errors import ChatError
from ..extensions import db
from ..models import Room, RoomMember
from ..names import name_key
from ..validation import refused_character

log = logging.getLogger("chat.rooms")

# Socket.IO puts every client in a room named by its sid; user-chosen names get a
# prefix so that no name can ever match a sid or a user's channel.
ROOM_PREFIX = "room:"
DM_PREFIX = "dm:"  # reserved: no room's key may start with it (see reserved())
RESERVED = "Room names starting with 'dm:' (in any case or width) are kept for direct conversations."


class RoomRef(NamedTuple):
    """What a connection knows about a room it is in."""

    id: int
    name: str
    kind: str
    private: bool
    targets: tuple  # the Socket.IO rooms its messages go to


def channel(room):
    """The Socket.IO room that carries the chat room `room`."""
    return ROOM_PREFIX + room


def user_channel(user_id):
    """The Socket.IO room holding every connection of one user."""
    return f"user:{user_id}"


def dm_name(a, b):
    low, high = sorted((a, b))
    return f"{DM_PREFIX}{low}:{high}"


def reserved(name):
    """True for names only direct conversations have ("dm:…", in any case or width)."""
    return name_key(name).startswith(DM_PREFIX)


def dm_users(name):
    return tuple(int(part) for part in name[len(DM_PREFIX) :].split(":"))


def ref_for(room):
    """A RoomRef for a Room record: direct conversations go to both users' channels."""
    if room.kind == "dm":
        targets = tuple(user_channel(uid) for uid in dm_users(room.name))
    else:
        targets = (channel(room.name),)
    return RoomRef(room.id, room.name, room.kind, room.private, targets)


# A room's id, name, kind and privacy never change once it exists (only its topic and members
# do), so each process keeps them after the first lookup: a join then costs no room query.
# Per app (tests build many apps over reused ids), by the name's key (chat/names.py: "General"
# and "ｇｅｎｅｒａｌ" are one room); rooms that do not exist are not remembered.
ROOM_CACHE_SIZE = 10_000


def room_refs():
    return current_app.extensions.setdefault("chat_room_refs", {})


def lookup_ref(name):
    """The RoomRef of the room called `name` (or a name with its key), or None when there is none (yet)."""
    ref = room_refs().get(name_key(name))
    if ref is None:
        room = find_room(name)
        ref = remember_ref(room) if room is not None else None
    return ref


_first_lookups = {}  # room key -> [lock, holders]: one lookup (or creation) per name at a time
_first_lookups_guard = threading.Lock()


@contextmanager
def first_lookup(name):
    """Let one connection at a time look a room up (and create it) when it is not remembered yet.

    When a room's members arrive together (a connect storm, everyone back after a restart),
    they all miss the cache before the first lookup has answered: each would query the room
    (and try to create it) on its own, which made joins on PostgreSQL pool-bound (~2 ms of CPU
    per query). Waiting here, the others then find it remembered.
    """
    with _first_lookups_guard:
        entry = _first_lookups.get(name)
        if entry is None:
            entry = _first_lookups[name] = [threading.Lock(), 0]
        entry[1] += 1
    try:
        with entry[0]:
            yield
    finally:
        with _first_lookups_guard:
            entry[1] -= 1
            if not entry[1]:
                del _first_lookups[name]


def remember_ref(room):
    cache = room_refs()
    if len(cache) >= ROOM_CACHE_SIZE:
        cache.clear()
    ref = cache[room.name_key] = ref_for(room)
    return ref


def member_rooms():
    """This connection's rooms, key (chat/names.py) -> RoomRef, in join order (chat/connections/state.py)."""
    return state().rooms


def identity():
    """Who this connection is ({id, name, guest}), fixed at connect."""
    return state().identity


def find_room(name):
    """The Room whose name has the key of `name`, or None.

    A name with a character no text may hold (NUL, a lone surrogate: from a URL's path, say) names
    no room, and is never sent to the database, which would refuse it with an error.
    """
    if refused_character(name) is not None:
        return None
    return db.session.execute(select(Room).filter_by(name_key=name_key(name))).scalar_one_or_none()


# Asked of the database each time, never of the session's identity map: a removal committed
# meanwhile (on any node) must count at once, also within one event.
MEMBER_QUERY = select(RoomMember.user_id).where(
    RoomMember.room_id == bindparam("room_id"), RoomMember.user_id == bindparam("user_id")
)


def is_member(room_id, user_id):
    if user_id is None:
        return False
    return db.session.execute(MEMBER_QUERY, {"room_id": room_id, "user_id": user_id}).first() is not None


def member_room_ids(user_id, room_ids):
    """The rooms among `room_ids` the user is a member of now (one query)."""
    if user_id is None or not room_ids:
        return set()
    return set(
        db.session.execute(
            select(RoomMember.room_id).where(RoomMember.user_id == user_id, RoomMember.room_id.in_(list(room_ids)))
        ).scalars()
    )


def add_member(room_id, user_id):
    """Make the user a member (having read nothing yet); True when they were not one."""
    if db.session.get(RoomMember, (room_id, user_id)) is not None:
        return False
    db.session.add(RoomMember(room_id=room_id, user_id=user_id, last_read_id=0))
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return False
    return True


def can_read(room, user_id):
    """room: a Room record or a RoomRef."""
    return not room.private or is_member(room.id, user_id)


def forget(name):
    """This connection stops following `name`: its RoomRef, its Socket.IO room, its announced join
    and typing throttle go. Returns the RoomRef it had (or None)."""
    ref = state().forget(name_key(name))
    if ref is not None and ref.kind != "dm":
        leave_room(channel(ref.name))
    return ref


def current_ref(name):
    """This connection's RoomRef for `name` while it still grants access, else None.

    What a connection remembers never grants access to a private room by itself: the membership
    is checked in the database each time (a removal on any node counts at once), and a ref that
    no longer grants access is forgotten. Public rooms cost no query.
    """
    ref = member_rooms().get(name_key(name))
    if ref is not None and ref.private and not is_member(ref.id, identity()["id"]):
        log.info("forget room=%s sid=%s: no longer a member", name, request.sid)
        forget(name)
        return None
    return ref


def require_member(room):
    """This connection's RoomRef for `room` (private rooms checked in the database)."""
    if name_key(room) not in member_rooms():
        raise ChatError("not_in_room", f"You are not in the room '{room}'.")
    ref = current_ref(room)
    if ref is None:
        raise ChatError("forbidden", f"You are no longer a member of '{room}'.")
    return ref


def readable_room(name, user_id):
    """The room (its RoomRef) for reading its history, or a ChatError (unknown or not allowed)."""
    room = lookup_ref(name)
    if room is None or not can_read(room, user_id):
        raise ChatError("unknown_room", f"No room called '{name}' that you can read.")
    return room


def readable_here(name):
    """readable_room for this connection; a room it may no longer read is forgotten."""
    try:
        return readable_room(name, identity()["id"])
    except ChatError:
        forget(name)
        raise


def subscribe(ref):
    """Put this connection in the room's channel (no notice)."""
    rooms = member_rooms()
    key = name_key(ref.name)
    if key in rooms:
        return False
    if len(rooms) >= current_app.config["CHAT_MAX_ROOMS_PER_CONNECTION"]:
        raise ChatError("too_many_rooms", "This connection is in too many rooms; leave one first.")
    if ref.kind != "dm":
        join_room(channel(ref.name))
    rooms[key] = ref
    return True


def subscribe_member(ref, user_id):
    """subscribe(), then check a private room's membership again: a removal committed between the
    caller's check and joining the Socket.IO room took the user's sockets out before this one
    was in, so it is taken out here."""
    subscribed = subscribe(ref)
    if ref.private and not is_member(ref.id, user_id):
        forget(ref.name)
        raise ChatError("forbidden", f"You are no longer a member of '{ref.name}'.")
    return subscribed


def subscribe_memberships(user_id):
    """At connect: follow every room the user is a member of, so unread counts stay live."""
    limit = current_app.config["CHAT_MAX_ROOMS_PER_CONNECTION"]
    rooms = (
        db.session.execute(
            select(Room)
            .join(RoomMember, RoomMember.room_id == Room.id)
            .where(RoomMember.user_id == user_id)
            .order_by(RoomMember.joined_at.desc())
            .limit(limit)
        )
        .scalars()
        .all()
    )
    refs = [ref_for(room) for room in rooms]
    for ref in refs:
        subscribe(ref)
    private = {ref.id for ref in refs if ref.private}
    if private:  # removed meanwhile (see subscribe_member)
        kept = member_room_ids(user_id, private)
        for ref in refs:
            if ref.private and ref.id not in kept:
                forget(ref.name)


def refuse_reserved(name):
    """A room name only direct conversations may have: invalid_room."""
    if reserved(name):
        raise ChatError("invalid_room", RESERVED)


def create_room_record(name, creator_id, topic="", private=False, kind="room"):
    """The new Room; the one another connection created meanwhile under that name, if it won."""
    room = Room(name=name, name_key=name_key(name), creator_id=creator_id, topic=topic, is_private=private, kind=kind)
    db.session.add(room)
    try:
        db.session.commit()
    except IntegrityError:  # created meanwhile by another connection
        db.session.rollback()
        return find_room(name)
    return room
