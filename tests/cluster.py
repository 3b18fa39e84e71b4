"""Three gunicorn eventlet nodes behind Debian's nginx, with the machine's Redis and PostgreSQL."""

import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
import socketio

from tests import servers
from tests.live_client import InOrderClient

ROOT = Path(__file__).resolve().parent.parent
NGINX_TEMPLATE = ROOT / "deploy" / "nginx.conf"
COMPOSE_FILE = ROOT / "docker-compose.yml"
NODES = 3
REDIS_URL = os.environ.get("CHAT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
# The machine's own command for Redis (the CI test stops Redis and starts it again with it).
REDIS_START = [
    "redis-server",
    "--daemonize",
    "yes",
    "--bind",
    "127.0.0.1",
    "-::1",
    "--port",
    "6379",
    "--save",
    "",
    "--appendonly",
    "no",
    "--dir",
    "/var/lib/redis",
    "--logfile",
    "/var/log/redis/ci.log",
]
SECRET = "cluster-test-secret-key"
# Set for the test nodes only, beyond what docker-compose.yml sets: bursts without rate limits.
TEST_ONLY_ENV = {"CHAT_RATE_LIMIT", "CHAT_USER_RATE_LIMIT", "PYTHONUNBUFFERED", "PYTHONWARNINGS"}


def node_env(database_url, channel, port):
    """What each node gets: the same variables as a chat service of docker-compose.yml."""
    return {
        "CHAT_ENV": "production",
        "SECRET_KEY": SECRET,
        "DATABASE_URL": database_url,
        "CHAT_MESSAGE_QUEUE": REDIS_URL,
        "CHAT_QUEUE_CHANNEL": channel,
        "PORT": str(port),
        "SESSION_COOKIE_SECURE": "false",
        "CHAT_TRUSTED_PROXIES": "1",
    }


def nginx_binary():
    return shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)


def redis_up():
    try:
        import redis

        return redis.Redis.from_url(REDIS_URL, socket_timeout=1, socket_connect_timeout=1).ping()
    except Exception:  # noqa: BLE001
        return False


def start_redis():
    """Start Redis with the machine's command, unless it answers already; wait until it does."""
    if redis_up():
        return
    subprocess.run(REDIS_START, check=True, capture_output=True)
    deadline = time.monotonic() + 10
    while not redis_up():
        if time.monotonic() > deadline:
            raise RuntimeError("Redis did not come back")
        time.sleep(0.05)


def stop_redis():
    subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", "6379", "shutdown", "nosave"], capture_output=True)
    deadline = time.monotonic() + 10
    while redis_up():
        if time.monotonic() > deadline:
            raise RuntimeError("Redis did not stop")
        time.sleep(0.05)


def drop_database(url):
    """Drop a database pg_database() made for a test, once its servers are stopped."""
    from sqlalchemy import create_engine, text

    from chat.config import database_url
    from tests.conftest import PG_ADMIN_URL

    engine = create_engine(database_url(PG_ADMIN_URL), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)'))
    finally:
        engine.dispose()


def nginx_config(template, node_ports, port, workdir):
    """deploy/nginx.conf with only the lines marked "# test:" changed for loopback ports and a temp dir."""
    out, nodes_done = [], False
    for line in template.splitlines():
        marker = re.search(r"#\s*test:\s*(\w+)", line)
        if not marker:
            out.append(line)
            continue
        kind, indent = marker.group(1), re.match(r"\s*", line).group(0)
        if kind == "node":
            if not nodes_done:
                params = re.match(r"\s*server\s+\S+\s*(.*?);", line).group(1)
                out.extend(f"{indent}server 127.0.0.1:{p} {params};" for p in node_ports)
                nodes_done = True
        elif kind == "listen":
            out.append(f"{indent}listen 127.0.0.1:{port};")
        elif kind == "pid":
            out.append(f"{indent}pid {workdir}/nginx.pid;")
        elif kind == "error_log":
            out.append(f"{indent}error_log {workdir}/error.log info;")
        elif kind == "access_log":
            out.append(f"{indent}log_format test '$status $request_method $uri $upstream_addr $upstream_status';")
            out.append(f"{indent}access_log {workdir}/access.log test;")
        elif kind == "temp":
            directive = line.split()[0]
            out.append(f"{indent}{directive} {workdir}/{directive};")
        else:
            raise AssertionError(f"unknown test marker {kind!r} in {NGINX_TEMPLATE}")
    return "\n".join(out) + "\n"


