import os
import shutil

import pytest

from chat import create_app
from chat.config import TestConfig
from chat.extensions import socketio
from tests import servers

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def skip_or_fail(reason):
    """Outside CI a missing service skips with a reason; in CI it is a failure."""
    if IN_CI:
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture
def app():
    return create_app(TestConfig())


@pytest.fixture
def make_app():
    def build(**overrides):
        return create_app(TestConfig(**overrides))
    return build


@pytest.fixture
def client_factory(app):
    """Flask-SocketIO test clients sharing the app; all disconnected at the end."""
    clients = []

    def connect(flask_client=None, **kwargs):
        client = socketio.test_client(app, flask_test_client=flask_client, **kwargs)
        clients.append(client)
        return client

    yield connect
    for client in clients:
        if client.is_connected():
            client.disconnect()


@pytest.fixture(scope="module")
def live_server():
    """The Procfile's stack: gunicorn with the eventlet worker, on a free port."""
    server = servers.gunicorn("eventlet").start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def chromium_path():
    path = shutil.which("chromium") or ("/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None)
    if not path:
        skip_or_fail("Debian's chromium is not installed (apt-get install -y chromium fonts-noto-cjk)")
    return path
