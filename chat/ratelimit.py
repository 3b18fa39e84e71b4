"""Token buckets per connection and per user for every event that writes."""

import threading
import time
from functools import wraps

from flask import current_app

from .cluster.shared_rate import shared_bucket_take
from .connections.state import state
from .errors import ChatError, current_event_name

# Events a read-scope token's connection may still send: following and reading rooms.
READ_SCOPE_EVENTS = frozenset(
    {"join_room", "leave_room", "subscribe", "search", "active", "mark_read"}
    | {"list_threads", "mark_thread_read", "follow_thread"}  # threads (chat/threads): no message written
)


class TokenBucket:
    __slots__ = ("tokens", "stamp")

    def __init__(self, burst):
        self.tokens = float(burst)
        self.stamp = time.monotonic()

    def take(self, rate, burst):
        now = time.monotonic()
        self.tokens = min(burst, self.tokens + (now - self.stamp) * rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class RateLimiter:
    """Buckets for users (shared by their connections in this process) and for connections."""

    def __init__(self):
        self._users = {}
        self._lock = threading.Lock()

    def user_bucket(self, user_id, burst):
        with self._lock:
            bucket = self._users.get(user_id)
            if bucket is None:
                if len(self._users) > 100_000:  # forget idle users rather than grow forever
                    self._users.clear()
                bucket = self._users[user_id] = TokenBucket(burst)
            return bucket


limiter = RateLimiter()


def check_rate():
    """Raise rate_limited when this connection or its user writes faster than allowed (and
    insufficient_scope when the connection was opened with a read-scope API token)."""
    if state().read_only and current_event_name() not in READ_SCOPE_EVENTS:
        raise ChatError("insufficient_scope", "This connection's token may only read (its scope is 'read').")
    cfg = current_app.config
    rate, burst = cfg["CHAT_RATE_LIMIT"], cfg["CHAT_RATE_BURST"]
    if rate <= 0:
        return
    own = state()
    if own.bucket is None:
        own.bucket = TokenBucket(burst)
    if not own.bucket.take(rate, burst):
        raise ChatError("rate_limited", "Too many messages; slow down.")
    if own.user_id is not None:
        check_user_rate(own.user_id)


def check_user_rate(user_id):
    """Raise rate_limited when the user (all their sockets and HTTP writes) writes too fast."""
    cfg = current_app.config
    rate, burst = cfg["CHAT_USER_RATE_LIMIT"], cfg["CHAT_USER_RATE_BURST"]
    if rate > 0 and not user_may_write(user_id, rate, burst):
        raise ChatError("rate_limited", "Too many messages from this account; slow down.")


def user_may_write(user_id, rate, burst):
    """One token from the user's bucket: in Redis with a message queue (a user's connections on
    every node share it), else in this process."""
    if current_app.config.get("CHAT_MESSAGE_QUEUE"):
        allowed = shared_bucket_take(f"user:{user_id}", rate, burst)
        if allowed is not None:
            return allowed
    return limiter.user_bucket(user_id, burst).take(rate, burst)


def rate_limited(handler):
    """Decorator for socket events that write."""

    @wraps(handler)
    def wrapper(*args, **kwargs):
        check_rate()
        return handler(*args, **kwargs)

    return wrapper
