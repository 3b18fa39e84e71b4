"""Password guessing, throttled: failed logins counted per account and per client address.

Counted with the `limits` library in a moving window: in Redis when the nodes share one
(CHAT_LOGIN_LIMIT_STORAGE, else CHAT_MESSAGE_QUEUE), so that every node sees every failure; in
this process' memory otherwise, and while that Redis cannot be reached.

`limits` is the storage and strategies Flask-Limiter is built on. Flask-Limiter itself is not
used: its Limiter holds one app's storage and settings (the tests build many apps per process),
and it adds a teardown to every request context, which Flask-SocketIO pushes for every socket
event (10–40 µs more per event, measured), for one form that needs limiting.
An account's attempts are counted before its password is checked (guesses sent all at once get
no more tries than the limit), and a successful login clears its account's count: only failures
remain, so a user who types the password right is never held back by their own logins. An
address counts its failures only (users behind one NAT log in often), after each check; it is
never cleared by a success (one's own account would otherwise reset the count of an address that
guesses at others).
"""

import hashlib
import logging
import math
import time

from limits import parse_many
from limits.errors import StorageError
from limits.storage import MemoryStorage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

log = logging.getLogger("chat.login_throttle")
RETRY_STORAGE_AFTER = 5.0  # seconds of counting in memory after the shared storage failed


class LoginThrottle:
    """How long an account or an address must wait before its next login attempt."""

    def __init__(self, account_limit, address_limit, storage_uri=None, prefix="chat"):
        self.rules = [  # addresses first: an address refused uses up none of the account's tries
            (kind, item)
            for kind, text in (("address", address_limit), ("account", account_limit))
            if text
            for item in parse_many(text)
        ]
        self.prefix = f"{prefix}:login"
        self.local = MovingWindowRateLimiter(MemoryStorage())
        self.shared = None
        if storage_uri and self.rules:
            storage = storage_from_string(storage_uri, wrap_exceptions=True, socket_timeout=1, socket_connect_timeout=1)
            self.shared = MovingWindowRateLimiter(storage)
        self.shared_down_until = 0.0

    def admit(self, account, address):
        """Count an attempt at this account (its name_key) from this address: 0 when it may go on,
        else the seconds until it may try again (then nothing was counted for the address)."""
        keys = self._keys(account, address)
        for kind, item in self.rules:
            admitted = self._use(self._test if kind == "address" else self._hit, item, kind, keys[kind])
            if not admitted:
                return self._use(self._wait, item, kind, keys[kind])
        return 0

    def failed(self, account, address):
        """A wrong password (or an unknown name): count it against the address too."""
        key = self._keys(account, address)["address"]
        for kind, item in self.rules:
            if kind == "address":
                self._use(self._hit, item, kind, key)

    def succeeded(self, account):
        """The account's owner got in: its failures are forgotten."""
        for kind, item in self.rules:
            if kind == "account":
                self._use(self._clear, item, kind, account_key(account))

    def _wait(self, limiter, item, kind, key):
        reset_at = limiter.get_window_stats(item, self.prefix, kind, key).reset_time
        return max(1, math.ceil(reset_at - time.time()))

    def _test(self, limiter, item, kind, key):
        return limiter.test(item, self.prefix, kind, key)

    def _hit(self, limiter, item, kind, key):
        return limiter.hit(item, self.prefix, kind, key)

    def _clear(self, limiter, item, kind, key):
        limiter.clear(item, self.prefix, kind, key)

    def _keys(self, account, address):
        return {"account": account_key(account), "address": address or "unknown"}

    def _use(self, action, *args):
        """action(limiter, *args) on the shared storage, or on this process' memory while it is down."""
        if self.shared is not None and time.monotonic() >= self.shared_down_until:
            try:
                return action(self.shared, *args)
            except StorageError as exc:
                log.warning("login throttle storage unreachable (%s): counting in this process", exc)
                self.shared_down_until = time.monotonic() + RETRY_STORAGE_AFTER
        return action(self.local, *args)


def account_key(account):
    """An account's key in the storage: hashed (fixed length, no names in Redis)."""
    return hashlib.sha256(account.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def from_config(config):
    storage = config["CHAT_LOGIN_LIMIT_STORAGE"] or config["CHAT_MESSAGE_QUEUE"]
    return LoginThrottle(
        config["CHAT_LOGIN_ACCOUNT_LIMIT"],
        config["CHAT_LOGIN_ADDRESS_LIMIT"],
        storage,
        prefix=config["CHAT_QUEUE_CHANNEL"],
    )
