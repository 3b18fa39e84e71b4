"""Connection lifecycle and events nobody handles."""
import logging

from flask import current_app, request, session
from flask_login import current_user
from flask_socketio import ConnectionRefusedError, join_room

from .errors import ChatError
from .extensions import socketio
from .rooms import leave_all
from .users import connection_identity, user_channel

log = logging.getLogger("chat.connection")


@socketio.on("connect")
def connect_event(auth=None):
    if not current_user.is_authenticated and not current_app.config["CHAT_ALLOW_GUESTS"]:
        log.info("refused sid=%s: no session", request.sid)
        raise ConnectionRefusedError("unauthorized")
    who = connection_identity(request.sid)
    session["identity"] = who
    if who["id"] is not None:
        join_room(user_channel(who["id"]))
    log.info("connect sid=%s user=%s", request.sid, who["id"])


@socketio.on("disconnect")
def disconnect_event(reason=None):
    if "identity" in session:
        leave_all(request.sid)
    log.info("disconnect sid=%s reason=%s", request.sid, reason)


@socketio.on("*")
def unknown_event(event, *_):
    raise ChatError("unknown_event", f"Unknown event '{event}'.")
