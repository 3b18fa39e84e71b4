"""The whole contract against the Procfile's server: gunicorn with the eventlet worker."""

import time

import pytest
import requests

from tests import servers
from tests.accounts import guest
from tests.live_client import LiveClient
from tests.test_contract import BAD_INPUTS

TRANSPORTS = {"websocket": ["websocket"], "polling": ["polling"]}


@pytest.fixture(params=list(TRANSPORTS))
def connect(request, live_server):
    clients = []

    def make(transports=None):
        client = LiveClient(live_server.url, transports or TRANSPORTS[request.param]).connect()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.disconnect()


def test_http_endpoints(live_server):
    health = requests.get(live_server.url + "/health")
    assert health.status_code == 200 and health.json() == {"status": "healthy", "database": "ok"}
    assert requests.get(live_server.url + "/api").json() == {"message": "SocketIO Test Backend is running"}
    session = requests.Session()
    assert guest(session, "visitor", base=live_server.url).status_code == 302
    page = session.get(live_server.url + "/")
    assert page.status_code == 200 and "socket.io.min.js" in page.text and "visitor" in page.text
    assert requests.get(live_server.url + "/static/vendor/socket.io.min.js").status_code == 200


def test_whole_contract_with_room_isolation(connect):
    a, b, outsider = connect(), connect(), connect()
    assert a.call("join_room", {"room": "lobby"}) == {"ok": True, "room": "lobby"}
    assert b.call("join_room", {"room": "lobby"})["ok"]
    outsider.call("join_room", {"room": "other"})
    a.wait_count("room_message", 2)

    b.emit("room_message", {"room": "lobby", "message": "日本語 😀 <script>alert(1)</script>"})
    text = f"クライアント {b.sid}: 日本語 😀 <script>alert(1)</script>"
    a.wait_for(lambda got: ("room_message", text) in [(n, p.get("data")) for n, p in got])

    a.emit("send_message", {"message": "to everyone"})
    for client in (a, b, outsider):
        client.wait_for(lambda got: any(n == "message" for n, _ in got))
        assert client.datas("message") == [f"クライアント {a.sid}: to everyone"]

    assert a.call("leave_room", {"room": "lobby"})["ok"]
    b.wait_for(lambda got: f"クライアント {a.sid} がルーム lobby から退出しました" in [p.get("data") for _, p in got])
    # The outsider never saw anything of the lobby, and the leaver sees no notice of its own leave.
    assert not any("lobby" in d for d in outsider.datas("room_message"))
    assert not any("退出" in d for d in a.datas())


def test_several_clients_in_one_room(connect):
    clients = [connect() for _ in range(6)]
    for c in clients:
        c.call("join_room", {"room": "crowd"})
    for i, c in enumerate(clients):
        c.emit("room_message", {"room": "crowd", "message": f"m{i}"})
    for c in clients:
        got = c.wait_for(lambda r: sum(1 for _, p in r if ": m" in p.get("data", "")) >= 6)
        senders = {p["text"]: p["sid"] for _, p in got if p.get("text", "").startswith("m")}
        assert senders == {f"m{i}": clients[i].sid for i in range(6)}


def test_a_client_joining_while_messages_flow_gets_each_once_from_history_or_live(connect):
    """History on join stops where live delivery to the new member starts: no message in both,
    none in neither (the page drops a copy by id, but a seed client or a load generator counts
    the history's copy as a second delivery)."""
    sender = connect()
    sender.call("join_room", {"room": "flowing"})
    joiners = []
    for i in range(300):
        sender.emit("room_message", {"room": "flowing", "message": f"f{i}"})
        if i % 30 == 15:
            joiner = connect()
            joiner.sio.emit("join_room", {"room": "flowing"})
            joiners.append(joiner)
    last = sender.call("room_message", {"room": "flowing", "message": "last"})["id"]
    for joiner in joiners:
        joiner.assert_each_once_upto(last)


