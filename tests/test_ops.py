"""For operators: /health, metrics, the announce command and the cluster pieces that need no cluster."""

import uuid

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, insert, select

from chat import create_app
from chat.cluster.sequence import Resequencer
from chat.config import TestConfig
from chat.extensions import db, socketio
from chat.models import Message, utc_now
from tests import cluster as cl
from tests import servers
from tests.conftest import skip_or_fail
from tests.live_client import LiveClient

UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"


def parse_metrics(text):
    """name{labels} -> value, read by prometheus-client's parser of the text format."""
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f'{key}="{value}"' for key, value in sorted(sample.labels.items()))
            samples[sample.name + (f"{{{labels}}}" if labels else "")] = sample.value
    return samples


def test_health_reports_the_database(app):
    response = app.test_client().get("/health")
    assert response.status_code == 200
    assert response.get_json() == {"status": "healthy", "database": "ok"}


def test_health_is_503_while_the_database_is_down():
    app = create_app(TestConfig(SQLALCHEMY_DATABASE_URI="postgresql+pg8000://postgres@127.0.0.1:1/none"))
    response = app.test_client().get("/health")
    assert response.status_code == 503
    assert response.get_json() == {"status": "unhealthy", "database": "unavailable"}


def test_health_is_503_while_redis_is_down(make_app):
    app = make_app(CHAT_MESSAGE_QUEUE=UNREACHABLE_REDIS)
    response = app.test_client().get("/health")
    assert response.status_code == 503
    assert response.get_json() == {"status": "unhealthy", "database": "ok", "redis": "unavailable"}


def test_metrics_count_connections_messages_and_errors(app):
    before = parse_metrics(app.test_client().get("/metrics").get_data(as_text=True))
    a = socketio.test_client(app)
    b = socketio.test_client(app)
    try:
        for client in (a, b):
            client.emit("join_room", {"room": "metered"}, callback=True)
        a.emit("room_message", {"room": "metered", "message": "one"}, callback=True)
        a.emit("send_message", {"message": "two"}, callback=True)
        a.emit("room_message", {"room": "elsewhere", "message": "x"}, callback=True)  # not_in_room
        response = app.test_client().get("/metrics")
        assert response.status_code == 200
        assert response.content_type.startswith("text/plain; version=0.0.4")
        after = parse_metrics(response.get_data(as_text=True))
    finally:
        a.disconnect()
        b.disconnect()

    def grew(name):
        return after.get(name, 0) - before.get(name, 0)

    assert after["chat_connections"] == 2
    assert after["chat_rooms"] == 1
    assert grew('chat_messages_in_total{event="room_message"}') == 1
    assert grew('chat_messages_in_total{event="message"}') == 1
    assert grew('chat_messages_out_total{event="message"}') == 2
    assert grew('chat_errors_total{code="not_in_room"}') == 1
    assert grew("chat_connects_total") >= 0
    assert grew("chat_db_write_seconds_count") == 2
    assert after['chat_db_write_seconds_bucket{le="+Inf"}'] == after["chat_db_write_seconds_count"]


def test_metrics_time_garbage_collections(app):
    import gc

    before = parse_metrics(app.test_client().get("/metrics").get_data(as_text=True))
    gc.collect(0)
    gc.collect()
    after = parse_metrics(app.test_client().get("/metrics").get_data(as_text=True))
    assert after["chat_gc_gen0_pause_seconds_count"] - before["chat_gc_gen0_pause_seconds_count"] >= 1
    assert after["chat_gc_gen2_pause_seconds_count"] - before["chat_gc_gen2_pause_seconds_count"] >= 1
    assert after["chat_gc_gen2_pause_seconds_sum"] > before["chat_gc_gen2_pause_seconds_sum"]


