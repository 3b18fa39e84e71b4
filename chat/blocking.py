"""Blocking or CPU-heavy work (password hashing, image decoding) run off the event loop, bounded.

Under eventlet or gevent one OS thread serves every client: a 50 ms scrypt run on it stalls all
of them for 50 ms. Such work runs on the async library's own OS threads instead (eventlet's tpool,
the gevent hub's threadpool); under threading (`flask run`) each request has a thread already and
the work runs in it. Either way at most CHAT_BLOCKING_THREADS jobs run at once (scrypt also holds
32 MB while it runs) and at most CHAT_BLOCKING_QUEUE more wait for a turn; past that a job is
refused at once with `Busy`, so a flood of password guesses cannot queue without bound.

The async library is imported when first used, by the mode Flask-SocketIO runs in: this module
loads under any worker.
"""

import logging
import threading

from flask import current_app

from .errors import ChatError
from .extensions import socketio

log = logging.getLogger("chat.blocking")


class Busy(ChatError):
    """Every worker thread is taken and the waiting line is full."""

    def __init__(self):
        super().__init__("busy", "The server is busy; try again in a moment.")


class BlockingPool:
    """At most `threads` jobs at once, `queue` more waiting; run() refuses the rest with Busy."""

    def __init__(self, threads, queue, mode):
        self.threads = threads
        self.capacity = threads + queue
        self.mode = mode
        self.admitted = 0  # running and waiting jobs
        self._count_lock = threading.Lock()  # held without yielding: safe under any mode
        self._slots = make_semaphore(mode, threads)

    def run(self, fn, *args):
        with self._count_lock:
            if self.admitted >= self.capacity:
                log.warning("blocking pool full (%d jobs): refused %s", self.admitted, getattr(fn, "__name__", fn))
                raise Busy()
            self.admitted += 1
        try:
            with self._slots:
                return execute(self.mode, fn, args)
        finally:
            with self._count_lock:
                self.admitted -= 1


def make_semaphore(mode, value):
    """A semaphore whose waiters yield to the event loop in `mode` (an OS thread's under threading)."""
    if mode == "eventlet":
        from eventlet.semaphore import Semaphore

        return Semaphore(value)
    if mode == "gevent":
        from gevent.lock import Semaphore

        return Semaphore(value)
    return threading.Semaphore(value)


def execute(mode, fn, args):
    """fn(*args) on an OS thread of the async library, the caller's loop serving others meanwhile."""
    if mode == "eventlet":
        from eventlet import tpool

        return tpool.execute(fn, *args)
    if mode == "gevent":
        import gevent

        return gevent.get_hub().threadpool.apply(fn, args)
    return fn(*args)


def pool(app=None):
    """The app's pool, made at first use (the async mode is known only once Socket.IO is set up)."""
    app = app or current_app._get_current_object()
    found = app.extensions.get("chat_blocking")
    if found is None:
        mode = socketio.async_mode or "threading"
        found = BlockingPool(app.config["CHAT_BLOCKING_THREADS"], app.config["CHAT_BLOCKING_QUEUE"], mode)
        found = app.extensions.setdefault("chat_blocking", found)
    return found


def run_blocking(fn, *args):
    """fn(*args) off the event loop, within the app's bounds; raises Busy when they are full."""
    return pool().run(fn, *args)
