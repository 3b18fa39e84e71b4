"""A bounded soak: clients that connect, talk, drop without a close frame and come back.

The server runs as the Procfile runs it (gunicorn, eventlet worker, one process) on a fresh SQLite
file, or on PostgreSQL with --database URL. Each of --clients signed-in guests loops: open a
WebSocket with its session cookie, join one of the rooms, send a message every --send-every
seconds for a random 30-90 s (--session), then go without a close frame or a Socket.IO
disconnect, wait up to 5 s (--gap) and come back as a new connection. Half of the goings reset
the TCP connection (a killed app); the other half go silent (a phone losing its network: nothing
more is read or answered, and the server notices only by its ping timeout; the soak sets
CHAT_PING_INTERVAL and CHAT_PING_TIMEOUT to 5 s each, production's defaults are 25 and 20).

Every --sample seconds it records the server's RSS (/proc, the gunicorn master and worker), the
`chat_connections` gauge and the number of people /api/presence lists. After the churn it drops
every client, waits for the ping timeout, and checks that nobody is left: no connection on the
node, nobody online, no row in the connections table.

    .venv/bin/python bench/soak.py                        # 30 minutes, 500 clients, SQLite
    .venv/bin/python bench/soak.py --minutes 5 --clients 100
    .venv/bin/python bench/soak.py --database postgresql://postgres@127.0.0.1:5432/chat_soak

Prints a markdown table of the samples and a summary: RSS after warm-up (the first --warmup
minutes), its highest and last value after warm-up as a share of it (issue 23's goal: within
10 %), messages sent and delivered, and the ghosts found (goal: none). The client runs in this
process (asyncio, a minimal Engine.IO v4 WebSocket client) on CPU 1, the server on CPU 0.
"""

import argparse
import asyncio
import base64
import json
import os
import random
import re
import statistics
import struct
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.idle_node import tree_cpu, tree_pids  # noqa: E402
from tests.accounts import guest  # noqa: E402
from tests.servers import gunicorn  # noqa: E402

PING = 5  # the server's ping interval and timeout during the soak, in seconds
GONE_AFTER = 2 * PING + 5  # by then the server has timed out every silent client
SILENT_FOR = GONE_AFTER + 10  # a silent client's socket stays open (unread) this long


def rss_mb(pid):
    """VmRSS of `pid` and its descendants, in MB."""
    total = 0
    for p in tree_pids(pid):
        try:
            total += int(re.search(r"VmRSS:\s+(\d+) kB", Path(f"/proc/{p}/status").read_text()).group(1))
        except (OSError, AttributeError):
            continue
    return total / 1024


def gauge(url, name):
    text = requests.get(url + "/metrics", timeout=10).text
    found = re.search(rf"^{name} ([0-9.e+]+)$", text, re.M)
    return float(found.group(1)) if found else None


class Counters:
    def __init__(self):
        self.sent = self.received = self.errors = self.sessions = self.failed = 0


