"""PostgreSQL without sslmode (or allow, prefer): TLS when the server offers it, else plain, with
one TLS context per process (chat/database.py pg8000_connect), never one per new connection."""

import socket
import ssl
import struct
import threading

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

import chat.database
from chat.config import database_url
from tests.conftest import PG_ADMIN_URL, skip_or_fail
from tests.push_service import self_signed

SSL_REQUEST = struct.pack("!ii", 8, 80877103)


@pytest.fixture
def count_default_contexts(monkeypatch):
    calls = []
    original = ssl.create_default_context

    def counting(*args, **kwargs):
        calls.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(ssl, "create_default_context", counting)
    return calls


def test_a_server_without_tls_is_reached_in_plain_and_no_context_is_built_per_connection(
    pg_available, count_default_contexts, monkeypatch
):
    if pg_available is not True:
        skip_or_fail(f"PostgreSQL is not reachable at {PG_ADMIN_URL}: {pg_available}")
    monkeypatch.setattr(chat.database, "_plain_servers", set())
    engine = create_engine(database_url(PG_ADMIN_URL), poolclass=NullPool)  # a new connection each time
    try:
        for _ in range(3):
            with engine.connect() as connection:
                mine = text("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
                tls = connection.execute(mine).scalar()
                offered = connection.execute(text("SHOW ssl")).scalar() == "on"
                assert tls is offered
    finally:
        engine.dispose()
    assert count_default_contexts == []
    if not offered:
        assert len(chat.database._plain_servers) == 1  # asked once, then plain


class TlsOnlyServer:
    """A stand-in that says yes to PostgreSQL's SSLRequest, completes the TLS handshake and records
    the startup message it then reads (over TLS), then hangs up: enough to see what the client did."""

    def __init__(self, tmp_path):
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(*self_signed(tmp_path))
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.seen = []  # per connection: (first 8 bytes, the startup message read over TLS)
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                try:
                    first = conn.recv(8)
                    conn.sendall(b"S")
                    with self.context.wrap_socket(conn, server_side=True) as tls:
                        self.seen.append((first, tls.recv(4096)))
                except (OSError, ssl.SSLError) as exc:
                    self.seen.append((b"", repr(exc).encode()))

    def close(self):
        self.listener.close()


def test_a_server_that_offers_tls_gets_tls_unverified_from_one_context(tmp_path, count_default_contexts):
    server = TlsOnlyServer(tmp_path)
    url = f"postgresql+pg8000://someone@127.0.0.1:{server.port}/chat"
    engine = create_engine(url, poolclass=NullPool)
    try:
        for _ in range(2):
            with pytest.raises(DBAPIError):  # the stand-in hangs up after the startup message
                engine.connect()
    finally:
        engine.dispose()
        server.close()
    assert len(server.seen) == 2
    for first, startup in server.seen:
        assert first == SSL_REQUEST
        assert b"user\x00someone\x00" in startup  # a self-signed certificate was accepted: prefer checks nothing
    assert count_default_contexts == []
    assert ("127.0.0.1", server.port) not in chat.database._plain_servers
