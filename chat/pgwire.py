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
"""

import pg8000
from pg8000.converters import make_params
from pg8000.core import (
    BIND,
    DESCRIBE,
    EXECUTE_MSG,
    NULL_BYTE,
    PARSE,
    STATEMENT,
    SYNC_MSG,
    Context,
    H_pack,
    _flush,
    _write,
    i_pack,
)

UNNAMED = NULL_BYTE  # the unnamed statement and the unnamed portal


class Connection(pg8000.Connection):
    """The connection `pg8000.connect` makes (the one SQLAlchemy's dialect uses, which raises
    IntegrityError for a unique violation), statements pipelined (see the module's docstring)."""

    def execute_unnamed(self, statement, vals=(), oids=(), stream=None):
        if stream is not None:
            return super().execute_unnamed(statement, vals=vals, oids=oids, stream=stream)
        encoding = self._client_encoding
        params = make_params(self.py_types, vals)

        parse = bytearray(UNNAMED + statement.encode(encoding) + NULL_BYTE + H_pack(len(oids)))
        for oid in oids:
            parse += i_pack(0 if oid == -1 else oid)
        # Bind: the unnamed portal of the unnamed statement, every parameter in text format (no
        # format codes), and every result column in text format.
        bind = bytearray(UNNAMED + UNNAMED + H_pack(0) + H_pack(len(params)))
        for value in params:
            if value is None:
                bind += i_pack(-1)
            else:
                data = value.encode(encoding)
                bind += i_pack(len(data)) + data
        bind += H_pack(0)

        context = Context(statement)
        self._send_message(PARSE, parse)
        self._send_message(DESCRIBE, STATEMENT + UNNAMED)
        self._send_message(BIND, bind)
        _write(self._sock, EXECUTE_MSG)
        _write(self._sock, SYNC_MSG)
        _flush(self._sock)
        self.handle_messages(context)
        return context
