"""Notification levels (all / mentions / nothing per user and room, on every tab and device) and
DM read receipts with their opt-out (issue 21)."""

import pytest
from sqlalchemy import select

from chat.extensions import db
from chat.models import Room, User
from chat.notify.models import NotificationPref
from chat.notify.prefs import notification_level
from tests.test_admin import ids
from tests.test_everyday import Person, received
from tests.test_retention import csrf


@pytest.fixture
def pair(app):
    """alice and bob, in the public room "general" and in their direct conversation."""
    alice, bob = Person(app, "alice"), Person(app, "bob")
    assert alice.call("create_room", {"room": "general"})["ok"]
    assert bob.call("join_room", {"room": "general"})["ok"]
    dm = alice.call("open_dm", {"user": "bob"})["room"]
    assert bob.call("subscribe", {"room": dm})["ok"]
    yield alice, bob, dm
    alice.close()
    bob.close()


def level_of(app, user, room):
    with app.app_context():
        user_id, room_id = ids(app, User, name=user), ids(app, Room, name=room)
        return notification_level(user_id, room_id)


def test_defaults_dms_all_rooms_mentions(app, pair):
    alice, _, dm = pair
    assert level_of(app, "alice", "general") == "mentions"
    assert level_of(app, "alice", dm) == "all"
    assert alice.room("general")["notify"] == "mentions" and alice.room(dm)["notify"] == "all"
    with app.app_context():
        assert notification_level(None, None) == "mentions"
        assert notification_level(ids(app, User, name="alice"), 999_999) == "mentions"


def test_a_level_is_stored_and_reaches_every_socket_of_the_user_only(app, pair):
    alice, bob, dm = pair
    other_tab = alice.socket()
    for sock in (*alice.sockets, bob.sock):
        sock.get_received()
    reply = alice.call("set_notification_level", {"room": "ｇｅｎｅｒａｌ", "level": "nothing"})
    assert reply == {"ok": True, "room": "general", "level": "nothing"}
    for sock in alice.sockets:
        assert received(sock, "notification_level") == [{"room": "general", "level": "nothing"}]
    assert received(bob.sock, "notification_level") == []
    assert level_of(app, "alice", "general") == "nothing" and level_of(app, "bob", "general") == "mentions"
    listed = alice.call("list_rooms", sock=other_tab)["rooms"]
    assert next(r for r in listed if r["name"] == "general")["notify"] == "nothing"
    assert alice.call("set_notification_level", {"room": dm, "level": "mentions"})["ok"]
    assert level_of(app, "alice", dm) == "mentions"
    # Back to the default: no row kept.
    assert alice.call("set_notification_level", {"room": "general", "level": "mentions"})["ok"]
    assert alice.call("set_notification_level", {"room": dm, "level": "all"})["ok"]
    with app.app_context():
        assert db.session.execute(select(NotificationPref)).first() is None


@pytest.mark.parametrize(
    "payload, code",
    [
        ({"room": "general"}, "invalid_level"),
        ({"room": "general", "level": "ALL"}, "invalid_level"),
        ({"room": "general", "level": "none"}, "invalid_level"),
        ({"room": "general", "level": "all\x00"}, "invalid_level"),
        ({"room": "general", "level": ["all"]}, "invalid_level"),
        ({"room": "general", "level": {"x": 1}}, "invalid_level"),
        ({"room": "general", "level": "\ud800"}, "invalid_level"),
        ({"room": "general", "level": "a" * 100_000}, "invalid_level"),
        ({"room": "nowhere", "level": "all"}, "not_in_room"),
        ({"room": "a\x00b", "level": "all"}, "invalid_text"),
        ({"level": "all"}, "missing_field"),
        ("general", "invalid_payload"),
    ],
)
def test_hostile_levels_get_clear_errors(app, pair, payload, code):
    alice, _, _ = pair
    reply = alice.call("set_notification_level", payload)
    assert reply["ok"] is False and reply["error"]["code"] == code, reply
    with app.app_context():
        assert db.session.execute(select(NotificationPref)).first() is None


