"""What text the server accepts (README: "What text is accepted"), on every field that takes text,
socket and HTTP; and group commit: a message the database refuses never fails the others."""

import threading
from io import BytesIO

import pytest
from sqlalchemy import select

from chat.errors import ChatError
from chat.extensions import db
from chat.messages.store import _waiting
from chat.models import Message, Room
from chat.validation import check_text, refused_character
from tests.test_contract import events, sid_of
from tests.test_history import count_commits, send, waiting_write
from tests.test_rich_messages import csrf_headers

# What JSON can carry that no database stores: NUL (PostgreSQL) and a lone surrogate (both,
# and no UTF-8 encoder: it arrives as the escape "\ud800").
HOSTILE = [pytest.param("a\x00b", id="nul"), pytest.param("a\ud800b", id="lone-surrogate")]


@pytest.fixture
def app(make_app, app_database_url, tmp_path):
    """Threads write at once here: on SQLite a file, as in production (an in-memory database is
    one connection every thread shares, transactions included: one thread's rollback would undo
    another's insert)."""
    if app_database_url.startswith("sqlite"):
        return make_app(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'chat.db'}")
    return make_app()


def at_once(*calls):
    """Run the calls in threads started together; their results in order."""
    results = [None] * len(calls)
    start = threading.Barrier(len(calls))

    def run(index, call):
        start.wait()
        results[index] = call()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


# ---- the rule ----


@pytest.mark.parametrize(
    "text",
    [
        "\x00",
        "a\x01",
        "\x08",
        "\x0b",
        "\x0c",
        "\x0e",
        "\x1b[2J",
        "\x1f",
        "\x7f",
        "\x80",
        "\x85",
        "\x9f",
        "\ud800",
        "\udbff\u0041",
        "x\udc00",
        "\udfff",
        "\ufdd0",
        "\ufdef",
        "\ufffe",
        "\uffff",
        "\U0001fffe",
        "\U0010ffff",
    ],
)
def test_nul_controls_lone_surrogates_and_non_characters_are_refused(text):
    with pytest.raises(ChatError) as refused:
        check_text("ok " + text, "message")
    assert refused.value.code == "invalid_text"
    index, ch = refused_character("ok " + text)
    assert f"U+{ord(ch):04X} at index {index}" in refused.value.message


ACCEPTED = [
    "tab\tline\nfeed\r\nand carriage return",
    "こんにちは、世界。漢字とカタカナ",
    "👩‍💻 🇯🇵 👍🏽 ❤️",  # ZWJ sequence, flag, skin tone, variation selector
    "مرحبا بالعالم \u200f שלום",  # Arabic, RLM, Hebrew
    "e\u0301 \ufb01 \u00a0nbsp \u2028 \ufeff \ue000 \U000e0041 \ufdf0 \ufffd \U0001d11e",
    "<script>alert(1)</script> & \"quotes\" 'single' \\ backslash %s {0}",
]


@pytest.mark.parametrize("text", ACCEPTED)
def test_accepted_text_is_stored_sent_and_paged_exactly_as_sent(app, client_factory, text):
    a, b = client_factory(), client_factory()
    for c in (a, b):
        c.emit("join_room", {"room": "exact"})
    b.get_received()
    ack = send(a, "exact", text, client_id="c-" + str(len(text)))
    assert ack["ok"] is True
    ((name, payload),) = events(b)
    assert name == "room_message" and payload["text"] == text
    assert payload["data"] == f"クライアント {sid_of(a)}: {text}"
    assert [m["text"] for m in b.emit("get_history", {"room": "exact"}, callback=True)["messages"]] == [text]
    with app.app_context():
        assert db.session.execute(select(Message.text)).scalars().all() == [text]


# ---- every socket event that takes text ----


def hostile_calls(value, own_id):
    """Every socket event and field that takes text, with `value` in that field."""
    return {
        "room_message.message": ("room_message", {"room": "lobby", "message": value}),
        "room_message.client_id": ("room_message", {"room": "lobby", "message": "hi", "client_id": value}),
        "room_message.room": ("room_message", {"room": value, "message": "hi"}),
        "send_message.message": ("send_message", {"message": value}),
        "send_message.client_id": ("send_message", {"message": "hi", "client_id": value}),
        "join_room.room": ("join_room", {"room": value}),
        "leave_room.room": ("leave_room", {"room": value}),
        "subscribe.room": ("subscribe", {"room": value}),
        "typing.room": ("typing", {"room": value}),
        "mark_read.room": ("mark_read", {"room": value, "id": own_id}),
        "get_history.room": ("get_history", {"room": value}),
        "create_room.room": ("create_room", {"room": value}),
        "create_room.topic": ("create_room", {"room": "fresh", "topic": value}),
        "set_topic.topic": ("set_topic", {"room": "lobby", "topic": value}),
        "invite.user": ("invite", {"room": "lobby", "user": value}),
        "remove_member.user": ("remove_member", {"room": "lobby", "user": value}),
        "open_dm.user": ("open_dm", {"user": value}),
        "edit_message.message": ("edit_message", {"id": own_id, "message": value}),
        "react.emoji": ("react", {"id": own_id, "emoji": value}),
        "search.q": ("search", {"q": value}),
        "search.room": ("search", {"q": "hi", "room": value}),
    }


