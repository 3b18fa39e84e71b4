"""Metrics for operators through prometheus-client (one process = one scrape target).

The counters and histograms are the process' (module level, in no registry); each app gets a
registry of its own that collects them beside the process, GC and platform collectors and the
gauges read from the Socket.IO server when scraped (tests build many apps in one process).
One worker per node: no multiprocess mode. Cost on the message path: docs/benchmarks/metrics-client.md.
"""

import gc
import hmac
import time
from bisect import bisect_left

from flask import Response, current_app, request
from prometheus_client import (
    CONTENT_TYPE_PLAIN_0_0_4,
    CollectorRegistry,
    Counter,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily

from .extensions import socketio

# No `<name>_created` series beside each counter and histogram: the names stay those the README lists.
disable_created_metrics()

# Seconds: a loopback database write takes ~0.5 ms, a Redis publish ~0.1 ms.
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class LabelledCounter:
    """A prometheus-client counter with one label, counted as `inc(label_value, amount)`."""

    __slots__ = ("metric", "children")

    def __init__(self, name, documentation, label):
        self.metric = Counter(name, documentation, [label], registry=None)
        self.children = {}  # label value -> the metric's child: `labels()` takes a lock and builds a tuple

    def inc(self, label_value, amount=1):
        child = self.children.get(label_value)
        if child is None:
            child = self.children[label_value] = self.metric.labels(label_value)
        child.inc(amount)


def histogram(name, documentation):
    return Histogram(name, documentation, buckets=LATENCY_BUCKETS, registry=None)


CONNECTS = Counter("chat_connects_total", "Socket.IO connections accepted by this node.", registry=None)
DISCONNECTS = Counter("chat_disconnects_total", "Socket.IO connections closed on this node.", registry=None)
MESSAGES_IN = LabelledCounter("chat_messages_in_total", "Messages stored by this node, by event.", "event")
MESSAGES_OUT = LabelledCounter(
    "chat_messages_out_total", "Events this node sent to its own clients (one per recipient), by event.", "event"
)
ERRORS = LabelledCounter("chat_errors_total", "Refused socket events, by error code.", "code")
MESSAGES_QUEUED = Counter(
    "chat_messages_queued_total",
    "Messages queued for the next group commit while one was in flight (pipelined sends).",
    registry=None,
)
DB_ANSWER_WAITS = LabelledCounter(
    "chat_db_answer_waits_total",
    "Statements of the message connection whose answer came while the process waited for it "
    "(`answered`), missed CHAT_DB_ANSWER_WAIT_MS (`missed`), or were not waited for after a miss (`skipped`).",
    "outcome",
)
DB_WRITE = histogram("chat_db_write_seconds", "Storing one message (insert and commit).")
QUEUE_PUBLISH = histogram("chat_queue_publish_seconds", "Publishing one event to the message queue.")
QUEUE_LAG = histogram(
    "chat_queue_delivery_lag_seconds", "From publishing a stored message to this node receiving it from the queue."
)
QUEUE_ERRORS = LabelledCounter("chat_queue_errors_total", "Message queue failures, by operation.", "operation")
QUEUE_RECONNECTS = Counter(
    "chat_queue_reconnects_total", "Times this node subscribed to the queue again.", registry=None
)
QUEUE_SKIPPED = Counter(
    "chat_queue_skipped_total",
    "New stored messages from the queue this node left unread: none of its clients is a recipient.",
    registry=None,
)
QUEUE_HELD = LabelledCounter(
    "chat_queue_resequenced_total",
    "Stored messages from the queue ahead of the one before them (`held` until it came), and those sent "
    "without it after CHAT_QUEUE_REORDER_WAIT or past CHAT_QUEUE_REORDER_LIMIT (`gave_up`).",
    "outcome",
)
COLLECTED = (
    CONNECTS,
    DISCONNECTS,
    MESSAGES_IN.metric,
    MESSAGES_OUT.metric,
    ERRORS.metric,
    MESSAGES_QUEUED,
    DB_ANSWER_WAITS.metric,
    DB_WRITE,
    QUEUE_PUBLISH,
    QUEUE_LAG,
    QUEUE_ERRORS.metric,
    QUEUE_RECONNECTS,
    QUEUE_SKIPPED,
    QUEUE_HELD.metric,
)
STARTED = time.time()


class PauseHistogram:
    """Pauses observed from a gc callback: plain numbers, no lock.

    A collection can start inside any allocation, also while prometheus-client holds one of its
    (non-reentrant) locks; a callback that took such a lock could wait on itself.
    """

    __slots__ = ("name", "help", "counts", "sum")

    def __init__(self, name, help_text):
        self.name, self.help = name, help_text
        self.counts = [0] * (len(LATENCY_BUCKETS) + 1)  # the last slot is +Inf
        self.sum = 0.0

    def observe(self, value):
        self.counts[bisect_left(LATENCY_BUCKETS, value)] += 1
        self.sum += value

    def family(self):
        counts, cumulative, buckets = list(self.counts), 0, []
        for bound, count in zip((*map(str, LATENCY_BUCKETS), "+Inf"), counts, strict=True):
            cumulative += count
            buckets.append((bound, cumulative))
        return HistogramMetricFamily(self.name, self.help, buckets=buckets, sum_value=self.sum)


# A collection stops every client of the process: its pauses decide a fan-out's p99.
GC_PAUSE = tuple(
    PauseHistogram(f"chat_gc_gen{generation}_pause_seconds", f"Python garbage collections of generation {generation}.")
    for generation in range(3)
)
_gc_started = [0.0]


def _gc_callback(phase, info):
    if phase == "start":
        _gc_started[0] = time.perf_counter()
    else:
        GC_PAUSE[info["generation"]].observe(time.perf_counter() - _gc_started[0])


def watch_gc():
    """Time every garbage collection (gc.callbacks; idempotent)."""
    if _gc_callback not in gc.callbacks:
        gc.callbacks.append(_gc_callback)


class ServerCollector:
    """What is read when scraped: GC pauses, and gauges of the Socket.IO server."""

    def collect(self):
        for pauses in GC_PAUSE:
            yield pauses.family()
        yield from server_gauges()


def server_gauges():
    server = socketio.server
    manager = server.manager if server is not None else None
    namespace = manager.rooms.get("/", {}) if manager is not None else {}
    connections = len(namespace.get(None, ()))
    rooms = sum(1 for name in namespace if isinstance(name, str) and name.startswith("room:"))
    yield GaugeMetricFamily("chat_connections", "Socket.IO clients connected to this node.", value=connections)
    yield GaugeMetricFamily("chat_rooms", "Chat rooms with at least one client on this node.", value=rooms)
    listening = getattr(manager, "listening", None)
    if listening is not None:
        yield GaugeMetricFamily(
            "chat_queue_up", "1 while this node is subscribed to the message queue.", value=int(listening)
        )
    yield GaugeMetricFamily("chat_process_start_time_seconds", "Start of this process (Unix time).", value=STARTED)


def app_registry():
    """A registry for one app: the process' metrics, its process, GC and platform collectors."""
    registry = CollectorRegistry()
    for metric in COLLECTED:
        registry.register(metric)
    registry.register(ServerCollector())
    ProcessCollector(registry=registry)
    GCCollector(registry=registry)
    PlatformCollector(registry=registry)
    return registry


def metrics_view():
    token = current_app.config.get("CHAT_METRICS_TOKEN")
    if token:
        given = request.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            return Response(
                "unauthorized\n", 401, {"WWW-Authenticate": 'Bearer realm="metrics"'}, mimetype="text/plain"
            )
    return Response(generate_latest(current_app.extensions["chat_metrics"]), 200, content_type=CONTENT_TYPE_PLAIN_0_0_4)


def init_app(app):
    watch_gc()
    app.extensions["chat_metrics"] = app_registry()
    path = app.config.get("CHAT_METRICS_PATH")
    if path:
        app.add_url_rule(path, "metrics", metrics_view, methods=["GET"])
