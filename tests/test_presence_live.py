"""Presence across a server restart, and rate limits, on the real gunicorn eventlet server."""

import time

import requests

from tests import servers
from tests.accounts import register
from tests.live_client import LiveClient


def signed_in(url, name):
    session = requests.Session()
    assert register(session, name, base=url).status_code == 302
    cookie = "; ".join(f"{k}={v}" for k, v in session.cookies.items())
    return session, cookie


def online_names(url, session):
    return {u["name"] for u in session.get(url + "/api/presence").json()["users"]}


def test_a_killed_server_leaves_no_ghosts_after_restart(live_database):
    database = live_database()
    env = {"DATABASE_URL": database, "CHAT_PRESENCE_TIMEOUT": "2"}
    server = servers.gunicorn("eventlet", env=env).start()
    session, cookie = signed_in(server.url, "ghost")
    client = LiveClient(server.url).connect(headers={"Cookie": cookie})
    try:
        assert online_names(server.url, session) == {"ghost"}
    finally:
        server.kill()  # SIGKILL: no disconnect handler runs
        client.sio.eio.reconnection = False
    server = servers.gunicorn("eventlet", env=env).start()
    try:
        deadline = time.monotonic() + 6
        while online_names(server.url, session) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert online_names(server.url, session) == set()
    finally:
        server.stop()


def test_a_pinned_node_forgets_its_old_sockets_at_once(live_database):
    env = {"DATABASE_URL": live_database(), "CHAT_NODE_ID": "node-a", "CHAT_PRESENCE_TIMEOUT": "60"}
    server = servers.gunicorn("eventlet", env=env).start()
    session, cookie = signed_in(server.url, "pinned")
    client = LiveClient(server.url).connect(headers={"Cookie": cookie})
    assert online_names(server.url, session) == {"pinned"}
    server.kill()
    client.sio.eio.reconnection = False
    server = servers.gunicorn("eventlet", env=env).start()
    try:
        assert online_names(server.url, session) == set()
        again = LiveClient(server.url).connect(headers={"Cookie": cookie})
        assert online_names(server.url, session) == {"pinned"}
        again.disconnect()
    finally:
        server.stop()


def test_a_flooding_client_is_limited_while_others_keep_flowing(live_database):
    env = {"DATABASE_URL": live_database(), "CHAT_RATE_LIMIT": "10", "CHAT_RATE_BURST": "20"}
    server = servers.gunicorn("eventlet", env=env).start()
    flooder, calm, reader = (LiveClient(server.url).connect() for _ in range(3))
    try:
        for c in (flooder, calm, reader):
            c.call("join_room", {"room": "flood"})
        for i in range(100):
            flooder.emit("room_message", {"room": "flood", "message": f"f{i}"})
        calm_ids = [calm.call("room_message", {"room": "flood", "message": f"c{i}"})["id"] for i in range(5)]
        # Every one of the 100 comes back to the flooder: as its own message, or as an error.
        flooder.wait_for(
            lambda got: sum(1 for n, p in got if n == "error" or p.get("text", "").startswith("f")) >= 100, timeout=20
        )
        errors = [p for n, p in flooder.received if n == "error"]
        assert {e["code"] for e in errors} == {"rate_limited"}
        accepted = 100 - len(errors)
        # The burst of 20, less the join's token, plus what refilled (10/s) during the flood.
        assert 19 <= accepted <= 30
        reader.wait_for(lambda got: sum(1 for _, p in got if p.get("text", "").startswith(("f", "c"))) >= accepted + 5)
        texts = [p["text"] for _, p in reader.received if p.get("text", "").startswith(("f", "c"))]
        assert [t for t in texts if t.startswith("c")] == [f"c{i}" for i in range(5)]
        assert len([t for t in texts if t.startswith("f")]) == accepted
        stored = requests.get(server.url + "/api/rooms/flood/messages?limit=200").json()["messages"]
        assert len(stored) == accepted + 5 and calm_ids == [m["id"] for m in stored if m["text"].startswith("c")]
    finally:
        for c in (flooder, calm, reader):
            c.disconnect()
        server.stop()