@pytest.mark.parametrize(
    "headers",
    [
        {},  # long-polling first (browsers): the handshake's GET
        {
            "Upgrade": "websocket",
            "Connection": "Upgrade",
            "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Key": "x3JJHMbDL1EzLkh9GBhXDw==",
        },
    ],
    ids=["polling", "websocket"],
)
def test_socket_events_request_context_matches_a_route(app, headers):
    """Flask-SocketIO pushes a request context per event with the connection's environ; when
    the URL map has no rule for it, Flask keeps a NotFound (and its traceback) per event."""
    from flask import request

    environ = app.test_request_context("/socket.io/?EIO=4&transport=polling", headers=headers).request.environ
    with app.request_context(environ):
        assert request.routing_exception is None
        assert request.url_rule.endpoint == "socketio"
    # The rule does not shadow Engine.IO, which answers this path before Flask
    handshake = app.test_client().get("/socket.io/?EIO=4&transport=polling")
    assert handshake.status_code == 200 and handshake.get_data(as_text=True).startswith('0{"sid":')


def test_socket_events_leave_little_for_the_garbage_collector(client_factory):
    """A reference cycle per event is garbage only the collector frees: its collections set
    the delivery tail (BENCHMARKS.md). Count what 100 events leave behind."""
    import gc

    a = client_factory()
    a.emit("join_room", {"room": "gc"})
    a.get_received()
    for _ in range(5):  # what earlier tests left (finalizers free more garbage for the next pass)
        if not gc.collect():
            break
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        for i in range(100):
            a.emit("room_message", {"room": "gc", "message": f"m{i}"})
        gc.collect()
        garbage = list(gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    assert len(a.get_received()) >= 100
    kinds = {type(o).__name__ for o in garbage}
    assert not any(isinstance(o, BaseException) for o in garbage), kinds
    assert "RequestContext" not in kinds
    # werkzeug's URL matcher builds a self-referencing closure per match (~8 objects); the
    # NotFound and its frames were ~57 per event
    assert len(garbage) < 20 * 100, (len(garbage), kinds)


def test_metrics_path_and_token_are_configurable(make_app):
    app = make_app(CHAT_METRICS_PATH="/internal/metrics", CHAT_METRICS_TOKEN="s3cret")
    client = app.test_client()
    assert client.get("/metrics").status_code == 404
    assert client.get("/internal/metrics").status_code == 401
    assert client.get("/internal/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    ok = client.get("/internal/metrics", headers={"Authorization": "Bearer s3cret"})
    assert ok.status_code == 200 and "chat_connections" in ok.get_data(as_text=True)
    assert make_app(CHAT_METRICS_PATH="").test_client().get("/metrics").status_code == 404


def test_with_the_queue_down_a_message_still_reaches_this_nodes_clients(live_database):
    server = servers.gunicorn(
        "eventlet", env={"DATABASE_URL": live_database(), "CHAT_MESSAGE_QUEUE": UNREACHABLE_REDIS}
    ).start(ready=(503,))
    a, b = LiveClient(server.url), LiveClient(server.url)
    delivery = []
    b.sio.on("delivery", delivery.append)
    try:
        for client in (a, b):
            client.connect()
            assert client.call("join_room", {"room": "offline-queue"})["ok"]
        assert a.call("room_message", {"room": "offline-queue", "message": "still here"})["ok"]
        b.wait_for(lambda got: any(p.get("text") == "still here" for _, p in got))
        messages = [p for _, p in b.received if p.get("id")]
        assert [(m["text"], m["prev"]) for m in messages] == [("still here", None)]
        assert {"delayed": True} in delivery
        health = requests.get(server.url + "/health").json()
        assert health == {"status": "unhealthy", "database": "ok", "redis": "unavailable"}
    finally:
        a.disconnect()
        b.disconnect()
        server.stop()


def test_one_node_without_a_queue_sends_no_prev(client_factory):
    """`prev` is for gaps a message queue can leave; one process delivers in order without it."""
    a = client_factory()
    a.emit("join_room", {"room": "solo"}, callback=True)
    a.emit("room_message", {"room": "solo", "message": "1"}, callback=True)
    stored = [r["args"][0] for r in a.get_received() if r["name"] == "room_message" and r["args"][0].get("id")]
    assert len(stored) == 1 and "prev" not in stored[0]


def test_prev_names_the_channels_previous_message(make_app):
    app = make_app(CHAT_MESSAGE_QUEUE=UNREACHABLE_REDIS)
    from chat.cluster.order import channel_order

    with app.app_context():
        orders, payloads = [], []
        for room_id in (None, None):
            with channel_order({room_id}, db.session.connection()) as order:
                orders.append(order)
                new_id = db.session.execute(
                    insert(Message)
                    .values(room_id=room_id, author_name="x", sender_sid="s", text="t", created_at=utc_now())
                    .returning(Message.id)
                ).scalar_one()
                db.session.commit()
                payloads.append({"id": new_id})
        for order, payload in zip(orders, payloads, strict=True):
            order.stamp(payload, None)
        first = db.session.execute(select(func.min(Message.id))).scalar()
        assert [p["prev"] for p in payloads] == [None, first]


def test_a_users_write_limit_is_shared_through_redis(make_app):
    if not cl.redis_up():
        skip_or_fail(f"Redis is not reachable at {cl.REDIS_URL}")
    from chat.cluster.shared_rate import shared_bucket_take

    app = make_app(CHAT_MESSAGE_QUEUE=cl.REDIS_URL, CHAT_QUEUE_CHANNEL=f"chat-test-{uuid.uuid4().hex[:8]}")
    with app.app_context():
        taken = [shared_bucket_take("user:1", 0.5, 3) for _ in range(5)]
        assert taken == [True, True, True, False, False]
        assert shared_bucket_take("user:2", 0.5, 3) is True
    down = make_app(CHAT_MESSAGE_QUEUE=UNREACHABLE_REDIS)
    with down.app_context():
        assert shared_bucket_take("user:1", 1, 3) is None  # the caller falls back to its own bucket


def test_announce_without_a_message_queue_refuses(app):
    result = app.test_cli_runner().invoke(args=["chat", "announce", "hello"])
    assert result.exit_code != 0
    assert "CHAT_MESSAGE_QUEUE is not set" in result.output


@pytest.mark.parametrize("room,error", [("no-such-room", "No room called"), ("\x07", "not accepted")])
def test_announce_refuses_bad_rooms(make_app, room, error):
    app = make_app(CHAT_MESSAGE_QUEUE=UNREACHABLE_REDIS)
    result = app.test_cli_runner().invoke(args=["chat", "announce", "--room", room, "hello"])
    assert result.exit_code != 0 and error in result.output


def test_a_join_the_node_knew_nothing_of_tells_its_resequencer_where_the_room_stands(app, client_factory, monkeypatch):
    """A node learns where a room's live messages start from the joiner's history read: 0 for a
    new room, the newest stored id for one with history (its first two live messages, arriving
    from two nodes in the wrong order, then wait for each other: tests/test_sequence.py). Here a
    Resequencer stands in for the queue reader's, which the Flask-SocketIO test client cannot run."""
    sequence = Resequencer()
    manager = socketio.server.manager
    monkeypatch.setattr(manager, "delivered_upto", sequence.upto, raising=False)
    monkeypatch.setattr(manager, "seed_delivered", sequence.seed, raising=False)
    first = client_factory()
    assert first.emit("join_room", {"room": "fresh"}, callback=True)["ok"]
    assert sequence.upto("fresh") == 0
    ids = [first.emit("room_message", {"room": "fresh", "message": f"m{i}"}, callback=True)["id"] for i in range(3)]
    sequence.last.pop("fresh")  # as after a restart: the node knows nothing of the room
    second = client_factory()
    assert second.emit("join_room", {"room": "fresh"}, callback=True)["ok"]
    assert sequence.upto("fresh") == ids[-1]
    history = [p for p in second.get_received() if p["name"] == "history"]
    assert [m["id"] for m in history[0]["args"][0]["messages"]] == ids
    sequence.last.pop("fresh")
    assert second.emit("join_room", {"room": "fresh", "since": ids[0]}, callback=True)["ok"]  # a page since an id
    assert sequence.upto("fresh") == ids[-1]
    sequence.last.pop("fresh")
    assert second.emit("join_room", {"room": "fresh", "since": ids[-1]}, callback=True)["ok"]
    assert sequence.upto("fresh") is None  # an empty page since an id does not tell
