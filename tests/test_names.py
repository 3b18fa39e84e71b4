"""Names that cannot pass for someone else's: one rule for people and rooms (chat/names.py)."""

import os

import pytest
from flask_migrate import upgrade
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from chat import create_app, names
from chat.config import TestConfig, database_url
from chat.extensions import db
from chat.validation import refused_character
from tests.accounts import guest, login, register
from tests.conftest import PG_ADMIN_URL, drop_pg_database, pg_database, skip_or_fail
from tests.test_everyday import received

INVISIBLE = {
    "zero width space": "\u200b",
    "zero width joiner": "\u200d",
    "zero width non-joiner": "\u200c",
    "word joiner": "\u2060",
    "soft hyphen": "\u00ad",
    "byte order mark": "\ufeff",
    "right-to-left override": "\u202e",
    "left-to-right embedding": "\u202a",
    "first strong isolate": "\u2068",
    "pop directional isolate": "\u2069",
    "arabic letter mark": "\u061c",
    "hangul filler": "\u3164",
    "variation selector": "\ufe0f",
    "tag character": "\U000e0041",
    "braille blank": "\u2800",
}
CONTROL = {
    "tab": "\t",
    "newline": "\n",
    "nul": "\x00",
    "delete": "\x7f",
    "line separator": "\u2028",
    "private use": "\ue000",
}


# ---- the rule ----


@pytest.mark.parametrize(
    "raw,name,key",
    [
        ("General", "General", "general"),
        ("ｇｅｎｅｒａｌ", "general", "general"),
        ("ＧＥＮＥＲＡＬ", "GENERAL", "general"),
        ("  spaced   out  ", "spaced out", "spaced out"),
        ("no\u00a0break\u3000ideographic", "no break ideographic", "no break ideographic"),
        ("Straße", "Straße", "strasse"),
        ("雑談", "雑談", "雑談"),
        ("ｶﾀｶﾅ", "カタカナ", "カタカナ"),
        ("Ⅻ", "XII", "xii"),
        ("😀 room", "😀 room", "😀 room"),
    ],
)
def test_names_are_normalised_and_compared_by_key(raw, name, key):
    assert names.normalise(raw) == name
    assert names.name_key(name) == key == names.name_key(raw)


@pytest.mark.parametrize("char", list(INVISIBLE.values()), ids=list(INVISIBLE))
def test_invisible_characters_are_refused(char):
    for raw in (f"gen{char}eral", f"{char}general", f"general{char}"):
        with pytest.raises(names.NameRefused) as refused:
            names.normalise(raw)
        assert refused.value.reason == "invisible", raw


@pytest.mark.parametrize("char", list(CONTROL.values()), ids=list(CONTROL))
def test_control_and_unusable_characters_are_refused(char):
    with pytest.raises(names.NameRefused) as refused:
        names.normalise(f"a{char}b")
    assert refused.value.reason in ("control", "unusable")


def test_a_name_and_its_key_must_fit():
    assert names.checked_name("a" * 10, 10) == "a" * 10
    for raw in ("a" * 11, "ß" * 6):  # "ß" folds to "ss": its key is 12 characters
        with pytest.raises(names.NameRefused) as refused:
            names.checked_name(raw, 10)
        assert refused.value.reason == "too_long"


# ---- rooms ----


@pytest.mark.parametrize("raw", ["ｇｅｎｅｒａｌ", "general", "GENERAL", " General ", "Ｇｅｎｅｒａｌ"])
def test_one_room_whatever_the_case_or_width(people, raw):
    alice, bob = people("alice"), people("bob")
    assert alice.call("create_room", {"room": "General"})["ok"]
    bob.sock.get_received()
    joined = bob.call("join_room", {"room": raw})
    assert joined == {"ok": True, "room": "General"}
    notices = received(bob.sock, "room_message")
    assert [n["data"] for n in notices] == [f"クライアント {notices[0]['sid']} がルーム General に参加しました"]
    assert bob.call("join_room", {"room": "general"})["already"] is True
    assert bob.call("room_message", {"room": raw, "message": "hi"})["ok"]
    assert [m["room"] for m in received(alice.sock, "room_message") if m.get("text") == "hi"] == ["General"]
    assert alice.call("create_room", {"room": raw})["error"]["code"] == "room_exists"
    assert [r["name"] for r in alice.call("list_rooms")["rooms"]] == ["General"]
    page = bob.http.get(f"/api/rooms/{raw.strip()}/messages")
    assert page.status_code == 200 and page.get_json()["room"] == "General"
    history = bob.call("get_history", {"room": raw})
    assert history["room"] == "General" and [m["text"] for m in history["messages"]] == ["hi"]
    assert bob.call("leave_room", {"room": raw}) == {"ok": True, "room": "General"}


