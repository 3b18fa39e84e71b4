"""Messages: to a room, and to everyone."""
import logging

from flask import request
from flask_socketio import emit

from .extensions import socketio
from .rooms import channel, require_member
from .timeutil import utc_now_iso
from .validation import BroadcastMessage, RoomMessage

log = logging.getLogger("chat.messages")


def message_payload(sid, text, room):
    """The seed's `data` string, plus structured fields for newer clients."""
    return {"data": f"クライアント {sid}: {text}", "room": room, "sid": sid, "text": text, "ts": utc_now_iso()}


def send_to_room(sid, room, text):
    require_member(room)
    emit("room_message", message_payload(sid, text, room), to=channel(room))
    if log.isEnabledFor(logging.DEBUG):
        log.debug("room message sid=%s room=%s chars=%d", sid, room, len(text))
    return {"ok": True}


def send_to_everyone(sid, text):
    emit("message", message_payload(sid, text, None), broadcast=True)
    if log.isEnabledFor(logging.DEBUG):
        log.debug("message to everyone sid=%s chars=%d", sid, len(text))
    return {"ok": True}


@socketio.on("room_message")
def room_message_event(data=None, *_):
    msg = RoomMessage.parse(data)
    return send_to_room(request.sid, msg.room, msg.message)


@socketio.on("send_message")
def send_message_event(data=None, *_):
    return send_to_everyone(request.sid, BroadcastMessage.parse(data).message)
