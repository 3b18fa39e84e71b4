"""The node-side resequencer: a channel's stored messages go out in id order (chat/cluster/sequence.py),
and the reader's decoding of what comes from the queue (chat/cluster/reader.py)."""

import json
import random

import pytest

from chat import metrics
from chat.cluster.reader import QueueReader, encode, read_header
from chat.cluster.sequence import Resequencer

pytestmark = pytest.mark.once


def chain(ids, start=None):
    """(id, prev) pairs of consecutive messages of one channel."""
    prev = start
    for message_id in ids:
        yield message_id, prev
        prev = message_id


def test_in_order_messages_go_out_at_once():
    seq = Resequencer()
    out = [m for i, p in chain([1, 2, 3]) for m in seq.push("r", i, p, f"m{i}", 0.0)]
    assert out == ["m1", "m2", "m3"] and seq.next_deadline() is None


def test_a_message_ahead_of_its_predecessor_waits_for_it():
    seq = Resequencer(wait=0.5)
    assert seq.push("r", 53, 52, "m53", 0.0) == ["m53"]  # the first one seen: nothing to wait for
    assert seq.push("r", 55, 54, "m55", 0.01) == []
    assert seq.push("r", 56, 55, "m56", 0.02) == []
    assert seq.next_deadline() == pytest.approx(0.51)
    assert seq.push("r", 54, 53, "m54", 0.03) == ["m54", "m55", "m56"]
    assert seq.next_deadline() is None and seq.expired(10.0) == []


def test_channels_are_independent():
    seq = Resequencer()
    seq.push("a", 1, None, "a1", 0.0)
    seq.push("b", 2, None, "b2", 0.0)
    assert seq.push("a", 4, 3, "a4", 0.0) == []
    assert seq.push("b", 3, 2, "b3", 0.0) == ["b3"]
    assert seq.push("a", 3, 1, "a3", 0.0) == ["a3", "a4"]


def test_a_message_that_never_comes_is_given_up_on_after_the_wait():
    seq = Resequencer(wait=0.5)
    seq.push("r", 10, 9, "m10", 0.0)
    assert seq.push("r", 13, 12, "m13", 0.1) == []
    assert seq.push("r", 12, 11, "m12", 0.2) == []  # 11 was lost (its node died after the commit)
    assert seq.expired(0.5) == []
    assert seq.expired(0.61) == ["m12", "m13"]  # in id order
    assert seq.push("r", 14, 13, "m14", 0.7) == ["m14"]
    assert seq.push("r", 11, 10, "m11", 0.8) == ["m11"]  # late after all: still delivered, never dropped


def test_a_seeded_channels_first_live_messages_wait_for_their_predecessor():
    """A joiner's history read tells where the node starts (0: an empty room): the room's first
    two messages arriving from two nodes in the wrong order still go out in id order. Unseeded,
    the first one seen went out at once ("73 before 72" on a new room in the cluster test)."""
    seq = Resequencer(wait=0.5)
    seq.seed("new", 0)
    assert seq.push("new", 73, 72, "m73", 0.0) == []
    assert seq.push("new", 72, None, "m72", 0.01) == ["m72", "m73"]
    seq.seed("old", 71)
    assert seq.push("old", 80, 79, "m80", 0.0) == []
    assert seq.push("old", 79, 71, "m79", 0.0) == ["m79", "m80"]
    assert seq.upto("old") == 80
    unseeded = Resequencer()
    assert unseeded.push("new", 73, 72, "m73", 0.0) == ["m73"]


def test_a_seed_never_overrides_what_the_node_has_seen():
    seq = Resequencer()
    seq.push("r", 50, 49, "m50", 0.0)
    seq.seed("r", 10)  # a history read that started before 50 went out
    assert seq.upto("r") == 50 and seq.push("r", 51, 50, "m51", 0.0) == ["m51"]
    seq.skipped("s", 30)
    seq.seed("s", 20)
    assert seq.upto("s") == 30
    seq.seed("t", 5)
    seq.seed("t", 9)  # a second joiner's read: the first seed stands
    assert seq.upto("t") == 5


def test_messages_after_a_skip_mark_wait_for_their_predecessor():
    """A node that skipped a room's messages (no client in it) knows the newest that went by: once
    a client joins, a message whose predecessor is still on its way waits for it."""
    seq = Resequencer(wait=0.5)
    seq.skipped("r", 11)
    assert seq.push("r", 13, 12, "m13", 0.0) == []
    assert seq.push("r", 12, 11, "m12", 0.01) == ["m12", "m13"]
    seq.skipped("q", 11)
    assert seq.push("q", 13, 12, "m13", 0.0) == []
    assert seq.expired(0.6) == ["m13"]  # 12's node died after its commit: given up on, as ever


