"""chat/pgwire.py: pg8000 sending a statement in one round trip (Parse, Describe, Bind, Execute,
Sync in one write). What it must keep: the same rows, the same errors, and after any error a
connection ready for the next statement; a value that cannot be sent fails with nothing sent."""

import io
import string

import pg8000
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError, IntegrityError

from chat import pgwire
from chat.config import database_url
from chat.extensions import db
from tests.conftest import PG_ADMIN_URL, TEST_DB, skip_or_fail

# The driver tests reach the machine's PostgreSQL whichever pass runs them: `once` (the SQLite pass).
once = pytest.mark.once


class CountingSocket:
    """pg8000's socket file, counting the writes it sends (each flush is one request) and the
    bytes it writes."""

    def __init__(self, inner):
        self.inner = inner
        self.flushes = 0
        self.written = b""

    def write(self, data):
        self.written += bytes(data)
        return self.inner.write(data)

    def flush(self):
        self.flushes += 1
        return self.inner.flush()

    def __getattr__(self, name):
        return getattr(self.inner, name)


def connect(cls=pgwire.Connection):
    url = make_url(PG_ADMIN_URL)
    return cls(url.username, host=url.host, port=url.port or 5432, database=url.database, password=url.password)


@pytest.fixture
def conn(pg_available):
    if pg_available is not True:
        skip_or_fail(f"PostgreSQL is not reachable at {PG_ADMIN_URL}: {pg_available}")
    connection = connect()
    connection._sock = CountingSocket(connection._sock)
    yield connection
    connection.close()


@pytest.fixture
def stock(pg_available):
    if pg_available is not True:
        skip_or_fail(f"PostgreSQL is not reachable at {PG_ADMIN_URL}: {pg_available}")
    connection = connect(pg8000.Connection)
    yield connection
    connection.close()


def run(connection, sql, *args):
    cursor = connection.cursor()
    cursor.execute(sql, args)
    return [list(row) for row in cursor.fetchall()] if cursor.description else cursor.rowcount


@once
def test_a_statement_with_parameters_is_one_round_trip_and_a_transaction_two(conn, stock):
    conn.autocommit = True
    before = conn._sock.flushes
    assert run(conn, "SELECT %s::int + 1, %s::text", 41, "答え") == [[42, "答え"]]
    assert conn._sock.flushes - before == 1

    conn.autocommit = False
    run(conn, "CREATE TEMP TABLE t (id serial PRIMARY KEY, body text)")
    conn.commit()
    before = conn._sock.flushes
    assert run(conn, "INSERT INTO t (body) VALUES (%s)", "x") == 1  # BEGIN and the INSERT in one write
    conn.commit()
    assert conn._sock.flushes - before == 2
    assert b"H\x00\x00\x00\x04" not in conn._sock.written  # no Flush: the server answers once, at Sync

    # pg8000's own connection takes three for the same SELECT.
    stock.autocommit = True
    stock._sock = CountingSocket(stock._sock)
    run(stock, "SELECT %s::int + 1, %s::text", 41, "答え")
    assert stock._sock.flushes == 3


@once
@pytest.mark.parametrize(
    "sql, args, code",
    [
        ("SELEC %s", (1,), "42601"),  # Parse fails: a syntax error
        ("SELECT %s::int", ("abc",), "22P02"),  # Bind fails: not an integer
        ("SELECT 1 / %s", (0,), "22012"),  # Execute fails: division by zero
        ("SELECT %s::text", ("a\x00b",), "22021"),  # text cannot hold NUL
    ],
)
def test_an_error_at_any_step_is_raised_once_and_the_connection_goes_on(conn, sql, args, code):
    for autocommit in (True, False):
        conn.autocommit = autocommit
        with pytest.raises(pg8000.DatabaseError) as raised:
            run(conn, sql, *args)
        assert raised.value.args[0]["C"] == code
        if not autocommit:
            with pytest.raises(pg8000.DatabaseError, match="25P02"):  # the transaction has failed
                run(conn, "SELECT 1")
            conn.rollback()
        assert run(conn, "SELECT %s::text", "next") == [["next"]]
        conn.rollback()


