"""The ways users serve the app: gunicorn eventlet (Procfile), gunicorn gevent, flask run."""

import json
import logging
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import requests

from tests import servers
from tests.accounts import guest
from tests.conftest import skip_or_fail
from tests.live_client import LiveClient

SEED_CLIENT = Path(__file__).parent / "seed_client"


def smoke(url, transports):
    """Two clients: join, room message, broadcast, leave; as the seed's page does."""
    a = LiveClient(url, transports).connect()
    b = LiveClient(url, transports).connect()
    try:
        assert a.call("join_room", {"room": "smoke"}) == {"ok": True, "room": "smoke"}
        assert b.call("join_room", {"room": "smoke"})["ok"]
        a.emit("room_message", {"room": "smoke", "message": "やあ"})
        b.wait_for(lambda got: f"クライアント {a.sid}: やあ" in [p["data"] for _, p in got])
        b.emit("send_message", {"message": "all"})
        a.wait_for(lambda got: ("message", f"クライアント {b.sid}: all") in [(n, p["data"]) for n, p in got])
        a.call("leave_room", {"room": "smoke"})
        b.wait_for(lambda got: f"クライアント {a.sid} がルーム smoke から退出しました" in [p["data"] for _, p in got])
        assert a.call("join_room", {"room": None})["error"]["code"] == "invalid_type"
    finally:
        a.disconnect()
        b.disconnect()


SERVERS = {
    "gunicorn-eventlet": lambda env: servers.gunicorn("eventlet", env=env),
    "gunicorn-gevent": lambda env: servers.gunicorn("gevent", env=env),
    "flask-run": lambda env: servers.flask_run(env=env),
}
EXPECTED_MODE = {"gunicorn-eventlet": "eventlet", "gunicorn-gevent": "gevent", "flask-run": "threading"}


@pytest.fixture(scope="module", params=list(SERVERS))
def any_server(request, live_database):
    server = SERVERS[request.param]({"DATABASE_URL": live_database()}).start()
    server.kind = request.param
    yield server
    server.stop()


@pytest.mark.parametrize("transports", [["websocket"], ["polling"], ["polling", "websocket"]])
def test_every_way_of_serving_runs_the_contract(any_server, transports):
    smoke(any_server.url, transports)


def test_async_mode_follows_what_is_monkey_patched(any_server):
    assert requests.get(any_server.url + "/health").status_code == 200
    assert f"async_mode={EXPECTED_MODE[any_server.kind]}" in any_server.log()


def test_page_is_served(any_server):
    session = requests.Session()
    assert guest(session, f"visitor-{any_server.port}", base=any_server.url).status_code == 302
    page = session.get(any_server.url + "/")
    assert page.status_code == 200 and "socket.io.min.js" in page.text


@pytest.fixture(scope="module")
def node():
    path = shutil.which("node")
    if not path:
        skip_or_fail("node is not installed (needed for the seed's socket.io-client 4.7.2)")
    if not (SEED_CLIENT / "node_modules" / "socket.io-client").exists():
        skip_or_fail("tests/seed_client has no node_modules: run `make setup-dev`")
    return path