def test_500_messages_arrive_exactly_once_in_order(connect):
    sender, receiver = connect(), connect()
    sender.call("join_room", {"room": "order"})
    receiver.call("join_room", {"room": "order"})
    for i in range(500):
        sender.emit("room_message", {"room": "order", "message": f"#{i}"})
    got = receiver.wait_for(lambda r: sum(1 for _, p in r if p.get("text", "").startswith("#")) >= 500, timeout=60)
    texts = [p["text"] for _, p in got if p.get("text", "").startswith("#")]
    assert texts == [f"#{i}" for i in range(500)]


@pytest.mark.parametrize("event,payload,code", BAD_INPUTS)
def test_bad_input_then_a_normal_message(connect, event, payload, code):
    sender, bystander = connect(), connect()
    sender.call("join_room", {"room": "r1"})
    bystander.call("join_room", {"room": "r1"})
    bystander.wait_count("room_message", 1)
    bystander.clear()
    ack = sender.call(event, payload)
    assert ack["ok"] is False and ack["error"]["code"] == code
    sender.wait_for(lambda got: ("error", ack["error"]) in got)
    sender.emit("room_message", {"room": "r1", "message": "after"})
    bystander.wait_for(lambda got: len(got) >= 1)
    assert bystander.datas() == [f"クライアント {sender.sid}: after"]


def test_oversized_frame_drops_only_that_connection(live_server, connect):
    big, other = connect(), connect()
    other.call("join_room", {"room": "r1"})
    big.emit("send_message", {"message": "x" * 1_100_000})  # above CHAT_MAX_HTTP_BUFFER_SIZE (1 MB)
    deadline = time.monotonic() + 10
    while big.sio.connected and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not big.sio.connected
    assert other.call("room_message", {"room": "r1", "message": "fine"})["ok"] is True
    assert requests.get(live_server.url + "/health").status_code == 200
    assert not any("xxxx" in (d or "") for d in other.datas())


def test_polling_client_upgrades_to_websocket(live_server):
    client = LiveClient(live_server.url, ["polling", "websocket"]).connect()
    try:
        deadline = time.monotonic() + 5
        while client.sio.transport() != "websocket" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert client.sio.transport() == "websocket"
        assert client.call("join_room", {"room": "up"}) == {"ok": True, "room": "up"}
        notice = f"クライアント {client.sid} がルーム up に参加しました"
        client.wait_for(lambda got: got and got[-1][1]["data"] == notice)
    finally:
        client.disconnect()


def test_server_log_has_one_line_per_lifecycle_event_and_no_message_text(live_server):
    client = LiveClient(live_server.url).connect()
    sid = client.sid
    client.call("join_room", {"room": "logged"})
    client.call("room_message", {"room": "logged", "message": "private words"})
    client.call("leave_room", {"room": "logged"})
    client.call("join_room", {"room": 5})
    client.disconnect()
    time.sleep(0.5)
    log = live_server.log()
    for line in (
        f"chat.connection: connect sid={sid}",
        f"chat.rooms: join sid={sid} room=logged",
        f"chat.rooms: leave sid={sid} room=logged",
        f"chat.connection: disconnect sid={sid}",
        f"rejected join_room from {sid}: invalid_type",
    ):
        assert log.count(line) == 1, line
    assert "private words" not in log
    assert "Traceback" not in log


def handshake(url, origin):
    host = url.split("//", 1)[1]
    return requests.get(
        url + "/socket.io/?EIO=4&transport=polling", headers={"Origin": origin, "Host": host}, timeout=5
    )


def test_cors_is_same_origin_by_default(live_server):
    assert handshake(live_server.url, live_server.url).status_code == 200
    assert handshake(live_server.url, "http://evil.example").status_code == 400


def test_cors_allow_list_from_the_environment(live_database):
    env = {"CHAT_CORS_ORIGINS": "http://localhost:3000,https://chat.example", "DATABASE_URL": live_database()}
    server = servers.gunicorn(env=env).start()
    try:
        allowed = handshake(server.url, "http://localhost:3000")
        assert allowed.status_code == 200
        assert allowed.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"
        assert handshake(server.url, "https://chat.example").status_code == 200
        assert handshake(server.url, "http://evil.example").status_code == 400
    finally:
        server.stop()
