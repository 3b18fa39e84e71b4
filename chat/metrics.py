"""Metrics for operators, in Prometheus' text format (one process = one scrape target).

The hot path only adds to plain integers and floats: no lock, no I/O. Every node runs one
eventlet (or gevent) process, whose greenlets never interleave inside an increment; under
`flask run` (threads) a rare lost increment is accepted rather than a lock per message.
Gauges (connections, rooms, queue state) are read from the server when scraped.
"""

import hmac
import time
from bisect import bisect_left

from flask import Response, current_app, request

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Seconds: a loopback database write takes ~0.5 ms, a Redis publish ~0.1 ms.
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Counter:
    """A counter, optionally split by one label (label value -> count)."""

    __slots__ = ("name", "help", "label", "values")

    def __init__(self, name, help_text, label=None):
        self.name, self.help, self.label = name, help_text, label
        self.values = {}

    def inc(self, label_value="", amount=1):
        values = self.values
        values[label_value] = values.get(label_value, 0) + amount

    def get(self, label_value=""):
        return self.values.get(label_value, 0)

    def render(self):
        yield f"# HELP {self.name} {self.help}"
        yield f"# TYPE {self.name} counter"
        if self.label is None:
            yield f"{self.name} {self.values.get('', 0)}"
            return
        for value, count in sorted(self.values.items()):
            yield f'{self.name}{{{self.label}="{escape(value)}"}} {count}'


class Histogram:
    __slots__ = ("name", "help", "buckets", "counts", "sum", "count")

    def __init__(self, name, help_text, buckets=LATENCY_BUCKETS):
        self.name, self.help, self.buckets = name, help_text, tuple(buckets)
        self.counts = [0] * (len(self.buckets) + 1)  # the last slot is +Inf
        self.sum = 0.0
        self.count = 0

    def observe(self, value):
        self.counts[bisect_left(self.buckets, value)] += 1
        self.sum += value
        self.count += 1

    def render(self):
        yield f"# HELP {self.name} {self.help}"
        yield f"# TYPE {self.name} histogram"
        cumulative = 0
        for bound, count in zip(self.buckets, self.counts, strict=False):
            cumulative += count
            yield f'{self.name}_bucket{{le="{bound}"}} {cumulative}'
        yield f'{self.name}_bucket{{le="+Inf"}} {self.count}'
        yield f"{self.name}_sum {self.sum:.6f}"
        yield f"{self.name}_count {self.count}"


def escape(value):
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


CONNECTS = Counter("chat_connects_total", "Socket.IO connections accepted by this node.")
DISCONNECTS = Counter("chat_disconnects_total", "Socket.IO connections closed on this node.")
MESSAGES_IN = Counter("chat_messages_in_total", "Messages stored by this node, by event.", "event")
MESSAGES_OUT = Counter(
    "chat_messages_out_total", "Events this node sent to its own clients (one per recipient), by event.", "event"
)
ERRORS = Counter("chat_errors_total", "Refused socket events, by error code.", "code")
DB_WRITE = Histogram("chat_db_write_seconds", "Storing one message (insert and commit).")
QUEUE_PUBLISH = Histogram("chat_queue_publish_seconds", "Publishing one event to the message queue.")
QUEUE_LAG = Histogram(
    "chat_queue_delivery_lag_seconds", "From publishing a stored message to this node receiving it from the queue."
)
QUEUE_ERRORS = Counter("chat_queue_errors_total", "Message queue failures, by operation.", "operation")
QUEUE_RECONNECTS = Counter("chat_queue_reconnects_total", "Times this node subscribed to the queue again.")

# A collection stops every client of the process: its pauses decide a fan-out's p99.
GC_PAUSE = tuple(
    Histogram(f"chat_gc_gen{generation}_pause_seconds", f"Python garbage collections of generation {generation}.")
    for generation in range(3)
)

COLLECTED = (
    CONNECTS,
    DISCONNECTS,
    MESSAGES_IN,
    MESSAGES_OUT,
    ERRORS,
    DB_WRITE,
    QUEUE_PUBLISH,
    QUEUE_LAG,
    QUEUE_ERRORS,
    QUEUE_RECONNECTS,
    *GC_PAUSE,
)
STARTED = time.time()


_gc_started = [0.0]


def _gc_callback(phase, info):
    if phase == "start":
        _gc_started[0] = time.perf_counter()
    else:
        GC_PAUSE[info["generation"]].observe(time.perf_counter() - _gc_started[0])


def watch_gc():
    """Time every garbage collection (gc.callbacks; idempotent)."""
    import gc

    if _gc_callback not in gc.callbacks:
        gc.callbacks.append(_gc_callback)


def gauge(name, help_text, value):
    yield f"# HELP {name} {help_text}"
    yield f"# TYPE {name} gauge"
    yield f"{name} {value}"


def server_gauges():
    from .extensions import socketio

    server = socketio.server
    manager = server.manager if server is not None else None
    namespace = manager.rooms.get("/", {}) if manager is not None else {}
    connections = len(namespace.get(None, ()))
    rooms = sum(1 for name in namespace if isinstance(name, str) and name.startswith("room:"))
    yield from gauge("chat_connections", "Socket.IO clients connected to this node.", connections)
    yield from gauge("chat_rooms", "Chat rooms with at least one client on this node.", rooms)
    listening = getattr(manager, "listening", None)
    if listening is not None:
        yield from gauge("chat_queue_up", "1 while this node is subscribed to the message queue.", int(listening))
    yield from gauge("chat_process_start_time_seconds", "Start of this process (Unix time).", f"{STARTED:.3f}")


def render():
    lines = []
    for metric in COLLECTED:
        lines.extend(metric.render())
    lines.extend(server_gauges())
    return "\n".join(lines) + "\n"


def metrics_view():
    token = current_app.config.get("CHAT_METRICS_TOKEN")
    if token:
        given = request.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            return Response(
                "unauthorized\n", 401, {"WWW-Authenticate": 'Bearer realm="metrics"'}, mimetype="text/plain"
            )
    return Response(render(), 200, content_type=CONTENT_TYPE)


def init_app(app):
    watch_gc()
    path = app.config.get("CHAT_METRICS_PATH")
    if path:
        app.add_url_rule(path, "metrics", metrics_view, methods=["GET"])
