"""pg8000 with one round trip per statement.

pg8000 (1.31) runs a statement with parameters in three exchanges with the server, each ended by
a Sync and waited for: Parse; then Describe and Bind; then Execute. SQLAlchemy sends every
statement that way, COMMIT and ROLLBACK included. Under eventlet each wait is a turn of the loop,
and a busy loop first runs every green thread that is ready (the writers of hundreds of frames)
before it looks at the database's socket again: a stored message waited three turns where
SQLite's driver waits none, and a join's history page nine.

This connection sends the same messages, Parse, Describe, Bind, Execute and one Sync, in one
write, and reads the answers once: what libpq's PQexecParams does. The protocol allows it: the
server answers them in order, and after an error it skips to the Sync, so an error is reported
as before, once, and the connection is ready for the next statement. No Flush between them:
the server answers in one send at the Sync. Parameters are encoded before anything is written
(a value pg8000 cannot send fails with nothing half sent). COPY (a stream) goes pg8000's way.

BEGIN waits for nothing either: it is kept and sent in the same write as the transaction's
first statement (BEGIN; SELECT …; COMMIT was three round trips, now two). Until then the
connection counts as in a transaction, so pg8000 sends no second BEGIN; a ROLLBACK then drops
the kept BEGIN and sends nothing (the server never began). Both answers are read, in order,
before either's error is raised.

A connection may also wait for its answers without yielding (`wait_for_answers`): see
AnswerWait for why the message connection does.

And it may keep its statements prepared (`keep_prepared`): the first run of a statement parses it
under a name of its own, and later runs send only Bind, Describe (of the portal: the columns to
decode), Execute and Sync. The server then neither parses nor plans the statement again: for the
message INSERT, whose check of the sender and room makes it costly to plan, that halved the
round trip on loopback (docs/benchmarks/changes.md, "The message INSERT kept prepared"). A name
is remembered only once its first run succeeded; a failed first run's name is never used again
(the server may or may not hold it), and no more than `limit` names are ever given.
"""

import time
from io import BufferedRWPair
from select import POLLIN
from socket import SocketIO

import pg8000
from pg8000.converters import make_params
from pg8000.core import (
    BIND,
    DESCRIBE,
    EXECUTE_MSG,
    NULL_BYTE,
    PARSE,
    PORTAL,
    QUERY,
    STATEMENT,
    SYNC_MSG,
    Context,
    H_pack,
    _flush,
    _write,
    i_pack,
)
from pg8000.exceptions import InterfaceError

UNNAMED = NULL_BYTE  # the unnamed statement and the unnamed portal


BEGINS = ("begin transaction", "BEGIN")  # pg8000's own, and SQLAlchemy's exec_driver_sql("BEGIN")