@pytest.mark.parametrize("value", HOSTILE)
def test_every_socket_text_field_refuses_it_while_others_chat_on(app, people, value):
    alice, bob, carol = people("alice"), people("bob"), people("carol")
    assert alice.call("create_room", {"room": "lobby", "topic": "calm"})["ok"]
    for person in (bob, carol):
        assert person.call("join_room", {"room": "lobby"})["ok"]
    own_id = alice.call("room_message", {"room": "lobby", "message": "original"})["id"]
    bob.sock.get_received(), alice.sock.get_received()
    codes, delivered, sent = {}, [], []
    for field, (event, payload) in hostile_calls(value, own_id).items():
        ordinary = f"ordinary during {field}"
        refused, ok = at_once(
            lambda: alice.call(event, payload),  # noqa: B023 - called before the loop moves on
            lambda: carol.call("room_message", {"room": "lobby", "message": ordinary}),  # noqa: B023
        )
        codes[field] = refused.get("error", {}).get("code")
        ((name, error),) = events(alice.sock, "error")
        assert name == "error" and error == refused["error"] and error["event"] == event
        assert ok["ok"] is True
        sent.append(ordinary)
        delivered += [(n, p.get("text")) for n, p in events(bob.sock)]
    assert codes == dict.fromkeys(codes, "invalid_text")
    assert delivered == [("room_message", text) for text in sent]  # nothing of alice's reached bob
    assert alice.call("room_message", {"room": "lobby", "message": "still here"})["ok"]
    with app.app_context():
        stored = db.session.execute(select(Message.text).order_by(Message.id)).scalars().all()
        rooms = db.session.execute(select(Room.name, Room.topic).order_by(Room.id)).all()
    assert stored == ["original", *sent, "still here"]
    assert [tuple(r) for r in rooms] == [("lobby", "calm")]


# ---- the HTTP twins ----


@pytest.fixture
def writer(app, people, tmp_path):
    app.config["CHAT_UPLOAD_FOLDER"] = str(tmp_path / "uploads")
    alice = people("alice")
    alice.call("join_room", {"room": "lobby"})
    alice.own_id = alice.call("room_message", {"room": "lobby", "message": "original"})["id"]
    alice.headers = csrf_headers(alice)
    return alice


def upload(person, filename="note.txt", **fields):
    return person.http.post(
        "/api/uploads",
        data={"file": (BytesIO(b"hello"), filename), **fields},
        headers=person.headers,
        content_type="multipart/form-data",
    )


def error_of(response):
    return response.status_code, response.get_json()["error"]["code"]


@pytest.mark.parametrize("value", HOSTILE)
def test_http_json_writes_refuse_it_while_others_chat_on(app, writer, people, value):
    bob = people("bob")
    bob.call("join_room", {"room": "lobby"})
    writer.sock.get_received()
    url = f"/api/messages/{writer.own_id}"
    edited, ok_1 = at_once(
        lambda: writer.http.patch(url, json={"message": value}, headers=writer.headers),
        lambda: bob.call("room_message", {"room": "lobby", "message": "one"}),
    )
    reacted, ok_2 = at_once(
        lambda: writer.http.post(url + "/reactions", json={"emoji": value}, headers=writer.headers),
        lambda: bob.call("room_message", {"room": "lobby", "message": "two"}),
    )
    assert error_of(edited) == error_of(reacted) == (400, "invalid_text")
    assert ok_1["ok"] and ok_2["ok"]
    assert [(n, p["text"]) for n, p in events(writer.sock)] == [("room_message", "one"), ("room_message", "two")]
    with app.app_context():
        stored = db.session.execute(select(Message.text).order_by(Message.id)).scalars().all()
    assert stored == ["original", "one", "two"]


@pytest.mark.parametrize("field", ["message", "room", "client_id"])
def test_the_upload_form_refuses_nul(app, writer, field):
    assert error_of(upload(writer, **{field: "a\x00b"})) == (400, "invalid_text")
    with app.app_context():
        assert db.session.execute(select(Message.text)).scalars().all() == ["original"]


