"""Threads across three gunicorn nodes (Redis, PostgreSQL, nginx; tests/cluster.py): a reply on
node 1 reaches a follower on node 3, with the root's summary and the thread's unread."""

import uuid

import pytest
import requests

from tests import cluster as cl
from tests.accounts import register
from tests.conftest import pg_database
from tests.live_client import LiveClient

pytestmark = pytest.mark.once  # every node runs on PostgreSQL whatever the pass: the SQLite pass runs it


@pytest.fixture(scope="module")
def three(pg_available):
    cl.require_services(pg_available)
    running = cl.Cluster(
        pg_database(f"chat_threads_{uuid.uuid4().hex[:8]}"), CHAT_RATE_LIMIT="0", CHAT_USER_RATE_LIMIT="0"
    )
    try:  # Cluster.start, with more time per node: the machine's cores are shared
        for node in running.nodes:
            node.start(timeout=120)
        running.nginx = cl.Nginx([node.port for node in running.nodes]).start()
    except Exception:
        running.stop()
        raise
    yield running
    running.stop()


def socket_of(url, name):
    session = requests.Session()
    assert register(session, name, base=url).status_code == 302
    cookie = "; ".join(f"{k}={v}" for k, v in session.cookies.items())
    client = LiveClient(url)
    for event in ("message_updated", "thread_state"):
        client.sio.on(event, client._recorder(client.received, event))
    return client.connect(headers={"Cookie": cookie})


def of(client, event):
    return [p for n, p in client.received if n == event]


def test_a_reply_on_node_1_reaches_a_follower_on_node_3_with_the_summary(three):
    nodes, suffix = three.nodes, uuid.uuid4().hex[:6]
    room = f"threads-{suffix}"
    alice = socket_of(nodes[0].url, f"alice-{suffix}")
    bob = socket_of(nodes[2].url, f"bob-{suffix}")
    assert alice.call("create_room", {"room": room})["ok"]
    assert bob.call("join_room", {"room": room})["ok"]
    root = alice.call("room_message", {"room": room, "message": "root"})["id"]
    first = bob.call("room_message", {"room": room, "message": "following now", "reply_to": root})
    assert first["ok"], first
    bob.wait_for(lambda got: any(n == "thread_state" for n, _ in got))
    bob.clear()

    reply = alice.call("room_message", {"room": room, "message": "from node 1", "reply_to": root})["id"]
    bob.wait_for(lambda got: any(n == "thread_state" and p["unread"] == 1 for n, p in got))
    bob.wait_for(lambda got: any(n == "message_updated" and p["id"] == root for n, p in got))
    (live,) = [p for p in of(bob, "room_message") if p["id"] == reply]
    assert live["thread_id"] == root and live["data"].endswith(": from node 1")
    summary = [p for p in of(bob, "message_updated") if p["id"] == root][-1]["thread"]
    assert summary["replies"] == 2 and {p["name"] for p in summary["participants"]} == {
        f"alice-{suffix}",
        f"bob-{suffix}",
    }
    state = [p for p in of(bob, "thread_state") if p["id"] == root][-1]
    assert state == {
        "id": root,
        "room": room,
        "following": True,
        "unread": 1,
        "mentions": 0,
        "last_read_id": first["id"],
    }
    # The same thread read from node 2: pages and catch-up from bob's last reply.
    carol = socket_of(nodes[1].url, f"carol-{suffix}")
    page = carol.call("get_history", {"room": room, "thread": root, "since": first["id"]})
    assert [m["id"] for m in page["messages"]] == [reply] and page["root"]["thread"]["replies"] == 2
    for client in (alice, bob, carol):
        client.disconnect()
