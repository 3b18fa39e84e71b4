"""A python-socketio client that records what it receives, for tests against real servers."""

import threading
import time

import engineio
import socketio
from engineio.payload import Payload

# The Python client decodes polling responses with the same 16-packet cap as the server;
# a server that queued 500 messages for a polling client answers them in one response.
# Browsers have no such cap.
Payload.max_decode_packets = 100_000


class InOrderEngineIO(engineio.Client):
    """python-engineio's client runs each message's handler in a thread of its own, so two
    messages that arrive back to back can be recorded in either order (seen in CI: "#306" before
    "#305" over polling). The recorder is quick and never blocks: run it in the read loop, so the
    recorded order is the order on the wire, which is what the order tests are about."""

    def _trigger_event(self, event, *args, **kwargs):
        if event == "message":
            kwargs["run_async"] = False
        return super()._trigger_event(event, *args, **kwargs)


class InOrderClient(socketio.Client):
    def _engineio_client_class(self):
        return InOrderEngineIO


class LiveClient:
    def __init__(self, url, transports=("websocket",), reconnection=False, **client_kwargs):
        self.url = url
        self.transports = list(transports)
        self.received = []  # (event, payload) of the seed's events and errors, in arrival order
        self.histories = []  # `history` events (stored messages sent on join)
        self._cond = threading.Condition()
        self.sio = InOrderClient(reconnection=reconnection, **client_kwargs)
        for name in ("message", "room_message", "error"):
            self.sio.on(name, self._recorder(self.received, name))
        self.sio.on("history", self._recorder(self.histories, "history"))

    def _recorder(self, into, name):
        def record(payload=None, *_):
            with self._cond:
                into.append((name, payload))
                self._cond.notify_all()

        return record

    def connect(self, **kwargs):
        self.sio.connect(self.url, transports=self.transports, wait_timeout=10, **kwargs)
        return self

    @property
    def sid(self):
        return self.sio.get_sid()

    def call(self, event, data=None, timeout=10):
        return self.sio.call(event, data, timeout=timeout)

    def emit(self, event, data=None):
        self.sio.emit(event, data)

    def wait_for(self, predicate, timeout=10):
        """Wait until predicate(received) is true; returns the received list."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate(self.received):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out; received so far: {self.received[-20:]!r}")
                self._cond.wait(left)
            return list(self.received)

    def wait_count(self, event, count, timeout=10):
        return self.wait_for(lambda got: len([1 for n, _ in got if n == event]) >= count, timeout)

    def datas(self, event=None):
        with self._cond:
            return [p.get("data") for n, p in self.received if event in (None, n) and isinstance(p, dict)]

    def wait_history(self, count=1, timeout=10):
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.histories) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no history event; received: {self.received[-10:]!r}")
                self._cond.wait(left)
            return self.histories[count - 1][1]

    def assert_each_once_upto(self, last, timeout=30):
        """After joining while messages flowed: every id up to `last` came once, from the history
        on join or live, never both, live ones in id order. A join handled after `last` was
        stored (the server takes each client's events in order, not the clients' in the order
        they were sent) finds it in the history."""
        history = [m["id"] for m in self.wait_history(timeout=timeout)["messages"]]
        if last not in history:
            self.wait_for(lambda got: last in [p.get("id") for _, p in got], timeout=timeout)
        live = [p["id"] for _, p in self.received if p.get("id") is not None]
        assert not set(history) & set(live), "a message both in the history and live"
        assert live == sorted(live)
        both = sorted(history + live)
        assert both == list(range(both[0], last + 1)), "a message in neither"

    def clear(self):
        with self._cond:
            self.received.clear()

    def disconnect(self):
        if self.sio.connected:
            self.sio.disconnect()
