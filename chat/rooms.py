"""Rooms: join and leave, with the seed's notices."""
import logging

from flask import current_app, request, session
from flask_socketio import emit, join_room, leave_room

from .errors import ChatError
from .extensions import socketio
from .history import history_reply, room_id_for
from .timeutil import utc_now_iso
from .validation import RoomRequest

log = logging.getLogger("chat.rooms")

# Socket.IO puts every client in a room named by its sid; user-chosen names get a
# prefix so that no name can ever match a sid (or, later, a direct conversation).
ROOM_PREFIX = "room:"


def channel(room):
    """The Socket.IO room that carries the chat room `room`."""
    return ROOM_PREFIX + room


def member_rooms():
    """This connection's chat rooms, name -> room id, in join order (in the connection's session)."""
    return session.setdefault("rooms", {})


def identity():
    """Who this connection is ({id, name, guest}), fixed at connect."""
    return session["identity"]


def require_member(room):
    """The room's id, when this connection is in it."""
    room_id = member_rooms().get(room, 0)
    if room_id == 0:
        raise ChatError("not_in_room", f"You are not in the room '{room}'.")
    return room_id


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


def join(sid, room, since=None):
    """Join `room` and send its history; joining a room again announces nothing."""
    rooms = member_rooms()
    already = room in rooms
    if not already:
        if len(rooms) >= current_app.config["CHAT_MAX_ROOMS_PER_CONNECTION"]:
            raise ChatError("too_many_rooms", "This connection is in too many rooms; leave one first.")
        room_id = room_id_for(room, create=True)
        join_room(channel(room))
        rooms[room] = room_id
        log.info("join sid=%s room=%s", sid, room)
        emit("room_message", room_notice(sid, room, "join"), to=channel(room))
    # Joined first, then read: a message stored meanwhile arrives live and may also be in
    # the history; clients drop the second copy by its id.
    if since is not None or current_app.config["CHAT_HISTORY_ON_JOIN"]:
        emit("history", history_reply(room, since=since), to=sid)
    reply = {"ok": True, "room": room}
    if already:
        reply["already"] = True
    return reply


def leave(sid, room):
    """Leave `room`, then tell those who stay."""
    require_member(room)
    leave_room(channel(room))
    del member_rooms()[room]
    log.info("leave sid=%s room=%s", sid, room)
    emit("room_message", room_notice(sid, room, "leave"), to=channel(room))
    return {"ok": True, "room": room}


def leave_all(sid):
    """On disconnect: tell each room this connection was in that it left."""
    for room in list(member_rooms()):
        log.info("leave sid=%s room=%s (disconnect)", sid, room)
        emit("room_message", room_notice(sid, room, "leave"), to=channel(room), skip_sid=sid)
    member_rooms().clear()


@socketio.on("join_room")
def join_room_event(data=None, *_):
    req = RoomRequest.parse(data)
    return join(request.sid, req.room, req.since)


@socketio.on("leave_room")
def leave_room_event(data=None, *_):
    return leave(request.sid, RoomRequest.parse(data).room)
