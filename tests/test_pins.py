"""Pins (issue 21): members pin and unpin messages of their room, over the socket and HTTP; the
room hears `pins_changed`; a pin survives edits and goes with a deletion or a pruning;
outsiders, removed members, muted users and archived rooms are refused; hostile values get
clear errors."""

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from chat.extensions import db
from chat.models import Message, Room, User, utc_now
from chat.pins.models import Pin
from chat.retention.prune import prune
from tests.test_admin import api, csrf, ids, make_admin
from tests.test_everyday import Person, received


@pytest.fixture
def team(app):
    """alice owns the public room "general" (bob a member, carol not) and the private "secret"
    (bob a member); alice's message "hello" is in each."""
    alice, bob, carol = Person(app, "alice"), Person(app, "bob"), Person(app, "carol")
    assert alice.call("create_room", {"room": "general"})["ok"]
    assert alice.call("create_room", {"room": "secret", "private": True})["ok"]
    assert alice.call("invite", {"room": "secret", "user": "bob"})["ok"]
    for room in ("general", "secret"):
        assert bob.call("join_room", {"room": room})["ok"]
        assert alice.call("room_message", {"room": room, "message": "hello"})["ok"]
    yield alice, bob, carol
    for person in (alice, bob, carol):
        person.close()


def message_in(app, room):
    with app.app_context():
        room_id = db.session.execute(select(Room.id).where(Room.name == room)).scalar_one()
        return db.session.execute(select(Message.id).where(Message.room_id == room_id)).scalars().first()


def pinned_ids(app):
    with app.app_context():
        return set(db.session.execute(select(Pin.message_id)).scalars())


def test_a_member_pins_and_the_room_hears_it(app, team):
    alice, bob, carol = team
    target = message_in(app, "general")
    assert carol.call("join_room", {"room": "general"})["ok"]  # a reader of the public room
    for person in (alice, bob, carol):
        person.sock.get_received()
    reply = bob.call("pin_message", {"id": target})
    assert reply["ok"] and reply["room"] == "general" and [p["id"] for p in reply["pins"]] == [target]
    pin = reply["pins"][0]
    assert pin["text"] == "hello" and pin["pinned_by"] == ids(app, User, name="bob") and pin["pinned_at"]
    for person in (alice, bob, carol):
        events = received(person.sock, "pins_changed")
        assert [(e["room"], [p["id"] for p in e["pins"]]) for e in events] == [("general", [target])], person.name
    assert carol.call("get_pins", {"room": "general"})["pins"][0]["id"] == target
    # Pinning again changes nothing and tells nobody.
    assert alice.call("pin_message", {"id": target})["pins"][0]["id"] == target
    assert received(bob.sock, "pins_changed") == []
    assert alice.call("unpin_message", {"id": target})["pins"] == []
    assert received(bob.sock, "pins_changed") == [{"room": "general", "pins": []}]
    assert pinned_ids(app) == set()


def test_http_twins(app, team):
    alice, bob, carol = team
    target = message_in(app, "secret")
    token = csrf(bob)
    response = bob.http.post(f"/api/messages/{target}/pin", headers={"X-CSRFToken": token})
    assert response.status_code == 200 and [p["id"] for p in response.json["pins"]] == [target]
    listed = bob.http.get("/api/rooms/secret/pins")
    assert listed.status_code == 200 and listed.json["pins"][0]["text"] == "hello"
    # Without the CSRF header: refused.
    assert bob.http.delete(f"/api/messages/{target}/pin").status_code == 400
    response = bob.http.delete(f"/api/messages/{target}/pin", headers={"X-CSRFToken": token})
    assert response.status_code == 200 and response.json["pins"] == []
    # Logged out: refused.
    anonymous = app.test_client()
    assert anonymous.post(f"/api/messages/{target}/pin").status_code in (400, 401, 403)
    assert anonymous.get("/api/rooms/secret/pins").status_code in (401, 404)


