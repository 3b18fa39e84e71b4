"""Messages are stored before they are sent; history on join; paging; idempotent retries."""

from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlalchemy.exc import OperationalError

from chat.extensions import db, socketio
from chat.models import Message
from tests.conftest import TEST_DB
from tests.test_contract import events, sid_of


def histories(client):
    return [r["args"][0] for r in client.get_received() if r["name"] == "history"]


def send(client, room, text, **extra):
    return client.emit("room_message", {"room": room, "message": text, **extra}, callback=True)


def test_a_message_is_stored_with_room_author_text_and_utc_time(app, client_factory):
    a = client_factory()
    a.emit("join_room", {"room": "store"})
    ack = send(a, "store", "保存して <b>")
    with app.app_context():
        row = db.session.get(Message, ack["id"])
        assert row.text == "保存して <b>"
        assert row.author_name == f"guest-{sid_of(a)[:6]}" and row.sender_sid == sid_of(a)
        assert row.created_at.utcoffset().total_seconds() == 0
        assert row.room_id is not None
    g = a.emit("send_message", {"message": "global"}, callback=True)
    with app.app_context():
        assert db.session.get(Message, g["id"]).room_id is None
    assert g["id"] > ack["id"]


def test_join_delivers_the_last_50_oldest_first(client_factory):
    writer = client_factory()
    writer.emit("join_room", {"room": "busy"})
    ids = [send(writer, "busy", f"m{i}")["id"] for i in range(60)]
    reader = client_factory()
    reader.emit("join_room", {"room": "busy"})
    (history,) = histories(reader)
    assert [m["text"] for m in history["messages"]] == [f"m{i}" for i in range(10, 60)]
    assert [m["id"] for m in history["messages"]] == ids[10:]
    assert history["has_more"] is True and history["room"] == "busy"
    first = history["messages"][0]
    assert first["data"] == f"クライアント {sid_of(writer)}: m10" and first["user"]["name"].startswith("guest-")


def test_join_with_since_replays_only_what_was_missed(client_factory):
    writer = client_factory()
    writer.emit("join_room", {"room": "gap"})
    ids = [send(writer, "gap", f"m{i}")["id"] for i in range(5)]
    reader = client_factory()
    reader.emit("join_room", {"room": "gap", "since": ids[1]})
    (history,) = histories(reader)
    assert [m["id"] for m in history["messages"]] == ids[2:]
    assert history["since"] == ids[1] and history["has_more"] is False


def test_get_history_pages_back_and_covers_the_global_channel(client_factory):
    c = client_factory()
    c.emit("join_room", {"room": "pages"})
    ids = [send(c, "pages", f"p{i}")["id"] for i in range(7)]
    gids = [c.emit("send_message", {"message": f"g{i}"}, callback=True)["id"] for i in range(3)]
    page = c.emit("get_history", {"room": "pages", "before": ids[5], "limit": 3}, callback=True)
    assert [m["text"] for m in page["messages"]] == ["p2", "p3", "p4"] and page["has_more"] is True
    page = c.emit("get_history", {"room": "pages", "before": ids[2], "limit": 3}, callback=True)
    assert [m["text"] for m in page["messages"]] == ["p0", "p1"] and page["has_more"] is False
    everyone = c.emit("get_history", {}, callback=True)
    assert [m["id"] for m in everyone["messages"]] == gids and everyone["room"] is None
    since = c.emit("get_history", {"room": None, "since": gids[0]}, callback=True)
    assert [m["text"] for m in since["messages"]] == ["g1", "g2"]


@pytest.mark.parametrize(
    "payload,code",
    [
        ({"since": -1}, "out_of_range"),
        ({"since": 2**70}, "out_of_range"),
        ({"since": "5"}, "invalid_type"),
        ({"since": 1.5}, "invalid_type"),
        ({"since": True}, "invalid_type"),
        ({"before": [1]}, "invalid_type"),
        ({"limit": 0}, "out_of_range"),
        ({"limit": 201}, "out_of_range"),
        ({"limit": "10"}, "invalid_type"),
        ({"since": 1, "before": 5}, "invalid_query"),
        ({"room": "x" * 101}, "too_long"),
        ({"room": 5}, "invalid_type"),
        ("not an object", "invalid_payload"),
    ],
)
def test_bad_history_requests_get_clear_errors(client_factory, payload, code):
    c = client_factory()
    c.emit("join_room", {"room": "r"})
    send(c, "r", "kept")
    ack = c.emit("get_history", payload, callback=True)
    assert ack["ok"] is False and ack["error"]["code"] == code
    assert [p for n, p in events(c) if n == "error"][-1]["code"] == code
    page = c.emit("get_history", {"room": "r"}, callback=True)
    assert [m["text"] for m in page["messages"]] == ["kept"]