def test_an_upload_name_loses_what_no_text_field_accepts(writer):
    response = upload(writer, filename="a\x00b\ufffe\x85.txt", message="caption")
    assert response.status_code == 201
    assert response.get_json()["message"]["file"]["name"] == "ab.txt"


def test_search_with_nul_is_a_clear_400_not_a_500(writer):
    for query in ("q=ab%00c", "q=abc&room=lob%00by"):
        assert error_of(writer.http.get(f"/api/search?{query}")) == (400, "invalid_text")
    # Bytes that are no UTF-8 (an encoded surrogate) never decode into one: Werkzeug keeps the escape.
    undecoded = writer.http.get("/api/search?q=%ED%A0%80")
    assert undecoded.status_code == 200 and undecoded.get_json()["q"] == "%ED%A0%80"


def test_a_room_history_url_with_nul_is_a_clear_400_not_a_500(writer):
    """The room's name in the URL is a text field like any other (a 500 on PostgreSQL before)."""
    for path in ("/api/rooms/lobby%00/messages", "/api/rooms/lob%00by/messages?limit=5"):
        assert error_of(writer.http.get(path)) == (400, "invalid_text")
    assert writer.http.get("/api/rooms/lobby/messages").status_code == 200


def test_a_room_lookup_by_a_name_no_text_may_hold_finds_nothing(app):
    """Defence in depth below the text rule: such a name never reaches the database."""
    from chat.rooms.access import find_room

    with app.app_context():
        assert find_room("lob\x00by") is None and find_room("\ud800") is None


# ---- group commit: a refused row fails alone ----


@pytest.fixture
def refuse_nul(app, monkeypatch):
    """PostgreSQL refuses NUL itself (22021); SQLite stores it, so there the test refuses it the
    same way, as a database error on the statement that holds one."""
    with app.app_context():
        dialect = db.engine.dialect
    if dialect.name == "postgresql":
        return
    original = dialect.do_execute

    def do_execute(cursor, statement, parameters, context=None):
        if any(isinstance(p, str) and "\x00" in p for p in parameters or ()):
            raise dialect.loaded_dbapi.DataError('invalid byte sequence for encoding "UTF8": 0x00')
        return original(cursor, statement, parameters, context)

    monkeypatch.setattr(dialect, "do_execute", do_execute)


def test_a_batch_with_a_row_the_database_refuses_stores_every_other_one(app, client_factory, refuse_nul):
    a, b = client_factory(), client_factory()
    for c in (a, b):
        c.emit("join_room", {"room": "mixed"})
    b.get_received()
    waiting = [
        waiting_write(app, "mixed", "w1"),
        waiting_write(app, "mixed", "bad\x00"),
        waiting_write(app, None, "w3", event="message"),
        waiting_write(app, "mixed", "w4", client_id="k"),
    ]
    commits = count_commits(app)
    ack = send(a, "mixed", "mine")
    assert ack["ok"] is True
    good = [w for w in waiting if w.row["text"] != "bad\x00"]
    assert waiting[1].done and waiting[1].error is not None and waiting[1].payload is None
    assert all(w.done and w.error is None and w.created for w in good)
    ids = [w.payload["id"] for w in good] + [ack["id"]]
    assert ids == sorted(ids) and len(set(ids)) == 4
    assert len(commits) == 4  # the batch failed; then each good message in a transaction of its own
    got = [(n, p["text"], p["id"]) for n, p in events(b) if n in ("room_message", "message")]
    assert got == [
        ("room_message", "w1", ids[0]),
        ("message", "w3", ids[1]),
        ("room_message", "w4", ids[2]),
        ("room_message", "mine", ids[3]),
    ]
    with app.app_context():
        stored = db.session.execute(select(Message.id, Message.text).order_by(Message.id)).all()
    assert [tuple(r) for r in stored] == list(zip(ids, ["w1", "w3", "w4", "mine"], strict=True))
    assert not _waiting


