"""Web Push on three gunicorn nodes behind nginx (Redis, PostgreSQL), in production mode with an
https push service on 127.0.0.1: a socket open on any node means no push; with every socket
closed, a DM stored on one node is pushed exactly once."""

import json
import time
import uuid

import pytest
import requests

from chat.push import keys
from tests import cluster as cl
from tests.accounts import register
from tests.conftest import pg_database
from tests.live_client import LiveClient
from tests.push_service import PushService

pytestmark = pytest.mark.once  # every node runs on PostgreSQL whatever the pass: the SQLite pass runs it

QUIET = 1.5  # seconds to wait for a push that must not come


@pytest.fixture(scope="module")
def service():
    found = PushService(https=True)
    yield found
    found.close()


@pytest.fixture(scope="module")
def nodes(pg_available, service):
    cl.require_services(pg_available)
    running = cl.Cluster(
        pg_database(f"chat_push_{uuid.uuid4().hex[:8]}"),
        CHAT_RATE_LIMIT="0",
        CHAT_USER_RATE_LIMIT="0",
        CHAT_PUSH_HOSTS="127.0.0.1",
        # One key pair for every node, from the environment, as README says.
        CHAT_VAPID_PRIVATE_KEY=keys.raw_private_key(keys.new_keys()),
        REQUESTS_CA_BUNDLE=service.cert,  # the push service's self-signed certificate
    ).start()
    yield running.nodes
    running.stop()


def person(url, name):
    session = requests.Session()
    assert register(session, name, base=url).status_code == 302
    return session


def socket_of(url, session):
    cookie = "; ".join(f"{k}={v}" for k, v in session.cookies.items())
    return LiveClient(url).connect(headers={"Cookie": cookie})


def csrf_of(url, session):
    page = session.get(url + "/").text
    marker = '<script id="settings" type="application/json">'
    start = page.index(marker) + len(marker)
    return json.loads(page[start : page.index("</script>", start)])["csrfToken"]


def test_a_dm_is_pushed_once_across_nodes_and_only_without_sockets(nodes, service):
    a, b, c = (node.url for node in nodes)
    alice_name, bob_name = f"alice{uuid.uuid4().hex[:6]}", f"bob{uuid.uuid4().hex[:6]}"
    alice, bob = person(a, alice_name), person(b, bob_name)
    browser = service.browser(bob_name)
    reply = bob.post(
        b + "/api/push/subscriptions", json=browser.subscription(), headers={"X-CSRFToken": csrf_of(b, bob)}
    )
    assert reply.status_code == 201, reply.text
    alice_socket, bob_socket = socket_of(a, alice), socket_of(c, bob)
    try:
        dm = alice_socket.call("open_dm", {"user": bob_name})
        room = dm["room"]["name"] if isinstance(dm["room"], dict) else dm["room"]
        assert alice_socket.call("room_message", {"room": room, "message": "bob is on node c"})["ok"]
        time.sleep(QUIET)
        assert service.received(browser.path) == []
        bob_socket.disconnect()
        time.sleep(0.5)  # node c forgets the connection
        assert alice_socket.call("room_message", {"room": room, "message": "now he is away"})["ok"]
        [push] = service.wait_for(browser.path)
        shown = browser.decrypt(push)
        assert (shown["title"], shown["body"], shown["room"]) == (alice_name, "now he is away", room)
        time.sleep(QUIET)
        assert len(service.received(browser.path)) == 1  # once, from the node that stored it
    finally:
        alice_socket.disconnect()
