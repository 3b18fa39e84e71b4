"""Rooms: records with a topic, creator and privacy; joining, leaving, the directory, invitations."""
import logging
import threading
from contextlib import contextmanager
from typing import NamedTuple

from flask import Blueprint, current_app, jsonify, request
from flask_socketio import emit, join_room, leave_room
from sqlalchemy import bindparam, delete, func, select
from sqlalchemy.exc import IntegrityError

from .cluster import leave_room_everywhere
from .errors import ChatError, http_reader_id
from .extensions import db, socketio
from .history import history_reply, largest_id
from .models import Mention, Message, Room, RoomMember, User
from .names import NameRefused, name_key, normalise
from .presence import live_connections
from .ratelimit import rate_limited
from .state import state
from .timeutil import utc_now_iso
from .validation import RoomRequest, check_text, payload_object, room_name, text_field

log = logging.getLogger("chat.rooms")
bp = Blueprint("rooms", __name__)

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
    return tuple(int(part) for part in name[len(DM_PREFIX):].split(":"))


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
    """This connection's rooms, key (chat/names.py) -> RoomRef, in join order (chat/state.py)."""
    return state().rooms


def identity():
    """Who this connection is ({id, name, guest}), fixed at connect."""
    return state().identity


def find_room(name):
    """The Room whose name has the key of `name`, or None."""
    return db.session.execute(select(Room).filter_by(name_key=name_key(name))).scalar_one_or_none()


# Asked of the database each time, never of the session's identity map: a removal committed
# meanwhile (on any node) must count at once, also within one event.
MEMBER_QUERY = select(RoomMember.user_id).where(
    RoomMember.room_id == bindparam("room_id"), RoomMember.user_id == bindparam("user_id"))


def is_member(room_id, user_id):
    if user_id is None:
        return False
    return db.session.execute(MEMBER_QUERY, {"room_id": room_id, "user_id": user_id}).first() is not None


def member_room_ids(user_id, room_ids):
    """The rooms among `room_ids` the user is a member of now (one query)."""
    if user_id is None or not room_ids:
        return set()
    return set(db.session.execute(
        select(RoomMember.room_id).where(RoomMember.user_id == user_id, RoomMember.room_id.in_(list(room_ids)))
    ).scalars())


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


def room_notice(sid, room, kind):
    verb = "に参加しました" if kind == "join" else "から退出しました"
    who = identity()
    return {
        "data": f"クライアント {sid} がルーム {room} {verb}",
        "type": kind,
        "room": room,
        "sid": sid,
        "user": {"id": who["id"], "name": who["name"]},
        "ts": utc_now_iso(),
    }


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
    rooms = db.session.execute(
        select(Room).join(RoomMember, RoomMember.room_id == Room.id)
        .where(RoomMember.user_id == user_id).order_by(RoomMember.joined_at.desc()).limit(limit)
    ).scalars().all()
    refs = [ref_for(room) for room in rooms]
    for ref in refs:
        subscribe(ref)
    private = {ref.id for ref in refs if ref.private}
    if private:  # removed meanwhile (see subscribe_member)
        kept = member_room_ids(user_id, private)
        for ref in refs:
            if ref.private and ref.id not in kept:
                forget(ref.name)


def join(sid, name, since=None):
    """Join (or create, as a public room) `name` and send its history."""
    who = identity()
    ref = current_ref(name)
    already = ref is not None
    if not already:
        ref = room_to_join(name, who["id"])
        enter(sid, ref, who)
    # Joined first, then read: a message stored meanwhile arrives live and may also be in
    # the history; clients drop the second copy by its id.
    if since is not None or current_app.config["CHAT_HISTORY_ON_JOIN"]:
        emit("history", history_reply(ref.name, ref.id, since=since), to=sid)
    reply = {"ok": True, "room": ref.name}
    if already:
        reply["already"] = True
    return reply


def room_to_join(name, user_id):
    """The RoomRef of `name` if this user may join it; a public room is created when missing."""
    ref = room_refs().get(name_key(name))
    if ref is None:
        with first_lookup(name_key(name)):
            ref = lookup_ref(name)
            if ref is None:
                if reserved(name):
                    raise ChatError("invalid_room", RESERVED)
                ref = remember_ref(create_room_record(name, user_id))
    if not can_read(ref, user_id):
        if ref.kind == "dm":  # say nothing about who talks to whom
            raise ChatError("unknown_room", f"No room called '{name}' that you can read.")
        raise ChatError("forbidden", "This room is private: ask a member for an invitation.")
    return ref


