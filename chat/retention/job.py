"""The periodic prune: every CHAT_PRUNE_INTERVAL seconds, on one node at a time.

Who runs it is decided by a lock each round: PostgreSQL's advisory lock (pg_try_advisory_lock) on
a server database, a Redis lock (SET NX PX, released only by its holder) when the nodes share a
message queue but no such database, and a lock of the process for SQLite (one process). A node
that does not get the lock skips the round; the next round any node may win it.
"""

import logging
import secrets
import threading
from contextlib import contextmanager

import redis
from flask import current_app, request
from sqlalchemy import text

from ..extensions import db, socketio
from .prune import prune

log = logging.getLogger("chat.retention")

# pg_advisory_lock's key for the prune job: the single 64-bit key form, a key space apart from the
# channels' two-key locks (chat/cluster/order.py) and unlike the migrations' key (727274).
PG_LOCK_KEY = 0x63686174_70727565  # "chatprue"
REDIS_LOCK_KEY = "retention:prune"
_RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"
_process_lock = threading.Lock()
_started = set()


@contextmanager
def pg_lock():
    """Hold PostgreSQL's advisory lock on a connection of its own; yields whether it was taken."""
    with db.engine.connect() as connection:
        taken = connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": PG_LOCK_KEY}).scalar()
        connection.commit()
        try:
            yield bool(taken)
        finally:
            if taken:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": PG_LOCK_KEY})
                connection.commit()


@contextmanager
def redis_lock(url, key, ttl_ms):
    """SET key NX PX: yields whether this process holds it; released only if still its own."""
    client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    token = secrets.token_hex(16)
    try:
        taken = bool(client.set(key, token, nx=True, px=ttl_ms))
    except redis.RedisError:
        log.warning("prune: Redis did not answer; skipping this round")
        taken = False
    try:
        yield taken
    finally:
        if taken:
            try:
                client.eval(_RELEASE, 1, key, token)
            except redis.RedisError:
                log.warning("prune: could not release the Redis lock (it expires by itself)")
        client.close()


@contextmanager
def process_lock():
    taken = _process_lock.acquire(blocking=False)
    try:
        yield taken
    finally:
        if taken:
            _process_lock.release()


def job_lock():
    """The lock that makes one node prune at a time, for this app's setup."""
    config = current_app.config
    if db.engine.dialect.name == "postgresql":
        return pg_lock()
    if config.get("CHAT_MESSAGE_QUEUE"):
        ttl_ms = int(max(config["CHAT_PRUNE_INTERVAL"], 60) * 1000)
        return redis_lock(config["CHAT_MESSAGE_QUEUE"], f"{config['CHAT_QUEUE_CHANNEL']}:{REDIS_LOCK_KEY}", ttl_ms)
    return process_lock()


def prune_once():
    """One round: prune if this node gets the lock; returns Pruned, or None when another node holds it."""
    with job_lock() as taken:
        if not taken:
            log.info("prune: another node is pruning; skipping")
            return None
        return prune()


def prune_loop(app, rounds=None):
    """Prune every CHAT_PRUNE_INTERVAL seconds (for ever; `rounds` times in tests)."""
    interval = app.config["CHAT_PRUNE_INTERVAL"]
    while rounds is None or rounds > 0:
        rounds = rounds - 1 if rounds is not None else None
        socketio.sleep(interval)
        try:
            with app.app_context():
                prune_once()
        except Exception:  # noqa: BLE001 - a database hiccup must not end the loop
            log.exception("prune failed")


def start_prune_job(app):
    """Start this process' periodic prune once (tests start it themselves)."""
    if app.testing or app in _started or app.config["CHAT_PRUNE_INTERVAL"] <= 0:
        return
    _started.add(app)
    socketio.start_background_task(prune_loop, app)


def init_app(app):
    """The job starts with the node's first HTTP request (the load balancer's /health counts)."""

    @app.before_request
    def start_with_first_request():
        if request.path != "/socket.io/":
            start_prune_job(app)