class AnswerWait:
    """Wait, blocking the process, up to `bound_ms` milliseconds for a statement's answer.

    Under eventlet or gevent a read that finds nothing yields to the loop, and the loop looks at
    the socket again only after running every green thread that is ready. On a busy node that is
    hundreds of writers sending frames: each round trip of a stored message then costs a whole
    turn of the loop, where SQLite's INSERT costs none, and a message reaches its room a turn
    later (docs/benchmarks/changes.md, "Waiting for the database's answer"). A local database
    answers an INSERT in a fraction of a millisecond: waiting for it in place, with the process's
    own poll, is cheaper than the turn. Every read of the answer waits (it may come in parts),
    all within the one bound of the statement (poll counts whole milliseconds: a part after the
    first waits for the whole milliseconds left, rounded down). When the answer misses the bound,
    the read yields as before and the next statements do not wait: 1 after a miss, 3 after two
    in a row, 7, 15, 31, then SKIP. A local database that misses now and then (a slow fsync)
    loses little of the wait, and one always slower than the bound (a remote one) costs
    1/(SKIP + 1) of a bound per statement.

    poll: the process's own `select.poll` (chat/asyncmode.unpatched_poll); count: called once per
    statement with "answered" (read within the bound), "missed" (not) or "skipped" (not waited
    for, after a miss), for a metric.
    """

    SKIP = 63

    __slots__ = ("poller", "pending", "bound_ms", "count", "skip", "misses", "deadline")

    def __init__(self, poll, sock, bound_ms, count=None):
        self.poller = poll()
        self.poller.register(sock.fileno(), POLLIN)
        self.pending = getattr(sock, "pending", None)  # TLS: bytes decrypted already, none on the socket
        self.bound_ms = int(bound_ms)
        self.count = count or (lambda outcome: None)
        self.skip = 0  # statements not to wait for
        self.misses = 0  # misses in a row (statements not waited for between them do not count)
        self.deadline = None  # while a statement's answer is waited for: (monotonic deadline, first read done)

    def sent(self):
        """A statement was sent: wait for its answer, unless after a recent miss."""
        if self.skip:
            self.skip -= 1
            self.deadline = None
            self.count("skipped")
        else:
            self.deadline = (time.monotonic() + self.bound_ms / 1000.0, False)

    def before_read(self):
        """Before a read from the socket: wait until it has data, or until the bound is spent."""
        if self.deadline is None or (self.pending is not None and self.pending()):
            return
        deadline, later = self.deadline
        # The first read waits the whole bound (the poll measures it, whatever else the process
        # did since the send); a later part the whole milliseconds left (0: a look, no wait).
        wait_ms = max(0, int((deadline - time.monotonic()) * 1000.0)) if later else self.bound_ms
        if self.poller.poll(wait_ms):
            self.deadline = (deadline, True)
            return
        self.misses += 1
        self.deadline, self.skip = None, min(2**self.misses - 1, self.SKIP)
        self.count("missed")

    def done(self):
        """The statement's answer is read (or its reading failed): count it, stop waiting."""
        if self.deadline is not None:
            self.deadline, self.misses = None, 0
            self.count("answered")


class _WaitingReader(SocketIO):
    """The connection socket's reading side, each read preceded by the AnswerWait."""

    def __init__(self, sock, wait):
        super().__init__(sock, "rb")
        self.wait = wait

    def readinto(self, buffer):
        self.wait.before_read()
        return super().readinto(buffer)


