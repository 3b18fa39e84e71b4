"""Past one process, for real: three gunicorn eventlet nodes on loopback behind Debian's nginx,
the machine's Redis (Flask-SocketIO's message queue) and one PostgreSQL database."""

import os
import re
import subprocess
import sys
import time
import uuid
from collections import Counter

import pytest
import requests
import socketio as socketio_client
import yaml

from chat.config import Config
from tests import cluster as cl
from tests.accounts import login, register
from tests.conftest import pg_database
from tests.live_client import LiveClient

pytestmark = pytest.mark.once  # every node runs on PostgreSQL whatever the pass: the SQLite pass runs it


@pytest.fixture(scope="module")
def services(pg_available):
    cl.require_services(pg_available)
    return True


def new_cluster(**env):
    return cl.Cluster(pg_database(f"chat_cluster_{uuid.uuid4().hex[:8]}"), **env).start()


@pytest.fixture(scope="module")
def cluster(services):
    running = new_cluster()
    yield running
    running.stop()


# ---- the deploy files describe the cluster this test runs ----


def compose():
    return yaml.safe_load(cl.COMPOSE_FILE.read_text())


def upstream_servers(text):
    block = re.search(r"upstream\s+chat_nodes\s*\{(.*?)\}", text, re.S).group(1)
    return re.findall(r"^\s*server\s+([\w.-]+):(\d+)", block, re.M)


def test_compose_nginx_and_the_tested_cluster_agree():
    services_ = compose()["services"]
    nodes = sorted(name for name, svc in services_.items() if svc.get("build"))
    assert len(nodes) == cl.NODES
    # nginx: one upstream server per app service, on the port the service listens on.
    template = cl.NGINX_TEMPLATE.read_text()
    upstream = upstream_servers(template)
    assert sorted(host for host, _ in upstream) == nodes
    for host, port in upstream:
        assert services_[host]["environment"]["PORT"] == port
    # The test's nginx config differs only in the lines marked "# test:" (same count of nodes).
    generated = cl.nginx_config(template, [1111, 2222, 3333], 4444, "/tmp/x")
    assert upstream_servers(generated) == [("127.0.0.1", "1111"), ("127.0.0.1", "2222"), ("127.0.0.1", "3333")]
    kept = iter(generated.splitlines())
    assert all(line in kept for line in template.splitlines() if "# test:" not in line), "only marked lines change"
    # Every node gets the same environment as a compose service: the same variables, the same
    # kind of database and queue, one SECRET_KEY and one channel for all.
    tested = cl.node_env("postgresql://u@h/db", "channel", 8000)
    envs = [services_[name]["environment"] for name in nodes]
    for env in envs:
        assert set(env) == set(tested), set(env) ^ set(tested)
        assert env["DATABASE_URL"].startswith("postgresql://")
        assert env["CHAT_MESSAGE_QUEUE"].startswith("redis://")
        assert env["CHAT_ENV"] == tested["CHAT_ENV"]
    for key in ("SECRET_KEY", "CHAT_QUEUE_CHANNEL", "DATABASE_URL", "CHAT_MESSAGE_QUEUE"):
        assert len({env[key] for env in envs}) == 1, key
    assert not set(tested) & cl.TEST_ONLY_ENV
    # The services it needs are there, and nginx mounts this very file.
    assert {"redis", "postgres", "nginx"} <= set(services_)
    assert any(v.startswith("./deploy/nginx.conf:/etc/nginx/nginx.conf") for v in services_["nginx"]["volumes"])


def test_nginx_keeps_sockets_longer_than_the_heartbeat():
    text = cl.NGINX_TEMPLATE.read_text()
    location = re.search(r"location /socket\.io/ \{(.*?)\}", text, re.S).group(1)
    read_timeout = int(re.search(r"proxy_read_timeout (\d+)s;", location).group(1))
    config = Config()
    assert read_timeout > config.CHAT_PING_INTERVAL + config.CHAT_PING_TIMEOUT
    assert re.search(r"^\s*ip_hash;", text, re.M)
    for directive in (
        "proxy_buffering off;",
        "proxy_set_header Upgrade $http_upgrade;",
        "proxy_set_header Connection $connection_upgrade;",
        "proxy_http_version 1.1;",
    ):
        assert directive in location


