"""The benchmark's helper scripts (bench/): what they leave in the database is what a run measures."""

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.once


def seed(db_file, *args):
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{db_file}", "SECRET_KEY": "x" * 32, "LOG_LEVEL": "WARNING"}
    env.pop("CHAT_ENV", None)
    return subprocess.run(
        [sys.executable, str(ROOT / "bench" / "seed_history.py"), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


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
