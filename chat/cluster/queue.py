"""Several nodes: Flask-SocketIO's Redis message queue, and what every node must share.

With CHAT_MESSAGE_QUEUE=redis://… every node uses python-socketio's Redis manager, so an
emit on one node reaches the clients of every node once. This module adds what chat needs
on top of it:

* Stored messages go out through the queue only, the sending node included: every node
  then hands a channel's messages to its clients in one order, Redis' publish order. A
  channel's messages are stored one at a time (a PostgreSQL advisory lock per channel,
  see `channel_lock`), so that order is also id order, and each message carries `prev`,
  the id of the channel's message before it: a client that sees `prev` above the last id it
  has knows it missed something and asks `get_history {since}`.
* When the queue is down, a stored message goes to the sending node's own clients at once,
  and nodes tell their clients `delivery {delayed: true}`; once Redis answers again each node
  subscribes again and sends `delivery {delayed: false}`: clients then catch up with
  `since`. Nothing accepted is lost: it was stored before it was sent.
* A control channel (`<channel>:control`) carries what python-socketio has no message for:
  closing every socket of a user on every node (logout), taking a removed member's sockets out
  of a room and making their connections forget it, and "catch up" after a failed publish.
"""

import json
import logging
import time
import uuid
from contextlib import contextmanager
from time import perf_counter

import redis
import socketio as socketio_pkg
from flask import current_app
from flask_socketio import SocketIO

from .. import metrics
from ..connections.state import state_in
from ..extensions import socketio
from ..names import name_key
from .marks import marks
from .reader import QueueReader, encode

log = logging.getLogger("chat.cluster")

DELIVERY_EVENT = "delivery"
# After a failed publish, writes skip the queue for this long instead of waiting on it.
PUBLISH_RETRY_AFTER = 1.0
# Clocks of nodes agree to within this many seconds (NTP): see `_resync`.
CLOCK_SKEW = 0.25

_external = None  # a write-only manager (the `flask chat announce` process)


class CountingManager(socketio_pkg.Manager):
    """python-socketio's in-memory manager, counting what it sends to this node's clients."""

    def emit(self, event, data, namespace, room=None, skip_sid=None, callback=None, to=None, **kwargs):
        room = to or room
        rooms = self.rooms.get(namespace or "/")
        if rooms:
            if room is None or isinstance(room, str):
                count = len(rooms.get(room, ()))
            else:
                count = sum(len(rooms.get(r, ())) for r in room)
            if skip_sid is not None and count:
                count -= 1 if isinstance(skip_sid, str) else len(skip_sid)
            if count > 0:
                metrics.MESSAGES_OUT.inc(event, count)
        return super().emit(event, data, namespace, room=room, skip_sid=skip_sid, callback=callback, **kwargs)


