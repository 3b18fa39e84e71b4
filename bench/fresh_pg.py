"""Print the URL of a fresh, empty PostgreSQL database for one benchmark run.

    DATABASE_URL=$(python bench/fresh_pg.py postgresql://postgres@127.0.0.1:5432/chat_bench)

Creates `<name>_<pid of the caller>` after dropping every earlier `<name>_*` database (runs do
not overlap), so each run starts with no history, as SQLite runs get a fresh file.
"""

import os
import sys

from sqlalchemy import create_engine, text

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from chat.config import database_url  # noqa: E402


def main(url):
    base, name = url.rsplit("/", 1)
    fresh = f"{name}_{os.getppid()}"
    engine = create_engine(database_url(base + "/postgres"), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        query = text("SELECT datname FROM pg_database WHERE datname LIKE :p")
        old = conn.execute(query, {"p": name + "\\_%"}).scalars()
        for db in list(old):
            conn.execute(text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{fresh}"'))
    engine.dispose()
    print(f"{base}/{fresh}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "postgresql://postgres@127.0.0.1:5432/chat_bench")
