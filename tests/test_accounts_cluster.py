"""Profiles and passwords on three gunicorn nodes behind nginx, with Redis, PostgreSQL and a real
SMTP server (aiosmtpd): `user_updated` reaches every node's clients, and a used reset link, the
sessions a reset or a password change ended get nothing on any node."""

import time
import uuid

import pytest
import requests
from aiosmtpd.controller import Controller

from tests import cluster as cl
from tests import servers
from tests.accounts import csrf_token, form_post, register
from tests.conftest import pg_database
from tests.live_client import LiveClient
from tests.test_passwords import LINK, Inbox

pytestmark = pytest.mark.once  # every node runs on PostgreSQL whatever the pass: the SQLite pass runs it

BASE_URL = "https://chat.example.org"


@pytest.fixture(scope="module")
def inbox():
    handler = Inbox()
    controller = Controller(handler, hostname="127.0.0.1", port=servers.free_port())
    controller.start()
    handler.port = controller.port
    yield handler
    controller.stop()


@pytest.fixture(scope="module")
def nodes(pg_available, inbox):
    cl.require_services(pg_available)
    running = cl.Cluster(
        pg_database(f"chat_accounts_{uuid.uuid4().hex[:8]}"),
        CHAT_RATE_LIMIT="0",
        CHAT_USER_RATE_LIMIT="0",
        CHAT_SMTP_HOST="127.0.0.1",
        CHAT_SMTP_PORT=str(inbox.port),
        CHAT_SMTP_STARTTLS="false",
        CHAT_SMTP_FROM="chat@example.org",
        CHAT_BASE_URL=BASE_URL,
        CHAT_RESET_ADDRESS_LIMIT="off",
    ).start()
    yield running.nodes
    running.stop()


def signed_in(url, name, password="correct horse"):
    session = requests.Session()
    assert form_post(session, url + "/login", "login", name=name, password=password).status_code == 302
    return session


def page_form(session, url, path, prefix, target, **fields):
    token = csrf_token(session.get(url + path).text, prefix)
    data = {f"{prefix}-csrf_token": token, **{f"{prefix}-{k}": v for k, v in fields.items()}}
    return session.post(url + target, data=data, allow_redirects=False)


def socket_of(url, session):
    client = LiveClient(url)
    client.sio.on("user_updated", client._recorder(client.received, "user_updated"))
    cookie = "; ".join(f"{k}={v}" for k, v in session.cookies.items())
    return client.connect(headers={"Cookie": cookie})


def wait_disconnected(client, timeout=10):
    deadline = time.monotonic() + timeout
    while client.sio.connected and time.monotonic() < deadline:
        time.sleep(0.05)
    return not client.sio.connected


def test_user_updated_reaches_every_node(nodes):
    name = f"amy{uuid.uuid4().hex[:6]}"
    amy = requests.Session()
    assert register(amy, name, base=nodes[0].url).status_code == 302
    watchers = [socket_of(node.url, signed_in(node.url, name)) for node in nodes[1:]]
    mine = socket_of(nodes[0].url, amy)
    reply = mine.call("update_profile", {"status": "on three nodes"})
    assert reply["ok"] and reply["user"]["status"] == "on three nodes"
    for watcher in watchers:
        got = watcher.wait_for(lambda seen: any(n == "user_updated" for n, _ in seen))
        assert [p["user"]["status"] for n, p in got if n == "user_updated"] == ["on three nodes"]
    for client in (*watchers, mine):
        client.disconnect()


def test_a_reset_ends_sessions_and_its_link_on_every_node(nodes, inbox):
    name = f"rex{uuid.uuid4().hex[:6]}"
    rex = requests.Session()
    assert register(rex, name, base=nodes[0].url).status_code == 302
    done = page_form(
        rex,
        nodes[0].url,
        "/settings",
        "email",
        "/settings/email",
        email=f"{name}@example.org",
        current_password="correct horse",
    )
    assert done.status_code == 302
    old_sessions = [signed_in(node.url, name) for node in nodes]
    old_socket = socket_of(nodes[2].url, old_sessions[2])
    before = len(inbox.messages)
    asked = page_form(requests.Session(), nodes[1].url, "/login", "forgot", "/password/forgot", identifier=name)
    assert asked.status_code == 200
    mail = inbox.wait(before + 1)[before]
    link = LINK.search(mail.get_content()).group(0)
    assert link.startswith(BASE_URL + "/password/reset/")
    path = link[len(BASE_URL) :]
    visitor = requests.Session()
    reset = page_form(visitor, nodes[2].url, path, "reset", path, password="reset horse 9", confirm="reset horse 9")
    assert reset.status_code == 302
    for node, session in zip(nodes, old_sessions, strict=True):
        assert session.get(node.url + "/api/profile").status_code == 401, node.url
    assert wait_disconnected(old_socket)
    for node in nodes:
        assert requests.get(node.url + path).status_code == 400  # used: refused everywhere
    assert signed_in(nodes[1].url, name, "reset horse 9").get(nodes[1].url + "/api/profile").status_code == 200


def test_a_password_change_ends_the_other_sessions_on_every_node(nodes):
    name = f"pat{uuid.uuid4().hex[:6]}"
    pat = requests.Session()
    assert register(pat, name, base=nodes[0].url).status_code == 302
    others = [signed_in(node.url, name) for node in nodes[1:]]
    sockets = [socket_of(node.url, s) for node, s in zip(nodes[1:], others, strict=True)]
    changed = page_form(
        pat,
        nodes[0].url,
        "/settings",
        "password",
        "/settings/password",
        current_password="correct horse",
        password="changed horse",
        confirm="changed horse",
    )
    assert changed.status_code == 302
    assert pat.get(nodes[1].url + "/api/profile").status_code == 200  # this session, on any node
    for node, session in zip(nodes[1:], others, strict=True):
        assert session.get(node.url + "/api/profile").status_code == 401
    assert all(wait_disconnected(s) for s in sockets)