class ChatRedisManager(QueueReader, socketio_pkg.RedisManager, CountingManager):
    """python-socketio's Redis manager, with a listener that reports its state and a publisher
    that does not stall writes while Redis is down.

    `_publish` and `_listen` (chat/cluster/reader.py) are the two methods python-socketio's
    pub/sub managers leave to their backends; the rest is python-socketio's own code.
    """

    name = "chat-redis"

    def __init__(self, url, channel, write_only=False, reorder_wait=0.5, reorder_limit=1000):
        self.reorder_wait, self.reorder_limit = reorder_wait, reorder_limit
        super().__init__(
            url,
            channel=channel,
            write_only=write_only,
            redis_options={"socket_timeout": 2, "socket_connect_timeout": 2},
        )
        self.control_channel = f"{channel}:control"
        # Stored messages are published under this id, which no node has: every node, the
        # sender included, delivers them from the queue.
        self.relay_id = uuid.uuid4().hex
        self.listening = False
        self.ever_listened = False
        self.listen_failed = False
        self.publish_failed_at = None
        self.unpublished_at = None  # time.time() of the last stored message other nodes did not get
        self.told = None  # the last `delivery {delayed}` this node's clients got (None: none yet)
        self.told_at = 0.0  # time.time() when they were last told {delayed: false}
        # op -> handler(message) for control messages other capabilities define (chat/admin).
        self.control_handlers = {}

    @property
    def degraded(self):
        """True while messages from other nodes may not arrive (not subscribed, or publishing fails)."""
        return self.listen_failed or self.publish_failed_at is not None

    # ---- sending ----

    def emit(self, event, data, namespace=None, room=None, skip_sid=None, callback=None, to=None, **kwargs):
        room = to or room
        if (
            room is not None
            and isinstance(room, str)
            and callback is None
            and not kwargs.get("ignore_queue")
            and self.is_connected(room, namespace or "/")
        ):
            # One of this node's clients (a history reply, an error): no other node has it.
            kwargs["ignore_queue"] = True
        return super().emit(event, data, namespace=namespace, room=room, skip_sid=skip_sid, callback=callback, **kwargs)

    def emit_stored(self, event, payload, room, ordered=False):
        """Publish a stored message for every node; True when the queue took it.

        ordered: a new message of its channel, with `id` and `prev` (chat/cluster/order.py), which
        every node hands out in id order (chat/cluster/sequence.py).
        """
        header = (
            [payload.get("room") or "", payload["id"], payload.get("prev"), room]
            if ordered
            else [None, None, None, room]
        )
        message = {
            "method": "emit",
            "event": event,
            "data": [payload],
            "binary": False,
            "namespace": "/",
            "room": room,
            "skip_sid": None,
            "callback": None,
            "host_id": self.relay_id,
            "sent_at": time.time(),
        }
        if self._publish(message, encoded=encode(message, self.json, header)):
            return True
        self.unpublished_at = time.time()
        if self.server is not None and not self.write_only:
            # The queue is down: this node's clients get it now, the others catch up later.
            self.server.emit(event, payload, to=room, namespace="/", ignore_queue=True)
        return False

    def publish_control(self, op, **fields):
        return self._publish({"op": op, "origin": self.host_id, **fields}, channel=self.control_channel)

    def _publish(self, data, channel=None, encoded=None):
        failed_at = self.publish_failed_at
        if failed_at is not None and time.monotonic() - failed_at < PUBLISH_RETRY_AFTER:
            metrics.QUEUE_ERRORS.inc("publish_skipped")
            return False
        if encoded is None:
            # python-socketio's own emits: with a header naming their rooms (reader.py).
            encoded = encode(data, self.json) if channel is None else self.json.dumps(data)
        error = None
        for _ in range(2):
            try:
                if not self.connected:
                    self._redis_connect()
                started = perf_counter()
                self.redis.publish(channel or self.channel, encoded)
                metrics.QUEUE_PUBLISH.observe(perf_counter() - started)
                break
            except Exception as exc:  # noqa: BLE001 - any failure means "not published"
                self.connected = False
                error = exc
        else:
            metrics.QUEUE_ERRORS.inc("publish")
            self.publish_failed_at = time.monotonic()
            if failed_at is None:
                log.warning("message queue unreachable, delivering to this node only: %s", error)
                self._tell_clients(delayed=True)
            return False
        if failed_at is not None:
            self.publish_failed_at = None
            log.warning("message queue reachable again")
            self._resync()
            self._tell_clients(delayed=False)
        return True

    def _resync(self):
        """Messages this node could not publish are stored: the other nodes' clients catch up, if
        they were told {delayed: false} before the last of them was stored (see `_handle_control`)."""
        if self.unpublished_at is not None:
            self.publish_control("resync", unpublished_at=self.unpublished_at)
            self.unpublished_at = None

    def _tell_clients(self, delayed, force=False):
        """`delivery {delayed}` to this node's clients, once per change; {delayed: false} also
        means "catch up" (force: again, for messages stored since the last time)."""
        if self.server is None or self.write_only:
            return
        if delayed and self.told is True:
            return
        if not delayed:
            if self.degraded:
                return  # still degraded the other way: "catch up" comes when that ends too
            if self.told is False and not force:
                return
            self.told_at = time.time()
        self.told = delayed
        self.server.emit(DELIVERY_EVENT, {"delayed": delayed}, namespace="/", ignore_queue=True)

    # ---- receiving ----

    def _listening(self, up, changed=False):
        """`changed`: subscribed after a failure, or the first failure."""
        was, self.listening = self.listening, up
        if up and not was:
            if self.publish_failed_at is not None:  # Redis answers again: no need to wait for a write
                self.publish_failed_at = None
            self._resync()
            if self.ever_listened or changed:
                metrics.QUEUE_RECONNECTS.inc()
                log.warning("subscribed to the message queue again; clients catch up")
                self._tell_clients(delayed=False)
            self.ever_listened = True
        elif not up and (was or changed):
            self._tell_clients(delayed=True)

    def _handle_control(self, raw):
        try:
            message = json.loads(raw)
        except ValueError:
            return
        if not isinstance(message, dict) or message.get("origin") == self.host_id:
            return
        op = message.get("op")
        if op == "disconnect" and isinstance(message.get("room"), str):
            disconnect_local(self.server, message["room"])
        elif op == "leave" and isinstance(message.get("members_of"), str) and isinstance(message.get("room"), str):
            forget = message.get("forget")  # absent from nodes of an older version
            forget = forget if isinstance(forget, str) else None
            leave_local(self.server, message["members_of"], message["room"], forget)
        elif op == "resync":
            # Another node stored messages it could not publish. This node's clients have them
            # if they were told to catch up after the last of them was stored.
            at = message.get("unpublished_at")
            if not isinstance(at, (int, float)) or at > self.told_at - CLOCK_SKEW:
                self._tell_clients(delayed=False, force=True)
        elif op in self.control_handlers:
            self.control_handlers[op](message)


