"""The full-text index of messages, per database: objects Alembic's models do not describe.

SQLite: an FTS5 table over messages.text with the trigram tokenizer (it matches inside words,
so Japanese, which has no spaces between words, is searchable too), kept in step by triggers.
PostgreSQL: a GIN index over to_tsvector('simple', text) for word search.
"""

SQLITE_FTS = "messages_fts"
PG_INDEX = "ix_messages_text_search"

SQLITE_CREATE = [
    f"CREATE VIRTUAL TABLE {SQLITE_FTS} USING fts5(text, content='messages', content_rowid='id', tokenize='trigram')",
    f"""CREATE TRIGGER {SQLITE_FTS}_ai AFTER INSERT ON messages BEGIN
  INSERT INTO {SQLITE_FTS}(rowid, text) VALUES (new.id, new.text);
END""",
    f"""CREATE TRIGGER {SQLITE_FTS}_ad AFTER DELETE ON messages BEGIN
  INSERT INTO {SQLITE_FTS}({SQLITE_FTS}, rowid, text) VALUES ('delete', old.id, old.text);
END""",
    f"""CREATE TRIGGER {SQLITE_FTS}_au AFTER UPDATE OF text ON messages BEGIN
  INSERT INTO {SQLITE_FTS}({SQLITE_FTS}, rowid, text) VALUES ('delete', old.id, old.text);
  INSERT INTO {SQLITE_FTS}(rowid, text) VALUES (new.id, new.text);
END""",
    f"INSERT INTO {SQLITE_FTS}({SQLITE_FTS}) VALUES ('rebuild')",
]
SQLITE_DROP = [
    f"DROP TRIGGER IF EXISTS {SQLITE_FTS}_ai",
    f"DROP TRIGGER IF EXISTS {SQLITE_FTS}_ad",
    f"DROP TRIGGER IF EXISTS {SQLITE_FTS}_au",
    f"DROP TABLE IF EXISTS {SQLITE_FTS}",
]
PG_CREATE = [f"CREATE INDEX IF NOT EXISTS {PG_INDEX} ON messages USING gin (to_tsvector('simple', text))"]
PG_DROP = [f"DROP INDEX IF EXISTS {PG_INDEX}"]


def create_statements(dialect):
    return {"sqlite": SQLITE_CREATE, "postgresql": PG_CREATE}.get(dialect, [])


def drop_statements(dialect):
    return {"sqlite": SQLITE_DROP, "postgresql": PG_DROP}.get(dialect, [])


def include_object(obj, name, type_, reflected, compare_to):
    """Alembic autogenerate: leave the search objects (and FTS5's shadow tables) alone."""
    if name and (name.startswith(SQLITE_FTS) or name == PG_INDEX):
        return False
    return True
