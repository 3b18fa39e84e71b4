"""Rooms: join and leave, with the seed's notices."""
import logging

from flask import current_app, request, session
from flask_socketio import emit, join_room, leave_room

from .errors import ChatError
from .extensions import socketio
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
    """The chat rooms this connection is in, in join order (kept in the connection's session)."""
    return session.setdefault("rooms", {})


def require_member(room):
    if room not in member_rooms():
        raise ChatError("not_in_room", f"You are not in the room '{room}'.")


def room_notice(sid, room, kind):
    verb = "に参加しました" if kind == "join" else "から退出しました"
    return {
        "data": f"クライアント {sid} がルーム {room} {verb}",
        "type": kind,
        "room": room,
        "sid": sid,
        "ts": utc_now_iso(),
    }


def join(sid, room):
    """Join `room`; joining a room again is a no-op that announces nothing."""
    rooms = member_rooms()
    if room in rooms:
        return {"ok": True, "room": room, "already": True}
    if len(rooms) >= current_app.config["CHAT_MAX_ROOMS_PER_CONNECTION"]:
        raise ChatError("too_many_rooms", "This connection is in too many rooms; leave one first.")
    join_room(channel(room))
    rooms[room] = True
    log.info("join sid=%s room=%s", sid, room)
    emit("room_message", room_notice(sid, room, "join"), to=channel(room))
    return {"ok": True, "room": room}


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
    return join(request.sid, RoomRequest.parse(data).room)


@socketio.on("leave_room")
def leave_room_event(data=None, *_):
    return leave(request.sid, RoomRequest.parse(data).room)