def test_the_same_message_twice_is_held_once():
    seq = Resequencer()
    seq.push("r", 1, None, "m1", 0.0)
    assert seq.push("r", 3, 2, "m3", 0.0) == []
    assert seq.push("r", 3, 2, "m3", 0.0) == []
    assert seq.push("r", 2, 1, "m2", 0.0) == ["m2", "m3"]


def test_held_messages_are_bounded():
    seq = Resequencer(wait=60, limit=5)
    seq.push("r", 1, None, "m1", 0.0)
    out = []
    for i in range(3, 10):
        out += seq.push("r", i, i - 1, f"m{i}", 0.0)
    assert out == [f"m{i}" for i in range(3, 9)] + ["m9"] and seq.count == 0  # 3..8 let go at the sixth
    assert seq.push("r", 11, 10, "m11", 0.0) == []
    assert seq.release_all() == ["m11"] and seq.count == 0


def test_remembered_channels_are_bounded():
    seq = Resequencer(channels=100)
    for i in range(1000):
        seq.push(f"room{i}", i, None, i, 0.0)
    assert len(seq.last) == 100


def test_any_interleaving_of_several_channels_comes_out_in_order_and_complete():
    rng = random.Random(7)
    for _ in range(200):
        seq = Resequencer(wait=1.0)
        messages = []
        for channel in "abc":
            ids = sorted(rng.sample(range(1, 1000), 20))
            messages += [(channel, i, p) for i, p in chain(ids)]
        first = {channel: next(m for m in messages if m[0] == channel) for channel in "abc"}
        rest = [m for m in messages if m not in first.values()]
        rng.shuffle(rest)
        out = [m for m in first.values() for m in seq.push(m[0], m[1], m[2], m, 0.0)]
        for m in rest:
            out += seq.push(m[0], m[1], m[2], m, 0.0)
        assert sorted(out) == sorted(messages)
        for channel in "abc":
            ids = [m[1] for m in out if m[0] == channel]
            assert ids == sorted(ids)


class Reader(QueueReader):
    """The queue reader's decoding, without Redis: one client in the Socket.IO room "r"."""

    json = json
    rooms = {"/": {"r": {"sid": "eio"}}}


def published(header, event="room_message"):
    return '{"order": ' + json.dumps(header) + ', "method": "emit", "event": "' + event + '", "data": [{}]}'


@pytest.mark.parametrize(
    "raw",
    [
        b"\xff\xfe",
        "not json",
        '{"order": [1, 2',
        published(["r", "7", None, ["r"]]),
        published(["r", 7, {"x": 1}, ["r"]]),
        published(["r", 7, None, [{"x": 1}]]),
        published(["r", 7, None]),
        published({"channel": "r"}),
        published([None, 7, None, ["r"]]),
    ],
)
def test_a_message_on_the_queue_that_is_not_ours_is_skipped_and_the_next_one_read(raw):
    reader, sequence = Reader(), Resequencer()
    assert reader._received(raw, sequence) == ()
    good = published(["r", 8, None, ["r"]])
    assert [m["event"] for m in reader._received(good.encode(), sequence)] == ["room_message"]
    assert reader._received(published(["r", 9, 8, ["elsewhere"]]), sequence) == ()  # no client there


def test_a_skipped_channel_remembers_where_a_joiners_history_stops():
    """A node with no client in a room reads only the headers of its messages; a client that
    joins there gets history up to the newest id that went by, and every later one live."""
    sequence = Resequencer()
    assert sequence.upto("r") is None  # nothing seen: not known (history is the newest page)
    sequence.skipped("r", 11)
    sequence.skipped("r", 10)  # another node's message, late: 11 was given after 10's commit
    assert sequence.upto("r") == 11
    assert sequence.push("r", 12, 11, "m12", 0.0) == ["m12"]  # the joiner is there now
    assert sequence.upto("r") == 12
    sequence.skipped("r", 15)  # everyone left; three more went by
    assert sequence.upto("r") == 15 and "r" not in sequence.last


