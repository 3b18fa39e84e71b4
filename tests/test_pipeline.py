"""Pipelined sends (chat/messages/pipeline.py): a message that finds a commit in flight is queued
for the next one and acked once stored; the connection's other events wait for it.

In-process: the test client has no transport, so the pipeline is told it has one, and the test
holds history's write lock (a commit in flight) while it sends. Against gunicorn: two senders'
bursts on the eventlet and the gevent worker, with the Redis queue (a publish under the lock yields, so commits
are in flight on SQLite too)."""

import threading
import time
import uuid

import pytest
from socketio import packet
from sqlalchemy import select, update

from chat import metrics
from chat.extensions import db, socketio
from chat.messages import pipeline
from chat.messages import store as history
from chat.models import Message, Room, utc_now
from tests import servers
from tests.cluster import REDIS_URL, redis_up
from tests.conftest import TEST_DB, skip_or_fail
from tests.live_client import LiveClient


def wait_until(condition, timeout=10.0, what="the condition"):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.005)


@pytest.fixture
def transport(monkeypatch):
    """Every test client counts as a connection with a transport. transport(*clients): the
    clients (made first: each test client installs its own packet recorder on the server), and
    the ACK packets each one gets from then on, in order: {eio_sid: [(ack id, data)]}."""
    monkeypatch.setattr(pipeline, "over_transport", lambda server, eio_sid: True)
    acks = {}

    def watch(*clients):
        send_packet = socketio.server._send_packet  # the test clients' recorder

        def record(eio_sid, pkt):
            if pkt.packet_type == packet.ACK:
                acks.setdefault(eio_sid, []).append((pkt.id, pkt.data[0] if pkt.data else None))
            return send_packet(eio_sid, pkt)

        monkeypatch.setattr(socketio.server, "_send_packet", record)
        return acks

    yield watch
    wait_until(lambda: not pipeline._flights and not history._waiting, what="the queue to drain")


def emit_in_thread(client, *args):
    result = {}
    thread = threading.Thread(target=lambda: result.setdefault("ack", client.emit(*args, callback=True)))
    thread.start()
    return thread, result


def messages(client):
    """(event, text, id) of the stored messages the client got (the test client gives
    `message`'s payload as its args)."""
    got = []
    for e in client.get_received():
        if e["name"] in ("room_message", "message"):
            payload = e["args"] if e["name"] == "message" else e["args"][0]
            if "text" in payload:  # not the seed's notices ("… has left the room")
                got.append((e["name"], payload["text"], payload["id"]))
    return got


def texts(client):
    return [text for _, text, _ in messages(client)]


def queued_total():
    return metrics.MESSAGES_QUEUED._value.get()


def test_queued_messages_are_acked_in_order_once_stored_and_a_later_event_waits(app, client_factory, transport):
    a, b = client_factory(), client_factory()
    for c in (a, b):
        c.emit("join_room", {"room": "pipe"})
    b.get_received()
    acks = transport(a, b)
    before = queued_total()
    with history.write_lock:  # a commit in flight
        assert a.emit("room_message", {"room": "pipe", "message": "m1"}, callback=True) is None
        assert a.emit("send_message", {"message": "m2"}, callback=True) is None  # to everyone
        assert a.emit("room_message", {"room": "pipe", "message": "m3"}, callback=True) is None
        assert queued_total() - before == 3
        assert len(pipeline._flights[sid_of(a)].writes) == 3
        reader, result = emit_in_thread(a, "get_history", {"room": "pipe"})
        time.sleep(0.2)
        assert reader.is_alive(), "get_history ran before the messages ahead of it were stored"
        assert texts(b) == []
    reader.join(10)
    assert not reader.is_alive()
    page = result["ack"]
    assert [m["text"] for m in page["messages"]] == ["m1", "m3"]
    acked = acks[a.eio_sid]
    assert [ack_id for ack_id, _ in acked] == [1, 2, 3, 4]  # in the order sent
    replies = [reply for _, reply in acked[:3]]
    assert all(r["ok"] is True for r in replies)
    ids = [r["id"] for r in replies]
    assert ids == sorted(ids) and len(set(ids)) == 3
    assert messages(b) == [("room_message", "m1", ids[0]), ("message", "m2", ids[1]), ("room_message", "m3", ids[2])]
    with app.app_context():
        stored = db.session.execute(select(Message.id, Message.text).order_by(Message.id)).all()
    assert [tuple(r) for r in stored] == list(zip(ids, ["m1", "m2", "m3"], strict=True))


def sid_of(client):
    return socketio.server.manager.sid_from_eio_sid(client.eio_sid, "/")