class SoakClient:
    """One person's loop over a raw WebSocket (RFC 6455 frames, masked) carrying Engine.IO v4."""

    def __init__(self, host, port, cookie, room, counters, send_every, session_seconds=(30, 90), gap=5):
        self.host, self.port, self.cookie, self.room = host, port, cookie, room
        self.counters, self.send_every = counters, send_every
        self.session_seconds, self.gap = session_seconds, gap
        self.reader = self.writer = None

    async def open(self):
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        key = base64.b64encode(os.urandom(16)).decode()
        self.writer.write(
            (
                "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n"
                f"Host: {self.host}:{self.port}\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                f"Origin: http://{self.host}:{self.port}\r\n"
                + (f"Cookie: {self.cookie}\r\n" if self.cookie else "")
                + "\r\n"
            ).encode()
        )
        head = await self.reader.readuntil(b"\r\n\r\n")
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise ConnectionError(head.split(b"\r\n", 1)[0].decode(errors="replace"))
        opened = await self.frame()
        if not opened.startswith("0"):
            raise ConnectionError(f"no Engine.IO open packet: {opened[:80]!r}")
        self.send("40")
        while not (await self.frame()).startswith("40"):
            pass

    def send(self, text):
        data = text.encode()
        mask = os.urandom(4)
        size = len(data)
        if size < 126:
            header = struct.pack("!BB", 0x81, 0x80 | size)
        elif size < 65536:
            header = struct.pack("!BBH", 0x81, 0x80 | 126, size)
        else:
            header = struct.pack("!BBQ", 0x81, 0x80 | 127, size)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
        self.writer.write(header + mask + masked)

    async def frame(self):
        """The next text message; answers WebSocket pings and Engine.IO pings on the way."""
        parts = []
        while True:
            first, second = await self.reader.readexactly(2)
            size = second & 0x7F
            if size == 126:
                size = struct.unpack("!H", await self.reader.readexactly(2))[0]
            elif size == 127:
                size = struct.unpack("!Q", await self.reader.readexactly(8))[0]
            payload = await self.reader.readexactly(size)
            opcode = first & 0x0F
            if opcode == 0x8:
                raise ConnectionError("closed by the server")
            if opcode == 0x9:
                self.writer.write(struct.pack("!BB", 0x8A, 0x80) + os.urandom(4))
                continue
            parts.append(payload)
            if first & 0x80:
                text = b"".join(parts).decode()
                if text == "2":  # Engine.IO ping
                    self.send("3")
                    parts = []
                    continue
                return text

    def drop(self):
        """Gone without a close frame (abort: the kernel resets the connection)."""
        if self.writer is not None:
            self.writer.transport.abort()
        self.reader = self.writer = None

    async def read_all(self):
        while True:
            text = await self.frame()
            if text.startswith("42"):
                event = text[2 : text.index(",")] if "," in text else text[2:]
                if '"room_message"' in event:
                    self.counters.received += 1
                elif '"error"' in event:
                    self.counters.errors += 1

    async def session(self):
        await self.open()
        self.counters.sessions += 1
        self.send("42" + json.dumps(["join_room", {"room": self.room}]))
        reading = asyncio.ensure_future(self.read_all())
        try:
            ends = time.monotonic() + random.uniform(*self.session_seconds)
            await asyncio.sleep(random.uniform(0, self.send_every))
            while time.monotonic() < ends and not reading.done():
                self.send(
                    "42" + json.dumps(["room_message", {"room": self.room, "message": f"soak {time.time():.3f}"}])
                )
                self.counters.sent += 1
                await asyncio.sleep(self.send_every)
        finally:
            reading.cancel()
            if random.random() < 0.5:
                self.drop()
            else:  # silent: the network is gone, nothing reaches the server until its ping timeout
                # Hold on to the writer: a collected StreamWriter closes its transport (a FIN).
                writer = self.writer
                asyncio.get_running_loop().call_later(SILENT_FOR, lambda: writer.transport.abort())
                self.reader = self.writer = None

    async def run(self, until):
        while time.monotonic() < until:
            try:
                await self.session()
            except (OSError, ConnectionError, asyncio.IncompleteReadError, ValueError):
                self.counters.failed += 1
                self.drop()
            await asyncio.sleep(random.uniform(0, self.gap))


def sign_in(url, count):
    cookies = []
    for i in range(count):
        session = requests.Session()
        response = guest(session, f"soak{i:04d}", base=url)
        if response.status_code != 302:
            raise RuntimeError(f"guest sign-in {i}: {response.status_code} {response.text[:200]}")
        cookies.append("; ".join(f"{c.name}={c.value}" for c in session.cookies))
    return cookies