def committed(sql, *args):
    """What another connection sees (committed rows only)."""
    other = connect(pg8000.Connection)
    other.autocommit = True
    try:
        return run(other, sql, *args)
    finally:
        other.close()


@pytest.fixture
def table(conn):
    """A table of one int column, committed (other connections see it), dropped after."""
    conn.autocommit = True
    name = f"pgwire_{id(conn)}"
    run(conn, f"CREATE TABLE {name} (n int)")
    yield name
    conn.rollback()
    conn.autocommit = True
    run(conn, f"DROP TABLE {name}")


@once
def test_a_kept_begin_goes_with_the_next_statement_and_a_rollback_before_it_sends_nothing(conn, table):
    # The writer's way: an autocommit connection that sends BEGIN and COMMIT itself.
    before = conn._sock.flushes
    run(conn, "BEGIN")
    run(conn, "BEGIN")  # one BEGIN kept, not two
    assert conn._sock.flushes == before  # nothing sent yet
    run(conn, f"INSERT INTO {table} VALUES (%s)", 1)
    assert conn._sock.flushes == before + 1
    assert committed(f"SELECT count(*) FROM {table}") == [[0]]  # inside the transaction
    run(conn, "COMMIT")
    assert committed(f"SELECT count(*) FROM {table}") == [[1]]

    # BEGIN, then a failure before any statement: the rollback sends nothing, and the
    # next statement is not swallowed by a transaction nobody commits.
    run(conn, "BEGIN")
    sent = conn._sock.flushes
    conn.rollback()
    assert conn._sock.flushes == sent
    run(conn, f"INSERT INTO {table} VALUES (%s)", 2)
    assert committed(f"SELECT count(*) FROM {table}") == [[2]]

    # An error later in a transaction begun that way: raised once; the transaction has failed
    # until the rollback; nothing of it stays.
    run(conn, "BEGIN")
    run(conn, f"INSERT INTO {table} VALUES (%s)", 3)
    with pytest.raises(pg8000.DatabaseError) as raised:
        run(conn, f"INSERT INTO {table} VALUES (%s::int)", "x")
    assert raised.value.args[0]["C"] == "22P02"
    with pytest.raises(pg8000.DatabaseError, match="25P02"):
        run(conn, "SELECT 1")
    conn.rollback()
    assert committed(f"SELECT count(*) FROM {table}") == [[2]]
    assert run(conn, "SELECT %s::text", "next") == [["next"]]

    # pg8000's own BEGIN (autocommit off) is kept the same way.
    conn.autocommit = False
    with pytest.raises(pg8000.DatabaseError) as raised:
        run(conn, "SELEC %s", 1)  # BEGIN and a syntax error in one write
    assert raised.value.args[0]["C"] == "42601"
    conn.rollback()
    assert run(conn, f"SELECT count(*) FROM {table} WHERE n = %s", 2) == [[1]]


@once
@pytest.mark.parametrize(
    "sql, args",
    [("SELECT %s::text", ("lone \udc80 surrogate",)), ("SELECT '\udc80' || %s", ("x",))],
    ids=["in-a-value", "in-the-statement"],
)
def test_what_cannot_be_encoded_fails_with_nothing_sent(conn, sql, args):
    conn.autocommit = True
    sent = len(conn._sock.written)
    with pytest.raises(UnicodeEncodeError):
        run(conn, sql, *args)
    assert len(conn._sock.written) == sent
    assert run(conn, "SELECT %s::text", "next") == [["next"]]  # nothing half written went with it


