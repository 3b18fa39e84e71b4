"""How the server's cost grows: CPU per delivery against room size and against idle clients.

Each run starts a fresh server as the Procfile runs it (gunicorn, eventlet worker, a fresh SQLite
file, or --database URL) pinned to CPU 0, and drives the s1 scenario of the shared bench's C load
generator (../shared/bench, copied to .bench/ by bench/compare.sh) from CPU 1: 1,000 clients in
rooms of the given size, one sender per room.

- Room size: 2, 10, 50 and 500 at a message rate that keeps the server below saturation here
  (200, 150, 100 and 10 messages/s: 400, 1,500, 5,000 and 5,000 deliveries/s).
- Idle clients: rooms of 50 at 100 messages/s (s1) with 0, 1,000, 5,000 and 10,000 more clients
  connected that join nothing and say nothing (they answer the server's pings), held by a helper
  process on CPU 1 (the minimal client of bench/soak.py).

    .venv/bin/python bench/cost_growth.py                  # both tables, 3 interleaved runs each
    .venv/bin/python bench/cost_growth.py --only sizes --repeats 5
    .venv/bin/python bench/cost_growth.py --only idle --env CHAT_GC_THRESHOLDS=5000,50,100

Prints markdown tables: per configuration, the median (min–max) of server CPU µs per delivery
and per message, p99 latency and deliveries/s.
"""

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.soak import SoakClient  # noqa: E402
from tests.servers import gunicorn  # noqa: E402

BENCH = ROOT / ".bench"
SIZES = {2: 200, 10: 150, 50: 100, 500: 10}  # room size: messages/s
IDLE = [0, 1000, 5000, 10000]


