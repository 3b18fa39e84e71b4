"""A client that stops reading its WebSocket (but keeps the TCP connection open) is dropped.

Such a client fills its receive window, then the server's send buffer, and the green thread
writing to it blocks in a send that cannot finish. Engine.IO ends the session at the ping timeout
(the client answers no ping): on eventlet the socket, its green threads and the frames queued
behind go with it; on gevent they go when a send or a read has waited CHAT_SOCKET_TIMEOUT. So a
slow reader (or an attacker with many) holds them for about a ping round, and everyone else is
served meanwhile, their frames whole (on gevent, see chat.WholeSends).
"""

import json
import os
import socket
import threading
import time
from pathlib import Path

import pytest
import websocket

from tests import servers
from tests.live_client import LiveClient


def worker_pid(master):
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    assert children, "the gunicorn worker is not running"
    return int(children[0])


def holds_connection(pid, client_port):
    """Whether process `pid` still has a TCP socket open whose peer is 127.0.0.1:client_port."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[2].split(":")[1], 16) == client_port and fields[9] in inodes:
            return True
    return False


def stalled_client(url, room):
    """A raw Engine.IO WebSocket client with a small receive buffer that joins `room` and then
    never reads again (nor answers a ping)."""
    ws = websocket.create_connection(
        url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket",
        sockopt=[(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)],
        timeout=10,
    )
    assert ws.recv().startswith("0")  # Engine.IO open
    ws.send("40")
    assert ws.recv().startswith("40")  # Socket.IO connect
    ws.send("420" + json.dumps(["join_room", {"room": room}]))
    while not ws.recv().startswith("430"):  # the join's ack (a notice may come first)
        pass
    return ws


class Flooder:
    """A raw Engine.IO WebSocket client in the room that reads (and drops) everything it gets in a
    thread, answering pings, and counts the acks of what it sent."""

    def __init__(self, url, room):
        self.ws = websocket.create_connection(
            url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket", timeout=30
        )
        assert self.ws.recv().startswith("0")
        self.ws.send("40")
        assert self.ws.recv().startswith("40")
        self.acks = {}
        self.ended = None
        self.reader = threading.Thread(target=self.read, daemon=True)
        self.reader.start()
        self.call(0, ["join_room", {"room": room}])

    def read(self):
        try:
            while True:
                frame = self.ws.recv()
                if frame == "2":
                    self.ws.send("3")  # websocket-client's send takes its own lock
                elif frame.startswith("43"):
                    ack_id = int(frame[2:].split("[", 1)[0])
                    self.acks[ack_id] = json.loads(frame[2 + len(str(ack_id)) :])[0]
        except (websocket.WebSocketException, OSError) as exc:
            self.ended = exc

    def emit(self, ack_id, event):
        self.ws.send(f"42{ack_id}" + json.dumps(event))

    def call(self, ack_id, event, timeout=60):
        self.emit(ack_id, event)
        deadline = time.monotonic() + timeout
        while ack_id not in self.acks:
            assert time.monotonic() < deadline, f"no ack for {event[0]} within {timeout}s"
            time.sleep(0.05)
        return self.acks[ack_id]

    def close(self):
        self.ws.close()


@pytest.mark.parametrize("worker", ["eventlet", "gevent"])
def test_a_client_that_stops_reading_is_dropped_and_frees_its_socket(worker, live_database):
    server = servers.gunicorn(
        worker,
        env={
            "DATABASE_URL": live_database(),
            # Long enough for the flooder: its events are handled in order, its pongs behind them.
            "CHAT_PING_INTERVAL": "5",
            "CHAT_PING_TIMEOUT": "10",
            "CHAT_SOCKET_TIMEOUT": "16",  # gevent: its send and read time out (eventlet: the ping timeout)
        },
    ).start()
    flooder = None
    stalled = None
    try:
        pid = worker_pid(server.proc.pid)
        stalled = stalled_client(server.url, "stall")
        port = stalled.sock.getsockname()[1]
        assert holds_connection(pid, port)
        flooder = Flooder(server.url, "stall")
        text = "詰" * 3990  # 12 KB a frame: 150 fill both sides' buffers (1.8 MB)
        for i in range(1, 151):
            flooder.emit(i, ["room_message", {"room": "stall", "message": f"{i:03} {text}"}])
        assert flooder.call(151, ["room_message", {"room": "stall", "message": "last"}])["ok"]
        assert all(flooder.acks[i]["ok"] for i in range(1, 151))  # every frame went to the stalled client
        # The ping round (15 s) or the socket timeout (16 s), with room to spare.
        deadline = time.monotonic() + 40
        while holds_connection(pid, port) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not holds_connection(pid, port), "the server still holds the stalled client's socket"
        # Everyone else is still served.
        other = LiveClient(server.url, ["websocket"]).connect()
        try:
            assert other.call("join_room", {"room": "stall"})["ok"]
            assert flooder.call(152, ["room_message", {"room": "stall", "message": "still here"}])["ok"]
            other.wait_for(lambda got: any(p.get("text") == "still here" for _, p in got))
        finally:
            other.disconnect()
    finally:
        if flooder is not None:
            flooder.close()
        if stalled is not None:
            stalled.sock.close()
        server.stop()
