"""Presence events: who is online (socket and HTTP), activity, typing hints."""

import time

from flask import Blueprint, current_app, jsonify, request
from flask_socketio import emit

from ..admin.policy import refuse_write
from ..connections.state import state
from ..errors import http_reader_id
from ..extensions import socketio
from ..ratelimit import rate_limited
from ..rooms.access import identity, require_member
from ..validation import RoomRequest
from .online import online_list, touch

bp = Blueprint("presence", __name__)


@socketio.on("who_is_online")
def who_is_online_event(data=None, *_):
    return {"ok": True, "users": online_list()}


@bp.get("/api/presence")
def presence_api():
    http_reader_id()
    return jsonify(users=online_list())


@socketio.on("active")
@rate_limited
def active_event(data=None, *_):
    state().touched = 0
    touch()
    return {"ok": True}


@socketio.on("typing")
@rate_limited
def typing_event(data=None, *_):
    ref = require_member(RoomRequest.parse(data).room)
    if not typing_allowed(ref.name):
        return {"ok": True, "throttled": True}
    refuse_write(identity()["id"], ref.id)  # no hints from a muted user or into an archived room
    touch()
    who = identity()
    hint = {"room": ref.name, "user": {"id": who["id"], "name": who["name"]}}
    emit("typing", hint, to=ref.targets, skip_sid=request.sid)
    return {"ok": True}


def typing_allowed(room):
    """At most one typing hint per CHAT_TYPING_INTERVAL per room and connection; notes this one."""
    interval = current_app.config["CHAT_TYPING_INTERVAL"]
    sent = state().typing
    now = time.monotonic()
    if now - sent.get(room, -interval) < interval:
        return False
    sent[room] = now
    return True