@pytest.mark.parametrize("mode", ["websocket", "polling", "upgrade"])
def test_a_seed_client_works_unchanged(any_server, node, mode):
    run = subprocess.run(
        [node, str(SEED_CLIENT / "seed_client.js"), any_server.url, mode],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    out = json.loads(run.stdout.strip().splitlines()[-1])
    a, b = out["a"], out["b"]
    assert a["transport"] == ("polling" if mode == "polling" else "websocket")
    joined_a = f"クライアント {a['id']} がルーム test-room に参加しました"
    joined_b = f"クライアント {b['id']} がルーム test-room に参加しました"
    said = f"クライアント {a['id']}: こんにちは"
    everyone = f"クライアント {b['id']}: 全員へ"
    left = f"クライアント {a['id']} がルーム test-room から退出しました"
    assert a["received"] == [
        ["room_message", joined_a],
        ["room_message", joined_b],
        ["room_message", said],
        ["message", everyone],
    ]
    assert b["received"] == [
        ["room_message", joined_b],
        ["room_message", said],
        ["message", everyone],
        ["room_message", left],
    ]


@pytest.mark.parametrize("worker", ["eventlet", "gevent"])
def test_sigterm_stops_the_server_within_a_few_seconds_even_with_clients(worker, live_database):
    server = servers.gunicorn(worker, env={"DATABASE_URL": live_database()}).start()
    clients = [LiveClient(server.url, t).connect() for t in (["websocket"], ["polling"])]
    try:
        clients[0].call("join_room", {"room": "busy"})
        took = server.stop(timeout=15)
        assert took < 6, f"took {took:.1f}s to stop"
    finally:
        for c in clients:
            c.sio.eio.reconnection = False
        server.kill()
    time.sleep(0.2)


def websocket_extensions(url):
    """The extensions the server accepts when a browser-like client offers permessage-deflate."""
    import websocket

    ws = websocket.create_connection(
        url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket",
        header=["Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits"],
        timeout=5,
    )
    try:
        return (ws.getheaders() or {}).get("sec-websocket-extensions")
    finally:
        ws.close()


@pytest.mark.parametrize("worker", ["eventlet", "gevent"])
def test_websocket_compression_is_off_unless_configured(worker, live_database):
    plain = servers.gunicorn(worker, env={"DATABASE_URL": live_database()}).start()
    try:
        assert websocket_extensions(plain.url) is None
    finally:
        plain.stop()
    compressed = servers.gunicorn(
        worker, env={"DATABASE_URL": live_database(), "CHAT_WEBSOCKET_COMPRESSION": "true"}
    ).start()
    try:
        assert "permessage-deflate" in (websocket_extensions(compressed.url) or "")
    finally:
        compressed.stop()


@pytest.mark.parametrize("setting", [None, "40000,30,90"], ids=["default", "set"])
def test_the_worker_tunes_the_garbage_collector(live_database, setting):
    """The thresholds the worker sets: CHAT_GC_THRESHOLDS, or the default the README gives."""
    env = {"DATABASE_URL": live_database()}
    if setting is None:
        readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
        setting = re.search(r"^\| `CHAT_GC_THRESHOLDS` \| `([0-9,]+)` \|", readme, re.M).group(1)
    else:
        env["CHAT_GC_THRESHOLDS"] = setting
    server = servers.gunicorn("eventlet", env=env)
    server.start()
    try:
        assert f"gc thresholds ({', '.join(setting.split(','))})" in server.log()
    finally:
        server.stop()


def test_gunicorns_socket_reaches_eventlet_without_engineio_wrapping_it():
    """Under gunicorn's eventlet worker the app hands gunicorn's socket to eventlet's websocket
    itself (engine.io would define a new wrapper class per request, held by every websocket)."""
    from chat import WebSocketEnviron

    seen = {}

    def downstream(environ, start_response):
        seen.update(environ)
        return []

    sock = object()
    WebSocketEnviron(downstream, drop_compression=True, eventlet_input=True)(
        {"gunicorn.socket": sock, "HTTP_SEC_WEBSOCKET_EXTENSIONS": "permessage-deflate"}, None
    )
    assert seen["eventlet.input"].get_socket() is sock
    assert "gunicorn.socket" not in seen and "HTTP_SEC_WEBSOCKET_EXTENSIONS" not in seen
    seen.clear()
    WebSocketEnviron(downstream, drop_compression=False, eventlet_input=False)(
        {"gunicorn.socket": sock, "HTTP_SEC_WEBSOCKET_EXTENSIONS": "permessage-deflate"}, None
    )
    assert seen == {"gunicorn.socket": sock, "HTTP_SEC_WEBSOCKET_EXTENSIONS": "permessage-deflate"}


def test_simple_websocket_gets_a_socket_that_sends_whole_frames():
    """simple-websocket writes a frame with one send() and ignores a partial write
    (simple-websocket#45): the app hands it a socket whose send() writes everything."""
    from chat import WebSocketEnviron, WholeSends

    class Trickle:
        """A socket whose send() takes 10 bytes at most, as a full buffer does."""

        def __init__(self):
            self.out = bytearray()

        def send(self, data, flags=0):
            self.out += data[:10]
            return min(10, len(data))

        def sendall(self, data, flags=0):
            while data:
                data = data[self.send(data) :]

        def recv(self, size):
            return b"in"

    seen = {}

    def downstream(environ, start_response):
        seen.update(environ)
        return []

    for key in ("gunicorn.socket", "werkzeug.socket"):
        sock = Trickle()
        WebSocketEnviron(downstream, eventlet_input=False)({key: sock, "HTTP_UPGRADE": "websocket"}, None)
        wrapped = seen[key]
        assert isinstance(wrapped, WholeSends)
        frame = bytes(range(256)) * 4
        assert wrapped.send(frame) == len(frame) and bytes(sock.out) == frame
        assert wrapped.recv(2) == b"in"
    sock = Trickle()
    WebSocketEnviron(downstream, eventlet_input=False)({"gunicorn.socket": sock}, None)
    assert seen["gunicorn.socket"] is sock  # not a WebSocket request: untouched


def close_with_a_close_frame(url, count):
    """Socket.IO clients over a raw WebSocket that leave as a browser tab does: a close frame."""
    import websocket

    for _ in range(count):
        ws = websocket.create_connection(
            url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket", timeout=5
        )
        assert ws.recv().startswith("0{")  # Engine.IO open
        ws.send("40")
        assert ws.recv().startswith("40{")  # Socket.IO connect
        ws.close()


@pytest.mark.parametrize("log_level, shown", [("INFO", False), ("DEBUG", True)])
def test_a_client_closing_its_websocket_leaves_no_stray_line_in_the_log(live_database, log_level, shown):
    """eventlet closes the socket on the client's close frame, engine.io closes it again, and the
    failed shutdown (EBADF) was written raw to gunicorn's error stream: a line with no newline per
    disconnect. It is now a DEBUG record of the chat.websocket logger."""
    server = servers.gunicorn("eventlet", env={"DATABASE_URL": live_database(), "LOG_LEVEL": log_level}).start()
    before = len(server.log())
    try:
        close_with_a_close_frame(server.url, 5)
        time.sleep(1)
        assert requests.get(server.url + "/health").status_code == 200
    finally:
        server.stop()
    log = server.log()[before:]
    shutdown_lines = [line for line in log.splitlines() if "socket shutdown error" in line]
    if shown:
        assert shutdown_lines and all(" DEBUG chat.websocket: " in line for line in shutdown_lines)
        assert all(line.count("socket shutdown error") == 1 for line in shutdown_lines)
    else:
        assert shutdown_lines == [], log


def test_websocket_errors_become_log_records(caplog):
    from chat import WEBSOCKET_ERRORS, WebSocketEnviron

    with caplog.at_level(logging.DEBUG, logger="chat.websocket"):
        WEBSOCKET_ERRORS.write("server=x client=y socket shutdown error: [Errno 9] Bad file descriptor")
        WEBSOCKET_ERRORS.write("something else\n")
        WEBSOCKET_ERRORS.write("   ")
        WEBSOCKET_ERRORS.flush()
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (logging.DEBUG, "server=x client=y socket shutdown error: [Errno 9] Bad file descriptor"),
        (logging.WARNING, "something else"),
    ]
    seen = {}

    def downstream(environ, start_response):
        seen[environ["PATH_INFO"]] = environ["wsgi.errors"]
        return []

    middleware = WebSocketEnviron(downstream, drop_compression=True, eventlet_input=True)
    stderr = object()
    middleware({"PATH_INFO": "/socket.io/", "HTTP_UPGRADE": "WebSocket", "wsgi.errors": stderr}, None)
    middleware({"PATH_INFO": "/", "wsgi.errors": stderr}, None)
    assert seen == {"/socket.io/": WEBSOCKET_ERRORS, "/": stderr}
