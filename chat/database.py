"""Database engine settings per backend."""

import functools
import os
import ssl
import threading
from contextlib import contextmanager

from flask import current_app
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url

from . import pgwire
from .config import INSTANCE_DIR, ConfigError, env_int
from .extensions import db

SQLITE_SYNCHRONOUS = os.environ.get("CHAT_SQLITE_SYNCHRONOUS", "NORMAL").strip().upper() or "NORMAL"
if SQLITE_SYNCHRONOUS not in ("OFF", "NORMAL", "FULL", "EXTRA"):
    raise ConfigError(f"CHAT_SQLITE_SYNCHRONOUS must be OFF, NORMAL, FULL or EXTRA, got {SQLITE_SYNCHRONOUS!r}")
SQLITE_AUTOCHECKPOINT = env_int("CHAT_SQLITE_AUTOCHECKPOINT", None, 0)


def configure_database(app):
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    if uri.startswith("sqlite:///") and not uri.startswith("sqlite:////:memory:"):
        INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
    if not uri.startswith("sqlite"):
        options = app.config["SQLALCHEMY_ENGINE_OPTIONS"] = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
        options.setdefault("pool_size", app.config["CHAT_DB_POOL_SIZE"])
        options.setdefault("max_overflow", app.config["CHAT_DB_MAX_OVERFLOW"])
        options.setdefault("pool_timeout", app.config["CHAT_DB_POOL_TIMEOUT"])
    if uri.startswith("postgresql+pg8000://"):
        url, ssl_context = pg8000_ssl(make_url(uri))
        app.config["SQLALCHEMY_DATABASE_URI"] = url.render_as_string(hide_password=False)
        if ssl_context is not None:
            options["connect_args"] = {**options.get("connect_args", {}), "ssl_context": ssl_context}


@contextmanager
def read_connection():
    """A connection for reads that need no transaction of their own: a page of history (its
    messages, then their uploads, reactions and mentions; each query sees what is committed).

    PostgreSQL: an autocommit connection from a pool of its own (CHAT_DB_READ_POOL_SIZE), so
    pg8000 sends each SELECT alone, one round trip, where a transaction costs two (BEGIN with the
    SELECT, then ROLLBACK; chat/pgwire.py): most of what a join costs there (BENCHMARKS.md). It is a pool of its own
    because autocommit set on a pooled connection is undone on its return, with two more round
    trips. Elsewhere (SQLite, whose driver begins no transaction for a SELECT): the request's
    session connection.
    """
    engine = _read_engine()
    if engine is None:
        yield db.session.connection()
        return
    with engine.connect() as connection:
        yield connection


_read_engine_lock = threading.Lock()


def _read_engine():
    engine = current_app.extensions.get("chat_read_engine", False)
    if engine is not False:
        return engine
    with _read_engine_lock:
        engine = current_app.extensions.get("chat_read_engine", False)
        if engine is not False:
            return engine
        main = db.engine
        engine = None
        if main.dialect.name == "postgresql":
            config = current_app.config
            options = dict(config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
            options.update(pool_size=config["CHAT_DB_READ_POOL_SIZE"], max_overflow=0, isolation_level="AUTOCOMMIT")
            engine = create_engine(main.url, **options)
            # Tests and forks dispose of the app's engine: this one goes with it.
            event.listen(main, "engine_disposed", lambda *_: engine.dispose())
        current_app.extensions["chat_read_engine"] = engine
        return engine


SSL_PARAMETERS = ("sslmode", "sslrootcert", "sslcert", "sslkey")
SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")


def pg8000_ssl(url):
    """libpq's TLS parameters of a PostgreSQL URL (`?sslmode=require`, as hosting providers
    give them) as pg8000's `ssl_context`, which takes no `sslmode`: the URL without them, and
    the context (None: pg8000's own behaviour).

    - disable: no TLS (False).
    - allow, prefer, or no sslmode: None: TLS when the server offers it, unverified, else plain
      (`pg8000_connect` below: pg8000's own default built a context, ~30 ms of CPU, per connection).
    - require: TLS or no connection, the server's certificate not verified (libpq's require).
    - verify-ca: the certificate verified against `sslrootcert` (else the system's CAs).
    - verify-full: that, and the host name checked.
    `sslcert` and `sslkey` give a client certificate. One context per app, made here.
    """
    params = {name: url.query[name] for name in SSL_PARAMETERS if name in url.query}
    if not params:
        return url, None
    url = url.difference_update_query(SSL_PARAMETERS)
    mode = params.get("sslmode", "prefer")
    if isinstance(mode, tuple) or mode not in SSL_MODES:
        raise ConfigError(f"DATABASE_URL: sslmode must be one of {', '.join(SSL_MODES)}, got {mode!r}")
    if mode == "disable":
        return url, False
    if mode in ("allow", "prefer"):
        if "sslcert" in params:
            raise ConfigError("DATABASE_URL: a client certificate (sslcert) needs sslmode=require or stricter")
        return url, None
    context = ssl.create_default_context(cafile=params.get("sslrootcert"))
    context.check_hostname = mode == "verify-full"
    if mode == "require":
        context.verify_mode = ssl.CERT_NONE
    if "sslcert" in params:
        context.load_cert_chain(params["sslcert"], params.get("sslkey"))
    return url, context


# libpq's "prefer" for pg8000, made once: TLS with this unverified context when the server offers
# it, else plain. pg8000 given no context does the same but builds a default one, loading the
# system's certificates it then does not check, for each new connection: ~30 ms of CPU that
# stalled every client at each pool growth (a connect storm on PostgreSQL spent a fifth of its
# joins' CPU there). A server that refused TLS once is then asked in plain until the process ends.
_plain_servers = set()


@functools.cache
def _unverified_context():
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


@event.listens_for(Engine, "do_connect")
def pg8000_connect(dialect, connection_record, cargs, cparams):
    """pg8000: a connection that sends a statement in one round trip (chat/pgwire.py); with no
    ssl_context (no sslmode, allow, prefer), TLS as above."""
    if dialect.driver != "pg8000":
        return None
    if "ssl_context" in cparams:
        return pgwire.Connection(*cargs, **cparams)
    server = cparams.get("unix_sock") or (cparams.get("host", "localhost"), cparams.get("port", 5432))
    if server not in _plain_servers:
        try:
            return pgwire.Connection(*cargs, ssl_context=_unverified_context(), **cparams)
        except dialect.loaded_dbapi.InterfaceError as exc:
            if "refuses SSL" not in str(exc):
                raise
            _plain_servers.add(server)
    return pgwire.Connection(*cargs, ssl_context=False, **cparams)


@event.listens_for(Engine, "connect")
def sqlite_pragmas(dbapi_connection, connection_record):
    """SQLite: write-ahead log (readers never wait for the writer), durable enough, and wait
    for a lock instead of failing when another process writes."""
    if type(dbapi_connection).__module__ != "sqlite3":
        return
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA synchronous={SQLITE_SYNCHRONOUS}")
    if SQLITE_AUTOCHECKPOINT is not None:
        cursor.execute(f"PRAGMA wal_autocheckpoint={SQLITE_AUTOCHECKPOINT}")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