def test_outsiders_and_removed_members_neither_pin_nor_see_pins_of_a_private_room(app, team):
    alice, bob, carol = team
    secret, general = message_in(app, "secret"), message_in(app, "general")
    assert alice.call("pin_message", {"id": secret})["ok"]
    # carol: not a member of either room.
    assert carol.call("pin_message", {"id": secret})["error"]["code"] == "not_found"
    assert carol.call("unpin_message", {"id": secret})["error"]["code"] == "not_found"
    assert carol.call("get_pins", {"room": "secret"})["error"]["code"] == "unknown_room"
    assert carol.http.get("/api/rooms/secret/pins").status_code == 404
    token = csrf(carol)
    assert carol.http.delete(f"/api/messages/{secret}/pin", headers={"X-CSRFToken": token}).status_code == 404
    # A public room: readable, but only members pin.
    assert carol.call("pin_message", {"id": general})["error"]["code"] == "forbidden"
    assert carol.call("get_pins", {"room": "general"})["ok"]
    # bob, removed from "secret": as an outsider at once.
    bob.sock.get_received()
    assert alice.call("remove_member", {"room": "secret", "user": "bob"})["ok"]
    assert bob.call("unpin_message", {"id": secret})["error"]["code"] == "not_found"
    assert bob.call("get_pins", {"room": "secret"})["error"]["code"] == "unknown_room"
    assert alice.call("room_message", {"room": "secret", "message": "after"})["ok"]
    after = ids(app, Message, text="after")
    bob.sock.get_received()
    assert alice.call("pin_message", {"id": after})["ok"]
    assert received(bob.sock, "pins_changed") == []
    assert pinned_ids(app) == {secret, after}


def test_muted_users_and_archived_rooms_are_refused(app, team):
    alice, bob, _ = team
    make_admin(app, "alice")
    target = message_in(app, "general")
    bob_id, room_id = ids(app, User, name="bob"), ids(app, Room, name="general")
    assert api(alice, "users", bob_id, "mute", {"minutes": 30}).status_code == 200
    assert bob.call("pin_message", {"id": target})["error"]["code"] == "muted"
    token = csrf(bob)
    response = bob.http.post(f"/api/messages/{target}/pin", headers={"X-CSRFToken": token})
    assert response.status_code == 403 and response.json["error"]["code"] == "muted"
    assert api(alice, "users", bob_id, "unmute").status_code == 200
    assert bob.call("pin_message", {"id": target})["ok"]
    assert api(alice, "rooms", room_id, "archive").status_code == 200
    assert bob.call("unpin_message", {"id": target})["error"]["code"] == "archived"
    assert pinned_ids(app) == {target}
    assert bob.call("get_pins", {"room": "general"})["pins"][0]["id"] == target  # reading goes on


def test_a_pin_survives_edits_and_goes_with_a_deletion(app, team):
    alice, bob, _ = team
    target = message_in(app, "general")
    assert bob.call("pin_message", {"id": target})["ok"]
    assert alice.call("edit_message", {"id": target, "message": "hello, edited"})["ok"]
    assert bob.call("get_pins", {"room": "general"})["pins"][0]["text"] == "hello, edited"
    bob.sock.get_received()
    assert alice.call("delete_message", {"id": target})["ok"]
    assert received(bob.sock, "pins_changed") == [{"room": "general", "pins": []}]
    assert pinned_ids(app) == set()
    assert bob.call("pin_message", {"id": target})["error"]["code"] == "deleted"


