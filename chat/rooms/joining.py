"""Joining and leaving a room: membership, the seed's notices, the history a joiner gets."""

import logging

from flask import current_app
from flask_socketio import emit
from sqlalchemy import delete

from ..cluster.marks import delivered_upto, seed_delivered
from ..connections.state import state
from ..errors import ChatError
from ..extensions import db
from ..messages.history import history_reply
from ..models import RoomMember
from ..names import name_key
from ..timeutil import utc_now_iso
from .access import (
    add_member,
    can_read,
    channel,
    create_room_record,
    current_ref,
    first_lookup,
    forget,
    identity,
    lookup_ref,
    member_room_ids,
    refuse_reserved,
    remember_ref,
    room_refs,
    subscribe_member,
    user_channel,
)

log = logging.getLogger("chat.rooms")


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


def join(sid, name, since=None):
    """Join (or create, as a public room) `name` and send its history."""
    who = identity()
    ref = current_ref(name)
    already = ref is not None
    if not already:
        ref = room_to_join(name, who["id"])
        upto = enter(sid, ref, who)
    else:
        upto = delivered_upto(ref.name)
    # Joined first, then read, up to the newest message this node had handed out when the
    # connection entered the room: the later ones arrive live, each message once. When the node
    # does not know (another node's room it had no client in), the page is the newest, and a
    # message stored meanwhile may come twice: clients drop the second copy by its id. The page
    # then tells the node where the room stands, so that its first live messages go out in id
    # order too (seed_delivered).
    if since is not None or current_app.config["CHAT_HISTORY_ON_JOIN"]:
        history = history_reply(ref.name, ref.id, since=since, upto=upto)
        emit("history", history, to=sid)
        if upto is None:
            newest = newest_read(history)
            if newest is not None:
                seed_delivered(ref.name, newest)
    reply = {"ok": True, "room": ref.name}
    if already:
        reply["already"] = True
    return reply


def newest_read(history):
    """The channel's newest stored id when a history page was read (0: none stored), if the page
    tells: the newest page does, and a page since an id that holds every newer one; None else."""
    messages = history["messages"]
    if "since" not in history:
        return messages[-1]["id"] if messages else 0
    if messages and not history["has_more"]:
        return messages[-1]["id"]
    return None


def room_to_join(name, user_id):
    """The RoomRef of `name` if this user may join it; a public room is created when missing."""
    ref = room_refs().get(name_key(name))
    if ref is None:
        with first_lookup(name_key(name)):
            ref = lookup_ref(name)
            if ref is None:
                refuse_reserved(name)
                ref = remember_ref(create_room_record(name, user_id))
    if not can_read(ref, user_id):
        if ref.kind == "dm":  # say nothing about who talks to whom
            raise ChatError("unknown_room", f"No room called '{name}' that you can read.")
        raise ChatError("forbidden", "This room is private: ask a member for an invitation.")
    return ref


def enter(sid, ref, who):
    """Put this connection in the room, make the user a member and tell the room (not in a DM).
    Returns the newest id of the room handed to clients when it entered (chat/cluster/queue.py
    delivered_upto), read before anything that may wait."""
    subscribe_member(ref, who["id"])
    upto = delivered_upto(ref.name)
    if who["id"] is not None and add_member(ref.id, who["id"]):
        # The user's other tabs and devices follow the new room too.
        emit("rooms_changed", {"room": ref.name, "reason": "joined"}, to=user_channel(who["id"]), skip_sid=sid)
    log.info("join sid=%s room=%s", sid, ref.name)
    if ref.kind != "dm":
        emit("room_message", room_notice(sid, ref.name, "join"), to=channel(ref.name))
        state().announced.add(name_key(ref.name))
    return upto


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