# ---- through nginx, and across nodes ----


def test_websocket_and_polling_clients_through_nginx_get_no_400(cluster):
    url = cluster.nginx.url
    # Same-origin checks pass through nginx: websocket-client sends the page's Origin itself.
    ws = LiveClient(url, ["websocket"]).connect()
    poll = LiveClient(url, ["polling"]).connect(headers={"Origin": url})
    try:
        for client in (ws, poll):
            assert client.call("join_room", {"room": "through-nginx"})["ok"]
        for i in range(20):
            assert ws.call("room_message", {"room": "through-nginx", "message": f"ws {i}"})["ok"]
            assert poll.call("room_message", {"room": "through-nginx", "message": f"poll {i}"})["ok"]
        expected = [f"{who} {i}" for i in range(20) for who in ("ws", "poll")]
        for client in (ws, poll):
            client.wait_for(lambda got: len([p for _, p in got if p.get("id")]) >= 40)
            assert [p["text"] for _, p in client.received if p.get("id")] == expected
        time.sleep(0.5)  # let long-polls end and get logged
        assert poll.sio.transport() == "polling"
        # The conversation's requests, read before the clients close: python-engineio's polling
        # client can send one more GET after its close packet ended the session (400, "Invalid
        # session"), a race of the test's client on its way out, not of the proxy.
        log = cluster.nginx.access_log()
    finally:
        ws.disconnect()
        poll.disconnect()
    entries = [e for e in log if e[2].startswith("/socket.io/")]
    assert entries, "nginx logged no Socket.IO request"
    bad = [e for e in entries if e[0].startswith(("4", "5"))]
    assert not bad, bad[:10]
    # Sticky: every request of this machine (one address) went to one node.
    assert len({e[3] for e in entries}) == 1, Counter(e[3] for e in entries)


def test_a_room_message_from_node_1_reaches_nodes_2_and_3_exactly_once(cluster):
    clients = [
        LiveClient(node.url, transports).connect()
        for node in cluster.nodes
        for transports in (["websocket"], ["polling"])
    ]
    try:
        for client in clients:
            assert client.call("join_room", {"room": "fan-out"})["ok"]
        sender = clients[0]
        ids = [sender.call("room_message", {"room": "fan-out", "message": f"m{i}"})["id"] for i in range(30)]
        everyone = clients[2].call("send_message", {"message": "to all nodes"})["id"]
        for client in clients:
            client.wait_for(lambda got: any(p.get("id") == everyone for _, p in got))
            time.sleep(0.2)
            stored = [p for _, p in client.received if p.get("id")]
            assert [p["id"] for p in stored] == ids + [everyone], client.transports
            assert [p["text"] for p in stored[:30]] == [f"m{i}" for i in range(30)]
            assert [p["prev"] for p in stored[:30]] == [None] + ids[:-1]
        assert all(count == 2 for count in cluster.connections())
    finally:
        for client in clients:
            client.disconnect()


def inversions(ids):
    """Live messages that arrived after a message with a higher id."""
    highest, count = 0, 0
    for message_id in ids:
        if message_id < highest:
            count += 1
        highest = max(highest, message_id)
    return count


def test_three_senders_on_three_nodes_reach_every_client_in_id_order(cluster):
    """Without a fault, live messages of one room reach every client in id order: no inversion,
    and so no client asks `get_history` to fill a gap that was only a late message."""
    room = f"order-{uuid.uuid4().hex[:6]}"
    receivers = [
        cl.TrackingClient(node.url, room, transports).connect()
        for node in cluster.nodes
        for transports in (["websocket"], ["polling"])
    ]
    senders = []
    try:
        for client in receivers:
            client.wait_ids([])  # joined
        senders = [cl.Sender(node.url, room, f"s{i}", 120, 0).start() for i, node in enumerate(cluster.nodes)]
        acked = {}
        for sender in senders:
            acked.update(sender.join())
            assert not sender.failures, sender.failures[:5]
        assert len(acked) == 360
        for client in receivers:
            assert client.wait_ids(acked) == sorted(acked)
            assert client.live_order == sorted(acked), (
                f"{client.transports}: {inversions(client.live_order)} inversions in {len(client.live_order)} live"
            )
            assert client.fetches == 0, f"{client.transports}: asked get_history {client.fetches} times"
    finally:
        cl.close_all(receivers, senders)


