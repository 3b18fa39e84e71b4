"""Safe defaults: secrets, CORS, headers, language, and the deploy files."""

import json
import logging
import re
import shlex
import ssl
from pathlib import Path

import pytest

from chat import create_app
from chat.config import Config, ConfigError, TestConfig
from chat.extensions import socketio
from tests.accounts import register

ROOT = Path(__file__).resolve().parent.parent


def test_production_refuses_to_start_without_secret_key(monkeypatch):
    monkeypatch.setenv("CHAT_ENV", "production")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app(Config())


def test_production_starts_with_secret_key(monkeypatch):
    monkeypatch.setenv("CHAT_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "s3cret-from-env")
    assert create_app(Config()).config["SECRET_KEY"] == "s3cret-from-env"


def test_development_generates_a_key_with_a_warning(monkeypatch):
    monkeypatch.delenv("CHAT_ENV", raising=False)
    monkeypatch.delenv("SECRET_KEY", raising=False)
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logging.getLogger("chat").addHandler(handler)
    try:
        app = create_app(Config())
    finally:
        logging.getLogger("chat").removeHandler(handler)
    assert len(app.config["SECRET_KEY"]) >= 32
    assert any("SECRET_KEY is not set" in r.getMessage() and r.levelname == "WARNING" for r in records)


def test_bad_limit_in_the_environment_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("CHAT_MAX_MESSAGE_LENGTH", "lots")
    with pytest.raises(ConfigError, match="CHAT_MAX_MESSAGE_LENGTH must be an integer"):
        Config()


def test_limits_are_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("CHAT_MAX_MESSAGE_LENGTH", "123")
    monkeypatch.setenv("CHAT_MAX_ROOMS_PER_CONNECTION", "7")
    monkeypatch.setenv("CHAT_MAX_HTTP_BUFFER_SIZE", "65536")
    monkeypatch.setenv("CHAT_CORS_ORIGINS", "https://a.example, https://b.example")
    config = Config()
    assert config.CHAT_MAX_MESSAGE_LENGTH == 123
    assert config.CHAT_MAX_ROOMS_PER_CONNECTION == 7
    assert config.CHAT_MAX_HTTP_BUFFER_SIZE == 65536
    assert config.CHAT_CORS_ORIGINS == ["https://a.example", "https://b.example"]
    create_app(TestConfig(CHAT_MAX_HTTP_BUFFER_SIZE=65536))
    assert socketio.server.eio.max_http_buffer_size == 65536


def test_the_postgresql_pool_is_sized_from_the_environment(monkeypatch):
    from chat.extensions import db

    monkeypatch.setenv("CHAT_DB_POOL_SIZE", "12")
    monkeypatch.setenv("CHAT_DB_MAX_OVERFLOW", "3")
    monkeypatch.setenv("CHAT_DB_POOL_TIMEOUT", "7")
    # No connection is opened: the engine and its pool are built, not used.
    app = create_app(TestConfig(SQLALCHEMY_DATABASE_URI="postgresql+pg8000://postgres@127.0.0.1:9/none"))
    with app.app_context():
        pool = db.engine.pool
        assert (pool.size(), pool._max_overflow, pool._timeout) == (12, 3, 7)
    with app.app_context():  # SQLite (its own pools) takes none of it
        sqlite = create_app(TestConfig())
    with sqlite.app_context():
        assert "pool_size" not in sqlite.config["SQLALCHEMY_ENGINE_OPTIONS"]
    monkeypatch.setenv("CHAT_DB_POOL_SIZE", "0")
    with pytest.raises(ConfigError, match="CHAT_DB_POOL_SIZE must be at least 1"):
        Config()


def test_the_postgresql_read_pool_is_its_own_sized_from_the_environment(monkeypatch):
    """Pages of history are read through autocommit connections of a pool of their own, which
    goes when the app's engine is disposed; SQLite reads through the request's session."""
    from sqlalchemy import event

    from chat.database import _read_engine
    from chat.extensions import db

    monkeypatch.setenv("CHAT_DB_READ_POOL_SIZE", "4")
    monkeypatch.setenv("CHAT_DB_POOL_TIMEOUT", "7")
    app = create_app(TestConfig(SQLALCHEMY_DATABASE_URI="postgresql+pg8000://postgres@127.0.0.1:9/none"))
    with app.app_context():
        reads = _read_engine()
        assert reads is not db.engine and _read_engine() is reads
        assert reads.url == db.engine.url
        assert (reads.pool.size(), reads.pool._max_overflow, reads.pool._timeout) == (4, 0, 7)
        disposed = []
        event.listen(reads, "engine_disposed", lambda *_: disposed.append(True))
        db.engine.dispose()
        assert disposed == [True]
    sqlite = create_app(TestConfig())
    with sqlite.app_context():
        assert _read_engine() is None
    monkeypatch.setenv("CHAT_DB_READ_POOL_SIZE", "0")
    with pytest.raises(ConfigError, match="CHAT_DB_READ_POOL_SIZE must be at least 1"):
        Config()


@pytest.mark.parametrize("raw", ["-1", "nan", "inf", "11", "1ms", "0.5"])
def test_the_answer_wait_is_bounded_whole_milliseconds(monkeypatch, raw):
    """CHAT_DB_ANSWER_WAIT_MS blocks the whole process while it waits: 0 to 10 whole ms (poll's unit)."""
    assert Config().CHAT_DB_ANSWER_WAIT_MS == 2
    monkeypatch.setenv("CHAT_DB_ANSWER_WAIT_MS", "3")
    assert Config().CHAT_DB_ANSWER_WAIT_MS == 3
    monkeypatch.setenv("CHAT_DB_ANSWER_WAIT_MS", raw)
    with pytest.raises(ConfigError, match="CHAT_DB_ANSWER_WAIT_MS must be"):
        Config()


@pytest.mark.parametrize("raw", ["-1", "1001", "many", "2.5"])
def test_kept_prepared_statements_are_a_bounded_count(monkeypatch, raw):
    assert Config().CHAT_DB_PREPARED_STATEMENTS == 32
    monkeypatch.setenv("CHAT_DB_PREPARED_STATEMENTS", "0")  # behind a pooler that drops them
    assert Config().CHAT_DB_PREPARED_STATEMENTS == 0
    monkeypatch.setenv("CHAT_DB_PREPARED_STATEMENTS", raw)
    with pytest.raises(ConfigError, match="CHAT_DB_PREPARED_STATEMENTS must be"):
        Config()


def test_pages_send_security_headers(app):
    response = app.test_client().get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"


def test_page_has_no_inline_script(app):
    client = app.test_client()
    register(client, "scripted")
    html = client.get("/").get_data(as_text=True)
    assert 'id="messages"' in html
    for attrs, body in re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S):
        assert "src=" in attrs or 'type="application/json"' in attrs, attrs
        if body.strip():
            json.loads(body)  # the translations block is data, not code