@once
def test_nulls_many_parameters_large_values_and_copy(conn):
    conn.autocommit = True
    assert run(conn, "SELECT %s::int IS NULL, %s::text", None, None) == [[True, None]]
    many = list(range(2000))
    placeholders = ", ".join(["%s::int"] * len(many))
    assert run(conn, f"SELECT ARRAY[{placeholders}]", *many) == [[many]]
    big = "長" * 500_000  # 1.5 MB in UTF-8: more than one socket buffer each way
    assert run(conn, "SELECT %s::text, length(%s::text)", big, big) == [[big, 500_000]]
    run(conn, "CREATE TEMP TABLE c (n int)")
    run(conn, "INSERT INTO c SELECT generate_series(1, 3)")
    out = io.BytesIO()
    conn.cursor().execute("COPY c TO STDOUT", stream=out)  # a stream: pg8000's own way
    assert out.getvalue() == b"1\n2\n3\n"


TEXT = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=200)


@once
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(st.one_of(TEXT, st.integers(-(2**62), 2**62), st.none(), st.booleans()), min_size=1, max_size=8))
def test_the_same_rows_as_pg8000s_own_connection(conn, stock, values):
    conn.autocommit = stock.autocommit = True
    sql = "SELECT " + ", ".join("%s" for _ in values)
    assert run(conn, sql, *values) == run(stock, sql, *values)


@once
def test_the_apps_engine_uses_it_and_tls_stays_as_configured(pg_available):
    if pg_available is not True:
        skip_or_fail(f"PostgreSQL is not reachable at {PG_ADMIN_URL}: {pg_available}")
    for connect_args in ({}, {"ssl_context": False}):
        engine = create_engine(database_url(PG_ADMIN_URL), connect_args=connect_args)
        try:
            with engine.connect() as connection:
                assert type(connection.connection.dbapi_connection) is pgwire.Connection
                assert connection.execute(text("SELECT :a || :b"), {"a": "a", "b": string.ascii_letters}).scalar() == (
                    "a" + string.ascii_letters
                )
                # A unique violation is SQLAlchemy's IntegrityError, as with pg8000's own connection.
                connection.execute(text("CREATE TEMP TABLE u (k text PRIMARY KEY)"))
                connection.execute(text("INSERT INTO u VALUES (:k)"), {"k": "one"})
                with pytest.raises(IntegrityError):
                    connection.execute(text("INSERT INTO u VALUES (:k)"), {"k": "one"})
                connection.rollback()
        finally:
            engine.dispose()


def server_statements(connection):
    """The connection's own prepared statements, as the server lists them: {name: statement}."""
    return dict(run(connection, "SELECT name, statement FROM pg_prepared_statements"))


@once
def test_kept_statements_are_parsed_once_and_give_the_same_rows(conn, table):
    """The message connection's way (keep_prepared): a statement's first run parses it under a
    name, later runs send no Parse, and the rows, their types and NULLs come back as before."""
    conn.keep_prepared(2)
    insert = f"INSERT INTO {table} (n) VALUES (%s) RETURNING n, now() IS NOT NULL, %s::text, %s::timestamptz"
    first = run(conn, insert, 1, None, "2026-12-01 10:00:00+00")
    assert first[0][:3] == [1, True, None] and first[0][3].year == 2026
    assert list(server_statements(conn)) == ["chat_1"]
    conn._sock.written = b""
    assert run(conn, insert, 2, "二", None) == [[2, True, "二", None]]
    assert b"P\x00" not in conn._sock.written[:1] and conn._sock.written[:1] == b"B"  # Bind first: no Parse
    assert run(conn, f"SELECT n FROM {table} ORDER BY n") == [[1], [2]]  # the second and last name
    assert run(conn, "SELECT %s::int * 2", 21) == [[42]]  # no name left: unnamed, as before
    assert sorted(server_statements(conn)) == ["chat_0", "chat_1"]
    assert run(conn, f"DELETE FROM {table} WHERE n > %s", 1) == 1  # no rows back (NoData) on the kept path too
    assert run(conn, f"DELETE FROM {table} WHERE n > %s", 0) == 1