def enter(sid, ref, who):
    """Put this connection in the room, make the user a member and tell the room (not in a DM)."""
    subscribe_member(ref, who["id"])
    if who["id"] is not None and add_member(ref.id, who["id"]):
        # The user's other tabs and devices follow the new room too.
        emit("rooms_changed", {"room": ref.name, "reason": "joined"}, to=user_channel(who["id"]), skip_sid=sid)
    log.info("join sid=%s room=%s", sid, ref.name)
    if ref.kind != "dm":
        emit("room_message", room_notice(sid, ref.name, "join"), to=channel(ref.name))
        state().announced.add(name_key(ref.name))


def leave(sid, name):
    """Leave `name`, then tell those who stay; a signed-in user also stops being a member.
    A removed member is no longer in the room: nothing to leave, nobody to tell."""
    ref = current_ref(name)
    if ref is None:
        raise ChatError("not_in_room", f"You are not in the room '{name}'.")
    forget(name)
    who = identity()
    if who["id"] is not None and ref.kind != "dm":
        db.session.execute(delete(RoomMember).where(RoomMember.room_id == ref.id, RoomMember.user_id == who["id"]))
        db.session.commit()
        emit("rooms_changed", {"room": ref.name, "reason": "left"}, to=user_channel(who["id"]))
    log.info("leave sid=%s room=%s", sid, ref.name)
    if ref.kind != "dm":
        emit("room_message", room_notice(sid, ref.name, "leave"), to=channel(ref.name))
    return {"ok": True, "room": ref.name}


def leave_all(sid):
    """On disconnect: tell each room whose join this connection announced that it left.

    Rooms a signed-in user follows silently (memberships, restored at connect) stay quiet:
    their comings and goings are presence, not joins and leaves.
    """
    own = state()
    announced, rooms = own.announced, own.rooms
    private = {rooms[key].id for key in announced if key in rooms and rooms[key].private}
    still = member_room_ids(identity()["id"], private)  # a removed member's leave is nobody's news
    for key, ref in list(rooms.items()):
        if key in announced and (not ref.private or ref.id in still):
            log.info("leave sid=%s room=%s (disconnect)", sid, ref.name)
            emit("room_message", room_notice(sid, ref.name, "leave"), to=channel(ref.name), skip_sid=sid)
    own.leave_all()


def create_room_record(name, creator_id, topic="", private=False):
    room = Room(name=name, name_key=name_key(name), creator_id=creator_id, topic=topic, is_private=private)
    db.session.add(room)
    try:
        db.session.commit()
    except IntegrityError:  # created meanwhile by another connection
        db.session.rollback()
        return find_room(name)
    return room


def topic_text(data):
    topic = data.get("topic", "")
    if topic is None:
        topic = ""
    if not isinstance(topic, str):
        raise ChatError("invalid_type", "'topic' must be a string.")
    limit = current_app.config["CHAT_MAX_TOPIC_LENGTH"]
    if len(topic) > limit:
        raise ChatError("too_long", f"'topic' must be at most {limit} characters.")
    return check_text(topic, "topic")


def require_user():
    who = identity()
    if who["id"] is None:
        raise ChatError("forbidden", "Sign in (or pick a guest name) first.")
    return who


def target_user(data):
    """The user named in `user` (by the rule for names: any case or width)."""
    name = text_field(data, "user", current_app.config["CHAT_MAX_NAME_LENGTH"])
    try:
        name = normalise(name)
    except NameRefused as exc:
        raise ChatError("invalid_user", exc.describe("'user'")) from None
    user = db.session.execute(select(User).filter_by(name_key=name_key(name))).scalar_one_or_none()
    if user is None:
        raise ChatError("unknown_user", f"No user called '{name}'.")
    return user


def room_info(room):
    return {"name": room.name, "topic": room.topic, "private": room.is_private, "kind": room.kind,
            "creator": room.creator_id}


@socketio.on("join_room")
@rate_limited
def join_room_event(data=None, *_):
    req = RoomRequest.parse(data)
    return join(request.sid, req.room, req.since)