@pytest.mark.parametrize(
    "header,lang,word",
    [
        ("ja,en;q=0.5", "ja", "ログイン"),
        ("en-US,en;q=0.9", "en", "Log in"),
        ("fr-FR", "en", "Log in"),
    ],
)
def test_language_follows_accept_language(app, header, lang, word):
    html = app.test_client().get("/login", headers={"Accept-Language": header}).get_data(as_text=True)
    assert f'<html lang="{lang}">' in html and word in html


def test_language_switch_is_remembered(app):
    client = app.test_client()
    register(client, "polyglot")
    html = client.get("/?lang=en", headers={"Accept-Language": "ja"}).get_data(as_text=True)
    assert '<html lang="en">' in html and "Connect" in html
    html = client.get("/", headers={"Accept-Language": "ja"}).get_data(as_text=True)
    assert '<html lang="en">' in html
    html = client.get("/?lang=ja").get_data(as_text=True)
    assert '<html lang="ja">' in html


def test_health_and_api(app):
    client = app.test_client()
    assert client.get("/health").get_json() == {"status": "healthy", "database": "ok"}
    assert client.get("/api").get_json() == {"message": "SocketIO Test Backend is running"}


def procfile_command():
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.startswith("web:"):
            return shlex.split(line[len("web:") :])
    raise AssertionError("Procfile has no web: line")


def dockerfile_lines():
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]


def test_dockerfile_runs_the_procfile_command():
    cmd = [line for line in dockerfile_lines() if line.startswith("CMD ")]
    assert len(cmd) == 1
    assert json.loads(cmd[0][4:]) == procfile_command()
    assert procfile_command()[:5] == ["gunicorn", "-k", "eventlet", "-w", "1"]


def test_dockerfile_is_slim_non_root_with_healthcheck_and_the_committed_client():
    lines = dockerfile_lines()
    froms = [line for line in lines if line.startswith("FROM ")]
    assert len(froms) == 1 and re.match(r"FROM python:3\.\d+-slim$", froms[0])
    # The browser's client is static/vendor from the checkout (no npm stage; .dockerignore keeps it).
    assert not any("npm" in line for line in lines)
    assert "COPY static ./static" in lines
    assert "static/vendor" not in (ROOT / ".dockerignore").read_text()
    users = [line for line in lines if line.startswith("USER ")]
    assert users and users[-1] != "USER root"
    health = [line for line in lines if line.startswith("HEALTHCHECK")]
    assert health and "/health" in health[0]
    assert "EXPOSE 8000" in lines and any("PORT=8000" in line for line in lines)
    # everything the app imports at run time is copied in
    copied = " ".join(line for line in lines if line.startswith("COPY "))
    for needed in ("requirements.txt", "wsgi.py", "gunicorn.conf.py", "chat", "migrations", "templates", "static"):
        assert needed in copied