def test_a_pin_goes_with_a_pruned_message_and_the_room_hears_it_once(app, team):
    alice, bob, _ = team
    target, secret = message_in(app, "general"), message_in(app, "secret")
    # "general" keeps a newer pin; "other" loses an old message that was never pinned.
    kept = alice.call("room_message", {"room": "general", "message": "still here"})["id"]
    assert alice.call("create_room", {"room": "other"})["ok"]
    assert bob.call("join_room", {"room": "other"})["ok"]
    unpinned = alice.call("room_message", {"room": "other", "message": "old, unpinned"})["id"]
    pinned_new = alice.call("room_message", {"room": "other", "message": "new, pinned"})["id"]
    for message_id in (target, kept, secret, pinned_new):
        assert alice.call("pin_message", {"id": message_id})["ok"]
    app.config["CHAT_RETENTION_DAYS"] = 1
    with app.app_context():
        old = utc_now() - timedelta(days=3)
        aged = [target, secret, unpinned]
        db.session.execute(update(Message).where(Message.id.in_(aged)).values(created_at=old))
        db.session.commit()
    received(bob.sock, "pins_changed")  # what the pinning sent
    with app.app_context():
        assert prune().messages >= 3
    assert pinned_ids(app) == {kept, pinned_new}
    # Bob (a member of the three) hears each room that lost a pin once, with its pins now.
    events = received(bob.sock, "pins_changed")
    assert sorted((e["room"], [p["id"] for p in e["pins"]]) for e in events) == [("general", [kept]), ("secret", [])]
    assert [p["id"] for p in alice.call("get_pins", {"room": "general"})["pins"]] == [kept]
    assert bob.call("get_pins", {"room": "secret"})["pins"] == []
    assert [p["id"] for p in bob.call("get_pins", {"room": "other"})["pins"]] == [pinned_new]
    # A prune with nothing pinned to remove is silent.
    with app.app_context():
        prune()
    assert received(bob.sock, "pins_changed") == []


def test_global_channel_messages_and_the_pin_limit(make_app):
    app = make_app(CHAT_MAX_PINS_PER_ROOM=2)
    alice = Person(app, "alice")
    try:
        assert alice.call("create_room", {"room": "general"})["ok"]
        sent = [alice.call("room_message", {"room": "general", "message": f"m{i}"})["id"] for i in range(3)]
        assert alice.call("pin_message", {"id": sent[0]})["ok"]
        assert alice.call("pin_message", {"id": sent[1]})["ok"]
        assert alice.call("pin_message", {"id": sent[2]})["error"]["code"] == "too_many_pins"
        everyone = alice.call("send_message", {"message": "to all"})["id"]
        assert alice.call("pin_message", {"id": everyone})["error"]["code"] == "forbidden"
        assert pinned_ids(app) == set(sent[:2])
    finally:
        alice.close()


@pytest.mark.parametrize(
    "payload, code",
    [
        (None, "invalid_payload"),
        ("7", "invalid_payload"),
        ({}, "missing_field"),
        ({"id": "1"}, "invalid_type"),
        ({"id": True}, "invalid_type"),
        ({"id": 1.5}, "invalid_type"),
        ({"id": [1]}, "invalid_type"),
        ({"id": {"$gt": 0}}, "invalid_type"),
        ({"id": -1}, "out_of_range"),
        ({"id": 10**30}, "out_of_range"),
        ({"id": 999_999}, "not_found"),
    ],
)
def test_hostile_ids_get_clear_errors(app, team, payload, code):
    _, bob, _ = team
    for event in ("pin_message", "unpin_message"):
        reply = bob.call(event, payload)
        assert reply["ok"] is False and reply["error"]["code"] == code, (event, payload, reply)
    assert pinned_ids(app) == set()


@pytest.mark.parametrize("room", ["", "a\x00b", "\ud800", "x" * 5000, "\u202egeneral", "ｇｅｎｅｒａｌ"])
def test_hostile_room_names_for_get_pins(app, team, room):
    _, bob, _ = team
    reply = bob.call("get_pins", {"room": room})
    if room == "ｇｅｎｅｒａｌ":  # the same room by the rule for names
        assert reply["ok"] and reply["room"] == "general"
    else:
        assert reply["ok"] is False and reply["error"]["code"] in {
            "empty_field",
            "invalid_text",
            "too_long",
            "invalid_room",
            "unknown_room",
        }
    response = bob.http.get("/api/rooms/%E2%80%AEx/pins")
    assert response.status_code in (400, 404) and "error" in response.json
    assert (
        bob.http.post("/api/messages/99999999999999999999/pin", headers={"X-CSRFToken": csrf(bob)}).status_code == 404
    )
