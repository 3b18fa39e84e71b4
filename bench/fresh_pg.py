"""Print the URL of a fresh, empty PostgreSQL database for one benchmark run.

    DATABASE_URL=$(python bench/fresh_pg.py postgresql://postgres@127.0.0.1:5432/chat_bench)

Creates `<name>_<pid of the caller>` after dropping every earlier `<name>_*` database (runs do
not overlap), so each run starts with no history, as SQLite runs get a fresh file.

BENCH_PG_SETTINGS="name=value …" sets PostgreSQL settings for that database (ALTER DATABASE …
SET), for a variant of compare.sh: `--variant "pg-async:project DATABASE_URL=…
BENCH_PG_SETTINGS=synchronous_commit=off"`.
"""

import os
import re
import sys

from sqlalchemy import create_engine, text

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from chat.config import database_url  # noqa: E402


def settings(spec):
    """[(name, value)] of "name=value …"; SystemExit for anything else."""
    pairs = []
    for item in spec.split():
        name, sep, value = item.partition("=")
        if not sep or not re.fullmatch(r"[a-z_][a-z0-9_.]*", name):
            raise SystemExit(f"BENCH_PG_SETTINGS: {item!r} is not name=value")
        pairs.append((name, value))
    return pairs


def quoted(value):
    return "'" + value.replace("'", "''") + "'"


def main(url):
    base, name = url.rsplit("/", 1)
    asked = settings(os.environ.get("BENCH_PG_SETTINGS", ""))
    fresh = f"{name}_{os.getppid()}"
    engine = create_engine(database_url(base + "/postgres"), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        query = text("SELECT datname FROM pg_database WHERE datname LIKE :p")
        old = conn.execute(query, {"p": name + "\\_%"}).scalars()
        for db in list(old):
            conn.execute(text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{fresh}"'))
        for setting, value in asked:
            conn.execute(text(f'ALTER DATABASE "{fresh}" SET {setting} = {quoted(value)}'))
    engine.dispose()
    print(f"{base}/{fresh}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "postgresql://postgres@127.0.0.1:5432/chat_bench")