@once
def test_a_kept_statement_survives_a_rollback_and_its_errors(conn, table):
    conn.keep_prepared(4)
    run(conn, f"ALTER TABLE {table} ADD PRIMARY KEY (n)")
    insert = f"INSERT INTO {table} (n) VALUES (%s)"
    run(conn, "BEGIN")
    run(conn, insert, 1)  # parsed under a name inside a transaction that is rolled back
    conn.rollback()
    run(conn, "ROLLBACK")
    assert run(conn, insert, 1) == 1  # the name outlives the transaction (not transactional)
    for _ in range(2):
        with pytest.raises(pg8000.DatabaseError, match="23505"):  # a unique violation at Execute
            run(conn, insert, 1)
    assert run(conn, insert, 2) == 1
    with pytest.raises(pg8000.DatabaseError, match="42601"):  # its first run failed: not remembered
        run(conn, "SELEC %s", 1)
    with pytest.raises(pg8000.DatabaseError, match="42601"):
        run(conn, "SELEC %s", 1)
    assert [name for name, sql in server_statements(conn).items() if "SELEC " in sql] == []
    assert [key for key in conn.prepared if "SELEC " in key[0]] == []  # each try took a new name
    assert run(conn, f"SELECT count(*) FROM {table}") == [[2]]


def test_a_stored_message_is_one_round_trip_and_a_join_three(client_factory, app):
    """The app on PostgreSQL (the suite's PostgreSQL pass): the budget issue 23 measured."""
    if TEST_DB != "postgresql":
        pytest.skip("the app on PostgreSQL: CHAT_TEST_DB=postgresql (the suite's PostgreSQL pass runs this)")
    sockets = []

    def count(dbapi_connection, _record):
        dbapi_connection._sock = CountingSocket(dbapi_connection._sock)
        sockets.append(dbapi_connection._sock)

    def exchanges():
        return sum(s.flushes for s in sockets)

    event.listen(Engine, "connect", count)
    try:
        with app.app_context():
            db.engine.dispose()  # the writer's and the reads' connections go with it
        a, b = client_factory(), client_factory()
        for c in (a, b):
            c.emit("join_room", {"room": "r"})
        assert a.emit("room_message", {"room": "r", "message": "warm"}, callback=True)["ok"]
        before = exchanges()
        assert a.emit("room_message", {"room": "r", "message": "hello"}, callback=True)["ok"]
        assert exchanges() - before == 1  # the INSERT
        before = exchanges()
        client_factory().emit("join_room", {"room": "r"})
        assert exchanges() - before == 3  # the page, its reactions, its threads' summaries
    finally:
        event.remove(Engine, "connect", count)