def test_join_with_a_bad_since_is_refused_and_joins_nothing(client_factory):
    c = client_factory()
    ack = c.emit("join_room", {"room": "r", "since": -5}, callback=True)
    assert ack["error"]["code"] == "out_of_range"
    assert send(c, "r", "x")["error"]["code"] == "not_in_room"


def test_a_retried_client_id_is_stored_and_delivered_once(app, client_factory):
    a, b = client_factory(), client_factory()
    for c in (a, b):
        c.emit("join_room", {"room": "retry"})
    b.get_received()
    first = send(a, "retry", "once", client_id="abc-123")
    again = send(a, "retry", "once", client_id="abc-123")
    assert again == {"ok": True, "id": first["id"], "duplicate": True}
    delivered = [p for n, p in events(b) if n == "room_message"]
    assert [p["text"] for p in delivered] == ["once"] and delivered[0]["client_id"] == "abc-123"
    with app.app_context():
        assert db.session.execute(db.select(db.func.count(Message.id))).scalar() == 1
    other = send(a, "retry", "twice", client_id="abc-124")
    assert other["id"] > first["id"]


@pytest.mark.parametrize("client_id", ["", "x" * 65, 7, ["a"]])
def test_bad_client_ids_are_refused(client_factory, client_id):
    c = client_factory()
    c.emit("join_room", {"room": "r"})
    assert send(c, "r", "x", client_id=client_id)["error"]["code"] == "invalid_type"


def send_while_commits_fail(app, monkeypatch, client, room, text):
    """Send one message while every commit raises (a full disk); commits work again after.

    On PostgreSQL a lone message is one INSERT in autocommit mode, committed by the server with
    the statement: there the INSERT is what fails."""

    with app.app_context():
        dialect = db.engine.dialect
        execute = dialect.do_execute

        def broken_commit(*_a, **_k):
            raise dialect.loaded_dbapi.OperationalError("database or disk is full")

        def broken_insert(cursor, statement, parameters, context=None):
            if statement.lstrip().upper().startswith(("INSERT INTO MESSAGES", "COMMIT")):
                broken_commit()
            return execute(cursor, statement, parameters, context)

        monkeypatch.setattr(dialect, "do_commit", broken_commit)
        monkeypatch.setattr(dialect, "do_execute", broken_insert)
        ack = send(client, room, text)
    monkeypatch.undo()
    return ack


def test_nothing_is_sent_when_storing_fails(app, client_factory, monkeypatch):
    a, b = client_factory(), client_factory()
    for c in (a, b):
        c.emit("join_room", {"room": "fail"})
    b.get_received()
    ack = send_while_commits_fail(app, monkeypatch, a, "fail", "lost?")
    assert ack["ok"] is False and ack["error"]["code"] == "internal_error"
    assert events(b) == []
    assert send(a, "fail", "works again")["ok"] is True


def test_bounds_past_the_largest_storable_id_are_not_errors(app, client_factory):
    """Ids are 32-bit on PostgreSQL: a huge (valid) bound means "nothing newer" or "from the newest"."""
    c = client_factory()
    c.emit("join_room", {"room": "far"})
    ids = [send(c, "far", f"f{i}")["id"] for i in range(3)]
    for bound in (2**31, 2**40, 2**63 - 1):
        newer = c.emit("get_history", {"room": "far", "since": bound}, callback=True)
        assert newer["ok"] is True and newer["messages"] == [] and newer["has_more"] is False
        older = c.emit("get_history", {"room": "far", "before": bound}, callback=True)
        assert [m["id"] for m in older["messages"]] == ids
        body = app.test_client().get(f"/api/rooms/far/messages?before={bound}").get_json()
        assert [m["id"] for m in body["messages"]] == ids


