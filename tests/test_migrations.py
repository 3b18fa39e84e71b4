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
from tests.conftest import PG_ADMIN_URL, pg_database, skip_or_fail

TABLES = {"users", "rooms", "messages", "room_members", "mentions", "nodes", "connections", "alembic_version"}


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
        assert set(inspect(db.engine).get_table_names()) == TABLES
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
        assert diff == [], f"models and migrations differ: {diff}"
        downgrade(revision="base")
        assert set(inspect(db.engine).get_table_names()) == {"alembic_version"}
        upgrade()
        assert TABLES <= set(inspect(db.engine).get_table_names())
        db.engine.dispose()