async def hold(url, count, rooms=()):
    """Open `count` connections and keep them until stdin closes; with `rooms`, connection i joins
    rooms[i % len(rooms)] and reads what the room gets (bench/idle_node.py --b-members)."""
    host, port = "127.0.0.1", int(url.rsplit(":", 1)[1])
    clients = [SoakClient(host, port, "", rooms[i % len(rooms)] if rooms else None, None, 0) for i in range(count)]
    gate = asyncio.Semaphore(200)

    async def one(client):
        async with gate:
            await client.open()
            if client.room is not None:
                client.send("42" + json.dumps(["join_room", {"room": client.room}]))
        while True:
            await client.frame()  # answers the pings; reads and drops the room's messages

    tasks = [asyncio.ensure_future(one(client)) for client in clients]
    while sum(1 for c in clients if c.writer is not None and c.reader is not None) < count:
        failed = [t for t in tasks if t.done() and t.exception() is not None]
        if failed:
            raise failed[0].exception()
        await asyncio.sleep(0.2)
    await asyncio.sleep(1)
    print(f"holding {count}", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


def one_run(size, rate, idle, args):
    # Past gunicorn.conf.py's 10,000 connections per worker with the idle clients and the load.
    env = {"LOG_LEVEL": "WARNING", "GUNICORN_WORKER_CONNECTIONS": "20000", **dict(kv.split("=", 1) for kv in args.env)}
    if args.database:
        env["DATABASE_URL"] = subprocess.check_output(
            [str(ROOT / ".venv/bin/python"), str(ROOT / "bench/fresh_pg.py"), args.database], text=True
        ).strip()
    server = gunicorn("eventlet", env=env)
    server.argv = ["taskset", "-c", "0", *server.argv]
    server.start()
    holder = None
    try:
        if idle:
            holder = subprocess.Popen(
                ["taskset", "-c", "1", sys.executable, __file__, "--hold", str(idle), "--url", server.url],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            line = holder.stdout.readline()
            if not line.startswith("holding"):
                raise RuntimeError(f"the idle clients did not connect: {line!r}")
        time.sleep(2)
        out = Path(tempfile.mkdtemp()) / "run.json"
        subprocess.run(
            ["taskset", "-c", "1", str(BENCH / "build/sioload"), "--url", server.url, "--scenario", "s1"]
            + ["--clients", "1000", "--room-size", str(size), "--rate", str(rate), "--duration", str(args.duration)]
            + ["--pid", str(server.proc.pid), "--quiet", "--out", str(out)],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        run = json.loads(out.read_text())
        run = run.get("run", run)
        window = run["cpu_window"]
        deliveries = max(1, run["delivered_per_s"] * window["wall_s"])
        return {
            "us_per_delivery": 1e6 * window["server_cpu_s"] / deliveries,
            "us_per_message": 1e6 * window["server_cpu_s"] / max(1, rate * window["wall_s"]),
            "p99_ms": run["p99_ms"],
            "delivered_per_s": run["delivered_per_s"],
            "lost": run.get("lost", 0),
        }
    finally:
        if holder is not None:
            holder.stdin.close()
            holder.kill()
            holder.wait()
        server.stop()


def cell(values, fmt):
    return f"{fmt.format(statistics.median(values))} ({fmt.format(min(values))}–{fmt.format(max(values))})"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=["sizes", "idle"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--duration", type=int, default=8)
    parser.add_argument("--database", default=None, help="a PostgreSQL URL (a fresh database per run)")
    parser.add_argument(
        "--env", action="append", default=[], metavar="K=V", help="more environment for the server (repeatable)"
    )
    parser.add_argument("--hold", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--hold-rooms", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if any("=" not in kv for kv in args.env):
        parser.error("--env wants K=V")
    if args.hold:
        asyncio.run(hold(args.url, args.hold, [room for room in args.hold_rooms.split(",") if room]))
        return
    if not (BENCH / "build/sioload").exists():
        sys.exit("no .bench/build/sioload: run `bash bench/compare.sh --help` once (it copies and builds the bench)")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 65536 if hard == resource.RLIM_INFINITY else min(65536, hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))  # the server and the holder inherit it

    configs = []
    if args.only in (None, "sizes"):
        configs += [("size", size, rate, 0) for size, rate in SIZES.items()]
    if args.only in (None, "idle"):
        configs += [("idle", 50, SIZES[50], idle) for idle in IDLE if idle or args.only == "idle"]
    results = {config: [] for config in configs}
    for repeat in range(args.repeats):
        for config in configs:
            _, size, rate, idle = config
            result = one_run(size, rate, idle, args)
            results[config].append(result)
            print(
                f"run {repeat + 1}: rooms of {size}, {rate} msg/s, {idle} idle: "
                f"{result['us_per_delivery']:.1f} µs/delivery, p99 {result['p99_ms']:.1f} ms, lost {result['lost']}",
                file=sys.stderr,
                flush=True,
            )

    def rows(kind):
        for config, runs in results.items():
            if config[0] != kind and not (kind == "idle" and config == ("size", 50, SIZES[50], 0)):
                continue
            _, size, rate, idle = config
            yield size, rate, idle, runs

    database = "PostgreSQL" if args.database else "SQLite"
    print(f"\n1,000 clients, {database}; median (min–max) of {args.repeats} interleaved runs\n")
    if args.only in (None, "sizes"):
        print("| room size | messages/s | deliveries/s | CPU µs per delivery | CPU µs per message | p99 ms |")
        print("|---:|---:|---:|---|---|---|")
        for size, rate, _, runs in rows("size"):
            print(
                f"| {size} | {rate} | {statistics.median(r['delivered_per_s'] for r in runs):,.0f} "
                f"| {cell([r['us_per_delivery'] for r in runs], '{:.1f}')} "
                f"| {cell([r['us_per_message'] for r in runs], '{:.0f}')} "
                f"| {cell([r['p99_ms'] for r in runs], '{:.1f}')} |"
            )
        print()
    if args.only in (None, "idle"):
        print("| idle clients | CPU µs per delivery | p99 ms | deliveries/s |")
        print("|---:|---|---|---:|")
        for _, _, idle, runs in sorted(rows("idle"), key=lambda row: row[2]):
            print(
                f"| {idle:,} | {cell([r['us_per_delivery'] for r in runs], '{:.1f}')} "
                f"| {cell([r['p99_ms'] for r in runs], '{:.1f}')} "
                f"| {statistics.median(r['delivered_per_s'] for r in runs):,.0f} |"
            )


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