def test_http_history_api(app, client_factory):
    c = client_factory()
    c.emit("join_room", {"room": "api room"})
    ids = [send(c, "api room", f"h{i}")["id"] for i in range(5)]
    c.emit("send_message", {"message": "everyone"}, callback=True)
    http = app.test_client()
    body = http.get("/api/rooms/api room/messages?limit=2").get_json()
    assert [m["text"] for m in body["messages"]] == ["h3", "h4"] and body["has_more"] is True
    body = http.get(f"/api/rooms/api room/messages?before={ids[3]}&limit=200").get_json()
    assert [m["text"] for m in body["messages"]] == ["h0", "h1", "h2"] and body["has_more"] is False
    body = http.get(f"/api/rooms/api room/messages?since={ids[2]}").get_json()
    assert [m["id"] for m in body["messages"]] == ids[3:]
    assert [m["text"] for m in http.get("/api/messages").get_json()["messages"]] == ["everyone"]


@pytest.mark.parametrize(
    "query,status,code",
    [
        ("limit=201", 400, "invalid_query"),
        ("limit=0", 400, "invalid_query"),
        ("limit=-3", 400, "invalid_query"),
        ("before=abc", 400, "invalid_query"),
        ("before=0", 400, "invalid_query"),
        ("since=99999999999999999999999", 400, "invalid_query"),
        ("since=1&before=3", 400, "invalid_query"),
    ],
)
def test_http_history_rejects_bad_queries(app, query, status, code):
    client = socketio.test_client(app)
    client.emit("join_room", {"room": "q"})
    response = app.test_client().get(f"/api/rooms/q/messages?{query}")
    assert response.status_code == status and response.get_json()["error"]["code"] == code
    client.disconnect()


def test_http_history_unknown_room_is_404(app):
    response = app.test_client().get("/api/rooms/nowhere/messages")
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "unknown_room"


def test_http_history_needs_a_login_when_guests_are_off(make_app):
    app = make_app(CHAT_ALLOW_GUESTS=False)
    assert app.test_client().get("/api/messages").status_code == 401


def test_history_says_who_a_message_mentions(app):
    from tests.test_everyday import Person

    alice, bob = Person(app, "alice"), Person(app, "bob")
    alice.call("create_room", {"room": "m"})
    bob.call("join_room", {"room": "m"})
    alice.call("room_message", {"room": "m", "message": "@bob see this"})
    page = bob.call("get_history", {"room": "m"})
    bob_id = next(u["id"] for u in bob.call("who_is_online")["users"] if u["name"] == "bob")
    assert [(m["text"], m.get("mentions")) for m in page["messages"]] == [("@bob see this", [bob_id])]
    alice.close(), bob.close()


def waiting_write(app, room, text, client_id=None, event="room_message", user=None):
    """A message that waits for the write lock (as another connection's would under load);
    user: (id, name) of its sender, a guest without an account by default."""
    from chat.messages import store as history
    from chat.rooms import access as rooms

    with app.test_request_context():
        ref = rooms.lookup_ref(room) if room is not None else None
    who = {"id": user[0], "name": user[1]} if user is not None else {"id": None, "name": "guest-w"}
    write = history.Write(who, "waitingsid", ref, text, client_id, event, None, [])
    history._waiting.append(write)
    return write


def count_commits(app):
    """Transactions that store messages: commits, and, on the writer's autocommit connection
    (PostgreSQL, an SQLite file), explicit COMMITs and INSERTs into messages outside them (the
    statement is its transaction)."""
    from sqlalchemy import event

    commits = []
    explicit = []
    with app.app_context():
        event.listen(db.engine, "commit", lambda conn: commits.append("commit"))
        event.listen(db.engine, "rollback", lambda conn: explicit.clear())  # a failed explicit transaction

        def statement(conn, cursor, text, parameters, context, many):
            if conn.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
                return
            verb = text.lstrip().upper()
            if verb == "BEGIN":
                explicit.append(True)
            elif verb == "COMMIT" and explicit:
                explicit.clear()
                commits.append("explicit commit")
            elif verb.startswith("INSERT INTO MESSAGES") and not explicit:
                commits.append("autocommit insert")

        event.listen(db.engine, "after_cursor_execute", statement)  # only those that succeeded
    return commits


@pytest.fixture(params=["memory", "file"])
def store_app(request, make_app, tmp_path):
    """The app on its test database, and on the SQLite pass also on a file (as users run it: the
    writer's connection is its own there, in autocommit mode; in memory every connection of a
    thread is one, so the writer uses the sessions' transactions)."""
    if request.param == "file":
        if TEST_DB != "sqlite":
            pytest.skip("the file variant is SQLite's")
        return make_app(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'chat.db'}")
    return make_app()


