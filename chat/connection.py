"""Connection lifecycle and events nobody handles."""
import logging

from flask import current_app, request, session
from flask_login import current_user
from flask_socketio import ConnectionRefusedError, join_room

from . import cluster, metrics, presence
from .errors import ChatError
from .extensions import socketio
from .rooms import leave_all, subscribe_memberships, user_channel
from .users import connection_identity, session_still_current

log = logging.getLogger("chat.connection")


@socketio.on("connect")
def connect_event(auth=None):
    if not current_user.is_authenticated and not current_app.config["CHAT_ALLOW_GUESTS"]:
        log.info("refused sid=%s: no session", request.sid)
        raise ConnectionRefusedError("unauthorized")
    who = connection_identity(request.sid)
    if who["id"] is not None:
        if presence.connection_count(who["id"]) >= current_app.config["CHAT_MAX_CONNECTIONS_PER_USER"]:
            log.info("refused sid=%s: too many connections for user=%s", request.sid, who["id"])
            raise ConnectionRefusedError("too_many_connections")
    session["identity"] = who
    if who["id"] is not None:
        join_room(user_channel(who["id"]))
        # A logout that committed after this session was read closed the user's channel before
        # this socket was in it: look again now that it is, or the socket would outlive it.
        if not session_still_current(who["id"]):
            log.info("refused sid=%s: the session ended while connecting", request.sid)
            raise ConnectionRefusedError("session_ended")
        subscribe_memberships(who["id"])
        if presence.add_connection(request.sid, who["id"]):
            presence.announce(who, "online")
    log.info("connect sid=%s user=%s", request.sid, who["id"])
    cluster.connected(request.sid)  # counts it; tells it when delivery is delayed (queue down)


@socketio.on("disconnect")
def disconnect_event(reason=None):
    who = session.get("identity")
    if who is not None:
        leave_all(request.sid)
        if who["id"] is not None and presence.remove_connection(request.sid, who["id"]):
            presence.announce(who, "offline")
    log.info("disconnect sid=%s reason=%s", request.sid, reason)
    metrics.DISCONNECTS.inc()


@socketio.on("*")
def unknown_event(event, *_):
    raise ChatError("unknown_event", f"Unknown event '{event}'.")
