"""Connection lifecycle and events nobody handles."""
import logging

from flask import request

from .errors import ChatError
from .extensions import socketio
from .rooms import leave_all

log = logging.getLogger("chat.connection")


@socketio.on("connect")
def connect_event(auth=None):
    log.info("connect sid=%s", request.sid)


@socketio.on("disconnect")
def disconnect_event(reason=None):
    leave_all(request.sid)
    log.info("disconnect sid=%s reason=%s", request.sid, reason)


@socketio.on("*")
def unknown_event(event, *_):
    raise ChatError("unknown_event", f"Unknown event '{event}'.")