@pytest.fixture
def store_clients(store_app):
    clients = []

    def connect():
        clients.append(socketio.test_client(store_app))
        return clients[-1]

    yield connect
    for client in clients:
        if client.is_connected():
            client.disconnect()


def test_messages_waiting_for_the_lock_are_stored_in_one_commit_and_sent_in_id_order(store_app, store_clients):
    app, client_factory = store_app, store_clients
    a, b = client_factory(), client_factory()
    a.emit("join_room", {"room": "batch"})
    a.emit("join_room", {"room": "other"})
    b.emit("join_room", {"room": "batch"})
    b.get_received()
    waiting = [
        waiting_write(app, "batch", "w1"),
        waiting_write(app, "other", "w2"),
        waiting_write(app, None, "w3", event="message"),
        waiting_write(app, "batch", "w4"),
    ]
    commits = count_commits(app)
    ack = send(a, "batch", "mine")
    assert ack["ok"] is True
    assert len(commits) == 1  # five messages, one transaction
    assert all(w.done and w.error is None and w.created for w in waiting)
    ids = [w.payload["id"] for w in waiting] + [ack["id"]]
    assert ids == sorted(ids) and len(set(ids)) == 5  # ids in arrival order
    got = [(n, p["text"], p["id"]) for n, p in events(b) if n in ("room_message", "message")]
    assert got == [
        ("room_message", "w1", ids[0]),
        ("message", "w3", ids[2]),
        ("room_message", "w4", ids[3]),
        ("room_message", "mine", ids[4]),
    ]
    with app.app_context():
        stored = db.session.execute(db.select(Message.id, Message.text).order_by(Message.id)).all()
    assert [tuple(r) for r in stored] == list(zip(ids, ["w1", "w2", "w3", "w4", "mine"], strict=True))
    history_page = b.emit("get_history", {"room": "batch"}, callback=True)
    assert [m["text"] for m in history_page["messages"]] == ["w1", "w4", "mine"]


def test_a_retry_inside_a_batch_is_stored_once(store_app, store_clients):
    app, client_factory = store_app, store_clients
    a = client_factory()
    a.emit("join_room", {"room": "dups"})
    first = waiting_write(app, "dups", "same", client_id="c-1")
    again = waiting_write(app, "dups", "same", client_id="c-1")
    ack = send(a, "dups", "after")
    assert ack["ok"] is True
    assert first.created is True and again.created is False
    assert again.payload["id"] == first.payload["id"] and again.payload["client_id"] == "c-1"
    with app.app_context():
        texts = db.session.execute(db.select(Message.text).order_by(Message.id)).scalars().all()
    assert texts == ["same", "after"]


def add_user(app, name, **fields):
    from chat.models import User
    from chat.names import name_key

    with app.app_context():
        user = User(name=name, name_key=name_key(name), **fields)
        db.session.add(user)
        db.session.commit()
        return user.id, name


def test_a_batch_refuses_muted_deactivated_and_archived_writes_and_stores_the_others(store_app, store_clients):
    app, client_factory = store_app, store_clients
    from chat.models import Room, utc_now

    a = client_factory()
    a.emit("join_room", {"room": "open"})
    a.emit("join_room", {"room": "shut"})
    a.get_received()
    now = utc_now()
    muted = add_user(app, "muted-m", muted_until=now + timedelta(minutes=5))
    gone = add_user(app, "gone-m", deactivated_at=now)
    was_muted = add_user(app, "was-m", muted_until=now - timedelta(seconds=1))
    with app.app_context():
        db.session.execute(update(Room).where(Room.name == "shut").values(archived_at=now))
        db.session.commit()
    waiting = [
        waiting_write(app, "open", "from a muted user", user=muted),
        waiting_write(app, "open", "ok 1"),
        waiting_write(app, None, "from a deactivated user", event="message", user=gone),
        waiting_write(app, "shut", "into an archived room"),
        waiting_write(app, "open", "ok 2", user=was_muted),
    ]
    commits = count_commits(app)
    ack = send(a, "open", "mine")
    assert ack["ok"] is True
    assert len(commits) == 1
    assert all(w.done for w in waiting)
    assert [w.error.code if w.error is not None else None for w in waiting] == [
        "muted",
        None,
        "deactivated",
        "archived",
        None,
    ]
    got = [p["text"] for n, p in events(a) if n in ("room_message", "message") and "text" in p]
    assert got == ["ok 1", "ok 2", "mine"]
    with app.app_context():
        texts = db.session.execute(db.select(Message.text).order_by(Message.id)).scalars().all()
    assert texts == ["ok 1", "ok 2", "mine"]