def test_a_queued_retry_is_acked_as_a_duplicate_and_a_refused_one_fails_alone(app, client_factory, transport):
    a, b = client_factory(), client_factory()
    for c in (a, b):
        c.emit("join_room", {"room": "pipe"})
        c.emit("join_room", {"room": "closing"})
    b.get_received()
    acks = transport(a, b)
    with history.write_lock:
        a.emit("room_message", {"room": "pipe", "message": "once", "client_id": "k1"}, callback=True)
        a.emit("room_message", {"room": "pipe", "message": "once", "client_id": "k1"}, callback=True)
        a.emit("room_message", {"room": "closing", "message": "too late"}, callback=True)
        a.emit("room_message", {"room": "pipe", "message": "after"}, callback=True)
        with app.app_context():  # archived between the send and the commit
            db.session.execute(update(Room).where(Room.name == "closing").values(archived_at=utc_now()))
            db.session.commit()
    wait_until(lambda: len(acks.get(a.eio_sid, [])) == 4, what="four acks")
    first, again, refused, after = (reply for _, reply in acks[a.eio_sid])
    assert first["ok"] is True and "duplicate" not in first
    assert again == {"ok": True, "id": first["id"], "duplicate": True}
    assert refused["ok"] is False and refused["error"]["code"] == "archived"
    assert refused["error"]["event"] == "room_message"
    assert after["ok"] is True and after["id"] > first["id"]
    errors = [e["args"][0] for e in a.get_received() if e["name"] == "error"]
    assert [e["code"] for e in errors] == ["archived"]
    assert texts(b) == ["once", "after"]


@pytest.mark.parametrize(
    "depth,limit,queued",
    [(2, 2000, 2), (0, 2000, 0), (32, 1, 1)],
    ids=["depth-per-connection", "off", "limit-per-process"],
)
def test_the_depth_and_the_limit_bound_what_is_queued(make_app, depth, limit, queued, monkeypatch):
    app = make_app(CHAT_PIPELINE_DEPTH=depth, CHAT_PIPELINE_LIMIT=limit)
    monkeypatch.setattr(pipeline, "over_transport", lambda server, eio_sid: True)
    a = socketio.test_client(app)
    try:
        a.emit("join_room", {"room": "deep"})
        with history.write_lock:
            sent = [a.emit("room_message", {"room": "deep", "message": f"q{i}"}, callback=True) for i in range(queued)]
            assert sent == [None] * queued  # queued: acked later
            writer, result = emit_in_thread(a, "room_message", {"room": "deep", "message": "next"})
            time.sleep(0.2)
            assert writer.is_alive(), "the connection went on past the bound"
            # At the depth the reader waits before the handler; past the limit (or with depth 0)
            # the handler waits for the lock, its message in the queue too.
            at_depth = depth > 0 and queued == depth
            assert len(history._waiting) == queued + (0 if at_depth else 1)
        writer.join(10)
        wait_until(lambda: not pipeline._flights and not history._waiting, what="the queue to drain")
        with app.app_context():
            stored = db.session.execute(select(Message.text).order_by(Message.id)).scalars().all()
        assert stored == [f"q{i}" for i in range(queued)] + ["next"]
        if not at_depth:
            assert result["ack"]["ok"] is True  # stored before the handler returned
    finally:
        a.disconnect()


def test_a_refusal_after_a_queued_message_comes_after_its_ack(app, client_factory, transport):
    a = client_factory()
    a.emit("join_room", {"room": "pipe"})
    a.get_received()
    acks = transport(a)
    with history.write_lock:
        a.emit("room_message", {"room": "pipe", "message": "first"}, callback=True)
        refused, result = emit_in_thread(a, "room_message", {"room": "pipe", "message": ""})
        time.sleep(0.2)
        assert refused.is_alive(), "the refusal went out before the message queued ahead of it"
    refused.join(10)
    assert [(ack_id, reply["ok"]) for ack_id, reply in acks[a.eio_sid]] == [(1, True), (2, False)]
    got = [e["name"] for e in a.get_received() if e["name"] in ("room_message", "error")]
    assert got == ["room_message", "error"]  # its own echo, then the refusal


def test_a_message_whose_handler_fails_is_neither_queued_nor_acked_twice(app, client_factory, transport, monkeypatch):
    from chat.messages import events

    a = client_factory()
    a.emit("join_room", {"room": "pipe"})
    acks = transport(a)

    def broken_touch():
        raise RuntimeError("the presence table is locked")

    monkeypatch.setattr(events, "touch", broken_touch)
    with history.write_lock:
        reply = a.emit("room_message", {"room": "pipe", "message": "lost?"}, callback=True)
        assert reply["ok"] is False and reply["error"]["code"] == "internal_error"
        assert not history._waiting and not pipeline._flights
    time.sleep(0.1)
    assert [ack_id for ack_id, _ in acks[a.eio_sid]] == [1]  # one ack, no second one later
    with app.app_context():
        assert db.session.execute(select(Message.id)).first() is None


