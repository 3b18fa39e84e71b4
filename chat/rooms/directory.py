"""The room directory: the rooms one can see, with members, online counts and unread (socket and HTTP)."""

from flask import Blueprint, jsonify
from sqlalchemy import func, select

from ..errors import http_reader_id
from ..extensions import db, socketio
from ..models import Mention, Message, Room, RoomMember, User
from ..notify.prefs import notification_levels
from ..notify.receipts import peer_read_ids
from ..presence.online import live_connections
from .access import dm_users, identity

bp = Blueprint("rooms", __name__)


def room_info(room):
    return {
        "name": room.name,
        "topic": room.topic,
        "private": room.is_private,
        "kind": room.kind,
        "creator": room.creator_id,
    }


def directory(user_id):
    """Rooms the user can see: public rooms, and private rooms and conversations they are in."""
    memberships = memberships_of(user_id)
    rooms = visible_rooms(memberships)
    members, online = member_counts(), online_counts()
    unread, mentions = (unread_counts(user_id), mention_counts(user_id)) if user_id is not None else ({}, {})
    peers = dm_peers(rooms, user_id)
    levels, seen = notification_levels(user_id, rooms), peer_read_ids(user_id, rooms)
    result = []
    for room in rooms:
        info = room_info(room)
        info.update(
            members=members.get(room.id, 0),
            online=online.get(room.id, 0),
            member=room.id in memberships,
            unread=unread.get(room.id, 0),
            mentions=mentions.get(room.id, 0),
            last_read_id=memberships[room.id].last_read_id if room.id in memberships else None,
            notify=levels[room.id],
        )
        if room.id in seen:
            info["peer_read_id"] = seen[room.id]
        if room.kind == "dm":
            peer = peers.get(next((uid for uid in dm_users(room.name) if uid != user_id), user_id))
            info["peer"] = peer.public() if peer else None
        result.append(info)
    return result


def memberships_of(user_id):
    """{room id: RoomMember} of the user's rooms."""
    if user_id is None:
        return {}
    return {m.room_id: m for m in db.session.execute(select(RoomMember).filter_by(user_id=user_id)).scalars()}


def visible_rooms(memberships):
    """Public rooms and the rooms among `memberships`, by name (at most 1000)."""
    public = (Room.is_private.is_(False)) & (Room.kind == "room")
    query = select(Room).where(public | Room.id.in_(list(memberships))).order_by(Room.name).limit(1000)
    return db.session.execute(query).scalars().all()


def member_counts():
    return dict(db.session.execute(select(RoomMember.room_id, func.count()).group_by(RoomMember.room_id)).all())


def online_counts():
    """{room id: members with a live connection}."""
    live = live_connections().subquery()
    query = (
        select(RoomMember.room_id, func.count(func.distinct(live.c.user_id)))
        .join(live, live.c.user_id == RoomMember.user_id)
        .group_by(RoomMember.room_id)
    )
    return dict(db.session.execute(query).all())


def unread_counts(user_id):
    """{room id: messages from others after the user's read mark, tombstones and replies not counted}."""
    query = (
        select(Message.room_id, func.count())
        .join(RoomMember, (RoomMember.room_id == Message.room_id) & (RoomMember.user_id == user_id))
        .where(Message.id > RoomMember.last_read_id, Message.deleted_at.is_(None))
        .where((Message.user_id.is_(None)) | (Message.user_id != user_id))
        .where(Message.thread_id.is_(None))  # replies count in their thread (chat/threads), mentions still here
        .group_by(Message.room_id)
    )
    return dict(db.session.execute(query).all())


def mention_counts(user_id):
    """{room id: mentions of the user after their read mark}."""
    query = (
        select(Mention.room_id, func.count())
        .join(RoomMember, (RoomMember.room_id == Mention.room_id) & (RoomMember.user_id == user_id))
        .where(Mention.user_id == user_id, Mention.message_id > RoomMember.last_read_id)
        .group_by(Mention.room_id)
    )
    return dict(db.session.execute(query).all())


def dm_peers(rooms, user_id):
    """{user id: User} of the other person in each direct conversation among `rooms`."""
    ids = {uid for r in rooms if r.kind == "dm" for uid in dm_users(r.name) if uid != user_id}
    if not ids:
        return {}
    return {u.id: u for u in db.session.execute(select(User).where(User.id.in_(ids))).scalars()}


@socketio.on("list_rooms")
def list_rooms_event(data=None, *_):
    return {"ok": True, "rooms": directory(identity()["id"])}


@bp.get("/api/rooms")
def rooms_api():
    return jsonify(rooms=directory(http_reader_id()))
