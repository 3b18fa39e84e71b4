"""Database engine settings per backend."""
import os

from sqlalchemy import event
from sqlalchemy.engine import Engine

from .config import INSTANCE_DIR, ConfigError, env_int

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