def test_the_message_connection_waits_for_its_answers_under_a_patched_loop(client_factory, app, monkeypatch):
    """The app on PostgreSQL: where eventlet or gevent patched select (here: stood in for by the
    plain poll), the writer's connection waits for each answer (chat_db_answer_waits_total), and
    messages, a refused one and a retried client_id among them, are stored and acked as before."""
    if TEST_DB != "postgresql":
        pytest.skip("the app on PostgreSQL: CHAT_TEST_DB=postgresql (the suite's PostgreSQL pass runs this)")
    import select

    from chat import metrics
    from chat.messages import writer

    monkeypatch.setattr(writer, "unpatched_poll", lambda: select.poll)
    with app.app_context():
        db.engine.dispose()  # a new writer connection, opened with the wait
    # The longest bound, and no statements skipped after a miss (a loaded test machine's commit
    # may take longer).
    monkeypatch.setitem(app.config, "CHAT_DB_ANSWER_WAIT_MS", 10)
    monkeypatch.setattr(pgwire.AnswerWait, "SKIP", 0)
    monkeypatch.delitem(app.extensions, "chat_writer", raising=False)
    answered, missed = (metrics.DB_ANSWER_WAITS.metric.labels(outcome) for outcome in ("answered", "missed"))
    before = answered._value.get(), missed._value.get()
    a, b = client_factory(), client_factory()
    for c in (a, b):
        c.emit("join_room", {"room": "waits"})
    acks = [a.emit("room_message", {"room": "waits", "message": f"m{i}"}, callback=True) for i in range(5)]
    assert all(ack["ok"] for ack in acks) and [x["id"] for x in acks] == sorted(x["id"] for x in acks)
    first = a.emit("room_message", {"room": "waits", "message": "once", "client_id": "c-1"}, callback=True)
    again = a.emit("room_message", {"room": "waits", "message": "once", "client_id": "c-1"}, callback=True)
    assert again == {"ok": True, "id": first["id"], "duplicate": True}
    refused = a.emit("room_message", {"room": "waits", "message": "x\x00y"}, callback=True)
    assert refused["ok"] is False
    assert a.emit("room_message", {"room": "waits", "message": "after"}, callback=True)["ok"]
    waited = answered._value.get() - before[0], missed._value.get() - before[1]
    assert waited[0] >= 1 and sum(waited) == 8, waited  # one outcome per INSERT (the NUL is refused before)
    texts = [p["args"][0].get("text") for p in b.get_received() if p["name"] == "room_message"]
    assert [t for t in texts if t and not t.endswith("room.")] == [f"m{i}" for i in range(5)] + ["once", "after"]


@once
def test_pg8000s_prepared_statements_run_inside_a_kept_begin(conn, table):
    run(conn, "BEGIN")
    conn.prepare(f"INSERT INTO {table} VALUES (:n)").run(n=1)
    conn.rollback()
    assert committed(f"SELECT count(*) FROM {table}") == [[0]]  # rolled back with the rest


@once
def test_an_answer_left_half_read_closes_the_connection_and_sqlalchemy_replaces_it(pg_available):
    """A converter that raises in the middle of an answer (here one registered for int4) leaves
    the rest of it unread: the connection is closed, never asked again (pg8000's own would read
    the old answer's rest as the next statement's)."""
    if pg_available is not True:
        skip_or_fail(f"PostgreSQL is not reachable at {PG_ADMIN_URL}: {pg_available}")

    def refuse(text):
        raise ValueError(f"no {text}")

    engine = create_engine(database_url(PG_ADMIN_URL), pool_size=1, max_overflow=0)
    try:
        connection = engine.connect()
        raw = connection.connection.dbapi_connection
        raw.register_in_adapter(23, refuse)
        with pytest.raises(ValueError, match="no 7"):
            connection.exec_driver_sql("SELECT 7::int, generate_series(1, 3)")
        with pytest.raises(pg8000.InterfaceError, match="connection is closed"):
            raw.cursor().execute("SELECT %s::text", ("next",))
        with pytest.raises(DBAPIError) as raised:
            connection.close()  # its rollback finds the connection closed: a disconnect
        assert raised.value.connection_invalidated
        with engine.connect() as connection:  # the pool's one connection, replaced
            assert connection.execute(text("SELECT :v"), {"v": "next"}).scalar() == "next"
    finally:
        engine.dispose()