@socketio.on("leave_room")
@rate_limited
def leave_room_event(data=None, *_):
    return leave(request.sid, RoomRequest.parse(data).room)


@socketio.on("subscribe")
@rate_limited
def subscribe_event(data=None, *_):
    """Follow a room one is already a member of (after an invitation), without a notice."""
    name = RoomRequest.parse(data).room
    room = find_room(name)
    who = identity()
    if room is None or not is_member(room.id, who["id"]):
        forget(name)
        raise ChatError("forbidden", f"You are not a member of '{name}'.")
    subscribe_member(ref_for(room), who["id"])
    return {"ok": True, "room": room.name}


@socketio.on("create_room")
@rate_limited
def create_room_event(data=None, *_):
    data = payload_object(data)
    name = room_name(data)
    topic = topic_text(data)
    private = data.get("private", False)
    if not isinstance(private, bool):
        raise ChatError("invalid_type", "'private' must be true or false.")
    who = require_user()
    if reserved(name):
        raise ChatError("invalid_room", RESERVED)
    if find_room(name) is not None:
        raise ChatError("room_exists", f"A room called '{name}' exists already.")
    room = create_room_record(name, who["id"], topic, private)
    if room.creator_id != who["id"]:
        raise ChatError("room_exists", f"A room called '{name}' exists already.")
    add_member(room.id, who["id"])
    subscribe(ref_for(room))
    log.info("create room=%s private=%s by user=%s", name, private, who["id"])
    if not private:
        socketio.emit("rooms_changed", {"room": room.name, "reason": "created"})
    return {"ok": True, "room": room_info(room)}


@socketio.on("set_topic")
@rate_limited
def set_topic_event(data=None, *_):
    data = payload_object(data)
    name, topic = room_name(data), topic_text(data)
    room = find_room(name)
    who = require_user()
    if room is None or room.kind == "dm":
        raise ChatError("unknown_room", f"No room called '{name}'.")
    if room.creator_id != who["id"]:
        raise ChatError("forbidden", "Only the room's creator can change its topic.")
    room.topic = topic
    db.session.commit()
    emit("room_updated", {"room": room.name, "topic": topic}, to=channel(room.name))
    return {"ok": True, "room": room_info(room)}


@socketio.on("invite")
@rate_limited
def invite_event(data=None, *_):
    data = payload_object(data)
    name = room_name(data)
    who = require_user()
    room = find_room(name)
    if room is None or room.kind == "dm" or not is_member(room.id, who["id"]):
        raise ChatError("forbidden", "Only a member can invite to a room.")
    invitee = target_user(data)
    add_member(room.id, invitee.id)
    log.info("invite room=%s user=%s by user=%s", name, invitee.id, who["id"])
    socketio.emit("rooms_changed", {"room": room.name, "reason": "invited", "by": who["name"]},
                  to=user_channel(invitee.id))
    return {"ok": True, "room": room.name, "user": invitee.public()}


@socketio.on("remove_member")
@rate_limited
def remove_member_event(data=None, *_):
    data = payload_object(data)
    name = room_name(data)
    who = require_user()
    room = find_room(name)
    if room is None or room.kind == "dm" or room.creator_id != who["id"]:
        raise ChatError("forbidden", "Only the room's creator can remove a member.")
    user = target_user(data)
    if user.id == who["id"]:
        raise ChatError("invalid_user", "Leave the room instead of removing yourself.")
    db.session.execute(delete(RoomMember).where(RoomMember.room_id == room.id, RoomMember.user_id == user.id))
    db.session.commit()
    # Their sockets stop receiving now and forget the room, on every node; any request racing
    # with this is refused too (every path checks private rooms in the database).
    leave_room_everywhere(user_channel(user.id), channel(room.name), forget=room.name)
    socketio.emit("rooms_changed", {"room": room.name, "reason": "removed"}, to=user_channel(user.id))
    log.info("remove room=%s user=%s by user=%s", room.name, user.id, who["id"])
    return {"ok": True, "room": room.name, "user": user.public()}


