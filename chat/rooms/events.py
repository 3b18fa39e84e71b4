"""Room socket events: parse the payload, call chat/rooms (joining, manage), reply."""

from flask import request

from ..extensions import socketio
from ..ratelimit import rate_limited
from ..validation import RoomRequest, payload_object, room_name
from . import manage
from .directory import room_info
from .joining import join, leave


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
    room = manage.subscribe_existing(RoomRequest.parse(data).room)
    return {"ok": True, "room": room.name}


@socketio.on("create_room")
@rate_limited
def create_room_event(data=None, *_):
    data = payload_object(data)
    name, topic, private = room_name(data), manage.topic_text(data), manage.private_flag(data)
    room = manage.create_room(manage.require_user(), name, topic, private)
    return {"ok": True, "room": room_info(room)}


@socketio.on("set_topic")
@rate_limited
def set_topic_event(data=None, *_):
    data = payload_object(data)
    name, topic = room_name(data), manage.topic_text(data)
    room = manage.set_topic(manage.require_user(), name, topic)
    return {"ok": True, "room": room_info(room)}


@socketio.on("invite")
@rate_limited
def invite_event(data=None, *_):
    data = payload_object(data)
    name = room_name(data)
    who = manage.require_user()
    room = manage.member_room(who, name)
    invitee = manage.target_user(data)
    manage.invite(who, room, invitee)
    return {"ok": True, "room": room.name, "user": invitee.public()}


@socketio.on("remove_member")
@rate_limited
def remove_member_event(data=None, *_):
    data = payload_object(data)
    name = room_name(data)
    who = manage.require_user()
    room = manage.created_room(who, name)
    user = manage.target_user(data)
    manage.remove_member(who, room, user)
    return {"ok": True, "room": room.name, "user": user.public()}


@socketio.on("open_dm")
@rate_limited
def open_dm_event(data=None, *_):
    data = payload_object(data)
    who = manage.require_user()
    peer = manage.target_user(data)
    return {"ok": True, "room": manage.open_dm(who, peer), "peer": peer.public()}


@socketio.on("mark_read")
@rate_limited
def mark_read_event(data=None, *_):
    data = payload_object(data)
    name, last = room_name(data), manage.read_mark(data)
    room, last_read_id = manage.mark_read(manage.require_user(), name, last)
    return {"ok": True, "room": room.name, "last_read_id": last_read_id}