def test_a_new_room_keeps_its_name_normalised(people):
    alice = people("alice")
    assert alice.call("join_room", {"room": "  ｍｙ   ｒｏｏｍ "}) == {"ok": True, "room": "my room"}
    assert alice.call("create_room", {"room": "Ｎｅｗｓ"})["room"]["name"] == "News"


@pytest.mark.parametrize("raw", ["DM:1:2", " dm:1:2", "ｄｍ:1:2", "Dm:9:10", "dm:anything"])
def test_the_dm_prefix_is_reserved_in_any_case_or_width(people, raw):
    alice = people("alice")
    for event in ("join_room", "create_room"):
        ack = alice.call(event, {"room": raw})
        assert ack["ok"] is False and ack["error"]["code"] == "invalid_room", (event, ack)
        assert "dm:" in ack["error"]["message"]
    assert alice.call("list_rooms")["rooms"] == []


def test_a_conversation_is_found_by_its_members_in_any_case(people):
    alice, bob, carol = people("alice"), people("bob"), people("carol")
    dm = alice.call("open_dm", {"user": "ＢＯＢ"})["room"]
    assert dm.startswith("dm:")
    assert bob.call("join_room", {"room": dm.upper()})["room"] == dm
    assert carol.call("join_room", {"room": dm.upper()})["error"]["code"] == "unknown_room"


@pytest.mark.parametrize("char", list(INVISIBLE.values()) + list(CONTROL.values()), ids=list(INVISIBLE) + list(CONTROL))
def test_room_names_with_invisible_or_control_characters_are_refused(people, char):
    alice = people("alice")
    assert alice.call("create_room", {"room": "secret", "private": True})["ok"]
    for event, payload in [
        ("join_room", {"room": f"sec{char}ret"}),
        ("create_room", {"room": f"sec{char}ret"}),
        ("join_room", {"room": f"{char}lobby"}),
    ]:
        ack = alice.call(event, payload)
        # Characters no text field accepts (NUL, DEL, ...) are refused by the text rule first.
        expected = "invalid_text" if refused_character(char) else "invalid_room"
        assert ack["ok"] is False and ack["error"]["code"] == expected, (event, ack)
    assert [r["name"] for r in alice.call("list_rooms")["rooms"]] == ["secret"]


def test_a_public_room_cannot_look_like_a_private_one(people):
    alice, mallory = people("alice"), people("mallory")
    assert alice.call("create_room", {"room": "Secret", "private": True})["ok"]
    for lookalike in ("ｓｅｃｒｅｔ", "SECRET", "secret"):
        ack = mallory.call("join_room", {"room": lookalike})
        assert ack["ok"] is False and ack["error"]["code"] == "forbidden", lookalike
        assert mallory.call("create_room", {"room": lookalike})["error"]["code"] == "room_exists"
    assert mallory.call("list_rooms")["rooms"] == []


# ---- people ----


def test_account_names_are_one_whatever_the_case_or_width(app):
    first, second = app.test_client(), app.test_client()
    assert register(first, "Ｔａｒｏ").status_code == 302
    assert first.get("/").status_code == 200
    for lookalike in ("taro", "TARO", "ｔａｒｏ", " Taro "):
        assert register(second, lookalike).status_code == 409, lookalike
        assert guest(second, lookalike).status_code == 409, lookalike
    assert login(second, "ＴＡＲＯ").status_code == 302
    with app.app_context():
        assert db.session.execute(text("SELECT name, name_key FROM users")).all() == [("Taro", "taro")]


@pytest.mark.parametrize("char", list(INVISIBLE.values()) + list(CONTROL.values()), ids=list(INVISIBLE) + list(CONTROL))
def test_people_names_with_invisible_or_control_characters_are_refused(app, char):
    client = app.test_client()
    for post in (register, guest):
        response = post(client, f"Ta{char}ro")
        assert response.status_code == 400, char
        assert "U+" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.execute(text("SELECT count(*) FROM users")).scalar() == 0


def test_the_name_error_is_in_the_pages_language(app):
    client = app.test_client()
    client.set_cookie("lang", "ja")
    page = guest(client, "Ta\u200bro").get_data(as_text=True)
    assert "使えない文字 (U+200B)" in page


