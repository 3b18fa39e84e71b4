"""The receiving half of the message queue: each node's subscription to the cluster's channel.

`QueueReader._listen` is the method python-socketio's pub/sub managers leave to their backends
(chat/cluster/queue.py's ChatRedisManager mixes it in). It subscribes to the channel and its
control channel, subscribes again after a failure, reads only the header of a stored message
none of this node's clients receives, and hands each channel's stored messages out in id order
(chat/cluster/sequence.py).
"""

import json
import logging
import time

from .. import metrics
from .sequence import Resequencer

log = logging.getLogger("chat.cluster")

# The listener subscribes again after 0.1, 0.2, … at most this many seconds: clients catch up
# within about that long of Redis answering again (a refused connection costs nothing).
LISTEN_RETRY_MAX = 0.5
# A stored message is published as JSON that starts with its routing header (the channel, id,
# prev and the Socket.IO rooms it goes to), so that a node reads the header alone for messages
# none of its clients receives. Nodes of an older version read it as an ordinary emit.
ORDER_PREFIX = '{"order": '
_decoder = json.JSONDecoder()


def read_header(text):
    """(channel, id, prev, targets) of a stored message's header (channel and id None for one
    that is not ordered), None for a message without one; ValueError for a malformed one."""
    if not text.startswith(ORDER_PREFIX):
        return None
    header, _ = _decoder.raw_decode(text, len(ORDER_PREFIX))
    if not isinstance(header, list) or len(header) != 4:
        raise ValueError("a header is [channel, id, prev, rooms]")
    channel, message_id, prev, targets = header
    ordered = isinstance(channel, str) and type(message_id) is int and (prev is None or type(prev) is int)
    if not ordered and (channel, message_id, prev) != (None, None, None):
        raise ValueError("a header's channel, id and prev are a name and ids, or all null")
    if not (targets is None or isinstance(targets, str) or _names(targets)):
        raise ValueError("a header's rooms are null, a name or a list of names")
    return header


def _names(value):
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def encode(message, json_module, header=None):
    """A message for the queue, as JSON that starts with its routing header: `header` as given (a
    stored message: [channel, id, prev, rooms]), else [None, None, None, rooms] for any other
    emit to rooms of the default namespace (a join notice, typing, an update), so that a node
    none of whose clients is in them reads the header alone. A broadcast, an emit with a
    callback or to another namespace: plain JSON, read by every node."""
    if header is None:
        rooms = message.get("room")
        rooms = list(rooms) if isinstance(rooms, tuple) else rooms
        routed = isinstance(rooms, str) or (bool(rooms) and _names(rooms))
        if not routed or message.get("method") != "emit" or message.get("namespace") != "/" or message.get("callback"):
            return json_module.dumps(message)
        header = [None, None, None, rooms]
    return ORDER_PREFIX + json.dumps(header) + ", " + json_module.dumps(message)[1:]


class QueueReader:
    """Needs, from the manager it is mixed into: channel, control_channel, redis_url, json,
    rooms (python-socketio's), listening, listen_failed, reorder_wait, reorder_limit,
    _get_redis_module(), _listening(up, changed) and _handle_control(raw)."""

    def _listen(self):
        channel, control = self.channel.encode(), self.control_channel.encode()
        sequence = self.sequence = Resequencer(self.reorder_wait, self.reorder_limit)
        delay = 0.1
        while True:
            pubsub = None
            try:
                client = self._get_redis_module().Redis.from_url(
                    self.redis_url, socket_connect_timeout=2, socket_keepalive=True
                )
                pubsub = client.pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(self.channel, self.control_channel)
                delay = 0.1
                recovered, self.listen_failed = self.listen_failed, False
                self._listening(True, recovered)
                while True:
                    deadline = sequence.next_deadline()
                    wait = None if deadline is None else max(0.0, deadline - time.monotonic())
                    message = pubsub.get_message(ignore_subscribe_messages=True, timeout=wait)
                    if message is not None and message.get("type") == "message":
                        if message["channel"] == control:
                            self._handle_control(message["data"])
                        elif message["channel"] == channel:
                            yield from self._received(message["data"], sequence)
                    if deadline is not None and time.monotonic() >= deadline:
                        late = sequence.expired(time.monotonic())
                        if late:
                            metrics.QUEUE_HELD.inc("gave_up", len(late))
                        yield from late
            except Exception as exc:  # noqa: BLE001 - reconnect on anything
                metrics.QUEUE_ERRORS.inc("listen")
                if self.listening or not self.listen_failed:
                    log.warning("message queue unreachable (%s); subscribing again", exc)
                first_failure = not self.listen_failed
                self.listen_failed = True
                self._listening(False, first_failure)
                yield from sequence.release_all()  # what came is sent; clients catch up on the rest
                time.sleep(delay)
                delay = min(delay * 2, LISTEN_RETRY_MAX)
            finally:
                if pubsub is not None:
                    try:
                        pubsub.close()
                    except Exception:  # noqa: BLE001
                        pass

    def _received(self, raw, sequence):
        """The emits a published message makes on this node now: none when no client of this
        node receives it (only its header is read), held ones when it completes a sequence, none
        when it cannot be read (counted, logged; the subscription goes on)."""
        try:
            text = raw.decode() if isinstance(raw, bytes) else raw
            header = read_header(text)
            if header is not None and not self._serves(header[3]):
                if header[0] is not None:  # a new stored message
                    metrics.QUEUE_SKIPPED.inc()
                    sequence.skipped(header[0], header[1])  # where a joiner's history will stop
                return ()
            data = self.json.loads(text)
        except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError included
            metrics.QUEUE_ERRORS.inc("decode")
            log.warning("skipped a message from the queue that is not one of ours (%s)", exc)
            return ()
        sent_at = data.get("sent_at") if isinstance(data, dict) else None
        if isinstance(sent_at, (int, float)):
            metrics.QUEUE_LAG.observe(max(0.0, time.time() - sent_at))
        if header is None or header[1] is None:
            return (data,)
        out = sequence.push(header[0], header[1], header[2], data, time.monotonic())
        if not out:
            metrics.QUEUE_HELD.inc("held")
        return out

    def _serves(self, targets):
        """True when one of this node's clients is in one of the Socket.IO rooms (None: all)."""
        rooms = self.rooms.get("/")
        if not rooms:
            return False
        if targets is None:
            return True
        if isinstance(targets, str):
            return targets in rooms
        return any(target in rooms for target in targets)

    def delivered_upto(self, channel):
        """The id of the channel's newest message this node has handed to its clients, every
        earlier one handed out or given up on, or the newest that went by while it had no client
        in the channel (Resequencer.upto). None: not known (no message of the channel since the
        node started, or the queue is down and messages go to local clients directly)."""
        sequence = getattr(self, "sequence", None)
        if sequence is None or self.degraded:
            return None
        return sequence.upto(channel)

    def seed_delivered(self, channel, message_id):
        """A joiner's history read found the channel's messages up to `message_id` (0: none) while
        this node knew nothing of the channel (Resequencer.seed)."""
        sequence = getattr(self, "sequence", None)
        if sequence is not None and not self.degraded:
            sequence.seed(channel, message_id)