def test_a_delivered_channel_drops_its_skip_mark():
    """Once a channel's id is remembered as delivered, an old skip mark must not come back when
    that memory is bounded away: a stale, lower mark would cut a joiner's history short."""
    sequence = Resequencer(channels=2)
    sequence.skipped("r", 5)
    sequence.push("r", 20, None, "m20", 0.0)
    for other in ("a", "b", "c"):
        sequence.push(other, 1, None, other, 0.0)  # "r" is the least recent: forgotten
    assert "r" not in sequence.last
    assert sequence.upto("r") is None  # not known, never 5


def test_skip_marks_are_bounded():
    sequence = Resequencer(channels=100)
    for i in range(1000):
        sequence.skipped(f"room-{i}", i)
    assert len(sequence.passed) == 100 and sequence.upto("room-999") == 999 and sequence.upto("room-0") is None


def test_the_reader_keeps_the_skip_mark_of_a_room_it_does_not_serve():
    reader, sequence = Reader(), Resequencer()
    assert reader._received(published(["elsewhere", 41, 40, ["elsewhere"]]), sequence) == ()
    assert sequence.upto("elsewhere") == 41
    assert [m["event"] for m in reader._received(published(["r", 42, None, ["r"]]), sequence)] == ["room_message"]
    assert sequence.upto("r") == 42


def socketio_emit(room, namespace="/", callback=None, event="room_message"):
    """What python-socketio's pub/sub manager publishes for an emit."""
    data = [{"data": "クライアント x がルーム y に参加しました", "room": "y"}]
    return {
        "method": "emit", "event": event, "data": data, "binary": False, "namespace": namespace,
        "room": room, "skip_sid": "sid-1", "callback": callback, "host_id": "h",
    }  # fmt: skip


def reader_in(room):
    reader = Reader()
    reader.rooms = {"/": {room: {"sid": "eio"}}}
    return reader


@pytest.mark.parametrize("room", ["room:y", ["room:y", "user:3"], ("user:3", "room:y"), 'room:"], [1', "room:ｙ\u202e"])
def test_an_emit_to_rooms_carries_their_names_and_only_their_nodes_read_it(room):
    """A join notice, typing, an update: a node none of whose clients is in the rooms reads the
    header alone (not counted as a skipped stored message); a node with one decodes the emit."""
    message = socketio_emit(room)
    text = encode(message, json)
    names = [room] if isinstance(room, str) else list(room)
    assert read_header(text) == [None, None, None, room if isinstance(room, str) else names]
    before = metrics.QUEUE_SKIPPED._value.get()
    assert Reader()._received(text, Resequencer()) == ()  # no client in any of them
    assert metrics.QUEUE_SKIPPED._value.get() == before
    got = reader_in(names[-1])._received(text.encode(), Resequencer())
    assert [{k: v for k, v in m.items() if k != "order"} for m in got] == [json.loads(json.dumps(message))]


@pytest.mark.parametrize(
    "message",
    [
        socketio_emit(None),  # a broadcast: every node
        socketio_emit("room:y", callback=["sid-1", "/", 4]),
        socketio_emit("room:y", namespace="/other"),
        socketio_emit([]),
        socketio_emit(["room:y", 3]),
        {"method": "disconnect", "sid": "s", "namespace": "/", "room": "room:y"},
    ],
)
def test_other_messages_go_as_plain_json_that_every_node_reads(message):
    text = encode(message, json)
    assert read_header(text) is None and json.loads(text) == message
    assert Reader()._received(text, Resequencer()) == (message,)


def test_the_manager_publishes_python_socketios_emits_to_rooms_with_their_header():
    from chat.cluster.queue import ChatRedisManager

    class Redis:
        def __init__(self):
            self.published = []

        def publish(self, channel, text):
            self.published.append((channel, text))

    manager = ChatRedisManager("redis://127.0.0.1:6379/0", "header-test")
    manager.connected, manager.redis = True, Redis()
    assert manager._publish(socketio_emit("room:y"))
    assert manager._publish(socketio_emit(None))
    (channel, routed), (_, broadcast) = manager.redis.published
    assert channel == "header-test" and read_header(routed) == [None, None, None, "room:y"]
    assert read_header(broadcast) is None


def test_the_reader_seeds_its_resequencer_unless_degraded():
    reader = Reader()
    reader.sequence, reader.degraded = Resequencer(), False
    reader.seed_delivered("r", 5)
    assert reader.delivered_upto("r") == 5
    reader.degraded = True  # the queue is down: messages go to local clients directly, no order
    reader.seed_delivered("s", 5)
    assert reader.sequence.upto("s") is None