def test_socket_io_client_is_a_pinned_npm_dependency_and_committed():
    package = json.loads((ROOT / "package.json").read_text())
    assert package["dependencies"]["socket.io-client"].lstrip("~^").startswith("4.8")
    lock = json.loads((ROOT / "package-lock.json").read_text())
    assert lock["packages"]["node_modules/socket.io-client"]["version"].startswith("4.8")
    assert "static/vendor" not in (ROOT / ".gitignore").read_text()  # tests/test_deploy.py checks the copy


def test_login_page_offers_both_languages_and_keeps_next(app):
    html = app.test_client().get("/login?next=/rooms").get_data(as_text=True)
    links = re.findall(r'<a href="([^"]+)" lang="(ja|en)"', html)
    assert {lang for _, lang in links} == {"ja", "en"}
    for href, lang in links:
        assert "next=/rooms" in href.replace("%2F", "/") and f"lang={lang}" in href


@pytest.mark.parametrize(
    "query, ssl_context, verify, hostname",
    [
        ("", None, None, None),
        ("?sslmode=prefer", None, None, None),
        ("?sslmode=disable", False, None, None),
        ("?sslmode=require", "context", ssl.CERT_NONE, False),
        ("?sslmode=verify-ca", "context", ssl.CERT_REQUIRED, False),
        ("?sslmode=verify-full&application_name=chat", "context", ssl.CERT_REQUIRED, True),
    ],
)
def test_libpq_sslmode_in_database_url_becomes_pg8000s_ssl_context(query, ssl_context, verify, hostname):
    from sqlalchemy.engine import make_url

    from chat.database import pg8000_ssl

    url, context = pg8000_ssl(make_url("postgresql+pg8000://u:p%40ss@db.example:5432/chat" + query))
    rest = "?application_name=chat" if "application_name" in query else ""
    assert url.render_as_string(hide_password=False) == "postgresql+pg8000://u:p%40ss@db.example:5432/chat" + rest
    if ssl_context == "context":
        assert (context.verify_mode, context.check_hostname) == (verify, hostname)
    else:
        assert context is ssl_context


def test_an_unknown_sslmode_is_refused_clearly():
    with pytest.raises(ConfigError, match="sslmode must be one of"):
        create_app(TestConfig(SQLALCHEMY_DATABASE_URI="postgresql+pg8000://postgres@127.0.0.1:9/none?sslmode=on"))


@pytest.mark.parametrize("sslmode", [None, "disable", "require"])
def test_the_app_connects_with_the_sslmode_it_was_given(pg_available, sslmode):
    """No sslmode (pg8000 tries TLS, then plain) and disable always connect; require connects
    over TLS or not at all (the machine's PostgreSQL has TLS off): the context reached the driver."""
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    from chat.config import database_url
    from chat.extensions import db
    from tests.conftest import PG_ADMIN_URL, skip_or_fail

    if pg_available is not True:
        skip_or_fail(f"PostgreSQL is not reachable at {PG_ADMIN_URL}: {pg_available}")
    url = database_url(PG_ADMIN_URL) + (f"?sslmode={sslmode}" if sslmode else "")
    app = create_app(TestConfig(SQLALCHEMY_DATABASE_URI=url))
    with app.app_context():
        assert "sslmode" not in str(db.engine.url)
        try:
            with db.engine.connect() as connection:
                server_tls = connection.execute(text("SHOW ssl")).scalar() == "on"
        except DBAPIError as exc:
            assert sslmode == "require" and "SSL" in str(exc), exc
            return
        finally:
            db.engine.dispose()
        assert sslmode != "require" or server_tls
        if sslmode == "disable":
            with db.engine.connect() as connection:
                mine = text("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
                assert connection.execute(mine).scalar() is False
            db.engine.dispose()


def test_the_socket_timeout_follows_the_ping_round_and_must_outlast_it(monkeypatch):
    monkeypatch.setenv("CHAT_PING_INTERVAL", "10")
    monkeypatch.setenv("CHAT_PING_TIMEOUT", "5")
    assert Config().CHAT_SOCKET_TIMEOUT == 30  # a ping round and 15 s
    monkeypatch.setenv("CHAT_SOCKET_TIMEOUT", "0")
    assert Config().CHAT_SOCKET_TIMEOUT == 0  # no limit
    monkeypatch.setenv("CHAT_SOCKET_TIMEOUT", "15")
    with pytest.raises(ConfigError, match="CHAT_SOCKET_TIMEOUT must be longer"):
        Config()
