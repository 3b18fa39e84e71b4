"""/metrics is Prometheus text (prometheus-client's parser reads it): the README's metrics, process and GC ones."""

import re
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from chat.extensions import socketio
from tests import servers
from tests.live_client import LiveClient

README = Path(__file__).resolve().parent.parent / "README.md"
UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"
HISTOGRAMS = (
    "chat_db_write_seconds",
    "chat_queue_publish_seconds",
    "chat_queue_delivery_lag_seconds",
    "chat_gc_gen0_pause_seconds",
    "chat_gc_gen1_pause_seconds",
    "chat_gc_gen2_pause_seconds",
)


def scrape(app, path="/metrics", **headers):
    """The families of one scrape, by name (a counter's family drops `_total`), through the library's parser."""
    response = app.test_client().get(path, headers=headers)
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain; version=0.0.4")
    return parse(response.get_data(as_text=True))


def parse(text):
    return {family.name: family for family in text_string_to_metric_families(text)}


def values(families):
    """sample name{label="value",…} -> value."""
    result = {}
    for family in families.values():
        for sample in family.samples:
            labels = ",".join(f'{key}="{value}"' for key, value in sorted(sample.labels.items()))
            result[sample.name + (f"{{{labels}}}" if labels else "")] = sample.value
    return result


def documented_metrics():
    """The metric names README.md's **Metrics** item lists, without their labels."""
    text = README.read_text(encoding="utf-8")
    item = text[text.index("- **Metrics**") :]
    item = item[: item.index("\n- ")]
    return set(re.findall(r"`(chat_[a-z0-9_]+)", item))


def family_name(metric):
    return metric[: -len("_total")] if metric.endswith("_total") else metric


def test_metrics_parse_and_have_the_documented_names_with_their_types(app):
    families = scrape(app)
    documented = documented_metrics()
    assert {"chat_connections", "chat_messages_in_total", "chat_db_write_seconds"} <= documented
    expected = {family_name(name) for name in documented} - {"chat_queue_up"}  # only with a message queue
    exposed = {name for name in families if name.startswith("chat_")}
    assert expected <= exposed, expected - exposed
    assert exposed <= expected, f"not in README.md: {exposed - expected}"
    for name in documented - {"chat_queue_up"}:
        family = families[family_name(name)]
        kind = "counter" if name.endswith("_total") else "histogram" if name in HISTOGRAMS else "gauge"
        assert family.type == kind, (name, family.type)


def test_metrics_include_the_process_and_garbage_collector_ones(app):
    families = scrape(app)
    for name in (
        "process_cpu_seconds",
        "process_resident_memory_bytes",
        "process_open_fds",
        "process_start_time_seconds",
        "python_gc_collections",
        "python_gc_objects_collected",
        "python_info",
    ):
        assert name in families, name
    gc_generations = {sample.labels["generation"] for sample in families["python_gc_collections"].samples}
    assert gc_generations == {"0", "1", "2"}
    assert values(families)["process_resident_memory_bytes"] > 0


def test_metrics_count_what_happened(app):
    before_connects = values(scrape(app))
    a = socketio.test_client(app)
    b = socketio.test_client(app)
    try:
        for client in (a, b):
            client.emit("join_room", {"room": "counted"}, callback=True)
        before = values(scrape(app))
        for text in ("one", "two", "three"):
            a.emit("room_message", {"room": "counted", "message": text}, callback=True)
        a.emit("room_message", {"room": "elsewhere", "message": "x"}, callback=True)  # not_in_room
        during = values(scrape(app))
    finally:
        a.disconnect()
        b.disconnect()
    after = values(scrape(app))

    def grew(name, now=during):
        return now.get(name, 0) - before.get(name, 0)

    assert during["chat_connections"] == 2 and after["chat_connections"] == 0
    assert during["chat_connects_total"] - before_connects["chat_connects_total"] == 2
    assert after["chat_disconnects_total"] - before_connects["chat_disconnects_total"] == 2
    assert grew('chat_messages_in_total{event="room_message"}') == 3
    assert grew('chat_messages_out_total{event="room_message"}') == 6  # three messages, two recipients each
    assert grew('chat_errors_total{code="not_in_room"}') == 1
    assert grew("chat_db_write_seconds_count") == 3
    assert grew('chat_db_write_seconds_bucket{le="+Inf"}') == 3
    assert 0 < grew("chat_db_write_seconds_sum") < 30


def test_apps_in_one_process_each_serve_the_process_counters(make_app):
    """A registry per app (no duplicate registration); the counters are the process' (one scrape target)."""
    first, second = make_app(), make_app()
    client = socketio.test_client(second)
    client.disconnect()
    one, two = values(scrape(first)), values(scrape(second))
    assert one["chat_connects_total"] == two["chat_connects_total"] >= 1


def test_metrics_report_the_message_queue_state(make_app):
    app = make_app(CHAT_MESSAGE_QUEUE=UNREACHABLE_REDIS)
    families = scrape(app)
    assert families["chat_queue_up"].type == "gauge"
    assert values(families)["chat_queue_up"] == 0


def test_metrics_token_refuses_a_scrape_without_it(make_app):
    app = make_app(CHAT_METRICS_TOKEN="s3cret")
    client = app.test_client()
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret"}):
        refused = client.get("/metrics", headers=headers)
        assert refused.status_code == 401
        assert refused.headers["WWW-Authenticate"] == 'Bearer realm="metrics"'
        assert "chat_" not in refused.get_data(as_text=True)
    assert "chat_connections" in scrape(app, Authorization="Bearer s3cret")


@pytest.mark.parametrize("worker", ["eventlet", "gevent"])
def test_a_real_server_counts_messages_under_its_worker(worker, live_database):
    """prometheus-client's locks are the worker's green ones there; the GC callback takes none."""
    server = servers.gunicorn(worker, env={"DATABASE_URL": live_database()}).start()
    try:
        before = values(parse(requests.get(server.url + "/metrics", timeout=5).text))
        client = LiveClient(server.url).connect()
        try:
            assert client.call("join_room", {"room": "live-metrics"})["ok"]
            for i in range(20):
                assert client.call("room_message", {"room": "live-metrics", "message": f"m{i}"})["ok"]
        finally:
            client.disconnect()
        families = parse(requests.get(server.url + "/metrics", timeout=5).text)
    finally:
        server.stop()
    after = values(families)
    assert (
        after['chat_messages_in_total{event="room_message"}']
        - before.get('chat_messages_in_total{event="room_message"}', 0)
        == 20
    )
    assert after["chat_db_write_seconds_count"] - before.get("chat_db_write_seconds_count", 0) == 20
    assert after["process_cpu_seconds_total"] > 0 and "python_gc_collections" in families
