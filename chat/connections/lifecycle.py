"""Connection lifecycle and events nobody handles."""

import logging

from flask import current_app, request
from flask_login import current_user
from flask_socketio import ConnectionRefusedError, join_room

from .. import metrics
from ..accounts.sessions import connection_identity, session_still_current
from ..cluster import queue as cluster
from ..errors import ChatError
from ..extensions import socketio
from ..presence import online as presence
from ..rooms.access import subscribe_memberships, user_channel
from ..rooms.joining import leave_all
from ..tokens.auth import socket_token, still_usable, token_channel
from .state import begin, current

log = logging.getLogger("chat.connection")


def sent_by_the_client():
    """Whether the connect or disconnect handler runs for an event the client sent under that name.

    python-socketio dispatches a client's event named "connect" or "disconnect" to their handlers
    like any other. While it really connects or disconnects a client, the manager counts the client
    as not connected (pending); an event from the client can only arrive once it is.
    """
    return socketio.server.manager.is_connected(request.sid, request.namespace or "/")


def refuse_reserved(name):
    raise ChatError("unknown_event", f"'{name}' is the server's own event: a client cannot send it.")


def admitted_identity(sid, token=None):
    """Who the connecting client is, if it may connect (an API token, a session, or guests allowed;
    not too many connections of one user); ConnectionRefusedError otherwise."""
    if token is None and not current_user.is_authenticated and not current_app.config["CHAT_ALLOW_GUESTS"]:
        log.info("refused sid=%s: no session", sid)
        raise ConnectionRefusedError("unauthorized")
    who = token[1].public() if token is not None else connection_identity(sid)
    if who["id"] is not None:
        if presence.connection_count(who["id"]) >= current_app.config["CHAT_MAX_CONNECTIONS_PER_USER"]:
            log.info("refused sid=%s: too many connections for user=%s", sid, who["id"])
            raise ConnectionRefusedError("too_many_connections")
    return who


def settle_user(sid, who, token=None):
    """A signed-in user's socket: in the user's channel, following their rooms, counted online."""
    join_room(user_channel(who["id"]))
    if token is not None:
        join_room(token_channel(token.id))  # a revocation closes it
    # A logout (or revocation) that committed after this session (token) was read closed the
    # channel before this socket was in it: look again now that it is, or the socket would outlive it.
    current_still = still_usable(token.id) if token is not None else session_still_current(who["id"])
    if not current_still:
        log.info("refused sid=%s: the session ended while connecting", sid)
        raise ConnectionRefusedError("session_ended")
    subscribe_memberships(who["id"])
    if presence.add_connection(sid, who["id"]):
        presence.announce(who, "online")


@socketio.on("connect")
def connect_event(auth=None):
    if sent_by_the_client():
        refuse_reserved("connect")
    token = socket_token(auth)  # `auth: {token}`: (ApiToken, User), or None
    who = admitted_identity(request.sid, token)
    begin(who, read_only=token is not None and token[0].scope != "write")
    if who["id"] is not None:
        settle_user(request.sid, who, token and token[0])
    log.info("connect sid=%s user=%s", request.sid, who["id"])
    cluster.connected(request.sid)  # counts it; tells it when delivery is delayed (queue down)


@socketio.on("disconnect")
def disconnect_event(reason=None):
    if sent_by_the_client():
        refuse_reserved("disconnect")
    own = current()
    if own is not None:
        who = own.identity
        leave_all(request.sid)
        if who["id"] is not None and presence.remove_connection(request.sid, who["id"]):
            presence.announce(who, "offline")
    log.info("disconnect sid=%s reason=%s", request.sid, reason)
    metrics.DISCONNECTS.inc()


def guard_catch_all(server, namespace="/"):
    """Make an event the client itself names "*" reach unknown_event as one named "*".

    python-socketio calls the catch-all handler with (event, sid, *data) for an event nobody
    handles, but a client's event named "*" matches the handler by name and comes as (sid, *data):
    Flask-SocketIO then takes the sid for the event's name and the data for the sid (an IndexError,
    or a reply to nobody). Such a call is told apart by its first argument being a connected sid.
    """
    handler = server.handlers[namespace]["*"]

    def catch_all(*args):
        if args and isinstance(args[0], str) and server.manager.is_connected(args[0], namespace):
            return handler("*", *args)
        return handler(*args)

    server.handlers[namespace]["*"] = catch_all


def guard_event_names(server):
    """Make an event packet whose name is not a string reach unknown_event.

    A Socket.IO event packet carries a list whose first item is the event's name. python-socketio
    takes `data[0]` and looks it up in a dict: an empty list, an object, a number in place of the
    list, or a list or an object as the name raised inside the server (logged there; the client
    heard nothing). Such a packet is handed on with None as its name, which no handler has, so
    the catch-all refuses it with `unknown_event` (and its ack, if it asked for one, says so).
    """
    handle = server._handle_event

    def handle_event(eio_sid, namespace, ack_id, data):
        if not isinstance(data, list) or not data:
            data = [None]
        elif not isinstance(data[0], str):
            data = [None, *data[1:]]
        return handle(eio_sid, namespace, ack_id, data)

    server._handle_event = handle_event


@socketio.on("*")
def unknown_event(*args):
    # Called with the event's name first; an event the client named "*" itself comes here too,
    # with whatever it sent (or nothing) in that place.
    if args and args[0] is None:  # a packet whose name was not a string (guard_event_names)
        raise ChatError("unknown_event", "An event's name must be a string.")
    event = args[0] if args and isinstance(args[0], str) else "*"
    raise ChatError("unknown_event", f"Unknown event '{event[:100]}'.")