class Nginx:
    """Debian's nginx as a foreground subprocess (never the system service)."""

    def __init__(self, node_ports, port=None):
        self.workdir = Path(tempfile.mkdtemp(prefix="chat-nginx-"))
        os.chmod(self.workdir, 0o755)
        self.port = port or servers.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.conf = self.workdir / "nginx.conf"
        self.conf.write_text(nginx_config(NGINX_TEMPLATE.read_text(), node_ports, self.port, self.workdir))
        self.proc = None

    def start(self):
        argv = [
            nginx_binary(),
            "-p",
            str(self.workdir),
            "-c",
            str(self.conf),
            "-e",
            str(self.workdir / "error.log"),
            "-g",
            "daemon off;",
        ]
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"nginx exited with {self.proc.returncode}:\n{self.error_log()}")
            try:
                requests.get(self.url + "/api", timeout=1)
                return self
            except requests.RequestException:
                time.sleep(0.05)
        raise RuntimeError(f"nginx did not answer:\n{self.error_log()}")

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()  # SIGTERM: fast shutdown of master and workers
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)
                self.proc.wait()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def error_log(self):
        path = self.workdir / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def access_log(self):
        """(status, method, uri, upstream address, upstream status) per request."""
        path = self.workdir / "access.log"
        if not path.exists():
            return []
        return [tuple(line.split(" ", 4)) for line in path.read_text().splitlines() if line.strip()]


class Cluster:
    def __init__(self, database_url, **extra_env):
        self.channel = f"chat-test-{uuid.uuid4().hex[:12]}"  # Redis pub/sub channels ignore the db number
        self.database_url = database_url
        self.nodes = []
        for _ in range(NODES):
            port = servers.free_port()
            env = {**node_env(database_url, self.channel, port), **extra_env}
            self.nodes.append(servers.gunicorn("eventlet", port=port, env=env))
        self.nginx = None

    def start(self):
        try:
            # The first node brings the schema up to date (the others wait on its advisory lock).
            self.nodes[0].start()
            with ThreadPoolExecutor(NODES - 1) as pool:
                list(pool.map(lambda node: node.start(), self.nodes[1:]))
            self.nginx = Nginx([node.port for node in self.nodes]).start()
        except Exception:
            self.stop()
            raise
        return self

    def stop(self):
        for node in self.nodes:
            node.stop()
        if self.nginx is not None:
            self.nginx.stop()
        drop_database(self.database_url)

    def env(self, **extra):
        """The environment of a command run next to the nodes (`flask chat announce`)."""
        return {**os.environ, **node_env(self.database_url, self.channel, 0), **extra}

    def connections(self):
        """Connected clients per node, from each node's metrics."""
        counts = []
        for node in self.nodes:
            try:
                text = requests.get(node.url + "/metrics", timeout=2).text
                counts.append(int(re.search(r"^chat_connections (\d+)(?:\.0)?$", text, re.M).group(1)))
            except (requests.RequestException, AttributeError):
                counts.append(None)
        return counts

    def health(self):
        result = []
        for node in self.nodes:
            try:
                response = requests.get(node.url + "/health", timeout=3)
                result.append((response.status_code, response.json()))
            except requests.RequestException:
                result.append((None, None))
        return result

    def wait_health(self, predicate, timeout=20, nodes=None):
        deadline = time.monotonic() + timeout
        while True:
            states = self.health()
            picked = [states[i] for i in (nodes if nodes is not None else range(NODES))]
            if all(predicate(code, body) for code, body in picked):
                return picked
            if time.monotonic() > deadline:
                raise AssertionError(f"health never matched: {states}")
            time.sleep(0.1)