def test_a_message_queued_before_its_sender_disconnects_goes_out_before_the_leave_notice(
    app, client_factory, transport
):
    a, b = client_factory(), client_factory()
    for c in (a, b):
        c.emit("join_room", {"room": "pipe"})
    b.get_received()
    transport(a, b)
    with history.write_lock:
        a.emit("room_message", {"room": "pipe", "message": "last words"}, callback=True)
        leaving = threading.Thread(target=a.disconnect)
        leaving.start()
        time.sleep(0.2)
        assert leaving.is_alive(), "the disconnect overtook the message queued before it"
    leaving.join(10)
    got = [
        e["args"][0].get("text") or e["args"][0].get("data") for e in b.get_received() if e["name"] == "room_message"
    ]
    assert len(got) == 2 and got[0] == "last words" and "退出しました" in got[1]
    wait_until(lambda: not pipeline._flights, what="the flight to end")


# ---- against gunicorn ----


@pytest.fixture(scope="module", params=["eventlet", "gevent"])
def queue_server(request, live_database):
    if not redis_up():
        skip_or_fail(f"Redis is not reachable at {REDIS_URL}")
    env = {
        "DATABASE_URL": live_database(),
        "CHAT_MESSAGE_QUEUE": REDIS_URL,
        "CHAT_QUEUE_CHANNEL": f"pipeline-{uuid.uuid4().hex[:8]}",
        "CHAT_DB_ANSWER_WAIT_MS": "10",  # the longest: seldom missed on a loaded test machine
    }
    server = servers.gunicorn(request.param, env=env).start()
    yield server
    server.stop()


MISSING = object()


def counter(server, name, default=MISSING):
    import requests

    for line in requests.get(server.url + "/metrics", timeout=5).text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    if default is not MISSING:
        return default
    raise AssertionError(f"{name} not in /metrics")


ANSWERED = 'chat_db_answer_waits_total{outcome="answered"}'


def test_two_senders_bursts_are_queued_stored_in_order_and_acked_in_order(queue_server):
    count = 150
    watcher = LiveClient(queue_server.url).connect()
    senders = [LiveClient(queue_server.url).connect() for _ in range(2)]
    try:
        for client in [watcher, *senders]:
            client.call("join_room", {"room": "burst"})
        before = counter(queue_server, "chat_messages_queued_total")
        answered = counter(queue_server, ANSWERED, 0.0)
        # Whether a message finds a commit in flight depends on timing (a slow client on a loaded
        # machine may send each message after the previous one is stored): burst until one did.
        for burst in range(5):
            two_bursts_in_order(watcher, senders, count, f"{burst}/")
            if counter(queue_server, "chat_messages_queued_total") > before:
                break
        else:
            raise AssertionError("no message was queued behind a commit in flight")
        # PostgreSQL: the message connection reads its answers without a turn of the loop (AnswerWait).
        answered = counter(queue_server, ANSWERED, 0.0) - answered
        if TEST_DB == "postgresql":
            assert answered > 0, "the message connection did not wait for its answers"
        else:
            assert answered == 0
    finally:
        for client in [watcher, *senders]:
            client.disconnect()


def two_bursts_in_order(watcher, senders, count, tag):
    """Both senders send `count` messages without waiting for acks; every ack is ok and in the
    order sent, the first sender's leave_room comes after its acks, and the watcher gets both
    bursts in id order."""
    acks = [[] for _ in senders]
    done = threading.Event()

    def on_ack(into):
        def record(reply=None, *_):
            into.append(reply)
            if sum(len(a) for a in acks) == count * len(senders):
                done.set()

        return record

    for i in range(count):
        for n, sender in enumerate(senders):
            sender.sio.emit("room_message", {"room": "burst", "message": f"{tag}{n}:{i}"}, callback=on_ack(acks[n]))
    # The first sender's leave waits for its queued messages: every one is acked first.
    assert senders[0].call("leave_room", {"room": "burst"}, timeout=30)["ok"] is True
    assert len(acks[0]) == count, "leave_room overtook the messages sent before it"
    assert done.wait(30), f"acks: {[len(a) for a in acks]}"
    for n in range(len(senders)):
        assert all(reply["ok"] is True for reply in acks[n])
        ids = [reply["id"] for reply in acks[n]]
        assert ids == sorted(ids) and len(set(ids)) == count, "acks out of the order sent"

    def stored(got):  # this burst's, not the seed's notices ("… has joined the room")
        return [(p["id"], p["text"]) for _, p in got if "id" in p and str(p.get("text")).startswith(tag)]

    seen = stored(watcher.wait_for(lambda got: len(stored(got)) >= count * len(senders), timeout=30))
    assert [i for i, _ in seen] == sorted(i for i, _ in seen)
    for n in range(len(senders)):
        assert [t for _, t in seen if t.startswith(f"{tag}{n}:")] == [f"{tag}{n}:{i}" for i in range(count)]
    assert senders[0].call("join_room", {"room": "burst"})["ok"] is True
