"""Run N chat nodes behind Debian's nginx on this machine, in the foreground (no Docker).

    .venv/bin/python deploy/local_cluster.py --nodes 3 --port 8080 \\
        --database-url postgresql://postgres@127.0.0.1:5432/chat --queue redis://127.0.0.1:6379/0

nginx runs deploy/nginx.conf with the node addresses, the port and a temp directory swapped in
(the same transformation as tests/test_cluster.py). Ctrl-C (or SIGTERM) stops everything.
`--balance round-robin` drops ip_hash: only for websocket-only clients such as the benchmark's
load generator, which all come from one address (long-polling needs the sticky default).
`--nodes 1 --no-nginx` runs a single node on --port, for comparisons.
"""

import argparse
import os
import signal
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import cluster as cl  # noqa: E402
from tests import servers  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--queue", default=cl.REDIS_URL, help="CHAT_MESSAGE_QUEUE; '' for none (one node only)")
    parser.add_argument("--channel", default=f"chat-local-{os.getpid()}")
    parser.add_argument("--balance", choices=("ip_hash", "round-robin"), default="ip_hash")
    parser.add_argument("--no-nginx", action="store_true")
    args = parser.parse_args()

    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    nodes, nginx = [], None
    try:
        for i in range(args.nodes):
            port = args.port if args.no_nginx and i == 0 else servers.free_port()
            env = cl.node_env(args.database_url, args.channel, port)
            env["SECRET_KEY"] = os.environ.get("SECRET_KEY", "local-cluster-secret")
            env["CHAT_MIGRATE_ON_START"] = "1" if i == 0 else "0"
            if not args.queue:
                env.pop("CHAT_MESSAGE_QUEUE")
            else:
                env["CHAT_MESSAGE_QUEUE"] = args.queue
            for key in ("CHAT_RATE_LIMIT", "CHAT_USER_RATE_LIMIT", "LOG_LEVEL", "GUNICORN_WORKER_CONNECTIONS"):
                if key in os.environ:
                    env[key] = os.environ[key]
            nodes.append(servers.gunicorn("eventlet", port=port, env=env).start())
        if not args.no_nginx:
            nginx = cl.Nginx([node.port for node in nodes], port=args.port)
            if args.balance == "round-robin":
                nginx.conf.write_text(nginx.conf.read_text().replace("ip_hash;", "# ip_hash; (round-robin)"))
            nginx.start()
        print(f"ready: http://127.0.0.1:{args.port} ({args.nodes} node(s))", flush=True)
        while not stopping:
            time.sleep(0.2)
            if any(node.proc.poll() is not None for node in nodes):
                raise SystemExit("a node exited")
    except KeyboardInterrupt:
        pass
    finally:
        for node in nodes:
            node.stop(timeout=3)
        if nginx is not None:
            nginx.stop()


if __name__ == "__main__":
    main()
