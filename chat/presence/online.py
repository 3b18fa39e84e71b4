"""Presence: who is online (in the database, per node, so restarts leave no ghosts) and activity."""

import logging
import os
import socket
import time
import uuid
from datetime import timedelta

from flask import current_app, request
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from ..connections.state import current
from ..extensions import db, socketio
from ..messages.authors import fields_of
from ..models import Connection, Node, User, utc_now

log = logging.getLogger("chat.presence")

# Unique per process unless the operator pins it (CHAT_NODE_ID, one per process): a pinned id
# lets a restarted node drop its previous connections at once instead of after the timeout.
NODE_ID = os.environ.get("CHAT_NODE_ID") or f"{socket.gethostname()}-{uuid.uuid4().hex[:12]}"
_heartbeats = set()


def cutoff():
    return utc_now() - timedelta(seconds=current_app.config["CHAT_PRESENCE_TIMEOUT"])


def beat(orm=None):
    """Mark this node alive; forget nodes (and their connections) that stopped beating.
    orm: the ORM session to do it in (default: the request's)."""
    orm = orm if orm is not None else db.session
    now = utc_now()
    node = orm.get(Node, NODE_ID)
    if node is None:
        orm.add(Node(id=NODE_ID, heartbeat_at=now))
    else:
        node.heartbeat_at = now
    stale = select(Node.id).where(Node.heartbeat_at < cutoff(), Node.id != NODE_ID)
    orm.execute(delete(Connection).where(Connection.node_id.in_(stale)))
    orm.execute(delete(Node).where(Node.heartbeat_at < cutoff(), Node.id != NODE_ID))
    orm.commit()


def start_heartbeat(app):
    """Once per app and process; tests (TESTING) beat on each connect instead."""
    if app.testing or app in _heartbeats:
        return
    _heartbeats.add(app)
    # The first beat is committed before any connection of this node is counted (in a session of
    # its own: the caller's transaction is left alone). In the loop it could be overtaken: with
    # PostgreSQL a query yields to other green threads, which would find no live node yet.
    with Session(db.engine) as own:
        if os.environ.get("CHAT_NODE_ID"):  # a restarted pinned node: its old sockets are gone
            own.execute(delete(Connection).where(Connection.node_id == NODE_ID))
        beat(own)
    socketio.start_background_task(heartbeat_loop, app)


def heartbeat_loop(app):
    interval = app.config["CHAT_PRESENCE_TIMEOUT"] / 3
    while True:
        socketio.sleep(interval)
        try:
            with app.app_context():
                beat()
        except Exception:  # noqa: BLE001 - a database hiccup must not end the loop
            log.exception("presence heartbeat failed")


def live_connections():
    """Connections on nodes whose heartbeat is fresh (this node's heartbeat starts on first use)."""
    start_heartbeat(current_app._get_current_object())
    return select(Connection).join(Node, Node.id == Connection.node_id).where(Node.heartbeat_at >= cutoff())


def connection_count(user_id):
    query = select(func.count()).select_from(live_connections().where(Connection.user_id == user_id).subquery())
    return db.session.execute(query).scalar()


def add_connection(sid, user_id):
    """Record a signed-in user's socket; True when the user just came online."""
    if current_app.testing:
        beat()
    came_online = connection_count(user_id) == 0
    db.session.add(Connection(sid=sid, user_id=user_id, node_id=NODE_ID))
    db.session.commit()
    return came_online


def remove_connection(sid, user_id):
    """Forget a socket; True when that was the user's last one."""
    db.session.execute(delete(Connection).where(Connection.sid == sid))
    db.session.commit()
    return connection_count(user_id) == 0


def touch():
    """Note activity (at most every 30 s per connection) so the user is not shown as away."""
    own = current()
    if own is None or own.user_id is None:
        return
    now = time.monotonic()
    if now - own.touched < 30:
        return
    own.touched = now
    db.session.execute(update(Connection).where(Connection.sid == request.sid).values(last_active=utc_now()))
    db.session.commit()


def online_users():
    """{user id: {"id", "name", "status", "display_name", "avatar_url", "status_text"}} of everyone
    online: `status` is "online" or "away"; `status_text` the profile's status (None when none or
    expired). One query."""
    now = utc_now()
    away_before = now - timedelta(seconds=current_app.config["CHAT_AWAY_AFTER"])
    live = live_connections().subquery()
    profile = (User.display_name, User.avatar, User.status_text, User.status_expires_at)
    rows = db.session.execute(
        select(User.id, User.name, *profile, func.max(live.c.last_active))
        .join(live, live.c.user_id == User.id)
        .group_by(User.id, User.name, *profile)
    ).all()
    result = {}
    for user_id, name, display_name, avatar, status_text, expires, last_active in rows:
        if last_active is not None and last_active.tzinfo is None:
            last_active = last_active.replace(tzinfo=away_before.tzinfo)
        status = "away" if last_active is not None and last_active < away_before else "online"
        if expires is not None and expires.tzinfo is None:
            expires = expires.replace(tzinfo=now.tzinfo)
        if expires is not None and expires <= now:
            status_text = None
        result[user_id] = {"id": user_id, "name": name, "status": status, **fields_of(display_name, avatar)}
        result[user_id]["status_text"] = status_text or None
    return result


def announce(who, status):
    socketio.emit("presence", {"user": {"id": who["id"], "name": who["name"]}, "status": status})


def online_list():
    return sorted(online_users().values(), key=lambda u: u["name"].casefold())
