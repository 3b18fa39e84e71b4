"""The metrics calls of one message, hand-written (before) against prometheus-client (chat/metrics.py).

    .venv/bin/python bench/metrics_cost.py --patch eventlet   # or gevent, none

Interleaved rounds of timeit, median per message, minus an empty call of the same shape; the
note with the results and the decision is docs/benchmarks/metrics-client.md.
"""

import argparse
import sys
from bisect import bisect_left
from functools import partial
from pathlib import Path
from types import SimpleNamespace

BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
RECIPIENTS = 50  # s1: rooms of 50, one `emit` per message on a node
EVENT = "room_message"


class HandCounter:
    """chat/metrics.py's Counter before prometheus-client (commit 72eef04), its hot path."""

    __slots__ = ("values",)

    def __init__(self):
        self.values = {}

    def inc(self, label_value="", amount=1):
        values = self.values
        values[label_value] = values.get(label_value, 0) + amount


class HandHistogram:
    """chat/metrics.py's Histogram before prometheus-client (commit 72eef04), its hot path."""

    __slots__ = ("counts", "sum", "count")

    def __init__(self):
        self.counts = [0] * (len(BUCKETS) + 1)
        self.sum = 0.0
        self.count = 0

    def observe(self, value):
        self.counts[bisect_left(BUCKETS, value)] += 1
        self.sum += value
        self.count += 1


def hand_written():
    return SimpleNamespace(
        MESSAGES_IN=HandCounter(),
        MESSAGES_OUT=HandCounter(),
        DB_WRITE=HandHistogram(),
        QUEUE_PUBLISH=HandHistogram(),
        QUEUE_LAG=HandHistogram(),
    )


class Uncached:
    """`counter.labels(value).inc(amount)` on every call, without chat/metrics.py's cache of children."""

    def __init__(self, labelled):
        self.metric = labelled.metric

    def inc(self, label_value, amount=1):
        self.metric.labels(label_value).inc(amount)


def one_node(m):
    """One message on a node without a message queue: stored, its store timed, sent to the room."""
    m.MESSAGES_IN.inc(EVENT)
    m.DB_WRITE.observe(0.0007)
    m.MESSAGES_OUT.inc(EVENT, RECIPIENTS)


def with_queue(m):
    """The same with a message queue: the publish timed, and the lag when it comes back."""
    m.MESSAGES_IN.inc(EVENT)
    m.DB_WRITE.observe(0.0007)
    m.QUEUE_PUBLISH.observe(0.00012)
    m.QUEUE_LAG.observe(0.0009)
    m.MESSAGES_OUT.inc(EVENT, RECIPIENTS)


def empty(m):
    return None


def patch(kind):
    """Monkey-patch as the gunicorn worker does, before prometheus-client creates its locks."""
    if kind == "eventlet":
        import eventlet

        eventlet.monkey_patch()
    elif kind == "gevent":
        from gevent import monkey

        monkey.patch_all()


def measure(variants, paths, rounds, number):
    """Median µs per call of each (variant, path), the variants interleaved within every round."""
    import timeit
    from statistics import median

    times = {(v, p): [] for v in variants for p in paths}
    for round_number in range(rounds):
        order = list(times)
        shift = round_number % len(order)
        for key in order[shift:] + order[:shift]:
            call = partial(paths[key[1]], variants[key[0]])
            times[key].append(timeit.Timer(call).timeit(number) / number * 1e6)
    return {key: median(values) for key, values in times.items()}


def report(kind, lock, result, variants, paths):
    print(f"patch={kind} python={sys.version.split()[0]} lock={lock}")
    print("µs per message (minus an empty call)   " + "  ".join(f"{p:>10}" for p in paths if p != "empty"))
    for v in variants:
        cells = "  ".join(f"{result[v, p] - result[v, 'empty']:10.3f}" for p in paths if p != "empty")
        print(f"{v:38} {cells}")
    print("empty call, µs: " + ", ".join(f"{v} {result[v, 'empty']:.3f}" for v in variants))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patch", choices=("none", "eventlet", "gevent"), default="none")
    parser.add_argument("--rounds", type=int, default=31)
    parser.add_argument("--number", type=int, default=20000)
    args = parser.parse_args()
    patch(args.patch)
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from chat import metrics  # after the patch: prometheus-client's locks are the worker's

    library = SimpleNamespace(
        **{
            name: getattr(metrics, name)
            for name in ("MESSAGES_IN", "MESSAGES_OUT", "DB_WRITE", "QUEUE_PUBLISH", "QUEUE_LAG")
        }
    )
    uncached = SimpleNamespace(
        **{
            **vars(library),
            "MESSAGES_IN": Uncached(metrics.MESSAGES_IN),
            "MESSAGES_OUT": Uncached(metrics.MESSAGES_OUT),
        }
    )
    variants = {
        "hand-written (before)": hand_written(),
        "prometheus-client (chat/metrics.py)": library,
        "prometheus-client, labels() per call": uncached,
    }
    paths = {"one node": one_node, "with queue": with_queue, "empty": empty}
    result = measure(variants, paths, args.rounds, args.number)
    lock = type(metrics.DB_WRITE._sum._lock)
    report(args.patch, f"{lock.__module__}.{lock.__qualname__}", result, variants, paths)


if __name__ == "__main__":
    main()