def test_writers_sending_refused_rows_never_fail_the_others(app, client_factory, refuse_nul, monkeypatch):
    """The issue's run: a few clients send NUL while others chat; every ordinary message is
    stored once, acked, and delivered in id order (validation is off here, so NUL reaches the
    database as it did before the text rule)."""
    import chat.validation

    monkeypatch.setattr(chat.validation, "check_text", lambda value, field: value)
    bad = [client_factory() for _ in range(3)]
    good = [client_factory() for _ in range(5)]
    listener = client_factory()
    for c in (*bad, *good, listener):
        c.emit("join_room", {"room": "crowd"})
    listener.get_received()

    def sender(client, texts):
        return lambda: [send(client, "crowd", text) for text in texts]

    bad_texts = [[f"bad {i}.{n}\x00" for n in range(8)] for i in range(len(bad))]
    good_texts = [[f"good {i}.{n}" for n in range(8)] for i in range(len(good))]
    acks = at_once(*(sender(c, t) for c, t in zip(bad + good, bad_texts + good_texts, strict=True)))
    bad_acks, good_acks = acks[: len(bad)], acks[len(bad) :]
    assert all(ack["ok"] is False for acks_of_one in bad_acks for ack in acks_of_one)
    assert all(ack["ok"] is True for acks_of_one in good_acks for ack in acks_of_one)
    acked = {
        ack["id"]: text
        for acks_of_one, texts in zip(good_acks, good_texts, strict=True)
        for ack, text in zip(acks_of_one, texts, strict=True)
    }
    delivered = [(p["id"], p["text"]) for n, p in events(listener) if n == "room_message"]
    assert delivered == sorted(acked.items())  # each once, in id order
    with app.app_context():
        stored = db.session.execute(select(Message.id, Message.text).order_by(Message.id)).all()
    assert [tuple(r) for r in stored] == sorted(acked.items())


def test_when_the_database_is_unreachable_a_batch_is_not_retried_row_by_row(app, client_factory, monkeypatch):
    """A lost connection or a full disk is no bad row: every writer hears at once (and resends
    with its client_id), instead of each waiting for its own timeout under the write lock."""
    from sqlalchemy.exc import OperationalError

    a = client_factory()
    a.emit("join_room", {"room": "down"})
    waiting = [waiting_write(app, "down", "w1"), waiting_write(app, "down", "w2")]
    with app.app_context():
        dialect = db.engine.dialect
    attempts = []

    original = dialect.do_execute

    def unreachable(cursor, statement, parameters, context=None):
        if not statement.startswith("INSERT"):
            return original(cursor, statement, parameters, context)
        attempts.append(statement)
        raise dialect.loaded_dbapi.OperationalError("could not connect to server")

    monkeypatch.setattr(dialect, "do_execute", unreachable)
    ack = send(a, "down", "mine")
    monkeypatch.undo()
    assert ack["ok"] is False and ack["error"]["code"] == "internal_error"
    assert all(isinstance(w.error, OperationalError) for w in waiting)
    assert len(attempts) == 1


# ---- item 7: client_ids are per sender ----


def test_anonymous_clients_with_the_same_client_id_both_get_their_messages_stored(app, client_factory):
    a, b, listener = client_factory(), client_factory(), client_factory()
    for c in (a, b, listener):
        c.emit("join_room", {"room": "anon"})
    b.emit("join_room", {"room": "elsewhere"})
    listener.get_received()
    first = send(a, "anon", "from a", client_id="1")
    second = send(b, "anon", "from b", client_id="1")
    elsewhere = send(b, "elsewhere", "b elsewhere", client_id="2")
    also_a = send(a, "anon", "a again", client_id="2")
    assert all(ack["ok"] and "duplicate" not in ack for ack in (first, second, elsewhere, also_a))
    assert len({first["id"], second["id"], elsewhere["id"], also_a["id"]}) == 4
    assert [p["text"] for n, p in events(listener) if n == "room_message"] == ["from a", "from b", "a again"]
    retry = send(a, "anon", "from a", client_id="1")  # the same connection's retry: still once
    assert retry == {"ok": True, "id": first["id"], "duplicate": True}
    with app.app_context():
        assert db.session.execute(select(Message.text).order_by(Message.id)).scalars().all() == [
            "from a",
            "from b",
            "b elsewhere",
            "a again",
        ]


def test_a_signed_in_users_retry_is_stored_once_across_reconnects(app, people):
    alice = people("alice")
    alice.call("join_room", {"room": "r"})
    first = alice.call("room_message", {"room": "r", "message": "once", "client_id": "same"})
    alice.sock.disconnect()
    again = alice.call("room_message", {"room": "r", "message": "once", "client_id": "same"}, sock=alice.socket())
    assert again == {"ok": True, "id": first["id"], "duplicate": True}
    with app.app_context():
        assert db.session.execute(select(Message.text)).scalars().all() == ["once"]


def test_the_longest_dedupe_key_fits_its_column():
    from chat.messages.store import dedupe_key_of

    longest = max(dedupe_key_of(None, "c" * 64, "s" * 64), dedupe_key_of(2**63 - 1, "c" * 64), key=len)
    assert len(longest) <= Message.__table__.c.dedupe_key.type.length
