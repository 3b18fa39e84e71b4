"""The room directory: the rooms one can see, with members, online counts and unread (socket and HTTP)."""

from flask import Blueprint, jsonify
from sqlalchemy import func, select

from ..errors import http_reader_id
from ..extensions import db, socketio
from ..models import Mention, Message, Room, RoomMember, User
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
    memberships = (
        {m.room_id: m for m in db.session.execute(select(RoomMember).filter_by(user_id=user_id)).scalars()}
        if user_id is not None
        else {}
    )
    rooms = (
        db.session.execute(
            select(Room)
            .where((Room.is_private.is_(False) & (Room.kind == "room")) | Room.id.in_(list(memberships)))
            .order_by(Room.name)
            .limit(1000)
        )
        .scalars()
        .all()
    )
    members = dict(db.session.execute(select(RoomMember.room_id, func.count()).group_by(RoomMember.room_id)).all())
    live = live_connections().subquery()
    online = dict(
        db.session.execute(
            select(RoomMember.room_id, func.count(func.distinct(live.c.user_id)))
            .join(live, live.c.user_id == RoomMember.user_id)
            .group_by(RoomMember.room_id)
        ).all()
    )
    unread, mentions = {}, {}
    if user_id is not None:
        unread = dict(
            db.session.execute(
                select(Message.room_id, func.count())
                .join(RoomMember, (RoomMember.room_id == Message.room_id) & (RoomMember.user_id == user_id))
                .where(Message.id > RoomMember.last_read_id, Message.deleted_at.is_(None))
                .where((Message.user_id.is_(None)) | (Message.user_id != user_id))
                .group_by(Message.room_id)
            ).all()
        )
        mentions = dict(
            db.session.execute(
                select(Mention.room_id, func.count())
                .join(RoomMember, (RoomMember.room_id == Mention.room_id) & (RoomMember.user_id == user_id))
                .where(Mention.user_id == user_id, Mention.message_id > RoomMember.last_read_id)
                .group_by(Mention.room_id)
            ).all()
        )
    peers = {}
    dm_peer_ids = {uid for r in rooms if r.kind == "dm" for uid in dm_users(r.name) if uid != user_id}
    if dm_peer_ids:
        peers = {u.id: u for u in db.session.execute(select(User).where(User.id.in_(dm_peer_ids))).scalars()}
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
