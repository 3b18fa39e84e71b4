"""Pins, notification levels and read receipts across three gunicorn nodes (Redis, PostgreSQL,
nginx; tests/cluster.py): each change reaches every socket it concerns, on every node, once."""

import time
import uuid

import pytest

from tests import cluster as cl
from tests.conftest import pg_database
from tests.live_client import LiveClient
from tests.test_admin_cluster import cookie_of, signed_in

pytestmark = pytest.mark.once  # every node runs on PostgreSQL whatever the pass: the SQLite pass runs it

EVENTS = ("pins_changed", "notification_level", "seen")


@pytest.fixture(scope="module")
def three(pg_available):
    cl.require_services(pg_available)
    running = cl.Cluster(
        pg_database(f"chat_pins_{uuid.uuid4().hex[:8]}"), CHAT_RATE_LIMIT="0", CHAT_USER_RATE_LIMIT="0"
    ).start()
    yield running
    running.stop()


def live(node, session):
    sock = LiveClient(node.url)
    for name in EVENTS:
        sock.sio.on(name, sock._recorder(sock.received, name))
    return sock.connect(headers={"Cookie": cookie_of(session)})


def of(sock, event):
    with sock._cond:
        return [payload for name, payload in sock.received if name == event]


def settle():
    time.sleep(0.5)  # a second copy, if any, would have arrived by now


def test_pins_changed_reaches_every_member_on_three_nodes_once(three):
    nodes, suffix = three.nodes, uuid.uuid4().hex[:6]
    room = f"pins-{suffix}"
    people = [
        signed_in(node.url, f"{who}-{suffix}") for node, who in zip(nodes, ("alice", "bob", "carol"), strict=True)
    ]
    socks = [live(node, session) for node, session in zip(nodes, people, strict=True)]
    try:
        for sock in socks:
            assert sock.call("join_room", {"room": room})["ok"]
        sent = socks[0].call("room_message", {"room": room, "message": "remember this"})["id"]
        reply = socks[1].call("pin_message", {"id": sent})
        assert reply["ok"] and [p["id"] for p in reply["pins"]] == [sent]
        for sock in socks:
            sock.wait_count("pins_changed", 1)
        settle()
        for sock in socks:
            assert [[p["id"] for p in e["pins"]] for e in of(sock, "pins_changed")] == [[sent]]
        assert socks[2].call("get_pins", {"room": room})["pins"][0]["text"] == "remember this"
        # Deleted on node 1: the pin goes, everywhere.
        assert socks[0].call("delete_message", {"id": sent})["ok"]
        for sock in socks:
            sock.wait_count("pins_changed", 2)
        settle()
        for sock in socks:
            assert [[p["id"] for p in e["pins"]] for e in of(sock, "pins_changed")] == [[sent], []]
    finally:
        for sock in socks:
            sock.sio.disconnect()


def test_levels_and_read_receipts_reach_the_users_sockets_on_other_nodes(three):
    nodes, suffix = three.nodes, uuid.uuid4().hex[:6]
    room = f"quiet-{suffix}"
    alice, bob = signed_in(nodes[0].url, f"alice2-{suffix}"), signed_in(nodes[1].url, f"bob2-{suffix}")
    alice_socks = [live(nodes[0], alice), live(nodes[2], alice)]
    bob_sock = live(nodes[1], bob)
    try:
        assert alice_socks[0].call("join_room", {"room": room})["ok"]
        assert alice_socks[0].call("set_notification_level", {"room": room, "level": "nothing"})["ok"]
        for sock in alice_socks:
            sock.wait_count("notification_level", 1)
        settle()
        for sock in alice_socks:
            assert of(sock, "notification_level") == [{"room": room, "level": "nothing"}]
        assert of(bob_sock, "notification_level") == []
        listed = alice_socks[1].call("list_rooms")["rooms"]
        assert next(r for r in listed if r["name"] == room)["notify"] == "nothing"
        # A DM: bob reads on node 2, both of alice's nodes see it.
        dm = alice_socks[0].call("open_dm", {"user": f"bob2-{suffix}"})["room"]
        assert bob_sock.call("subscribe", {"room": dm})["ok"]
        sent = alice_socks[0].call("room_message", {"room": dm, "message": "read me"})["id"]
        assert bob_sock.call("mark_read", {"room": dm, "id": sent})["ok"]
        for sock in alice_socks:
            sock.wait_count("seen", 1)
        settle()
        for sock in alice_socks:
            assert [e["last_read_id"] for e in of(sock, "seen")] == [sent]
        assert of(bob_sock, "seen") == []
    finally:
        for sock in (*alice_socks, bob_sock):
            sock.sio.disconnect()