def skipped(node):
    """Stored messages the node left unread: none of its clients was a recipient."""
    text = requests.get(node.url + "/metrics", timeout=5).text
    return int(float(re.search(r"^chat_queue_skipped_total (\S+)$", text, re.M).group(1)))


def test_a_node_with_no_recipient_leaves_the_message_unread_and_loses_nothing(cluster):
    """A room's traffic costs a node with no member in it only the header; a DM only the nodes
    of its two people. A client that joins such a node later gets the room's next message live."""
    room = f"quiet-{uuid.uuid4().hex[:6]}"
    a_name, b_name = f"a{uuid.uuid4().hex[:6]}", f"b{uuid.uuid4().hex[:6]}"
    a = LiveClient(cluster.nodes[0].url).connect(headers={"Cookie": signed_in(cluster.nodes[0].url, a_name)[1]})
    b = LiveClient(cluster.nodes[1].url).connect(headers={"Cookie": signed_in(cluster.nodes[1].url, b_name)[1]})
    late = None
    try:
        assert a.call("join_room", {"room": room})["ok"]
        before = [skipped(node) for node in cluster.nodes]
        ids = [a.call("room_message", {"room": room, "message": f"q{i}"})["id"] for i in range(20)]
        a.wait_for(lambda got: ids[-1] in [p.get("id") for _, p in got])
        dm = a.call("open_dm", {"user": b_name})["room"]
        a.call("room_message", {"room": dm, "message": "just us"})
        b.wait_for(lambda got: "just us" in [p.get("text") for _, p in got])
        time.sleep(0.3)
        after = [skipped(node) for node in cluster.nodes]
        assert after[0] == before[0], "node 1 has the room's member"
        assert after[1] - before[1] == 20, "node 2 has no member of the room, one of the DM"
        assert after[2] - before[2] == 21, "node 3 has nobody of either"
        late = LiveClient(cluster.nodes[2].url).connect()
        assert late.call("join_room", {"room": room})["ok"]
        last = a.call("room_message", {"room": room, "message": "now node 3 too"})["id"]
        got = late.wait_for(lambda got: last in [p.get("id") for _, p in got])
        assert [p["prev"] for _, p in got if p.get("id") == last] == [ids[-1]]
    finally:
        for client in (a, b, late):
            if client is not None:
                client.disconnect()


def test_join_notices_and_typing_reach_the_rooms_members_on_other_nodes_and_no_one_else(cluster):
    """Emits that are not stored messages (the seed's join notice, typing) go through the queue
    with the names of their rooms: the nodes with a member deliver them, the others skip them."""
    room, other = f"hint-{uuid.uuid4().hex[:6]}", f"elsewhere-{uuid.uuid4().hex[:6]}"
    clients = []
    try:
        for node in (2, 1, 0):
            client = LiveClient(cluster.nodes[node].url)
            client.sio.on("typing", client._recorder(client.received, "typing"))
            clients.append(client.connect())
        listener, outsider, speaker = clients
        assert listener.call("join_room", {"room": room})["ok"]
        assert outsider.call("join_room", {"room": other})["ok"]
        assert speaker.call("join_room", {"room": room})["ok"]
        assert speaker.call("typing", {"room": room})["ok"]
        got = listener.wait_for(lambda got: any(event == "typing" for event, _ in got))
        notices = [p for event, p in got if event == "room_message" and p.get("type") == "join"]
        assert [n["sid"] for n in notices] == [listener.sid, speaker.sid]
        assert [p["room"] for event, p in got if event == "typing"] == [room]
        time.sleep(0.3)
        assert not [p for _, p in outsider.received if p.get("room") == room]
        assert not [p for event, p in speaker.received if event == "typing"]
    finally:
        for client in clients:
            client.disconnect()


