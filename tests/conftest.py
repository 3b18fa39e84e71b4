import os
import shutil
import uuid

import pytest
from flask_migrate import upgrade
from sqlalchemy import create_engine, text

from chat import create_app
from chat.config import TestConfig, database_url
from chat.extensions import db, socketio
from tests import servers

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
# CHAT_TEST_DB=postgresql runs the suite against the machine's PostgreSQL instead of SQLite.
TEST_DB = os.environ.get("CHAT_TEST_DB", "sqlite").lower()
PG_ADMIN_URL = os.environ.get("CHAT_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def skip_or_fail(reason):
    """Outside CI a missing service skips with a reason; in CI it is a failure."""
    if IN_CI:
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)


def pg_database(name):
    """A fresh PostgreSQL database called `name`; returns its URL."""
    engine = create_engine(database_url(PG_ADMIN_URL), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def drop_pg_database(name):
    engine = create_engine(database_url(PG_ADMIN_URL), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


@pytest.fixture(scope="session")
def pg_available():
    try:
        engine = create_engine(database_url(PG_ADMIN_URL))
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return True
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
        return str(exc)


@pytest.fixture(scope="session")
def app_database_url(pg_available):
    """The database the in-process app uses: in-memory SQLite, or one PostgreSQL database."""
    if TEST_DB != "postgresql":
        yield "sqlite://"
        return
    if pg_available is not True:
        skip_or_fail(f"PostgreSQL is not reachable at {PG_ADMIN_URL}: {pg_available}")
    name = f"chat_test_app_{os.getpid()}"  # per run: parallel runs never share one
    yield pg_database(name)
    drop_pg_database(name)


def reset_schema(app):
    """Empty database at the current schema (migrations applied, no rows)."""
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            upgrade()
            db.session.execute(text("TRUNCATE messages, rooms, users RESTART IDENTITY CASCADE"))
            db.session.commit()
        else:
            upgrade()


@pytest.fixture
def make_app(app_database_url):
    apps = []

    def build(**overrides):
        overrides.setdefault("SQLALCHEMY_DATABASE_URI", database_url(app_database_url))
        app = create_app(TestConfig(**overrides))
        apps.append(app)
        reset_schema(app)
        return app

    yield build
    # Close each test app's pooled connections now: left to the garbage collector, a few hundred
    # tests exceed PostgreSQL's max_connections (100) in the CHAT_TEST_DB=postgresql pass.
    for app in apps:
        with app.app_context():
            for engine in db.engines.values():
                engine.dispose()


@pytest.fixture
def app(make_app):
    return make_app()


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


@pytest.fixture(scope="session")
def live_database(tmp_path_factory, pg_available):
    """A factory of database URLs for real servers: a fresh SQLite file, or a fresh PG database."""

    def make():
        if TEST_DB == "postgresql":
            if pg_available is not True:
                skip_or_fail(f"PostgreSQL is not reachable at {PG_ADMIN_URL}: {pg_available}")
            return pg_database(f"chat_test_live_{uuid.uuid4().hex[:8]}")
        return f"sqlite:///{tmp_path_factory.mktemp('db') / 'chat.db'}"

    return make


@pytest.fixture(scope="module")
def live_server(live_database):
    """The Procfile's stack: gunicorn with the eventlet worker, on a free port."""
    server = servers.gunicorn("eventlet", env={"DATABASE_URL": live_database()}).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def chromium_path():
    path = shutil.which("chromium") or ("/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None)
    if not path:
        skip_or_fail("Debian's chromium is not installed (apt-get install -y chromium fonts-noto-cjk)")
    return path


@pytest.fixture
def people(app):
    """Signed-in people with a socket each (tests.test_everyday.Person), closed at the end."""
    from tests.test_everyday import Person

    made = []

    def make(name):
        person = Person(app, name)
        made.append(person)
        return person

    yield make
    for person in made:
        person.close()


def _utf8_safe(value):
    """`value` with lone surrogates written as escapes, recursively."""
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, dict):
        return {key: _utf8_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_utf8_safe(item) for item in value)
    return value


@pytest.hookimpl(wrapper=True)
def pytest_report_to_serializable(config, report):
    """pytest-xdist sends each report from its worker as UTF-8: the hostile-value tests log and
    fail with lone surrogates (room names, payloads), which would crash the worker instead."""
    return _utf8_safe((yield))


def pytest_collection_modifyitems(config, items):
    """The PostgreSQL pass leaves out what does not depend on the database (marked `once`)."""
    if TEST_DB != "postgresql":
        return
    once = [item for item in items if item.get_closest_marker("once")]
    if once:
        items[:] = [item for item in items if not item.get_closest_marker("once")]
        config.hook.pytest_deselected(items=once)
