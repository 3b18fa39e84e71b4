"""The transaction messages are stored in.

Storing a message is the one write every chat message makes, always under history's write lock,
so the process keeps one connection per database for it: no pool checkout, no ORM session and
no pool reset per message (together they cost more than the INSERT and the commit, ~12 % of the
server's CPU at S1 in BENCHMARKS.md). The connection is opened at the first message, closed when
the engine is disposed, rolled back after an error the database reports (a retried client_id,
a full disk) and replaced after any other (a network error, a restarted database): one failed
write, never a stuck connection. After CHAT_DB_PING_AFTER idle seconds it is checked with a
round trip before use, so a database restarted while the chat was quiet costs no message.

The connection is in autocommit mode: a message stored by one INSERT is its own transaction. On
PostgreSQL that is one round trip, where an implicit transaction makes it two (BEGIN with the
INSERT, then COMMIT; chat/pgwire.py); on SQLite it spares SQLAlchemy's commit call per message. Writes that need a
transaction (mentions, the order across nodes) send BEGIN and COMMIT themselves.

On PostgreSQL the connection keeps its statements prepared (CHAT_DB_PREPARED_STATEMENTS,
chat/pgwire.py): the server parses and plans the message INSERT once per connection, not per
message. Under eventlet or gevent it also waits for each answer in place, up to
CHAT_DB_ANSWER_WAIT_MS, instead of yielding to the loop (chat/pgwire.py, AnswerWait): on a busy
node a yield costs a whole turn of the loop, and every message stored waits for it.
"""

import logging
import time
from contextlib import contextmanager

from flask import current_app
from sqlalchemy import event
from sqlalchemy.exc import DatabaseError
from sqlalchemy.pool import SingletonThreadPool, StaticPool

from .. import metrics
from ..asyncmode import unpatched_poll
from ..errors import ChatError
from ..extensions import db

log = logging.getLogger("chat.writer")


class _Writer:
    """The app's message-writing connection (held in app.extensions; the app has one engine)."""

    def __init__(self, engine, ping_after, answer_wait_ms=0, prepared_statements=0):
        self.engine = engine
        self.ping_after = ping_after
        pg8000 = engine.dialect.driver == "pg8000"
        # PostgreSQL under eventlet or gevent: wait this long for an answer without yielding.
        self.answer_wait_ms = answer_wait_ms if pg8000 else 0
        self.prepared_statements = prepared_statements if pg8000 else 0
        self.connection = None
        self.used = 0.0
        # Not where the pool hands every checkout of a thread the same connection (an in-memory
        # SQLite database): the sessions would share the writer's autocommit mode.
        self.autocommit = engine.dialect.name in ("postgresql", "sqlite") and not isinstance(
            engine.pool, SingletonThreadPool | StaticPool
        )
        event.listen(engine, "engine_disposed", self.close)

    def connect(self):
        """The connection, opened if needed; after ping_after idle seconds, checked first with a
        round trip, so that a database restarted meanwhile costs no message."""
        now = time.monotonic()
        if self.connection is not None and now - self.used >= self.ping_after:
            try:
                self.connection.exec_driver_sql("SELECT 1")
                self.connection.rollback()
            except Exception:  # noqa: BLE001 - any failure: replace it
                log.info("the message connection went away while idle; opening a new one")
                self.close()
        if self.connection is None:
            connection = self.engine.connect()
            if self.autocommit:
                # Never returned to the pool (see close), so the setting is not undone there.
                connection = connection.execution_options(isolation_level="AUTOCOMMIT")
            self.connection = connection
            driver_connection = connection.connection.dbapi_connection
            if self.prepared_statements > 0 and hasattr(driver_connection, "keep_prepared"):
                driver_connection.keep_prepared(self.prepared_statements)
            self._wait_for_answers(connection)
        self.used = now
        return self.connection

    def _wait_for_answers(self, connection):
        """Each answer of this connection is waited for in place, up to answer_wait_ms
        (chat/pgwire.py, AnswerWait): a stored message then costs no turn of a busy loop."""
        poll = unpatched_poll() if self.answer_wait_ms > 0 else None
        driver_connection = connection.connection.dbapi_connection
        if poll is not None and hasattr(driver_connection, "wait_for_answers"):
            driver_connection.wait_for_answers(poll, self.answer_wait_ms, metrics.DB_ANSWER_WAITS.inc)

    def close(self, *_):
        """Drop the connection without returning it to the pool (engine disposed, or broken)."""
        connection, self.connection = self.connection, None
        if connection is not None:
            try:
                connection.invalidate()
            except Exception:  # noqa: BLE001 - it is being dropped anyway
                log.debug("closing the writer connection failed", exc_info=True)

    def abandon(self, exc):
        """After an error: undo the transaction, and drop the connection unless the database
        itself reported the error (a constraint, a full disk) on a connection known to be sound.

        After a failed commit SQLAlchemy's transaction is over but the driver's may still hold
        the rows: both are rolled back, or the next message's commit would store them after all.
        """
        connection = self.connection
        try:
            # SQLAlchemy's transaction (also when the error left it inactive, pending rollback),
            # then the driver's: a failed commit ends only SQLAlchemy's. On the rare error path
            # the second rollback may repeat the first; it costs nothing when idle.
            connection.rollback()
            if not connection.invalidated:
                connection.connection.rollback()
        except Exception:  # noqa: BLE001 - broken: the next message opens a new connection
            log.warning("the message connection is broken; opening a new one", exc_info=True)
            self.close()
            return
        if connection.invalidated or not isinstance(exc, DatabaseError | ChatError):
            # A network error, a timeout, a killed green thread: the connection's state is unknown.
            # (A ChatError is the app's own refusal, after a statement that completed.)
            self.close()


def _writer():
    writer = current_app.extensions.get("chat_writer")
    if writer is None:
        config = current_app.config
        writer = current_app.extensions["chat_writer"] = _Writer(
            db.engine,
            config["CHAT_DB_PING_AFTER"],
            config["CHAT_DB_ANSWER_WAIT_MS"],
            config["CHAT_DB_PREPARED_STATEMENTS"],
        )
    return writer


@contextmanager
def message_transaction(session=False, atomic=True):
    """Yield a Connection in a new transaction; commit it on leaving, roll it back on an error.

    session=True: the request's ORM session instead (an upload stored with its message is an
    ORM object added to that session, and must be committed in the same transaction).
    atomic=False: the caller sends one statement, atomic by itself; on PostgreSQL it then goes
    without BEGIN and COMMIT.
    Callers hold history's write lock: the process's connection is never shared.
    """
    if session:
        try:
            yield db.session.connection()
            db.session.commit()
        except BaseException:
            db.session.rollback()
            raise
        return
    writer = _writer()
    connection = writer.connect()
    explicit = writer.autocommit and atomic
    try:
        if explicit:
            connection.exec_driver_sql("BEGIN")
        yield connection
        if explicit:
            connection.exec_driver_sql("COMMIT")
        elif not writer.autocommit:
            connection.commit()
    except BaseException as exc:
        writer.abandon(exc)
        raise