@socketio.on("open_dm")
@rate_limited
def open_dm_event(data=None, *_):
    data = payload_object(data)
    who = require_user()
    peer = target_user(data)
    if peer.id == who["id"]:
        raise ChatError("invalid_user", "A direct conversation needs someone else.")
    name = dm_name(who["id"], peer.id)
    room = find_room(name)
    if room is None:
        room = Room(name=name, name_key=name, kind="dm", is_private=True, creator_id=who["id"])
        db.session.add(room)
        try:
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
            room = find_room(name)
    add_member(room.id, who["id"])
    add_member(room.id, peer.id)
    subscribe(ref_for(room))
    socketio.emit("rooms_changed", {"room": name, "reason": "dm", "by": who["name"]}, to=user_channel(peer.id))
    return {"ok": True, "room": name, "peer": peer.public()}


@socketio.on("mark_read")
@rate_limited
def mark_read_event(data=None, *_):
    from .validation import optional_id

    data = payload_object(data)
    name = room_name(data)
    last = optional_id(data, "id")
    if last is None:
        raise ChatError("missing_field", "'id' is required.")
    if last > largest_id():  # no message has such an id (32-bit ids on PostgreSQL)
        raise ChatError("out_of_range", f"'id' must be at most {largest_id()}.")
    who = require_user()
    room = find_room(name)
    member = db.session.get(RoomMember, (room.id, who["id"])) if room is not None else None
    if member is None:
        forget(name)
        raise ChatError("not_in_room", f"You are not a member of '{name}'.")
    if last > member.last_read_id:
        member.last_read_id = last
        db.session.commit()
    socketio.emit("read", {"room": room.name, "last_read_id": member.last_read_id}, to=user_channel(who["id"]))
    return {"ok": True, "room": room.name, "last_read_id": member.last_read_id}


def directory(user_id):
    """Rooms the user can see: public rooms, and private rooms and conversations they are in."""
    memberships = {
        m.room_id: m for m in db.session.execute(select(RoomMember).filter_by(user_id=user_id)).scalars()
    } if user_id is not None else {}
    rooms = db.session.execute(
        select(Room).where((Room.is_private.is_(False) & (Room.kind == "room")) | Room.id.in_(list(memberships)))
        .order_by(Room.name).limit(1000)
    ).scalars().all()
    members = dict(db.session.execute(
        select(RoomMember.room_id, func.count()).group_by(RoomMember.room_id)).all())
    live = live_connections().subquery()
    online = dict(db.session.execute(
        select(RoomMember.room_id, func.count(func.distinct(live.c.user_id)))
        .join(live, live.c.user_id == RoomMember.user_id).group_by(RoomMember.room_id)).all())
    unread, mentions = {}, {}
    if user_id is not None:
        unread = dict(db.session.execute(
            select(Message.room_id, func.count())
            .join(RoomMember, (RoomMember.room_id == Message.room_id) & (RoomMember.user_id == user_id))
            .where(Message.id > RoomMember.last_read_id, Message.deleted_at.is_(None))
            .where((Message.user_id.is_(None)) | (Message.user_id != user_id))
            .group_by(Message.room_id)).all())
        mentions = dict(db.session.execute(
            select(Mention.room_id, func.count())
            .join(RoomMember, (RoomMember.room_id == Mention.room_id) & (RoomMember.user_id == user_id))
            .where(Mention.user_id == user_id, Mention.message_id > RoomMember.last_read_id)
            .group_by(Mention.room_id)).all())
    peers = {}
    dm_peer_ids = {uid for r in rooms if r.kind == "dm" for uid in dm_users(r.name) if uid != user_id}
    if dm_peer_ids:
        peers = {u.id: u for u in db.session.execute(select(User).where(User.id.in_(dm_peer_ids))).scalars()}
    result = []
    for room in rooms:
        info = room_info(room)
        info.update(
            members=members.get(room.id, 0), online=online.get(room.id, 0), member=room.id in memberships,
            unread=unread.get(room.id, 0), mentions=mentions.get(room.id, 0),
            last_read_id=memberships[room.id].last_read_id if room.id in memberships else None,
        )
        if room.kind == "dm":
            peer_id = next((uid for uid in dm_users(room.name) if uid != user_id), user_id)
            peer = peers.get(peer_id)
            info["peer"] = peer.public() if peer else None
        result.append(info)
    return result


@socketio.on("list_rooms")
def list_rooms_event(data=None, *_):
    return {"ok": True, "rooms": directory(identity()["id"])}


@bp.get("/api/rooms")
def rooms_api():
    return jsonify(rooms=directory(http_reader_id()))
