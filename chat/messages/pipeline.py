"""Pipelined sends: a connection's next message is read while its previous one is being stored.

A connection's events are handled one after another, each to its end (`async_handlers=False`).
On PostgreSQL the end of a message is a round trip, so a sender with a backlog has one message
stored per loop turn: two busy senders on a loaded node fall behind although the node has CPU
to spare (docs/benchmarks/investigations.md, "sat-s2 on PostgreSQL").

Here a message that finds a commit in flight (history's write lock held, or messages already
waiting for it) is queued for the next group commit, and its handler returns at once: the
connection's reader goes on to the next frame, and a sender's backlog is stored in one commit.
A committer green thread (one per process, while anything is queued) stores what is queued;
each message's ack goes out when it is stored and sent. What the client sees does not change:

- a connection's messages are stored in arrival order (ids), sent, then acked in that order;
- any other event of the connection (a reply in a thread, an edit, `leave_room`,
  `get_history`...) waits until its queued messages are stored, sent and acked, so it sees
  them, as before;
- at most CHAT_PIPELINE_DEPTH messages of a connection are queued at once: the next one waits,
  and the reader stops reading (the socket's own flow control reaches the sender). 0: off;
- at most CHAT_PIPELINE_LIMIT in the process (a stalled database holds no more than that in
  memory): past it a message is stored before its connection's next frame is read, as before.

Only over a transport (an Engine.IO socket): Flask-SocketIO's test client calls the handlers
itself and takes the ack from the handler's return.
"""

import logging
import threading
import time
from collections import deque
from contextvars import ContextVar

from flask import current_app
from socketio import packet

from .. import metrics
from ..errors import before_refusal, error_payload
from ..extensions import db, socketio

log = logging.getLogger("chat.pipeline")

QUEUEABLE = frozenset({"room_message", "send_message"})

_slot = ContextVar("chat_send_slot", default=None)
_flights = {}  # Socket.IO sid -> Flight, while the connection has queued messages
_committer = {"running": False, "queued": 0}  # queued: messages queued in the process, not yet acked
_settings = {"timeout": 10.0}
_lock = threading.Lock()  # _flights' entries and the committer's flag


class Slot:
    """Where a queued message's ack goes: the connection, the namespace, the ack id."""

    __slots__ = ("server", "sid", "eio_sid", "namespace", "ack_id", "event", "limit")

    def __init__(self, server, sid, eio_sid, namespace, ack_id, event, limit):
        self.server, self.sid, self.eio_sid = server, sid, eio_sid
        self.namespace, self.ack_id, self.event = namespace, ack_id, event
        self.limit = limit  # messages queued in the process at most (CHAT_PIPELINE_LIMIT)


class Flight:
    """A connection's queued messages, oldest first, until each is acked."""

    __slots__ = ("writes", "changed")

    def __init__(self):
        self.writes = deque()
        self.changed = threading.Condition()

    def wait_below(self, limit, timeout):
        """Wait until fewer than `limit` are queued; False after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while len(self.writes) >= limit:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.changed.wait(left)
        return True


def wait_for_flight(sid, limit=1, timeout=None):
    """Wait until the connection `sid` has fewer than `limit` messages queued (at most the
    configured timeout; then log and go on: the database is stalled, and the connection's
    reader must not be held forever)."""
    flight = _flights.get(sid)
    if flight is None:
        return
    timeout = _settings["timeout"] if timeout is None else timeout
    if not flight.wait_below(limit, timeout):
        log.warning("sid=%s: %d queued messages not stored after %g s; going on", sid, len(flight.writes), timeout)


def slot():
    """The running event's Slot when its message may be queued (a transport's room_message or
    send_message, pipelining on), else None."""
    return _slot.get()


def in_flight(sid):
    return sid in _flights


def queued(write, waiting, store_waiting):
    """Queue `write` (its `slot` set) behind the `waiting` deque's messages, and make sure the
    committer runs `store_waiting` until nothing waits. Returns what the handler returns: no
    ack now (python-socketio sends none for "not handled"; finished() sends it); None when the
    process already holds CHAT_PIPELINE_LIMIT queued messages (not queued)."""
    sid = write.slot.sid
    with _lock:
        if _committer["queued"] >= write.slot.limit:
            return None  # the process holds enough: the caller stores it before reading on
        _committer["queued"] += 1
        flight = _flights.get(sid)
        if flight is None:
            flight = _flights[sid] = Flight()
        flight.writes.append(write)
        waiting.append(write)
        start = not _committer["running"]
        _committer["running"] = True
    if start:
        socketio.start_background_task(_commit, current_app._get_current_object(), waiting, store_waiting)
    metrics.MESSAGES_QUEUED.inc()
    return write.slot.server.not_handled


def _commit(app, waiting, store_waiting):
    """The committer: store what waits, batch after batch, until nothing does."""
    try:
        with app.app_context():
            while True:
                try:
                    store_waiting()
                except Exception:  # noqa: BLE001 - every write of the batch got its ack; go on
                    log.exception("storing queued messages failed")
                finally:
                    db.session.remove()  # no session (nor pooled connection) held between batches
                with _lock:
                    if not waiting:
                        _committer["running"] = False
                        return
    except BaseException:  # killed (the process stops): the next queued message starts another
        with _lock:
            _committer["running"] = False
        raise


def ack_reply(payload, created):
    """A stored message's ack: its id; `duplicate` for a retried client_id stored before."""
    reply = {"ok": True, "id": payload["id"]}
    if not created:
        reply["duplicate"] = True
    return reply