def test_an_answer_wait_waits_for_the_answer_and_skips_more_after_each_miss_in_a_row():
    """AnswerWait on a socket pair, one outcome per statement: data there, `answered`; nothing
    within the bound, `missed`, then statements not waited for: 1, 3, 7, 15, 31, then SKIP
    after misses in a row (a database always slower than the bound costs a bound once per
    SKIP + 1 statements); an answer starts the count again."""
    import select
    import socket

    ours, theirs = socket.socketpair()
    seen = []

    def statement():
        wait.sent()
        wait.before_read()
        wait.before_read()  # a second part: not waited for after a miss
        wait.done()
        return seen[-1]

    try:
        wait = pgwire.AnswerWait(select.poll, ours, 1, seen.append)
        outcomes = [statement() for _ in range(8 + 1 + 3 + 7 + 15 + 31 + 63 + 63)]  # 8 misses
        missed = [n for n, outcome in enumerate(outcomes) if outcome == "missed"]
        assert [b - a - 1 for a, b in zip(missed, missed[1:], strict=False)] == [1, 3, 7, 15, 31, 63, 63]
        assert outcomes.count("answered") == 0
        seen.clear()
        wait.bound_ms = 60_000  # data that is there is found at once: the bound is never reached
        theirs.send(b"x")
        while statement() == "skipped":
            pass
        assert seen[-1] == "answered"
        assert statement() == "answered"  # the byte is still unread: found at once again
        wait.before_read()  # a read of no statement of ours (pg8000's own exchanges): no wait
        ours.recv(1)
        wait.bound_ms = 1
        assert [statement() for _ in range(3)] == ["missed", "skipped", "missed"]  # counted from 1 again
    finally:
        ours.close()
        theirs.close()


def test_a_later_part_of_an_answer_waits_only_for_what_is_left_of_the_bound(monkeypatch):
    """The bound is per statement: a part after the first waits for the whole milliseconds left
    (rounded down; none left: a look without waiting), whatever the first read took."""
    polls = []

    class Poller:
        def register(self, fd, events):
            pass

        def poll(self, timeout):
            polls.append(timeout)
            return [(0, 1)]

    clock = iter([100.0, 100.0042, 100.05]).__next__
    monkeypatch.setattr(pgwire.time, "monotonic", clock)
    import socket

    ours, theirs = socket.socketpair()
    try:
        wait = pgwire.AnswerWait(Poller, ours, 10)
        wait.sent()  # at 100.0: the deadline is 100.010
        wait.before_read()  # the first read: the whole bound
        wait.before_read()  # at 100.0042: 5.8 ms left, 5 whole
        wait.before_read()  # at 100.05: none left
        assert polls == [10, 5, 0]
    finally:
        ours.close()
        theirs.close()


def test_an_answer_wait_over_tls_does_not_wait_for_what_is_decrypted_already(tmp_path):
    """Over TLS a read may find its data already decrypted (the rest of a record) while the socket
    itself has nothing: no wait then, and no miss."""
    import select
    import socket
    import ssl
    import threading

    from tests.push_service import self_signed

    cert, key = self_signed(tmp_path)
    server_side = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_side.load_cert_chain(cert, key)
    client_side = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client_side.check_hostname, client_side.verify_mode = False, ssl.CERT_NONE
    ours, theirs = socket.socketpair()
    accepted = {}
    handshake = threading.Thread(target=lambda: accepted.update(s=server_side.wrap_socket(theirs, server_side=True)))
    handshake.start()
    tls = client_side.wrap_socket(ours)
    handshake.join(10)
    seen = []
    try:
        wait = pgwire.AnswerWait(select.poll, tls, 5000, seen.append)
        accepted["s"].sendall(b"ab")  # one record
        wait.sent()
        wait.before_read()
        assert tls.recv(1) == b"a" and tls.pending() == 1
        wait.before_read()  # "b" is decrypted already: a poll would wait the whole bound, then miss
        assert tls.recv(1) == b"b"
        wait.done()
        assert seen == ["answered"]
    finally:
        tls.close()
        accepted["s"].close()