def test_only_members_set_a_level(app, pair):
    alice, bob, dm = pair
    carol = Person(app, "carol")
    try:
        assert carol.call("set_notification_level", {"room": dm, "level": "nothing"})["error"]["code"] == "not_in_room"
        assert (
            carol.call("set_notification_level", {"room": "general", "level": "all"})["error"]["code"] == "not_in_room"
        )
    finally:
        carol.close()


def test_read_receipts_reach_the_other_person_of_a_dm(app, pair):
    alice, bob, dm = pair
    sent = alice.call("room_message", {"room": dm, "message": "are you there?"})["id"]
    alice.sock.get_received()
    assert bob.call("mark_read", {"room": dm, "id": sent})["ok"]
    bob_id = ids(app, User, name="bob")
    assert received(alice.sock, "seen") == [{"room": dm, "user": bob_id, "last_read_id": sent}]
    assert received(bob.sock, "seen") == []
    assert alice.room(dm)["peer_read_id"] == sent
    # Not in rooms.
    general = bob.call("room_message", {"room": "general", "message": "hi"})["id"]
    alice.sock.get_received()
    assert alice.call("mark_read", {"room": "general", "id": general})["ok"]
    assert received(bob.sock, "seen") == []
    assert "peer_read_id" not in bob.room("general")


@pytest.mark.parametrize("who_opts_out", ["alice", "bob"])
def test_who_opts_out_neither_sends_nor_sees_receipts(app, pair, who_opts_out):
    alice, bob, dm = pair
    people = {"alice": alice, "bob": bob}
    other_tab = people[who_opts_out].socket()
    other_tab.get_received()
    reply = people[who_opts_out].call("set_preferences", {"read_receipts": False})
    assert reply == {"ok": True, "read_receipts": False}
    assert received(other_tab, "preferences") == [{"read_receipts": False}]
    first = alice.call("room_message", {"room": dm, "message": "one"})["id"]
    second = bob.call("room_message", {"room": dm, "message": "two"})["id"]
    for person in (alice, bob):
        person.sock.get_received()
    assert bob.call("mark_read", {"room": dm, "id": first})["ok"]
    assert alice.call("mark_read", {"room": dm, "id": second})["ok"]
    assert received(alice.sock, "seen") == [] and received(bob.sock, "seen") == []
    assert "peer_read_id" not in alice.room(dm) and "peer_read_id" not in bob.room(dm)
    # Back on: receipts flow again.
    assert people[who_opts_out].call("set_preferences", {"read_receipts": True})["read_receipts"] is True
    third = alice.call("room_message", {"room": dm, "message": "three"})["id"]
    alice.sock.get_received()
    assert bob.call("mark_read", {"room": dm, "id": third})["ok"]
    assert [e["last_read_id"] for e in received(alice.sock, "seen")] == [third]


@pytest.mark.parametrize("value", ["false", 0, 1, None, [], {"x": True}, "\x00"])
def test_hostile_preferences(app, pair, value):
    alice, _, _ = pair
    reply = alice.call("set_preferences", {"read_receipts": value})
    if value is None:  # absent: unchanged
        assert reply == {"ok": True, "read_receipts": True}
    else:
        assert reply["ok"] is False and reply["error"]["code"] == "invalid_type"
    assert alice.call("set_preferences", {})["read_receipts"] is True
    assert alice.call("set_preferences", "x")["error"]["code"] == "invalid_payload"


def test_the_settings_page_switches_receipts_with_csrf(app, pair):
    alice, _, _ = pair
    page = alice.http.get("/settings").get_data(as_text=True)
    assert 'action="/settings/read-receipts"' in page
    assert alice.http.post("/settings/read-receipts", data={}).status_code == 400  # no CSRF token
    token = csrf(alice.http)
    response = alice.http.post("/settings/read-receipts", data={"csrf_token": token})
    assert response.status_code == 302
    with app.app_context():
        assert db.session.execute(select(User.read_receipts).where(User.name == "alice")).scalar_one() is False
    response = alice.http.post("/settings/read-receipts", data={"csrf_token": token, "read_receipts": "on"})
    with app.app_context():
        assert db.session.execute(select(User.read_receipts).where(User.name == "alice")).scalar_one() is True
    assert app.test_client().post("/settings/read-receipts", data={}).status_code in (302, 400, 401)
