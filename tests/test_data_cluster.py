"""Tokens, webhooks and the periodic prune on three real nodes (gunicorn, nginx, PostgreSQL, Redis)."""

import re
import time
import uuid
from datetime import timedelta

import pytest
import requests
import socketio as socketio_client
from sqlalchemy import create_engine, text

from chat.config import database_url
from chat.models import utc_now
from tests import cluster as cl
from tests.accounts import register
from tests.conftest import pg_database
from tests.live_client import LiveClient
from tests.test_cluster import services  # noqa: F401  (the fixture)

pytestmark = pytest.mark.once  # every node runs on PostgreSQL whatever the pass: the SQLite pass runs it

SECRET = re.compile(r'<code id="new-secret">([^<]+)</code>')
CSRF = re.compile(r'name="csrf[_-]token" (?:value|content)="([^"]+)"')


@pytest.fixture(scope="module")
def cluster(services):  # noqa: F811
    """Three nodes that prune every second (retention: 1 day); started one by one with a patient
    timeout (a loaded 2-core machine takes longer than 30 s to boot a node)."""
    running = cl.Cluster(
        pg_database(f"chat_cluster_{uuid.uuid4().hex[:8]}"), CHAT_RETENTION_DAYS="1", CHAT_PRUNE_INTERVAL="1"
    )
    try:
        for node in running.nodes:
            node.start(timeout=120)
        running.nginx = cl.Nginx([node.port for node in running.nodes]).start()
    except Exception:
        running.stop()
        raise
    yield running
    running.stop()


def account(url, name):
    session = requests.Session()
    assert register(session, name, base=url).status_code == 302
    return session


def settings_post(session, url, path, **fields):
    csrf = CSRF.search(session.get(url + "/settings/tokens").text).group(1)
    return session.post(url + path, data={"csrf_token": csrf, **fields}, allow_redirects=False)


def wait_until(predicate, timeout=15):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def test_a_revoked_token_gets_nothing_on_any_node(cluster):
    url0 = cluster.nodes[0].url
    session = account(url0, f"bot-owner-{uuid.uuid4().hex[:6]}")
    made = settings_post(session, url0, "/settings/tokens", name="ci", scope="write")
    assert made.status_code == 201
    token = SECRET.search(made.text).group(1)
    headers = {"Authorization": f"Bearer {token}"}
    for node in cluster.nodes:
        assert requests.get(node.url + "/api/rooms", headers=headers, timeout=5).status_code == 200
    sockets = [LiveClient(node.url).connect(auth={"token": token}) for node in cluster.nodes]
    bystander = LiveClient(cluster.nodes[2].url).connect()
    try:
        assert all(s.sio.connected for s in sockets)
        token_id = re.search(r"/settings/tokens/(\d+)/revoke", session.get(url0 + "/settings/tokens").text).group(1)
        url1 = cluster.nodes[1].url
        assert settings_post(session, url1, f"/settings/tokens/{token_id}/revoke").status_code == 302
        assert wait_until(lambda: not any(s.sio.connected for s in sockets))
        assert bystander.sio.connected
        for url in [node.url for node in cluster.nodes] + [cluster.nginx.url]:
            api = requests.get(url + "/api/rooms", headers=headers, timeout=5)
            assert api.status_code == 401 and api.json()["error"]["code"] == "invalid_token", url
            with pytest.raises(socketio_client.exceptions.ConnectionError):
                LiveClient(url).connect(auth={"token": token})
    finally:
        for client in (*sockets, bystander):
            client.disconnect()


def test_a_webhook_on_one_node_reaches_the_room_on_the_others(cluster):
    url0, url2 = cluster.nodes[0].url, cluster.nodes[2].url
    name = f"owner-{uuid.uuid4().hex[:6]}"
    room = f"hooked-{uuid.uuid4().hex[:6]}"
    session = account(url0, name)
    cookie = "; ".join(f"{k}={v}" for k, v in session.cookies.items())
    listener = LiveClient(cluster.nodes[1].url).connect(headers={"Cookie": cookie})
    try:
        assert listener.call("create_room", {"room": room})["ok"]
        assert listener.call("join_room", {"room": room})["ok"]
        made = settings_post(session, url0, "/settings/webhooks", room=room, name="ci-bot")
        assert made.status_code == 201
        path = "/api/hooks/" + SECRET.search(made.text).group(1).rsplit("/", 1)[1]
        first = requests.post(url2 + path, json={"text": "deployed", "client_id": "d-1"}, timeout=5)
        retry = requests.post(url0 + path, json={"text": "deployed", "client_id": "d-1"}, timeout=5)
        assert first.status_code == 201 and retry.json()["duplicate"] is True
        got = listener.wait_for(lambda r: any(n == "room_message" and p.get("bot") for n, p in r))
        bots = [p for n, p in got if n == "room_message" and p.get("bot")]
        assert len(bots) == 1 and bots[0]["text"] == "deployed" and bots[0]["user"]["name"] == "ci-bot"
    finally:
        listener.disconnect()


def test_the_nodes_prune_old_messages_by_themselves(cluster):
    url = cluster.nodes[0].url
    session = account(url, f"pruner-{uuid.uuid4().hex[:6]}")
    cookie = "; ".join(f"{k}={v}" for k, v in session.cookies.items())
    sock = LiveClient(url).connect(headers={"Cookie": cookie})
    try:
        old = sock.call("send_message", {"message": "old news"})["id"]
        fresh = sock.call("send_message", {"message": "fresh news"})["id"]
    finally:
        sock.disconnect()
    engine = create_engine(database_url(cluster.database_url))
    try:
        with engine.begin() as conn:
            conn.execute(
                text("UPDATE messages SET created_at = :when WHERE id = :id"),
                {"when": utc_now() - timedelta(days=2), "id": old},
            )

        def remaining():
            with engine.connect() as conn:
                return set(
                    conn.execute(text("SELECT id FROM messages WHERE id IN (:a, :b)"), {"a": old, "b": fresh}).scalars()
                )

        for node in cluster.nodes:  # each node's job starts with its first request
            requests.get(node.url + "/health", timeout=5)
        assert wait_until(lambda: remaining() == {fresh}, timeout=20), remaining()
    finally:
        engine.dispose()
