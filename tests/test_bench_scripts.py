"""The benchmark's helper scripts (bench/): what they leave in the database is what a run measures."""

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from chat.config import database_url
from tests.conftest import PG_ADMIN_URL, skip_or_fail

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.once


def bench_script(name, *args, **env):
    """Run bench/<name> as compare.sh does, with `env` added to the environment (None: removed)."""
    environment = {**os.environ, **env}
    return subprocess.run(
        [sys.executable, str(ROOT / "bench" / name), *args],
        cwd=ROOT,
        env={key: value for key, value in environment.items() if value is not None},
        capture_output=True,
        text=True,
        timeout=120,
    )


def seed(db_file, *args):
    env = {"DATABASE_URL": f"sqlite:///{db_file}", "SECRET_KEY": "x" * 32, "LOG_LEVEL": "WARNING", "CHAT_ENV": None}
    return bench_script("seed_history.py", *args, **env)


def test_seed_history_fills_the_load_generators_rooms_and_can_run_twice(tmp_path):
    db_file = tmp_path / "bench.db"
    done = seed(db_file, "30", "--rooms", "4")
    assert done.returncode == 0, done.stderr
    with sqlite3.connect(db_file) as conn:
        rows = conn.execute(
            "SELECT rooms.name, count(messages.id) FROM rooms LEFT JOIN messages ON messages.room_id = rooms.id"
            " GROUP BY rooms.name ORDER BY rooms.name"
        ).fetchall()
    assert rows == [(f"bench-{r}", 30) for r in range(4)]

    # A second run (the next repeat on the same database) adds to the same rooms.
    assert seed(db_file, "5", "--rooms", "4").returncode == 0
    with sqlite3.connect(db_file) as conn:
        assert conn.execute("SELECT count(*) FROM rooms").fetchone() == (4,)
        assert conn.execute("SELECT count(*) FROM messages").fetchone() == (4 * 35,)


def test_seed_history_refuses_what_is_not_a_count(tmp_path):
    done = seed(tmp_path / "bench.db", "many")
    assert done.returncode == 2
    assert "invalid int value" in done.stderr


def fresh_pg(settings):
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/chat_bench_test"
    return bench_script("fresh_pg.py", url, BENCH_PG_SETTINGS=settings)


def test_fresh_pg_gives_an_empty_database_with_the_settings_asked_for(pg_available):
    """A variant of compare.sh can run PostgreSQL with other settings (synchronous_commit=off)."""
    if pg_available is not True:
        skip_or_fail(f"PostgreSQL is not reachable at {PG_ADMIN_URL}: {pg_available}")
    done = fresh_pg("synchronous_commit=off application_name=it's")
    assert done.returncode == 0, done.stderr
    engine = create_engine(database_url(done.stdout.strip()))
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SHOW synchronous_commit")).scalar() == "off"
            assert conn.execute(text("SHOW application_name")).scalar() == "it's"
            assert conn.execute(text("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")).scalar() == 0
    finally:
        engine.dispose()
        admin = create_engine(database_url(PG_ADMIN_URL), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{done.stdout.strip().rsplit("/", 1)[1]}" WITH (FORCE)'))
        admin.dispose()
    refused = fresh_pg("synchronous_commit=off; DROP DATABASE x")
    assert refused.returncode != 0 and "is not name=value" in refused.stderr