async def churn(url, cookies, args, server_pid, observer, database):
    host, port = "127.0.0.1", int(url.rsplit(":", 1)[1])
    counters = Counters()
    rooms = max(1, len(cookies) // args.room_size)
    started = time.monotonic()
    until = started + args.minutes * 60
    clients = [
        SoakClient(host, port, cookie, f"soak-{i % rooms}", counters, args.send_every, args.session, args.gap)
        for i, cookie in enumerate(cookies)
    ]
    tasks = [asyncio.ensure_future(client.run(until)) for client in clients]
    samples = []
    loop = asyncio.get_running_loop()
    cpu_at, cpu = time.monotonic(), tree_cpu(server_pid)
    while time.monotonic() < until:
        await asyncio.sleep(min(args.sample, max(0.0, until - time.monotonic())))
        connections = await loop.run_in_executor(None, gauge, url, "chat_connections")
        online = await loop.run_in_executor(
            None, lambda: len(observer.get(url + "/api/presence", timeout=30).json()["users"])
        )
        now, cpu_now = time.monotonic(), tree_cpu(server_pid)
        busy = (cpu_now - cpu) / max(0.001, now - cpu_at) * 100
        cpu_at, cpu = now, cpu_now
        samples.append(
            {
                "minute": round((time.monotonic() - started) / 60, 1),
                "cpu_pct": round(busy),
                "rss_mb": round(rss_mb(server_pid), 1),
                "connections": connections,
                "online": online,
                "sessions": counters.sessions,
                "sent": counters.sent,
                "received": counters.received,
                "errors": counters.errors,
                "failed": counters.failed,
            }
        )
        print(json.dumps(samples[-1]), file=sys.stderr, flush=True)
    await asyncio.gather(*tasks, return_exceptions=True)
    # Every client has gone, half of the last ones silently (their sockets still open): the
    # server must notice by itself. Checked while those sockets are still open.
    await asyncio.sleep(GONE_AFTER)
    ghosts = {
        "connections": await loop.run_in_executor(None, gauge, url, "chat_connections"),
        "online": await loop.run_in_executor(
            None, lambda: len(observer.get(url + "/api/presence", timeout=30).json()["users"])
        ),
        "rows": await loop.run_in_executor(None, connection_rows, database),
    }
    return samples, counters, ghosts


def connection_rows(database_url):
    from sqlalchemy import create_engine, text

    from chat.config import database_url as normalise

    engine = create_engine(normalise(database_url))
    with engine.connect() as conn:
        count = conn.execute(text("SELECT count(*) FROM connections")).scalar()
    engine.dispose()
    return count


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--warmup", type=float, default=5, help="minutes before the reference RSS")
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--room-size", type=int, default=10)
    parser.add_argument("--send-every", type=float, default=10.0, help="seconds between one client's messages")
    parser.add_argument("--sample", type=float, default=60.0, help="seconds between samples")
    parser.add_argument(
        "--session", type=float, nargs=2, default=(30.0, 90.0), help="a session's length: min max seconds"
    )
    parser.add_argument(
        "--gap", type=float, default=5.0, help="at most this many seconds between a going and the return"
    )
    parser.add_argument("--database", default=None, help="a DATABASE_URL (default: a fresh SQLite file)")
    args = parser.parse_args()

    env = {
        "CHAT_PING_INTERVAL": str(PING),
        "CHAT_PING_TIMEOUT": str(PING),
        "CHAT_LOGIN_ADDRESS_LIMIT": "off",
        "CHAT_LOGIN_ACCOUNT_LIMIT": "off",
    }
    if args.database:
        env["DATABASE_URL"] = args.database
    server = gunicorn("eventlet", env=env)
    server.argv = ["taskset", "-c", "0", *server.argv]
    os.sched_setaffinity(0, {1})
    database = server.env["DATABASE_URL"]
    server.start()
    try:
        print(f"signing in {args.clients} guests …", file=sys.stderr, flush=True)
        cookies = sign_in(server.url, args.clients)
        observer = requests.Session()
        guest(observer, "soak-observer", base=server.url)  # reads /api/presence; never connects a socket
        samples, counters, ghosts = asyncio.run(churn(server.url, cookies, args, server.proc.pid, observer, database))
    finally:
        server.stop()

    after = [s for s in samples if s["minute"] > args.warmup] or samples
    reference = after[0]["rss_mb"]
    print("| minute | server CPU % | RSS MB | connections | online | sessions | sent | delivered | errors | failed |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for s in samples:
        print(
            f"| {s['minute']} | {s['cpu_pct']} | {s['rss_mb']} | {s['connections']:.0f} | {s['online']} "
            f"| {s['sessions']:,} | {s['sent']:,} | {s['received']:,} | {s['errors']} | {s['failed']} |"
        )
    print()
    peak = max(s["rss_mb"] for s in after)
    print(
        f"RSS after {args.warmup:g} min warm-up: {reference} MB; highest after it {peak} MB "
        f"({peak / reference:.3f}×), last {after[-1]['rss_mb']} MB ({after[-1]['rss_mb'] / reference:.3f}×); "
        f"median {statistics.median(s['rss_mb'] for s in after)} MB"
    )
    print(
        f"{counters.sessions:,} sessions, {counters.sent:,} messages sent, {counters.received:,} delivered, "
        f"{counters.errors} error events, {counters.failed} failed sessions"
    )
    print(
        f"{GONE_AFTER} s after every client went (half silently, still open): "
        f"chat_connections {ghosts['connections']:.0f}, "
        f"online {ghosts['online']}, rows in connections {ghosts['rows']}"
    )
    clean = not any(ghosts.values())
    print("no ghost" if clean else "GHOSTS LEFT")
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(main())
