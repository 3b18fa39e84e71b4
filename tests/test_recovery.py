"""No message lost across reconnects or restarts, against the real gunicorn eventlet server."""

import socket
import threading
import time

import requests

from tests import servers
from tests.live_client import LiveClient


class RecoveringClient:
    """Does what the page does: remembers the last id per room, rejoins with `since` after a
    reconnect, keeps each stored message once (by id)."""

    def __init__(self, url, room):
        self.room = room
        self.messages = {}  # id -> text
        self.last_id = None
        self.connects = 0
        self.lock = threading.Lock()
        self.live = LiveClient(
            url, ["websocket"], reconnection=True, reconnection_delay=0.2, reconnection_delay_max=0.5
        )
        self.live.sio.on("connect", self.on_connect)
        self.live.sio.on("room_message", self.keep)
        self.live.sio.on("history", lambda reply: [self.keep(m) for m in reply["messages"]])

    def keep(self, message):
        if "id" not in message:
            return
        with self.lock:
            assert message["id"] not in self.messages or self.messages[message["id"]] == message["text"]
            self.messages[message["id"]] = message["text"]
            self.last_id = max(self.last_id or 0, message["id"])

    def on_connect(self):
        self.connects += 1
        request = {"room": self.room}
        if self.last_id is not None:
            request["since"] = self.last_id
        self.live.sio.emit("join_room", request)

    def texts(self):
        with self.lock:
            return [self.messages[i] for i in sorted(self.messages)]

    def wait_texts(self, count, timeout=20):
        deadline = time.monotonic() + timeout
        while len(self.texts()) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.texts()


def cut_transport(client):
    """Kill the TCP connection under the client, as a network drop would."""
    client.sio.eio.ws.sock.shutdown(socket.SHUT_RDWR)


def test_a_client_cut_off_while_others_talk_gets_every_message_once_in_order(live_database):
    server = servers.gunicorn(
        "eventlet",
        env={
            "DATABASE_URL": live_database(),
            "CHAT_PING_INTERVAL": "1",
            "CHAT_PING_TIMEOUT": "1",
        },
    ).start()
    a = RecoveringClient(server.url, "recover")
    b = LiveClient(server.url).connect()
    try:
        a.live.connect()
        b.call("join_room", {"room": "recover"})
        b.call("room_message", {"room": "recover", "message": "before"})
        assert a.wait_texts(1) == ["before"]

        cut_transport(a.live)
        deadline = time.monotonic() + 10
        while a.live.sio.connected and time.monotonic() < deadline:
            time.sleep(0.02)
        for i in range(50):
            assert b.call("room_message", {"room": "recover", "message": f"gap {i}"})["ok"]
        texts = a.wait_texts(51)
        assert a.connects >= 2
        assert texts == ["before"] + [f"gap {i}" for i in range(50)]
        b.call("room_message", {"room": "recover", "message": "after"})
        assert a.wait_texts(52)[-1] == "after"
    finally:
        a.live.sio.reconnection = False
        a.live.disconnect()
        b.disconnect()
        server.stop()


def test_a_retried_send_is_stored_and_delivered_once(live_server):
    a, b = LiveClient(live_server.url).connect(), LiveClient(live_server.url).connect()
    try:
        for c in (a, b):
            c.call("join_room", {"room": "idem"})
        first = a.call("room_message", {"room": "idem", "message": "only once", "client_id": "k1"})
        retry = a.call("room_message", {"room": "idem", "message": "only once", "client_id": "k1"})
        assert retry == {"ok": True, "id": first["id"], "duplicate": True}
        a.call("room_message", {"room": "idem", "message": "marker"})
        b.wait_for(lambda got: any(p.get("text") == "marker" for _, p in got))
        assert [p["text"] for _, p in b.received if p.get("text")] == ["only once", "marker"]
        page = requests.get(f"{live_server.url}/api/rooms/idem/messages").json()
        assert [m["text"] for m in page["messages"]] == ["only once", "marker"]
    finally:
        a.disconnect()
        b.disconnect()


def test_history_survives_a_restart_and_paging_returns_every_message_once(live_database):
    database = live_database()
    server = servers.gunicorn("eventlet", env={"DATABASE_URL": database}).start()
    writer = LiveClient(server.url).connect()
    writer.call("join_room", {"room": "durable"})
    sent = [writer.call("room_message", {"room": "durable", "message": f"d{i}"})["id"] for i in range(120)]
    writer.call("send_message", {"message": "to all, kept"})
    writer.disconnect()
    server.stop()

    server = servers.gunicorn("eventlet", env={"DATABASE_URL": database}).start()
    try:
        reader = LiveClient(server.url).connect()
        reader.call("join_room", {"room": "durable"})
        joined = reader.wait_history()
        assert [m["text"] for m in joined["messages"]] == [f"d{i}" for i in range(70, 120)]
        reader.disconnect()

        seen, before = [], None
        while True:
            query = f"?limit=33&before={before}" if before else "?limit=33"
            page = requests.get(f"{server.url}/api/rooms/durable/messages{query}").json()
            seen = [m["id"] for m in page["messages"]] + seen
            if not page["has_more"]:
                break
            before = page["messages"][0]["id"]
        assert seen == sent
        everyone = requests.get(f"{server.url}/api/messages").json()
        assert [m["text"] for m in everyone["messages"]] == ["to all, kept"]
    finally:
        server.stop()