def disconnect_local(server, room):
    """Close this node's sockets in the Socket.IO room `room`."""
    sids = [sid for sid, _ in server.manager.get_participants("/", room)]
    for sid in sids:
        server.disconnect(sid, namespace="/", ignore_queue=True)


def connected(sid):
    """A client was accepted on this node."""
    metrics.CONNECTS.inc()
    manager = queue_manager()
    if manager is not None and manager.degraded:
        socketio.emit(DELIVERY_EVENT, {"delayed": True}, to=sid)


def leave_local(server, members_of, room, forget=None):
    """Take this node's sockets in the Socket.IO room `members_of` out of the room `room`;
    `forget`: the chat room those connections also stop remembering."""
    for sid, _ in list(server.manager.get_participants("/", members_of)):
        server.leave_room(sid, room, namespace="/")
        if forget is not None:
            forget_in_connection(server, sid, forget)


def forget_in_connection(server, sid, name):
    """Drop the chat room `name` from what the connection `sid` remembers (its session)."""
    environ = server.get_environ(sid, namespace="/")
    # Flask-SocketIO keeps each connection's session in its environ from the first event on.
    state = state_in(environ.get("saved_session") if environ else None)
    if state is not None:
        state.forget(name_key(name))


def leave_room_everywhere(members_of, room, forget=None):
    """Take every socket in `members_of` (a user's channel) out of `room`, on every node; with
    `forget` (a chat room's name) those connections also forget that room."""
    server = socketio.server
    if server is None:
        return
    leave_local(server, members_of, room, forget)
    manager = queue_manager()
    if manager is not None:
        manager.publish_control("leave", members_of=members_of, room=room, forget=forget)


def init_app(app):
    """The client manager for socketio.init_app(): Redis when CHAT_MESSAGE_QUEUE is set."""
    url = app.config.get("CHAT_MESSAGE_QUEUE")
    if url:
        return ChatRedisManager(
            url,
            channel=app.config["CHAT_QUEUE_CHANNEL"],
            reorder_wait=app.config["CHAT_QUEUE_REORDER_WAIT"],
            reorder_limit=app.config["CHAT_QUEUE_REORDER_LIMIT"],
        )
    return CountingManager()


def queue_manager():
    """The ChatRedisManager in use (this process' or the write-only one), or None."""
    if _external is not None:
        return _external
    server = socketio.server
    manager = server.manager if server is not None else None
    return manager if isinstance(manager, ChatRedisManager) else None


def start(app):
    """Subscribe now (a gunicorn worker after loading the app), not at the first connection,
    so that no message published before the first client arrives is missed."""
    server = socketio.server
    if server is not None and isinstance(server.manager, ChatRedisManager) and not server.manager_initialized:
        server.manager_initialized = True
        server.manager.initialize()


@contextmanager
def external_emitter(url, channel):
    """Flask-SocketIO's write-only mode: emit to every node's clients from another process."""
    global _external
    manager = ChatRedisManager(url, channel=channel, write_only=True)
    writer = SocketIO(message_queue=url, client_manager=manager, async_mode="threading")
    _external = manager
    try:
        yield writer
    finally:
        _external = None


def emit_stored(event, payload, to, ordered=False):
    """Send a stored message to its recipients on every node; False if only this node got it.
    ordered: a new message of its channel (stored in id order), handed out in id order on every
    node."""
    manager = queue_manager()
    metrics.MESSAGES_IN.inc(event)
    if manager is None:
        if ordered:
            # Before the emit: a client that joins the room after this line gets the message in
            # its history if it missed it live (see delivered_upto).
            marks().handed(payload.get("room") or "", payload["id"])
        socketio.emit(event, payload, to=to)
        return True
    return manager.emit_stored(event, payload, to, ordered=ordered and "prev" in payload)


def disconnect_room(room):
    """Close every socket in the Socket.IO room `room`, on every node."""
    server = socketio.server
    if server is None:
        return
    disconnect_local(server, room)
    manager = queue_manager()
    if manager is not None:
        manager.publish_control("disconnect", room=room)


def redis_status():
    """'ok', 'unavailable' (no PING answer) or 'reconnecting' (answers, not subscribed yet)."""
    url = current_app.config.get("CHAT_MESSAGE_QUEUE")
    client = _ping_clients.get(url)
    if client is None:
        client = _ping_clients[url] = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
    try:
        client.ping()
    except Exception:  # noqa: BLE001
        return "unavailable"
    manager = queue_manager()
    if manager is not None and manager.ever_listened and not manager.listening:
        return "reconnecting"
    return "ok"


_ping_clients = {}