def finished(write):
    """A queued message is stored and sent, or failed: ack it, and let the connection's next
    event through. Called in batch order, under history's write lock."""
    slot = write.slot
    try:
        server = slot.server
        connected = server.manager.is_connected(slot.sid, slot.namespace)
        if write.error is None:
            reply = ack_reply(write.payload, write.created)
        else:
            payload = error_payload(write.error, slot.event, slot.sid)  # logged and counted
            if connected:
                socketio.emit("error", payload, to=slot.sid, namespace=slot.namespace)
            reply = {"ok": False, "error": payload}
        if slot.ack_id is not None and connected:
            ack = server.packet_class(packet.ACK, namespace=slot.namespace, id=slot.ack_id, data=[reply])
            server._send_packet(slot.eio_sid, ack)
    except Exception:  # noqa: BLE001 - the connection's next event must still get through
        log.exception("acking a queued message failed")
    finally:
        with _lock:
            flight = _flights.get(slot.sid)
            if flight is not None and write in flight.writes:
                _committer["queued"] -= 1
                flight.writes.remove(write)
                if not flight.writes:
                    del _flights[slot.sid]
        if flight is not None:
            with flight.changed:
                flight.changed.notify_all()


def over_transport(server, eio_sid):
    """True for a connection with an Engine.IO socket (not Flask-SocketIO's test client)."""
    return eio_sid in server.eio.sockets


def install(server, depth, limit, timeout):
    """Route the server's events through the pipeline (depth: messages queued per connection;
    limit: in the process; past it a message is stored before the connection's next frame is
    read, as with depth 0; timeout: how long a connection's next event, or its disconnect,
    waits for its queued messages at most)."""
    if depth <= 0:
        return
    _settings["timeout"] = timeout
    before_refusal(wait_for_flight)  # a refused message's error and ack after the queued ones'
    handle = server._handle_event_internal  # runs the handler, then sends its ack
    handle_disconnect = server._handle_disconnect

    def handle_event(srv, sid, eio_sid, data, namespace, ack_id):
        name = data[0] if data else None
        queueable = name in QUEUEABLE and over_transport(srv, eio_sid)
        if sid in _flights:
            wait_for_flight(sid, depth if queueable else 1)
        if not queueable:
            return handle(srv, sid, eio_sid, data, namespace, ack_id)
        token = _slot.set(Slot(srv, sid, eio_sid, namespace or "/", ack_id, name, limit))
        try:
            return handle(srv, sid, eio_sid, data, namespace, ack_id)
        finally:
            _slot.reset(token)

    def disconnected(eio_sid, namespace, reason=None):
        # The leave notices and the offline status go out after the connection's last messages.
        sid = server.manager.sid_from_eio_sid(eio_sid, namespace or "/")
        if sid in _flights:
            wait_for_flight(sid)
        return handle_disconnect(eio_sid, namespace, reason)

    server._handle_event_internal = handle_event
    server._handle_disconnect = disconnected