def test_joiners_on_a_node_with_no_member_get_each_message_once_while_messages_flow(cluster):
    """Node 3 has nobody in the room and reads only the headers of its messages; each client
    that joins there while node 1's sender writes gets every message once, from its history on
    join or live, none in both (the history stops at the newest id node 3 let go by)."""
    room = f"flow-{uuid.uuid4().hex[:6]}"
    sender = LiveClient(cluster.nodes[0].url).connect()
    joiners = []
    try:
        assert sender.call("join_room", {"room": room})["ok"]
        for i in range(240):
            sender.emit("room_message", {"room": room, "message": f"f{i}"})
            if i % 40 == 20:
                joiner = LiveClient(cluster.nodes[2].url).connect()
                joiner.sio.emit("join_room", {"room": room})
                joiners.append(joiner)
            time.sleep(0.005)
        last = sender.call("room_message", {"room": room, "message": "last"})["id"]
        for joiner in joiners:
            joiner.assert_each_once_upto(last)
    finally:
        for client in (sender, *joiners):
            client.disconnect()


def test_announce_from_the_command_line_reaches_every_node(cluster):
    clients = [LiveClient(node.url).connect() for node in cluster.nodes]
    try:
        for client in clients:
            client.call("join_room", {"room": "news"})
        command = [
            sys.executable,
            "-m",
            "flask",
            "--app",
            "wsgi",
            "chat",
            "announce",
            "--room",
            "news",
            "maintenance at 10:00",
        ]
        result = subprocess.run(command, cwd=cl.ROOT, env=cluster.env(), capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        announced = int(re.search(r"message (\d+)", result.stdout).group(1))
        everyone = subprocess.run(
            command[:7] + ["everyone, hello"],
            cwd=cl.ROOT,
            env=cluster.env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert everyone.returncode == 0, everyone.stderr
        for client in clients:
            client.wait_for(lambda got: any(n == "message" and p.get("text") == "everyone, hello" for n, p in got))
            room = [p for n, p in client.received if n == "room_message" and p.get("id")]
            assert [(p["id"], p["text"], p["user"]["name"]) for p in room] == [
                (announced, "maintenance at 10:00", "system")
            ]
        stored = requests.get(f"{cluster.nodes[1].url}/api/rooms/news/messages").json()["messages"]
        assert [m["text"] for m in stored] == ["maintenance at 10:00"]
        unknown = subprocess.run(
            command[:8] + ["no-such-room", "x"],
            cwd=cl.ROOT,
            env=cluster.env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert unknown.returncode != 0 and "No room called" in unknown.stderr
    finally:
        for client in clients:
            client.disconnect()


def signed_in(url, name):
    session = requests.Session()
    assert register(session, name, base=url).status_code == 302
    return session, "; ".join(f"{k}={v}" for k, v in session.cookies.items())


def test_logout_on_one_node_closes_the_users_sockets_on_every_node(cluster):
    session, cookie = signed_in(cluster.nodes[0].url, f"leaver-{uuid.uuid4().hex[:6]}")
    sockets = [LiveClient(node.url).connect(headers={"Cookie": cookie}) for node in cluster.nodes]
    bystander = LiveClient(cluster.nodes[2].url).connect()
    try:
        page = session.get(cluster.nodes[0].url + "/")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        assert (
            session.post(
                cluster.nodes[0].url + "/logout", data={"csrf_token": token}, allow_redirects=False
            ).status_code
            == 302
        )
        deadline = time.monotonic() + 10
        while any(s.sio.connected for s in sockets) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [s.sio.connected for s in sockets] == [False, False, False]
        assert bystander.sio.connected
    finally:
        for client in (*sockets, bystander):
            client.disconnect()


def test_a_cookie_copied_before_logout_gets_nothing_from_any_node(cluster):
    session, cookie = signed_in(cluster.nodes[1].url, f"copied-{uuid.uuid4().hex[:6]}")
    page = session.get(cluster.nodes[1].url + "/")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    assert (
        session.post(cluster.nodes[1].url + "/logout", data={"csrf_token": token}, allow_redirects=False).status_code
        == 302
    )
    for url in [node.url for node in cluster.nodes] + [cluster.nginx.url]:
        page = requests.get(url + "/", headers={"Cookie": cookie}, allow_redirects=False)
        assert page.status_code == 302 and "/login" in page.headers["Location"], url
        api = requests.get(url + "/api/rooms", headers={"Cookie": cookie})
        assert api.status_code == 401 and api.json()["error"]["code"] == "unauthorized", url
        with pytest.raises(socketio_client.exceptions.ConnectionError):
            LiveClient(url).connect(headers={"Cookie": cookie})


def test_a_password_guesser_is_throttled_on_every_node(cluster):
    """Failures count in Redis: ten wrong passwords spread over the nodes (the default limit)
    lock the account on every node and through nginx, the right password included."""
    name = f"target-{uuid.uuid4().hex[:6]}"
    signed_in(cluster.nodes[0].url, name)
    for i in range(10):
        assert login(requests.Session(), name, "wrong password", base=cluster.nodes[i % 3].url).status_code == 401
    for url in [node.url for node in cluster.nodes] + [cluster.nginx.url]:
        refused = login(requests.Session(), name, base=url)
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0, url


def test_a_member_removed_on_one_node_stops_receiving_on_the_others(cluster):
    suffix = uuid.uuid4().hex[:6]
    owner_name, guest_name, room = f"owner-{suffix}", f"member-{suffix}", f"private-{suffix}"
    _, owner_cookie = signed_in(cluster.nodes[0].url, owner_name)
    _, guest_cookie = signed_in(cluster.nodes[1].url, guest_name)
    owner = LiveClient(cluster.nodes[0].url).connect(headers={"Cookie": owner_cookie})
    guests = []
    try:
        assert owner.call("create_room", {"room": room, "private": True})["ok"]
        assert owner.call("invite", {"room": room, "user": guest_name})["ok"]
        # Connected after the invitation: each follows its memberships at connect.
        guests = [LiveClient(node.url).connect(headers={"Cookie": guest_cookie}) for node in cluster.nodes[1:]]
        assert owner.call("room_message", {"room": room, "message": "welcome"})["ok"]
        for guest in guests:
            guest.wait_for(lambda got: any(p.get("text") == "welcome" for _, p in got))
        assert owner.call("remove_member", {"room": room, "user": guest_name})["ok"]
        assert owner.call("room_message", {"room": room, "message": "secret"})["ok"]
        owner.wait_for(lambda got: any(p.get("text") == "secret" for _, p in got))
        time.sleep(0.5)
        for guest in guests:
            assert "secret" not in [p.get("text") for _, p in guest.received]
    finally:
        for client in (owner, *guests):
            client.disconnect()


def test_presence_is_the_same_seen_from_every_node(cluster):
    names = [f"here-{i}-{uuid.uuid4().hex[:6]}" for i in range(cl.NODES)]
    sockets = []
    try:
        for node, name in zip(cluster.nodes, names, strict=True):
            _, cookie = signed_in(node.url, name)
            sockets.append(LiveClient(node.url).connect(headers={"Cookie": cookie}))
        views = []
        for node in cluster.nodes:
            users = requests.get(node.url + "/api/presence").json()["users"]
            views.append({u["name"] for u in users} & set(names))
        assert views == [set(names)] * cl.NODES
    finally:
        for client in sockets:
            client.disconnect()


# ---- faults ----


def test_a_node_killed_while_messages_flow_loses_its_clients_nothing(services):
    running = new_cluster()
    receivers, senders = [], []
    try:
        url = running.nginx.url
        receivers = [
            cl.TrackingClient(url, "survive", transports).connect()
            for transports in (["websocket"], ["websocket"], ["polling"], ["polling"])
        ]
        deadline = time.monotonic() + 10
        while sum(c or 0 for c in running.connections()) < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        counts = running.connections()
        assert sorted(counts) == [0, 0, 4], counts  # ip_hash: this machine's clients share one node
        victim = counts.index(4)
        others = [node for i, node in enumerate(running.nodes) if i != victim]
        for client in receivers:
            client.wait_ids([])  # joined
        senders = [cl.Sender(node.url, "survive", f"from-{i}", 150, 0.01).start() for i, node in enumerate(others)]
        time.sleep(0.8)
        running.nodes[victim].kill()
        acked = {}
        for sender in senders:
            acked.update(sender.join())
            assert not sender.failures, sender.failures[:5]
        assert len(acked) == 300
        stored = requests.get(f"{others[0].url}/api/rooms/survive/messages?since=0&limit=200").json()
        stored_ids = [m["id"] for m in stored["messages"]]
        for client in receivers:
            ids = client.wait_ids(acked)
            assert ids == sorted(acked), "a message nobody sent"
            assert [client.messages[i] for i in ids] == [acked[i] for i in ids]
            assert max(client.live.values()) == 1, "a message delivered twice live"
            assert client.connects >= 2, "never reconnected"
            assert client.sio.connected
        assert stored_ids == sorted(acked)[:200]
        after = running.connections()
        assert after[victim] is None and sum(after[i] for i in range(cl.NODES) if i != victim) == 4
        assert requests.get(url + "/health", timeout=5).status_code == 200
    finally:
        cl.close_all(receivers, senders)
        running.stop()


@pytest.mark.serial  # stops the Redis every other test shares
def test_redis_stopped_and_started_again_loses_nothing(services):
    running = new_cluster()
    receivers, senders = [], []
    try:
        running.wait_health(lambda code, body: code == 200 and body["redis"] == "ok")
        receivers = [
            cl.TrackingClient(node.url, "weather", transports).connect()
            for node in running.nodes
            for transports in (["websocket"], ["polling"])
        ]
        receivers.append(cl.TrackingClient(running.nginx.url, "weather").connect())
        for client in receivers:
            client.wait_ids([])
        senders = [
            cl.Sender(node.url, "weather", f"from-{i}", 120, 0.05).start() for i, node in enumerate(running.nodes[:2])
        ]
        time.sleep(1)
        try:
            cl.stop_redis()
            stopped = time.monotonic()
            down = running.wait_health(lambda code, body: code == 503 and body["redis"] != "ok", timeout=10)
            assert all(body["database"] == "ok" and body["status"] == "unhealthy" for _, body in down)
            time.sleep(3)  # messages keep being accepted (stored, acked) meanwhile
        finally:
            cl.start_redis()
        started = time.monotonic()
        running.wait_health(
            lambda code, body: code == 200 and body == {"status": "healthy", "database": "ok", "redis": "ok"},
            timeout=20,
        )
        acked = {}
        for sender in senders:
            acked.update(sender.join())
            assert not sender.failures, sender.failures[:5]
        assert len(acked) == 240
        during = [t for sender in senders for t in sender.acked_at if stopped < t < started]
        assert len(during) > 20, "messages were accepted while Redis was down"
        for client in receivers:
            ids = client.wait_ids(acked)
            assert ids == sorted(acked)
            assert [client.messages[i] for i in ids] == [acked[i] for i in ids]
            assert max(client.live.values()) == 1
            # Once per change: one {delayed: true} per node (not one from the listener and another
            # from a failed publish), then {delayed: false}; a second "catch up" only for messages
            # another node stored, and could not publish, after this node's clients caught up.
            changes = [status["delayed"] for status in client.delivery]
            assert changes[0] is True and changes[-1] is False and changes.count(True) == 1, changes
            assert changes.count(False) <= 2, changes
        # Delivering live across nodes again: a message from node 3 reaches node 1's clients.
        late = LiveClient(running.nodes[2].url).connect()
        late.call("join_room", {"room": "weather"})
        last = late.call("room_message", {"room": "weather", "message": "after the storm"})["id"]
        late.disconnect()
        for client in receivers:
            deadline = time.monotonic() + 5
            while client.live[last] != 1 and time.monotonic() < deadline:
                time.sleep(0.02)
            assert client.live[last] == 1
    finally:
        if not cl.redis_up():
            cl.start_redis()  # other tests use it
        cl.close_all(receivers, senders)
        running.stop()


def test_announce_without_a_queue_says_why():
    env = {k: v for k, v in cl.node_env("sqlite:///:memory:", "x", 0).items() if k != "CHAT_MESSAGE_QUEUE"}
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "chat", "announce", "hello"],
        cwd=cl.ROOT,
        env={**os.environ, **env, "CHAT_MESSAGE_QUEUE": ""},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "CHAT_MESSAGE_QUEUE is not set" in result.stderr
