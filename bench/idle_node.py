"""Two nodes, one Redis queue: what a room's traffic costs a node none of whose clients is in it.

Node A holds every client of the s1 load (rooms of 50, one sender per room); node B holds none.
Both run as the Procfile runs them (gunicorn, eventlet worker) on PostgreSQL and Redis, pinned
to CPU 0; the shared bench's C load generator (../shared/bench, copied to .bench/) runs on CPU 1
against node A only. Each node's CPU is read from /proc over the send window (from the load
generator's "connected" line to its result line), minus its idle rate measured just before.

    .venv/bin/python bench/idle_node.py                     # the working tree, 3 runs
    .venv/bin/python bench/idle_node.py --rev a149b2c=before --rev HEAD=after --repeats 3

With --b-members K, node B holds K members of each room (a helper process on CPU 1): what a
room's traffic costs a node that serves it without storing it (decode, emit, K frames).

Prints, per build, the median (min–max) of node A's and node B's CPU µs per message sent and
B as a share of A (issue 23's goal: at most 5 %). Interleaved: build 1, build 2, build 1, ….
"""

import argparse
import os
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.servers import ServerProcess, free_port  # noqa: E402

BENCH = ROOT / ".bench"
TICK = os.sysconf("SC_CLK_TCK")


def snapshot(rev):
    """A directory holding commit `rev` (as compare.sh makes them), with this repo's .venv."""
    sha = subprocess.check_output(
        ["git", "-C", str(ROOT), "rev-parse", "--verify", f"{rev}^{{commit}}"], text=True
    ).strip()
    app = BENCH / "snapshots" / sha
    if not (app / "wsgi.py").exists():
        shutil.rmtree(app, ignore_errors=True)
        app.mkdir(parents=True)
        archive = subprocess.Popen(["git", "-C", str(ROOT), "archive", sha], stdout=subprocess.PIPE)
        subprocess.check_call(["tar", "-x", "-C", str(app)], stdin=archive.stdout)
        archive.wait()
    venv = app / ".venv"
    if not venv.exists():
        venv.symlink_to(ROOT / ".venv")
    return app


