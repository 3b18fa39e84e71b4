"""Managing rooms: create, topic, invitations, removals, direct conversations, read marks.

Each action checks who may do it, does it (one transaction), then tells whom it concerns;
chat/rooms/events.py parses the socket payloads and calls these.
"""

import logging

from flask import current_app
from flask_socketio import emit
from sqlalchemy import delete, select

from ..admin.policy import audit, moderation_right, refuse_write
from ..cluster.queue import leave_room_everywhere
from ..errors import ChatError
from ..extensions import db, socketio
from ..messages.history import largest_id
from ..models import RoomMember, User
from ..names import NameRefused, name_key, normalise
from ..notify.receipts import send_receipt
from ..validation import check_text, optional_id, text_field
from .access import (
    add_member,
    channel,
    create_room_record,
    dm_name,
    find_room,
    forget,
    identity,
    is_member,
    ref_for,
    refuse_reserved,
    subscribe,
    subscribe_member,
    user_channel,
)

log = logging.getLogger("chat.rooms")


# ---- parsing ----


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


def private_flag(data):
    private = data.get("private", False)
    if not isinstance(private, bool):
        raise ChatError("invalid_type", "'private' must be true or false.")
    return private


def read_mark(data):
    """The `id` of a read mark: a message id no larger than any message's can be."""
    last = optional_id(data, "id")
    if last is None:
        raise ChatError("missing_field", "'id' is required.")
    if last > largest_id():  # no message has such an id (32-bit ids on PostgreSQL)
        raise ChatError("out_of_range", f"'id' must be at most {largest_id()}.")
    return last


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


# ---- doing ----


def subscribe_existing(name):
    """Follow a room one is already a member of (after an invitation), without a notice."""
    room = find_room(name)
    who = identity()
    if room is None or not is_member(room.id, who["id"]):
        forget(name)
        raise ChatError("forbidden", f"You are not a member of '{name}'.")
    subscribe_member(ref_for(room), who["id"])
    return room


def create_room(who, name, topic, private):
    """A new room with `who` as creator and member; room_exists when the name is taken."""
    refuse_reserved(name)
    refuse_write(who["id"])
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
    return room


def set_topic(who, name, topic):
    room = find_room(name)
    if room is None or room.kind == "dm":
        raise ChatError("unknown_room", f"No room called '{name}'.")
    right = moderation_right(room, who["id"])
    if right is None:
        raise ChatError("forbidden", "Only the room's creator or its moderators can change its topic.")
    refuse_write(who["id"], room.id)
    if right != "creator":
        audit(who, "set_topic", "room", room.id, room.name, right=right, topic=topic)
    room.topic = topic
    db.session.commit()
    emit("room_updated", {"room": room.name, "topic": topic}, to=channel(room.name))
    return room


def member_room(who, name):
    """The room `who` is a member of (to invite to); forbidden otherwise."""
    room = find_room(name)
    if room is None or room.kind == "dm" or not is_member(room.id, who["id"]):
        raise ChatError("forbidden", "Only a member can invite to a room.")
    refuse_write(who["id"], room.id)
    return room


def invite(who, room, invitee):
    add_member(room.id, invitee.id)
    log.info("invite room=%s user=%s by user=%s", room.name, invitee.id, who["id"])
    socketio.emit(
        "rooms_changed", {"room": room.name, "reason": "invited", "by": who["name"]}, to=user_channel(invitee.id)
    )


def created_room(who, name):
    """The room `who` moderates (its creator, a moderator, an admin: to remove a member from);
    forbidden otherwise."""
    room = find_room(name)
    if room is None or room.kind == "dm" or moderation_right(room, who["id"]) is None:
        raise ChatError("forbidden", "Only the room's creator or its moderators can remove a member.")
    return room


def remove_member(who, room, user):
    if user.id == who["id"]:
        raise ChatError("invalid_user", "Leave the room instead of removing yourself.")
    right = moderation_right(room, who["id"])
    if right == "moderator" and user.id == room.creator_id:
        raise ChatError("forbidden", "A moderator cannot remove the room's creator.")
    if right != "creator":
        audit(who, "remove_member", "room", room.id, room.name, right=right, user=user.name, user_id=user.id)
    db.session.execute(delete(RoomMember).where(RoomMember.room_id == room.id, RoomMember.user_id == user.id))
    db.session.commit()
    # Their sockets stop receiving now and forget the room, on every node; any request racing
    # with this is refused too (every path checks private rooms in the database).
    leave_room_everywhere(user_channel(user.id), channel(room.name), forget=room.name)
    socketio.emit("rooms_changed", {"room": room.name, "reason": "removed"}, to=user_channel(user.id))
    log.info("remove room=%s user=%s by user=%s", room.name, user.id, who["id"])


def open_dm(who, peer):
    """The direct conversation of `who` and `peer` (made at the first call); its name."""
    if peer.id == who["id"]:
        raise ChatError("invalid_user", "A direct conversation needs someone else.")
    refuse_write(who["id"])
    name = dm_name(who["id"], peer.id)
    room = find_room(name) or create_room_record(name, who["id"], private=True, kind="dm")
    add_member(room.id, who["id"])
    add_member(room.id, peer.id)
    subscribe(ref_for(room))
    socketio.emit("rooms_changed", {"room": name, "reason": "dm", "by": who["name"]}, to=user_channel(peer.id))
    return name


def mark_read(who, name, last):
    """Move the user's read mark in `name` up to `last` (never down); tell their tabs. The room."""
    room = find_room(name)
    member = db.session.get(RoomMember, (room.id, who["id"])) if room is not None else None
    if member is None:
        forget(name)
        raise ChatError("not_in_room", f"You are not a member of '{name}'.")
    if last > member.last_read_id:
        member.last_read_id = last
        db.session.commit()
        send_receipt(room, who["id"], last)  # DMs: "seen" for the other person
    socketio.emit("read", {"room": room.name, "last_read_id": member.last_read_id}, to=user_channel(who["id"]))
    return room, member.last_read_id