class Connection(pg8000.Connection):
    """The connection `pg8000.connect` makes (the one SQLAlchemy's dialect uses, which raises
    IntegrityError for a unique violation), statements pipelined (see the module's docstring)."""

    _begin = None  # a BEGIN not sent yet: (its Query message, its Context)
    answer_wait = None  # an AnswerWait, called after each request is written (the message connection)
    prepared = None  # {(statement, oids): its name on the server}, when statements are kept prepared
    names_left = 0  # names that may still be given to statements

    def keep_prepared(self, limit):
        """Keep up to `limit` statements prepared on the server, by name (see the module's
        docstring). Behind a pooler that does not keep a session's prepared statements (PgBouncer
        in transaction mode before 1.21), leave it off."""
        self.prepared = {}
        self.names_left = int(limit)

    def wait_for_answers(self, poll, bound_ms, count=None):
        """Wait up to `bound_ms` milliseconds for each answer without yielding (AnswerWait);
        poll: the process's own select.poll. Call between statements (no answer is buffered)."""
        wait = AnswerWait(poll, self._usock, bound_ms, count)
        self._sock = BufferedRWPair(_WaitingReader(self._usock, wait), SocketIO(self._usock, "wb"))
        self.answer_wait = wait

    @property
    def _in_transaction(self):
        return self._begin is not None or super()._in_transaction

    def rollback(self):
        if self._begin is not None and not super()._in_transaction:
            self._begin = None  # BEGIN then ROLLBACK: nothing to tell the server
            return
        super().rollback()

    def execute_simple(self, statement):
        query = _message(QUERY, statement.encode(self._client_encoding) + NULL_BYTE)
        if statement in BEGINS:
            if self._begin is None:
                self._begin = (query, Context(statement))
            return self._begin[1]
        context = Context(statement)
        self._exchange(query, context)
        return context

    def execute_unnamed(self, statement, vals=(), oids=(), stream=None):
        if stream is not None:
            self._send_begin()
            return super().execute_unnamed(statement, vals=vals, oids=oids, stream=stream)
        encoding = self._client_encoding
        params = make_params(self.py_types, vals)
        key = name = None
        if self.prepared is not None:
            key = (statement, tuple(oids))
            name = self.prepared.get(key)
        kept = name is not None  # prepared before: no Parse; the portal's Describe gives the columns
        if not kept and key is not None and self.names_left > 0:
            self.names_left -= 1
            name = b"chat_%d%s" % (self.names_left, NULL_BYTE)
        # Bind: the unnamed portal of the statement, every parameter in text format (no format
        # codes), and every result column in text format.
        bind = bytearray(UNNAMED + (name or UNNAMED) + H_pack(0) + H_pack(len(params)))
        for value in params:
            if value is None:
                bind += i_pack(-1)
            else:
                data = value.encode(encoding)
                bind += i_pack(len(data)) + data
        bind += H_pack(0)

        context = Context(statement)
        if kept:
            request = b"".join((_message(BIND, bind), _message(DESCRIBE, PORTAL + UNNAMED), EXECUTE_MSG, SYNC_MSG))
            self._exchange(request, context)
            return context
        parse = bytearray((name or UNNAMED) + statement.encode(encoding) + NULL_BYTE + H_pack(len(oids)))
        for oid in oids:
            parse += i_pack(0 if oid == -1 else oid)
        request = b"".join(
            (
                _message(PARSE, parse),
                _message(DESCRIBE, STATEMENT + (name or UNNAMED)),
                _message(BIND, bind),
                EXECUTE_MSG,
                SYNC_MSG,
            )
        )
        self._exchange(request, context)
        if name is not None:
            self.prepared[key] = name  # its first run succeeded: the server holds it
        return context

    def _exchange(self, request, context):
        """Write a kept BEGIN and the request at once; read the answers in order. An error is
        raised after both answers are read (the next statement must not find one unread)."""
        if self._sock is None:
            raise InterfaceError("connection is closed")
        begin, self._begin = self._begin, None
        if begin is not None:
            request = begin[0] + request
        _write(self._sock, request)
        _flush(self._sock)
        wait = self.answer_wait
        if wait is not None:
            wait.sent()
        try:
            if begin is not None:
                try:
                    self._answer(begin[1])
                except BaseException as exc:
                    if exc is begin[1].error:  # BEGIN's answer was read to its end: the next one follows
                        self._answer(context)
                    raise
            self._answer(context)
        finally:
            if wait is not None:
                wait.done()  # pg8000's own exchanges (prepared statements) never wait

    def _answer(self, context):
        """Read one answer up to ReadyForQuery. Anything raised before its end (a value a
        converter refused, a network error, a timeout) leaves the rest unread: the connection is
        closed then, so its next use says "connection is closed" (SQLAlchemy then drops it) and
        never reads an old answer for a new statement."""
        try:
            self.handle_messages(context)
        except BaseException as exc:
            if exc is not context.error:
                self._abandon()
            raise

    def _abandon(self):
        usock, self._usock, self._sock = self._usock, None, None
        if usock is not None:
            try:
                usock.close()
            except OSError:
                pass

    # pg8000's prepared statements write to the socket themselves: a kept BEGIN goes first.
    def prepare_statement(self, statement, oids=None):
        self._send_begin()
        return super().prepare_statement(statement, oids)

    def execute_named(self, statement_name_bin, params, columns, input_funcs, statement):
        self._send_begin()
        return super().execute_named(statement_name_bin, params, columns, input_funcs, statement)

    def close_prepared_statement(self, statement_name_bin):
        self._send_begin()
        return super().close_prepared_statement(statement_name_bin)

    def _send_begin(self):
        begin, self._begin = self._begin, None
        if begin is not None:
            if self._sock is None:
                raise InterfaceError("connection is closed")
            _write(self._sock, begin[0])
            _flush(self._sock)
            self._answer(begin[1])


def _message(code, data):
    return code + i_pack(len(data) + 4) + data