def test_a_lone_refused_write_stores_nothing_and_keeps_the_writer_connection(store_app, store_clients):
    app, client_factory = store_app, store_clients
    from chat.messages import store as history
    from chat.models import utc_now

    a = client_factory()
    a.emit("join_room", {"room": "lone"})
    send(a, "lone", "first")
    writer = app.extensions["chat_writer"].connection
    muted = add_user(app, "muted-l", muted_until=utc_now() + timedelta(minutes=5))
    write = waiting_write(app, "lone", "muted alone", user=muted)
    history._waiting.remove(write)
    with app.test_request_context():
        history._store_batch([write])
    assert write.done and write.error.code == "muted" and write.payload is None
    assert app.extensions["chat_writer"].connection is writer  # the refusal is no broken connection
    assert send(a, "lone", "after")["ok"] is True
    assert app.extensions["chat_writer"].connection is writer
    with app.app_context():
        texts = db.session.execute(db.select(Message.text).order_by(Message.id)).scalars().all()
    assert texts == ["first", "after"]


def test_when_a_batch_cannot_be_stored_every_writer_hears_and_nothing_is_sent(app, client_factory, monkeypatch):
    a, b = client_factory(), client_factory()
    for c in (a, b):
        c.emit("join_room", {"room": "down"})
    b.get_received()
    waiting = [waiting_write(app, "down", "w1"), waiting_write(app, "down", "w2")]
    ack = send_while_commits_fail(app, monkeypatch, a, "down", "mine")
    assert ack["ok"] is False and ack["error"]["code"] == "internal_error"
    assert all(w.done and isinstance(w.error, OperationalError) and w.payload is None for w in waiting)
    assert events(b) == []
    assert send(a, "down", "works again")["ok"] is True
    with app.app_context():
        assert db.session.execute(db.select(Message.text)).scalars().all() == ["works again"]


def test_prev_chains_through_the_messages_of_one_batch():
    """With a message queue each payload names its channel's previous message, batch or not."""
    from chat.cluster.order import ChannelOrder

    order = ChannelOrder({1: 5, None: None})
    payloads = [{"id": 7}, {"id": 8}, {"id": 9}]
    for payload, room_id in zip(payloads, (1, None, 1), strict=True):
        order.stamp(payload, room_id)
    assert [p["prev"] for p in payloads] == [5, None, 7]
    untracked = {"id": 10}
    ChannelOrder().stamp(untracked, 1)
    assert "prev" not in untracked


@pytest.mark.parametrize("ping_after", [3600.0, 0.0], ids=["busy", "after-idle"])
def test_messages_are_stored_again_after_the_database_drops_the_connection(app, client_factory, ping_after):
    """The process's message connection, cut by the server (a restart), is replaced: at most the
    message in flight fails (its sender hears so and resends); nothing acked is lost. A
    connection idle for CHAT_DB_PING_AFTER seconds is checked first: then no message fails."""
    from sqlalchemy import text

    from chat.messages.writer import _writer

    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("cutting one server connection needs PostgreSQL (the suite's PostgreSQL pass runs this)")
    app.config["CHAT_DB_PING_AFTER"] = ping_after
    c = client_factory()
    c.emit("join_room", {"room": "cut"})
    acks = [send(c, "cut", "before")]
    with app.app_context():
        connection = _writer().connect()
        pid = connection.execute(text("SELECT pg_backend_pid()")).scalar()
        connection.commit()
        assert db.session.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar() is True
        db.session.commit()
    acks += [send(c, "cut", f"after {i}") for i in range(3)]
    assert acks[0]["ok"] and all(ack["ok"] for ack in acks[2:])
    if ping_after == 0:
        assert acks[1]["ok"], acks[1]
    with app.app_context():
        stored = db.session.execute(db.select(Message.id)).scalars().all()
    assert sorted(stored) == sorted(ack["id"] for ack in acks if ack["ok"])


