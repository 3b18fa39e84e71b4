"""gunicorn settings read from the environment (gunicorn loads ./gunicorn.conf.py by default)."""

import os
import resource
import subprocess
import sys

bind = os.environ.get("GUNICORN_BIND") or f"0.0.0.0:{os.environ.get('PORT', '8000')}"
# Default eventlet; `-k gevent` (or GUNICORN_WORKER_CLASS=gevent) runs the same app on gevent.
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "eventlet")
# One worker: Socket.IO needs every request of a client on the same process.
# More processes need sticky sessions and a message queue (see README).
workers = int(os.environ.get("GUNICORN_WORKERS", "1"))
# gunicorn's default (1000) makes the 1,001st chat client hang in the backlog.
worker_connections = int(os.environ.get("GUNICORN_WORKER_CONNECTIONS", "10000"))
backlog = int(os.environ.get("GUNICORN_BACKLOG", "2048"))
# Open websockets would hold a graceful stop for 30 s: SIGTERM ends within a few seconds.
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "3"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))
accesslog = os.environ.get("GUNICORN_ACCESSLOG") or None
loglevel = os.environ.get("GUNICORN_LOGLEVEL", "info")


# The README section the eventlet line points to.
WORKER_DOC = "README.md, 'eventlet or gevent'"


def on_starting(server):
    """Say what the start-up warnings mean, check the open-files limit, then migrate."""
    explain_eventlet(server)
    check_open_files_limit(server)
    migrate(server)


def explain_eventlet(server):
    """One line of ours beside eventlet's and gunicorn's deprecation warnings."""
    if server.cfg.worker_class_str != "eventlet":
        return
    server.log.info(
        "eventlet worker: the deprecation warnings around this line are eventlet's and gunicorn's "
        "(gunicorn 26 drops this worker); the same app runs on gevent: see %s",
        WORKER_DOC,
    )


def check_open_files_limit(server):
    """Warn when a worker could not open a socket per allowed connection (EMFILE past the limit)."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = server.cfg.worker_connections
    if soft != resource.RLIM_INFINITY and soft < wanted:
        server.log.warning(
            "open-files limit (ulimit -n) is %d, below worker_connections %d: clients past about "
            "%d fail to connect; raise the limit (ulimit -n, systemd LimitNOFILE=) or lower "
            "GUNICORN_WORKER_CONNECTIONS",
            soft,
            wanted,
            soft,
        )


def migrate(server):
    """Bring the database schema up to date before workers start (CHAT_MIGRATE_ON_START=0 skips).

    Runs in a subprocess: the master must not import the app, or modules would be loaded
    before the worker's monkey-patching and keep blocking locks and sockets.
    """
    if os.environ.get("CHAT_MIGRATE_ON_START", "1").lower() in ("0", "false", "no", "off"):
        return
    command = [sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"]
    result = subprocess.run(command, cwd=os.path.dirname(os.path.abspath(__file__)))
    if result.returncode != 0:
        raise SystemExit(f"database migration failed (exit {result.returncode})")


def post_worker_init(worker):
    """With a message queue, subscribe as soon as the worker has loaded the app (not at its first
    client), so that /health reports the queue and no message published meanwhile is missed."""
    from chat.cluster import queue as cluster

    cluster.start(worker.wsgi)
    tune_gc(worker)


def tune_gc(worker):
    """Tune the garbage collector once the app is loaded (CHAT_GC_THRESHOLDS="" keeps Python's).

    A full collection over a heap of thousands of connections stalled one broadcast for
    85-91 ms in the benchmarks: freezing what start-up allocated keeps it out of every
    collection, and the older generations are collected less often. The young generation is
    collected every 5,000 allocations: each pause is a few ms (at 50,000 each took ~30 ms, which
    set s1's p99 at 5,000 deliveries/s to 23-49 ms against 11-12 ms, and held more memory
    per connection). The middle generation is collected every 5 young collections, not 50: the
    objects of a storm of new connections then move on to the old generation in small steps
    during the storm, where with 50 the first middle collection after it took them all at once,
    seconds later, in one pause of ~70 ms (s1's p99 on PostgreSQL 21.7 -> 9.7 ms). The old generation
    waits for 1,000 middle collections, so a full collection is as rare as with 50 x 100. See
    BENCHMARKS.md and the chat_gc_gen*_pause_seconds metrics.
    """
    import gc

    raw = os.environ.get("CHAT_GC_THRESHOLDS", "5000,5,1000").strip()
    if not raw:
        return
    thresholds = tuple(int(part) for part in raw.split(","))
    gc.collect()
    gc.freeze()
    gc.set_threshold(*thresholds)
    worker.log.info("gc thresholds %s, %d objects frozen", thresholds, gc.get_freeze_count())