class TrackingClient:
    """What the page does to miss nothing, with counters for the tests.

    Keeps every stored message of its room once (by id); `last_id` only grows past a message
    whose `prev` it has, so a gap is asked for (`get_history {since: last_id}`) instead of
    skipped. It also asks after `delivery {delayed: false}` and rejoins with `since` after
    every reconnect.
    """

    def __init__(self, url, room, transports=("websocket",), headers=None):
        self.url, self.room, self.transports, self.headers = url, room, list(transports), headers or {}
        self.messages = {}  # id -> text
        self.live = Counter()  # id -> times it arrived as a live event
        self.live_order = []  # ids of live messages, in arrival order
        self.fetches = 0  # `get_history {since}` asked (a gap seen, or "catch up")
        self.last_id = None
        self.connects = 0
        self.delivery = []  # `delivery` events, in order
        self.lock = threading.Lock()
        self.sio = InOrderClient(  # handlers in arrival order: a race between them is no gap
            reconnection=True, reconnection_delay=0.2, reconnection_delay_max=0.5, randomization_factor=0.2
        )
        self.sio.on("connect", self.on_connect)
        self.sio.on("room_message", self.on_message)
        self.sio.on("history", self.on_history)
        self.sio.on("delivery", self.on_delivery)

    def connect(self):
        self.sio.connect(self.url, transports=self.transports, headers=self.headers, wait_timeout=10)
        return self

    def close(self):
        self.sio.reconnection = False
        if self.sio.connected:
            self.sio.disconnect()

    def on_connect(self):
        self.connects += 1
        request = {"room": self.room}
        with self.lock:
            if self.last_id is not None:
                request["since"] = self.last_id
        self.sio.emit("join_room", request)

    def keep(self, message):
        known = self.messages.get(message["id"])
        assert known is None or known == message["text"], f"id {message['id']} with two texts"
        self.messages[message["id"]] = message["text"]

    def on_message(self, message):
        if message.get("id") is None or message.get("room") != self.room:
            return  # join/leave notices
        with self.lock:
            self.live[message["id"]] += 1
            self.live_order.append(message["id"])
            self.keep(message)
            prev = message.get("prev")
            if self.last_id is None or prev is None or prev <= self.last_id:
                self.last_id = max(self.last_id or 0, message["id"])
                return
            since = self.last_id
        self.fetch(since)

    def on_history(self, reply):
        if not reply or reply.get("room") != self.room:
            return
        with self.lock:
            for message in reply["messages"]:
                self.keep(message)
            newest = reply["messages"][-1]["id"] if reply["messages"] else reply.get("since", 0)
            self.last_id = max(self.last_id or 0, newest or 0)
            since = self.last_id if reply.get("has_more") else None
        if since is not None:
            self.fetch(since)

    def on_delivery(self, status):
        self.delivery.append(status)
        if not status.get("delayed"):
            with self.lock:
                since = self.last_id
            if since is not None:
                self.fetch(since)

    def fetch(self, since):
        self.fetches += 1
        self.sio.emit(
            "get_history",
            {"room": self.room, "since": since},
            callback=lambda reply: self.on_history(reply) if reply and reply.get("ok") else None,
        )

    def ids(self):
        with self.lock:
            return sorted(self.messages)

    def wait_ids(self, expected, timeout=30):
        expected = set(expected)
        deadline = time.monotonic() + timeout
        while not expected <= set(self.ids()):
            if time.monotonic() > deadline:
                missing = sorted(expected - set(self.ids()))
                raise AssertionError(f"{self.url} {self.transports}: {len(missing)} missing, e.g. {missing[:10]}")
            time.sleep(0.05)
        return self.ids()


class Sender:
    """Sends numbered messages to a room at a steady pace in a thread; remembers the acked ids."""

    def __init__(self, url, room, name, count, interval):
        self.room, self.name, self.count, self.interval = room, name, count, interval
        self.sio = socketio.Client(reconnection=False)
        self.sio.connect(url, transports=["websocket"], wait_timeout=10)
        assert self.sio.call("join_room", {"room": room}, timeout=10)["ok"]
        self.acked = {}  # id -> text
        self.acked_at = []  # monotonic time of each ack
        self.failures = []
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        for i in range(self.count):
            text = f"{self.name} {i}"
            try:
                reply = self.sio.call(
                    "room_message", {"room": self.room, "message": text, "client_id": f"{self.name}-{i}"}, timeout=10
                )
            except Exception as exc:  # noqa: BLE001
                self.failures.append((text, repr(exc)))
                continue
            if reply.get("ok"):
                self.acked[reply["id"]] = text
                self.acked_at.append(time.monotonic())
            else:
                self.failures.append((text, reply))
            time.sleep(self.interval)

    def start(self):
        self.thread.start()
        return self

    def join(self, timeout=120):
        self.thread.join(timeout)
        assert not self.thread.is_alive(), f"{self.name} did not finish"
        self.sio.disconnect()
        return self.acked


def close_all(receivers, senders):
    """Close TrackingClients and disconnect Senders that are still connected (a test's cleanup)."""
    for client in receivers:
        client.close()
    for sender in senders:
        if sender.sio.connected:
            sender.sio.disconnect()


def require_services(pg_available):
    """Skip (fail in CI) unless what a cluster of nodes needs is here: PostgreSQL, Redis, nginx."""
    from tests.conftest import PG_ADMIN_URL, skip_or_fail

    if pg_available is not True:
        skip_or_fail(f"PostgreSQL is not reachable at {PG_ADMIN_URL}: {pg_available}")
    if not redis_up():
        skip_or_fail(f"Redis is not reachable at {REDIS_URL} (start it: {' '.join(REDIS_START)})")
    if nginx_binary() is None:
        skip_or_fail("Debian's nginx is not installed (apt-get install -y nginx; .ci/run does it)")
