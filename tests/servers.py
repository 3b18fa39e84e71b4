"""Start real servers (gunicorn, flask run) on free ports for the tests."""

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerProcess:
    """A server subprocess with its URL and log; stop() sends SIGTERM like a process manager."""

    def __init__(self, argv, port, env=None, log_path=None, cwd=ROOT):
        self.argv = argv
        self.cwd = cwd
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.env = {**os.environ, **(env or {})}
        self.log_path = log_path or ROOT / "test-artifacts" / f"server-{port}.log"
        self.proc = None

    def start(self, timeout=120, ready=(200,)):
        """Start and wait until /health answers with a status in `ready` (503: up, a dependency down)."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            self.argv,
            cwd=self.cwd,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log()}")
            try:
                if requests.get(self.url + "/health", timeout=1).status_code in ready:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server did not answer /health within {timeout}s:\n{self.log()}")

    def stop(self, timeout=10):
        """SIGTERM, wait; returns the seconds it took to exit (SIGKILL after `timeout`)."""
        if self.proc is None or self.proc.poll() is not None:
            return 0.0
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self._log.close()
        return time.monotonic() - started

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            self._log.close()

    def log(self):
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""


def server_env(**extra):
    env = {
        "SECRET_KEY": "test-secret-key",
        "PYTHONUNBUFFERED": "1",
        "PYTHONWARNINGS": "ignore::DeprecationWarning",
        # Never the developer's instance/chat.db: a fresh file unless the test gives a database.
        "DATABASE_URL": f"sqlite:///{tempfile.mkdtemp(prefix='chat-test-')}/chat.db",
        # Load-style tests send bursts; the rate-limit tests set their own limits.
        "CHAT_RATE_LIMIT": "0",
        "CHAT_USER_RATE_LIMIT": "0",
    }
    env.update({k: str(v) for k, v in extra.items()})
    return env


def gunicorn(worker="eventlet", port=None, env=None):
    port = port or free_port()
    argv = [
        str(BIN / "gunicorn"),
        "-k",
        worker,
        "-w",
        "1",
        "-c",
        "gunicorn.conf.py",
        "-b",
        f"127.0.0.1:{port}",
        "wsgi:app",
    ]
    return ServerProcess(argv, port, server_env(**(env or {})))


class FlaskRunProcess(ServerProcess):
    def start(self, timeout=120):
        # `make run` brings the schema up to date before `flask run`; do the same.
        subprocess.run(
            [str(BIN / "flask"), "--app", "wsgi", "db", "upgrade"],
            cwd=ROOT,
            env=self.env,
            check=True,
            capture_output=True,
        )
        return super().start(timeout)


def flask_run(port=None, env=None):
    port = port or free_port()
    argv = [str(BIN / "flask"), "--app", "wsgi", "run", "--host", "127.0.0.1", "--port", str(port)]
    return FlaskRunProcess(argv, port, server_env(**(env or {})))