GREEN_ROUND_TRIPS = """
import sys
mode, url, bound = sys.argv[1], sys.argv[2], int(sys.argv[3])
if mode == "eventlet":
    import eventlet
    eventlet.monkey_patch()
    spawn, yield_now = eventlet.spawn, lambda: eventlet.sleep(0)
else:
    from gevent import monkey
    monkey.patch_all()
    import gevent
    spawn, yield_now = gevent.spawn, lambda: gevent.sleep(0)
from sqlalchemy.engine import make_url
from chat import pgwire
from chat.asyncmode import unpatched_poll

u = make_url(url)
connection = pgwire.Connection(u.username, host=u.host, port=u.port or 5432, database=u.database, password=u.password)
outcomes = []
if bound > 0:
    connection.wait_for_answers(unpatched_poll(), bound, outcomes.append)
turns = [0]
running = [True]

def ticker():
    while running[0]:
        turns[0] += 1
        yield_now()

spawn(ticker)
yield_now()
start = turns[0]
for n in range(20):
    cursor = connection.cursor()
    # 5 ms of the server's time: the answer is never there when the read comes right after the
    # write (on a loaded machine a plain SELECT's answer may be, and then nothing yields anyway).
    cursor.execute("SELECT %s::int, pg_sleep(0.005)", (n,))
    assert cursor.fetchone()[0] == n
print(turns[0] - start, outcomes.count("answered"))
running[0] = False
connection.close()
"""


@once
@pytest.mark.parametrize("mode", ["eventlet", "gevent"])
def test_the_message_connection_reads_its_answers_without_a_turn_of_the_loop(pg_available, mode, tmp_path):
    """Under eventlet and gevent a statement's answer is read without yielding when the
    connection waits for answers (every other green thread waits meanwhile: the ticker gets no
    turn, also when the answer comes in parts), and with a turn per round trip when it does not."""
    import subprocess
    import sys
    from pathlib import Path

    if pg_available is not True:
        skip_or_fail(f"PostgreSQL is not reachable at {PG_ADMIN_URL}: {pg_available}")
    script = tmp_path / "green.py"
    script.write_text(GREEN_ROUND_TRIPS)
    root = Path(__file__).resolve().parent.parent

    def turns_and_answers(bound):
        done = subprocess.run(
            [sys.executable, str(script), mode, PG_ADMIN_URL, str(bound)],
            cwd=root,
            env={**__import__("os").environ, "PYTHONPATH": str(root)},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        return [int(n) for n in done.stdout.split()]

    turns, answered = turns_and_answers(0)
    assert turns >= 10 and answered == 0  # a round trip yields (nearly always)
    turns, answered = turns_and_answers(5000)  # a bound no answer misses
    assert answered == 20 and turns == 0, (turns, answered)


@pytest.mark.parametrize("kept", [32, 0])
def test_the_message_connection_keeps_the_insert_prepared(make_app, kept):
    """The app on PostgreSQL: after its first message the writer's connection holds the message
    INSERT under a name (CHAT_DB_PREPARED_STATEMENTS, 0: none), and messages, a refused one and
    a retried client_id among them, are stored and acked as before."""
    if TEST_DB != "postgresql":
        pytest.skip("the app on PostgreSQL: CHAT_TEST_DB=postgresql (the suite's PostgreSQL pass runs this)")
    from chat.extensions import socketio
    from chat.messages.writer import _writer

    app = make_app(CHAT_DB_PREPARED_STATEMENTS=kept)
    a = socketio.test_client(app)
    assert a.emit("join_room", {"room": "r"}, callback=True)["ok"]
    ids = [a.emit("room_message", {"room": "r", "message": f"m{i}"}, callback=True)["id"] for i in range(3)]
    again = a.emit("room_message", {"room": "r", "message": "once", "client_id": "c-1"}, callback=True)
    assert a.emit("room_message", {"room": "r", "message": "once", "client_id": "c-1"}, callback=True) == {
        **again,
        "duplicate": True,
    }
    refused = a.emit("room_message", {"room": "r", "message": "x" * 100_000}, callback=True)
    assert refused["ok"] is False
    assert ids == sorted(ids) and again["id"] > ids[-1]
    with app.app_context():
        writer = _writer().connection
        names = [row[0] for row in writer.exec_driver_sql("SELECT statement FROM pg_prepared_statements")]
    a.disconnect()
    assert any(sql.startswith("INSERT INTO messages") for sql in names) is bool(kept)
