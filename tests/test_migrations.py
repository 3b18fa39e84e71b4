"""The schema comes from Alembic migrations, from empty, on SQLite and on PostgreSQL."""

import os

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect

from chat import create_app
from chat.config import TestConfig, database_url
from chat.extensions import db
from chat.search.schema import PG_INDEX, SQLITE_FTS, include_object
from tests.conftest import PG_ADMIN_URL, pg_database, skip_or_fail

pytestmark = pytest.mark.once  # no database in it: the SQLite pass runs it (conftest.py)

TABLES = {
    "users",
    "rooms",
    "messages",
    "room_members",
    "mentions",
    "nodes",
    "connections",
    "uploads",
    "reactions",
    "user_identities",
    "password_resets",
    "api_tokens",
    "webhooks",
    "audit_log",
    "reports",
    "room_moderators",
    "pins",
    "notification_prefs",
    "push_subscriptions",
    "thread_follows",
    "alembic_version",
}


def model_tables(engine):
    """Tables Alembic's models describe: SQLite's full-text index (FTS5 and its shadow tables) aside."""
    return {name for name in inspect(engine).get_table_names() if not name.startswith(SQLITE_FTS)}


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request, tmp_path, pg_available):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'migrate.db'}"
    if pg_available is not True:
        skip_or_fail(f"PostgreSQL is not reachable at {PG_ADMIN_URL}: {pg_available}")
    return pg_database(f"chat_test_migrations_{os.getpid()}")


def test_migrations_from_empty_match_the_models(empty_database):
    app = create_app(TestConfig(SQLALCHEMY_DATABASE_URI=database_url(empty_database)))
    with app.app_context():
        assert set(inspect(db.engine).get_table_names()) == set()
        upgrade()
        assert model_tables(db.engine) == TABLES
        if db.engine.dialect.name == "sqlite":
            assert SQLITE_FTS in inspect(db.engine).get_table_names()
        else:
            assert PG_INDEX in {ix["name"] for ix in inspect(db.engine).get_indexes("messages")}
        with db.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"include_object": include_object})
            diff = compare_metadata(context, db.metadata)
        assert diff == [], f"models and migrations differ: {diff}"
        downgrade(revision="base")
        assert set(inspect(db.engine).get_table_names()) == {"alembic_version"}
        upgrade()
        assert TABLES <= model_tables(db.engine)
        db.engine.dispose()
