"""Sending messages: `room_message` to a room, `send_message` to everyone; stored before they are sent."""

import logging

from flask import request

from ..connections.state import state
from ..extensions import socketio
from ..presence.online import touch
from ..ratelimit import rate_limited
from ..rooms.access import identity, require_member
from ..threads.replies import after_reply, root_in_room
from ..validation import BroadcastMessage, RoomMessage
from . import pipeline
from .pipeline import ack_reply as ack
from .store import store_and_send

log = logging.getLogger("chat.messages")


def send_to_room(sid, room, text, client_id=None, reply_to=None):
    ref = require_member(room)
    root = root_in_room(reply_to, ref.id, ref.name) if reply_to is not None else None
    thread_id = root.id if root is not None else None
    # A reply is never queued (chat/messages/pipeline.py): after_reply needs it stored.
    queue = pipeline.slot() if root is None else None
    touch()  # before the store: once it is queued, nothing may fail (its ack comes later)
    payload, created = store_and_send(
        identity(), sid, ref, text, client_id, "room_message", thread_id=thread_id, slot=queue
    )
    if payload is None:  # queued: acked once stored
        state().typing.pop(ref.name, None)
        return created
    if root is not None:
        after_reply(ref, root, payload, created)
    # The message ends the sender's typing hint on the other pages: the next keystroke starts a
    # new one at once (the page resets its own throttle on send too).
    state().typing.pop(ref.name, None)
    if log.isEnabledFor(logging.DEBUG):
        log.debug("room message id=%s sid=%s room=%s chars=%d", payload["id"], sid, room, len(text))
    return ack(payload, created)


def send_to_everyone(sid, text, client_id=None):
    touch()  # before the store: once it is queued, nothing may fail (its ack comes later)
    payload, created = store_and_send(identity(), sid, None, text, client_id, "message", slot=pipeline.slot())
    if payload is None:  # queued: acked once stored
        return created
    if log.isEnabledFor(logging.DEBUG):
        log.debug("message to everyone id=%s sid=%s chars=%d", payload["id"], sid, len(text))
    return ack(payload, created)


@socketio.on("room_message")
@rate_limited
def room_message_event(data=None, *_):
    msg = RoomMessage.parse(data)
    return send_to_room(request.sid, msg.room, msg.message, msg.client_id, msg.reply_to)


@socketio.on("send_message")
@rate_limited
def send_message_event(data=None, *_):
    msg = BroadcastMessage.parse(data)
    return send_to_everyone(request.sid, msg.message, msg.client_id)