def tree_pids(pid):
    """`pid` and its descendants that are still running (from /proc)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        try:
            todo.extend(int(c) for c in Path(f"/proc/{current}/task/{current}/children").read_text().split())
        except OSError:
            continue
        found.append(current)
    return found


def tree_cpu(pid):
    """utime + stime, in seconds, of pid and its descendants."""
    total = 0.0
    for p in tree_pids(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / TICK
    return total


def start_node(app, port, env, logs):
    """A node as the Procfile runs it, pinned to CPU 0 (tests/servers.py starts and stops it)."""
    argv = ["taskset", "-c", "0", ".venv/bin/gunicorn", "-k", "eventlet", "-w", "1", "-c", "gunicorn.conf.py"]
    argv += ["-b", f"127.0.0.1:{port}", "wsgi:app"]
    return ServerProcess(argv, port, env, log_path=logs / f"node-{port}.log", cwd=app).start(timeout=60)


def one_run(app, args):
    database = subprocess.check_output(
        [str(ROOT / ".venv/bin/python"), str(ROOT / "bench/fresh_pg.py"), args.pg], text=True
    ).strip()
    env = {
        "SECRET_KEY": secrets.token_hex(16),
        "DATABASE_URL": database,
        "CHAT_MESSAGE_QUEUE": args.redis,
        "CHAT_QUEUE_CHANNEL": f"idle-bench-{uuid.uuid4().hex[:8]}",
        "CHAT_RATE_LIMIT": "0",
        "CHAT_USER_RATE_LIMIT": "0",
        "LOG_LEVEL": "WARNING",
    }
    ports = free_port(), free_port()
    logs = Path(tempfile.mkdtemp(prefix="idle-node-"))
    nodes = [start_node(app, port, env, logs) for port in ports]
    holder = None
    try:
        if args.b_members:
            # Node B serves every room with this many members (rooms bench-0 … of the s1 preset).
            rooms = ",".join(f"bench-{i}" for i in range(args.clients // 50))
            holder = subprocess.Popen(
                ["taskset", "-c", "1", sys.executable, str(ROOT / "bench/cost_growth.py"), "--hold"]
                + [
                    str(args.b_members * (args.clients // 50)),
                    "--hold-rooms",
                    rooms,
                    "--url",
                    f"http://127.0.0.1:{ports[1]}",
                ],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            if not holder.stdout.readline().startswith("holding"):
                raise RuntimeError("node B's members did not connect")
        time.sleep(2)
        idle = [tree_cpu(n.proc.pid) for n in nodes]
        time.sleep(3)
        idle_rate = [(tree_cpu(n.proc.pid) - c) / 3 for n, c in zip(nodes, idle, strict=True)]
        out = Path(tempfile.mkdtemp()) / "run.json"
        loadgen = subprocess.Popen(
            [
                "taskset",
                "-c",
                "1",
                str(BENCH / "build/sioload"),
                "--url",
                f"http://127.0.0.1:{ports[0]}",
                "--scenario",
                "s1",
                "--clients",
                str(args.clients),
                "--room-size",
                "50",
                "--rate",
                str(args.rate),
                "--duration",
                str(args.duration),
                "--warmup",
                "1",
                "--drain",
                "3",
                "--out",
                str(out),
            ],
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
        )
        start = end = None
        for line in loadgen.stderr:
            if start is None and re.search(r"connected \d+/\d+", line):
                start = (time.monotonic(), [tree_cpu(n.proc.pid) for n in nodes])
            elif start is not None and end is None and re.search(r"rate \d+ msg/s", line):
                end = (time.monotonic(), [tree_cpu(n.proc.pid) for n in nodes])
        loadgen.wait()
        if start is None or end is None:
            raise RuntimeError("the load generator did not report its window")
        seconds = end[0] - start[0]
        sent = args.rate * (args.duration + 1)  # the warmup's messages are sent in the window too
        return [max(0.0, (end[1][i] - start[1][i] - idle_rate[i] * seconds)) / sent * 1e6 for i in range(2)]
    finally:
        if holder is not None:
            holder.stdin.close()
            holder.kill()
            holder.wait()
        for node in nodes:
            node.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rev", action="append", default=[], help="REV[=LABEL]; default: the working tree")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rate", type=int, default=40, help="messages/s in all (x50 deliveries)")
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--duration", type=int, default=8)
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/chat_bench")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument(
        "--b-members", type=int, default=0, help="members of each room on node B (0: B has none, reads headers only)"
    )
    args = parser.parse_args()
    if not (BENCH / "build/sioload").exists():
        sys.exit("no .bench/build/sioload: run `bash bench/compare.sh --help` once (it copies and builds the bench)")
    builds = []
    for rev in args.rev or []:
        rev, _, label = rev.partition("=")
        builds.append((label or rev, snapshot(rev)))
    if not builds:
        builds = [("working-tree", ROOT)]
    results = {label: [] for label, _ in builds}
    for repeat in range(args.repeats):
        for label, app in builds:
            busy, idle = one_run(app, args)
            results[label].append((busy, idle))
            print(
                f"run {repeat + 1} {label}: node A {busy:.1f} µs/message, node B {idle:.1f} ({idle / busy:.1%})",
                file=sys.stderr,
            )

    def cell(values, fmt):
        return f"{fmt.format(statistics.median(values))} ({fmt.format(min(values))}–{fmt.format(max(values))})"

    print(
        f"\ns1 load on node A only, {args.rate} messages/s to rooms of 50, {args.clients} clients, "
        f"{args.b_members} member(s) of each room on node B; "
        f"median (min–max) of {args.repeats} interleaved runs\n"
    )
    b_label = f"node B ({args.b_members} member(s) of each room)" if args.b_members else "node B (no member)"
    print(f"| build | node A (every member) CPU µs per message | {b_label} CPU µs per message | B / A |")
    print("|---|---|---|---|")
    for label, runs in results.items():
        print(
            f"| {label} | {cell([r[0] for r in runs], '{:.0f}')} | {cell([r[1] for r in runs], '{:.1f}')} | "
            f"{cell([r[1] / r[0] * 100 for r in runs], '{:.1f}')} % |"
        )


if __name__ == "__main__":
    main()
