"""Administration across three gunicorn nodes (Redis, PostgreSQL, nginx; tests/cluster.py): a
deactivated user gets nothing on any node, and a room deleted on one node is forgotten by all."""

import re
import time
import uuid

import pytest
import requests
import socketio as socketio_client
from sqlalchemy import create_engine, text

from chat.config import database_url
from tests import cluster as cl
from tests.accounts import login, register
from tests.conftest import pg_database
from tests.live_client import LiveClient

pytestmark = pytest.mark.once  # every node runs on PostgreSQL whatever the pass: the SQLite pass runs it


@pytest.fixture(scope="module")
def three(pg_available):
    cl.require_services(pg_available)
    running = cl.Cluster(
        pg_database(f"chat_admin_{uuid.uuid4().hex[:8]}"), CHAT_RATE_LIMIT="0", CHAT_USER_RATE_LIMIT="0"
    ).start()
    yield running
    running.stop()


def signed_in(url, name):
    session = requests.Session()
    assert register(session, name, base=url).status_code == 302
    return session


def cookie_of(session):
    return "; ".join(f"{k}={v}" for k, v in session.cookies.items())


def admin_of(cluster, url, name):
    """A signed-in session of a new user made admin in the database, and its CSRF token."""
    session = signed_in(url, name)
    engine = create_engine(database_url(cluster.database_url))
    with engine.begin() as conn:
        conn.execute(text("UPDATE users SET is_admin = true WHERE name = :name"), {"name": name})
    engine.dispose()
    page = session.get(url + "/admin")
    assert page.status_code == 200
    return session, re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


def user_id(session, url, name):
    return next(u["id"] for u in session.get(url + "/api/admin/users", params={"q": name}).json()["users"])


def wait_until(predicate, timeout=10):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_deactivated_user_gets_nothing_on_any_of_three_nodes(three):
    nodes, suffix = three.nodes, uuid.uuid4().hex[:6]
    admin, token = admin_of(three, nodes[0].url, f"admin-{suffix}")
    bob_name = f"bob-{suffix}"
    bob = signed_in(nodes[1].url, bob_name)
    sockets = [LiveClient(node.url).connect(headers={"Cookie": cookie_of(bob)}) for node in nodes]
    for sock in sockets:
        assert sock.call("join_room", {"room": f"lobby-{suffix}"})["ok"]
    bob_id = user_id(admin, nodes[0].url, bob_name)
    response = admin.post(
        f"{nodes[0].url}/api/admin/users/{bob_id}/deactivate", json={}, headers={"X-CSRFToken": token}
    )
    assert response.status_code == 200, response.text
    # Every open socket, on every node, closes at once.
    wait_until(lambda: not any(sock.sio.connected for sock in sockets))
    for node in nodes:
        # The old cookie: 401 from the API, and no socket (neither bob nor a guest).
        assert requests.get(node.url + "/api/rooms", headers={"Cookie": cookie_of(bob)}).status_code == 401
        with pytest.raises(socketio_client.exceptions.ConnectionError):
            LiveClient(node.url).connect(headers={"Cookie": cookie_of(bob)})
        # The right password: refused, with the reason; no session comes of it.
        fresh = requests.Session()
        refused = login(fresh, bob_name, base=node.url)
        assert refused.status_code == 403 and "deactivated" in refused.text
        assert fresh.get(node.url + "/", allow_redirects=False).status_code == 302
    audit = admin.get(nodes[2].url + "/api/admin/audit").json()["audit"]
    assert [(a["action"], a["target"]) for a in audit] == [("deactivate", bob_name)]
    # Reactivated on another node: bob logs in again anywhere.
    assert admin.post(f"{nodes[2].url}/api/admin/users/{bob_id}/reactivate", json={}, headers={"X-CSRFToken": token}).ok
    again = requests.Session()
    assert login(again, bob_name, base=nodes[1].url).status_code == 302
    sock = LiveClient(nodes[2].url).connect(headers={"Cookie": cookie_of(again)})
    assert sock.call("send_message", {"message": "back"})["ok"]
    sock.sio.disconnect()


def test_a_room_deleted_on_one_node_is_forgotten_by_the_others(three):
    nodes, suffix = three.nodes, uuid.uuid4().hex[:6]
    admin, token = admin_of(three, nodes[0].url, f"admin2-{suffix}")
    room = f"doomed-{suffix}"
    carol = signed_in(nodes[2].url, f"carol-{suffix}")
    sock = LiveClient(nodes[2].url).connect(headers={"Cookie": cookie_of(carol)})
    changes = []
    sock.sio.on("rooms_changed", lambda payload: changes.append(payload))
    assert sock.call("join_room", {"room": room})["ok"]  # node 3 remembers the room now
    assert sock.call("room_message", {"room": room, "message": "old"})["ok"]
    room_id = next(r["id"] for r in admin.get(nodes[0].url + "/api/admin/rooms", params={"q": room}).json()["rooms"])
    response = admin.post(f"{nodes[0].url}/api/admin/rooms/{room_id}/delete", json={}, headers={"X-CSRFToken": token})
    assert response.status_code == 200, response.text
    wait_until(lambda: {"room": room, "reason": "deleted"} in changes)
    # Node 3's socket forgot it; a new join there makes a new, empty room that takes messages.
    wait_until(lambda: sock.call("room_message", {"room": room, "message": "x"})["ok"] is False)
    assert sock.call("join_room", {"room": room})["ok"]
    assert sock.call("get_history", {"room": room})["messages"] == []
    assert sock.call("room_message", {"room": room, "message": "new"})["ok"]
    sock.sio.disconnect()