def test_on_postgresql_a_page_of_history_is_read_without_a_transaction(pg_available, monkeypatch):
    """pg8000 sends a page's reads alone: no BEGIN before them, no ROLLBACK after (a transaction
    triples the round trips: most of what a join cost on PostgreSQL, BENCHMARKS.md). The page
    still carries the message's mentions and reactions."""
    import os

    from chat import create_app, pgwire
    from chat.config import TestConfig, database_url
    from tests.conftest import PG_ADMIN_URL, drop_pg_database, pg_database, reset_schema, skip_or_fail
    from tests.test_everyday import Person

    if pg_available is not True:
        skip_or_fail(f"PostgreSQL is not reachable at {PG_ADMIN_URL}: {pg_available}")
    name = f"chat_test_reads_{os.getpid()}"
    app = create_app(TestConfig(SQLALCHEMY_DATABASE_URI=database_url(pg_database(name))))
    try:
        reset_schema(app)
        alice, bob = Person(app, "alice"), Person(app, "bob")
        alice.call("create_room", {"room": "m"})
        bob.call("join_room", {"room": "m"})
        sent = alice.call("room_message", {"room": "m", "message": "@bob hello"})
        assert alice.call("react", {"id": sent["id"], "emoji": "👍"})["ok"]
        bob_id = next(u["id"] for u in bob.call("who_is_online")["users"] if u["name"] == "bob")

        statements = []
        for method in ("execute_simple", "execute_unnamed"):
            real = getattr(pgwire.Connection, method)

            def recording(self, statement, *args, _real=real, **kwargs):
                statements.append(statement.split(None, 1)[0].upper())
                return _real(self, statement, *args, **kwargs)

            monkeypatch.setattr(pgwire.Connection, method, recording)
        page = bob.call("get_history", {"room": "m"})
        monkeypatch.undo()

        assert [
            (m["text"], m.get("mentions"), [r["emoji"] for r in m.get("reactions", [])]) for m in page["messages"]
        ] == [("@bob hello", [bob_id], ["👍"])]
        # The page, its reactions, its mentions, its threads' summaries (chat/threads/summary.py):
        # one SELECT each, nothing around them.
        assert statements == ["SELECT"] * 4
        alice.close(), bob.close()
    finally:
        with app.app_context():
            db.engine.dispose()
        drop_pg_database(name)


def test_history_on_join_stops_where_live_delivery_starts(app, client_factory):
    """A message stored but not sent yet when a client joins (another writer's, in flight) is not
    in the joiner's history: it reaches the joiner live, once."""
    a = client_factory()
    a.emit("join_room", {"room": "inflight"})
    first = send(a, "inflight", "sent")["id"]
    with app.app_context():
        room_id = db.session.execute(db.select(Message.room_id).where(Message.id == first)).scalar()
        db.session.add(Message(room_id=room_id, user_id=None, author_name="x", sender_sid="s", text="in flight"))
        db.session.commit()
    b = client_factory()
    b.emit("join_room", {"room": "inflight"})
    history = [r["args"][0] for r in b.get_received() if r["name"] == "history"]
    assert [m["text"] for m in history[0]["messages"]] == ["sent"]
    # A client that joins a room where nothing was sent since the start gets what was stored.
    c = client_factory()
    c.emit("join_room", {"room": "quiet"})
    assert [r["args"][0]["messages"] for r in c.get_received() if r["name"] == "history"] == [[]]


def test_a_storm_of_joins_asks_the_newest_stored_id_once(app, monkeypatch):
    """One node without a queue bounds a join's history by the newest id stored when first asked
    (chat/cluster/marks.py): joins that all arrive before its answer wait for the one query."""
    import threading
    import time
    from contextlib import contextmanager

    import chat.cluster.marks as marks_module

    with app.app_context():
        db.session.add(Message(room_id=None, sender_sid="s", author_name="a", text="x"))
        db.session.commit()
        newest = db.session.query(db.func.max(Message.id)).scalar()
    asked = []
    real = marks_module.read_connection

    @contextmanager
    def slow_read():
        asked.append(1)
        time.sleep(0.2)  # the answer takes a while: everyone else arrives meanwhile
        with real() as connection:
            yield connection

    monkeypatch.setattr(marks_module, "read_connection", slow_read)
    answers = []

    def join():
        with app.app_context():
            answers.append(marks_module.marks().upto(f"room-{threading.get_ident()}"))

    threads = [threading.Thread(target=join) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert asked == [1]
    assert answers == [newest] * 20