def test_people_are_found_by_their_key_and_never_by_a_lookalike(people):
    alice, bob = people("alice"), people("Bob")
    assert alice.call("create_room", {"room": "team", "private": True})["ok"]
    invited = alice.call("invite", {"room": "team", "user": "ｂｏｂ"})["user"]
    assert invited["name"] == "Bob"
    ack = alice.call("invite", {"room": "team", "user": "bo\u200bb"})
    assert ack["ok"] is False and ack["error"]["code"] == "invalid_user"
    assert alice.call("open_dm", {"user": "B\u202eob"})["error"]["code"] == "invalid_user"
    assert bob.call("join_room", {"room": "team"})["ok"]
    sent = alice.call("room_message", {"room": "team", "message": "@ＢＯＢ look"})
    mentioned = [m for m in received(bob.sock, "room_message") if m.get("id") == sent["id"]]
    assert [m.get("mentions") for m in mentioned] == [[invited["id"]]]
    assert alice.call("remove_member", {"room": "team", "user": "BOB"})["ok"]


# ---- the migration ----


@pytest.fixture(params=["sqlite", "postgresql"])
def old_database(request, tmp_path, pg_available):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'names.db'}"
        return
    if pg_available is not True:
        skip_or_fail(f"PostgreSQL is not reachable at {PG_ADMIN_URL}: {pg_available}")
    name = f"chat_test_names_{os.getpid()}"
    yield pg_database(name)
    drop_pg_database(name)


def test_the_migration_keys_every_name_and_renames_the_later_of_two_lookalikes(old_database):
    app = create_app(TestConfig(SQLALCHEMY_DATABASE_URI=database_url(old_database)))
    with app.app_context():
        upgrade(revision="c3a9d2e41b07")
        db.session.execute(
            text(
                "INSERT INTO users (id, name, name_key, is_guest, is_admin, created_at) VALUES "
                "(1, 'Taro', 'taro', false, false, CURRENT_TIMESTAMP), "
                "(2, 'Ｔａｒｏ', 'ｔａｒｏ', false, false, CURRENT_TIMESTAMP), "
                "(3, :zw, :zwkey, true, false, CURRENT_TIMESTAMP), "
                "(4, 'Hanako', 'hanako', false, false, CURRENT_TIMESTAMP), "
                "(5, :invisible, :invisible, true, false, CURRENT_TIMESTAMP)"
            ),
            {"zw": "Ta\u200bro", "zwkey": "ta\u200bro", "invisible": "\u200b\u200b"},
        )
        db.session.execute(
            text(
                "INSERT INTO rooms (id, name, kind, is_private, topic, created_at) VALUES "
                "(1, 'general', 'room', false, '', CURRENT_TIMESTAMP), "
                "(2, 'ＧＥＮＥＲＡＬ', 'room', true, '', CURRENT_TIMESTAMP), "
                "(3, 'DM:1:4', 'room', false, '', CURRENT_TIMESTAMP), "
                "(4, 'dm:1:4', 'dm', true, '', CURRENT_TIMESTAMP), "
                "(5, 'ｍｙ　ｒｏｏｍ', 'room', false, '', CURRENT_TIMESTAMP)"
            )
        )
        db.session.execute(
            text(
                "INSERT INTO messages (id, room_id, user_id, author_name, sender_sid, text, created_at) VALUES "
                "(1, 2, 2, 'Ｔａｒｏ', 's', 'kept', CURRENT_TIMESTAMP)"
            )
        )
        db.session.commit()
        upgrade(revision="e3f4a5b6c7d8")
        users = db.session.execute(text("SELECT id, name, name_key FROM users ORDER BY id")).all()
        assert users == [
            (1, "Taro", "taro"),
            (2, "Taro-2", "taro-2"),
            (3, "Taro-3", "taro-3"),
            (4, "Hanako", "hanako"),
            (5, "user-5", "user-5"),
        ]
        rooms = db.session.execute(text("SELECT id, name, name_key FROM rooms ORDER BY id")).all()
        assert rooms == [
            (1, "general", "general"),
            (2, "GENERAL-2", "general-2"),
            (3, "DM-1:4", "dm-1:4"),
            (4, "dm:1:4", "dm:1:4"),
            (5, "my room", "my room"),
        ]
        assert db.session.execute(text("SELECT room_id, author_name FROM messages")).all() == [(2, "Ｔａｒｏ")]
        with pytest.raises(IntegrityError, match="ix_rooms_name_key|rooms.name_key"):
            db.session.execute(
                text(
                    "INSERT INTO rooms (id, name, name_key, kind, is_private, topic, created_at) "
                    "VALUES (6, 'General', 'general', 'room', false, '', CURRENT_TIMESTAMP)"
                )
            )
        db.session.rollback()
        db.engine.dispose()
