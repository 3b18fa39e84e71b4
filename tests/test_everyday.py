"""Everyday chat: room directory, private rooms, direct messages, presence, typing, unread, limits."""

import os
import time

import pytest

from chat.extensions import db, socketio
from chat.models import Message
from tests.accounts import register


class Person:
    """A signed-in user with a page session and its sockets."""

    def __init__(self, app, name):
        self.app = app
        self.name = name
        self.http = app.test_client()
        assert register(self.http, name).status_code == 302
        self.sockets = []

    def socket(self):
        sock = socketio.test_client(self.app, flask_test_client=self.http)
        assert sock.is_connected()
        self.sockets.append(sock)
        return sock

    @property
    def sock(self):
        return self.sockets[0] if self.sockets else self.socket()

    def call(self, event, data=None, sock=None):
        return (sock or self.sock).emit(event, data, callback=True)

    def room(self, name):
        return next((r for r in self.call("list_rooms")["rooms"] if r["name"] == name), None)

    def close(self):
        for s in self.sockets:
            if s.is_connected():
                s.disconnect()


def received(sock, event):
    return [r["args"][0] for r in sock.get_received() if r["name"] == event]


def test_rooms_are_records_listed_with_member_and_online_counts(people):
    alice, bob = people("alice"), people("bob")
    created = alice.call("create_room", {"room": "general", "topic": "雑談"})
    assert created["ok"] and created["room"]["topic"] == "雑談" and created["room"]["private"] is False
    listed = bob.room("general")
    assert listed["members"] == 1 and listed["online"] == 1 and listed["member"] is False
    assert bob.call("join_room", {"room": "general"})["ok"]
    listed = alice.room("general")
    assert listed["members"] == 2 and listed["online"] == 2
    assert alice.call("create_room", {"room": "general"})["error"]["code"] == "room_exists"
    # The seed's field: a name typed in join_room opens or creates a public room.
    assert bob.call("join_room", {"room": "typed-in"})["ok"]
    assert alice.room("typed-in")["members"] == 1
    assert alice.app.test_client().get("/api/rooms").status_code == 200


def test_only_the_creator_changes_the_topic(people):
    alice, bob = people("alice"), people("bob")
    alice.call("create_room", {"room": "news"})
    bob.call("join_room", {"room": "news"})
    bob.sock.get_received()
    assert bob.call("set_topic", {"room": "news", "topic": "hijack"})["error"]["code"] == "forbidden"
    assert alice.call("set_topic", {"room": "news", "topic": "today"})["ok"]
    assert received(bob.sock, "room_updated") == [{"room": "news", "topic": "today"}]
    assert bob.room("news")["topic"] == "today"


def test_a_private_room_is_invisible_and_unreachable_to_non_members(people, app):
    alice, bob, mallory = people("alice"), people("bob"), people("mallory")
    assert alice.call("create_room", {"room": "secret", "private": True})["ok"]
    alice.call("room_message", {"room": "secret", "message": "hidden words"})
    assert mallory.room("secret") is None and bob.room("secret") is None
    for event, payload in [
        ("join_room", {"room": "secret"}),
        ("subscribe", {"room": "secret"}),
        ("get_history", {"room": "secret"}),
        ("room_message", {"room": "secret", "message": "let me in"}),
        ("typing", {"room": "secret"}),
        ("invite", {"room": "secret", "user": "mallory"}),
        ("mark_read", {"room": "secret", "id": 1}),
    ]:
        ack = mallory.call(event, payload)
        assert ack["ok"] is False, (event, ack)
        assert ack["error"]["code"] in ("forbidden", "unknown_room", "not_in_room"), (event, ack)
    assert mallory.http.get("/api/rooms/secret/messages").status_code == 404
    names = [r["name"] for r in mallory.http.get("/api/rooms").get_json()["rooms"]]
    assert "secret" not in names
    assert all("hidden words" not in str(r) for r in mallory.sock.get_received())

    # An invitation from a member lets bob in, with the history.
    bob.sock.get_received()
    assert alice.call("invite", {"room": "secret", "user": "bob"})["ok"]
    assert received(bob.sock, "rooms_changed") == [{"room": "secret", "reason": "invited", "by": "alice"}]
    assert bob.call("join_room", {"room": "secret"})["ok"]
    (history,) = received(bob.sock, "history")
    assert [m["text"] for m in history["messages"]] == ["hidden words"]
    assert bob.http.get("/api/rooms/secret/messages").status_code == 200

    # The creator removes bob: he stops receiving and cannot send.
    assert bob.call("remove_member", {"room": "secret", "user": "alice"})["error"]["code"] == "forbidden"
    assert alice.call("remove_member", {"room": "secret", "user": "bob"})["ok"]
    bob.sock.get_received()
    alice.call("room_message", {"room": "secret", "message": "after removal"})
    assert "after removal" not in str(bob.sock.get_received())
    # not_in_room once his connection forgot the room (at the removal, on every node); forbidden
    # when a request overtakes that (the database is asked each time).
    assert bob.call("room_message", {"room": "secret", "message": "still here"})["error"]["code"] == "not_in_room"
    assert bob.call("get_history", {"room": "secret"})["error"]["code"] == "unknown_room"
    assert bob.room("secret") is None
    with app.app_context():
        assert db.session.execute(db.select(Message.text).filter_by(text="still here")).first() is None


def test_direct_messages_reach_only_the_two(people):
    alice, bob, carol = people("alice"), people("bob"), people("carol")
    bob_tab1, bob_tab2 = bob.socket(), bob.socket()
    bob_tab1.get_received(), bob_tab2.get_received()
    opened = alice.call("open_dm", {"user": "Bob"})
    assert opened["ok"] and opened["peer"]["name"] == "bob"
    dm = opened["room"]
    sent = alice.call("room_message", {"room": dm, "message": "内緒の話"})
    assert sent["ok"]
    for sock in (bob_tab1, bob_tab2):  # every tab of bob, without opening the conversation
        assert [m["text"] for m in received(sock, "room_message")] == ["内緒の話"]
    assert "内緒の話" not in str(carol.sock.get_received())
    for event, payload in [
        ("join_room", {"room": dm}),
        ("get_history", {"room": dm}),
        ("room_message", {"room": dm, "message": "hi"}),
        ("subscribe", {"room": dm}),
    ]:
        assert carol.call(event, payload)["ok"] is False
    assert carol.http.get(f"/api/rooms/{dm}/messages").status_code == 404
    assert carol.room(dm) is None
    assert bob.room(dm)["peer"]["name"] == "alice" and alice.room(dm)["peer"]["name"] == "bob"
    assert bob.call("join_room", {"room": dm})["ok"]
    reply = bob.call("room_message", {"room": dm, "message": "返事"})
    history = bob.call("get_history", {"room": dm, "since": sent["id"]})
    assert [m["id"] for m in history["messages"]] == [reply["id"]]
    assert alice.call("open_dm", {"user": "alice"})["error"]["code"] == "invalid_user"
    assert alice.call("open_dm", {"user": "nobody"})["error"]["code"] == "unknown_user"
    assert alice.call("join_room", {"room": "dm:99:100"})["error"]["code"] == "invalid_room"


def test_presence_with_two_tabs(people):
    watcher, alice = people("watcher"), people("alice")
    watcher.sock.get_received()
    tab1 = alice.socket()
    tab2 = alice.socket()
    events = received(watcher.sock, "presence")
    assert events == [{"user": {"id": events[0]["user"]["id"], "name": "alice"}, "status": "online"}]
    online = {u["name"]: u["status"] for u in watcher.call("who_is_online")["users"]}
    assert online == {"watcher": "online", "alice": "online"}
    tab1.disconnect()
    assert received(watcher.sock, "presence") == []
    assert "alice" in {u["name"] for u in watcher.call("who_is_online")["users"]}
    tab2.disconnect()
    assert [e["status"] for e in received(watcher.sock, "presence")] == ["offline"]
    assert {u["name"] for u in watcher.call("who_is_online")["users"]} == {"watcher"}
    assert {u["name"] for u in watcher.http.get("/api/presence").get_json()["users"]} == {"watcher"}


def test_away_after_idle_time(make_app):
    app = make_app(CHAT_AWAY_AFTER=1)
    alice = Person(app, "alice")
    alice.socket()
    assert alice.call("who_is_online")["users"][0]["status"] == "online"
    time.sleep(1.2)
    assert alice.call("who_is_online")["users"][0]["status"] == "away"
    alice.call("active")
    assert alice.call("who_is_online")["users"][0]["status"] == "online"
    alice.close()


def test_typing_is_shown_to_others_and_throttled(make_app):
    app = make_app(CHAT_TYPING_INTERVAL=0.5)
    alice, bob = Person(app, "alice"), Person(app, "bob")
    for p in (alice, bob):
        p.call("join_room", {"room": "t"})
    alice.sock.get_received(), bob.sock.get_received()
    assert alice.call("typing", {"room": "t"}) == {"ok": True}
    assert alice.call("typing", {"room": "t"}) == {"ok": True, "throttled": True}
    typing = received(bob.sock, "typing")
    assert len(typing) == 1 and typing[0]["user"]["name"] == "alice" and typing[0]["room"] == "t"
    assert received(alice.sock, "typing") == []
    time.sleep(0.55)
    assert alice.call("typing", {"room": "t"}) == {"ok": True}
    assert len(received(bob.sock, "typing")) == 1
    assert alice.call("typing", {"room": "elsewhere"})["error"]["code"] == "not_in_room"
    alice.close(), bob.close()


def test_unread_counts_follow_the_user_across_sessions(people, app):
    alice, bob = people("alice"), people("bob")
    laptop = bob.sock
    phone_http = app.test_client()
    from tests.accounts import login

    login(phone_http, "bob")
    phone = socketio.test_client(app, flask_test_client=phone_http)
    bob.sockets.append(phone)
    alice.call("create_room", {"room": "team"})
    phone.get_received()
    bob.call("join_room", {"room": "team"}, sock=laptop)
    # The phone hears of the new room and follows it, as the page does.
    assert received(phone, "rooms_changed") == [{"room": "team", "reason": "joined"}]
    assert bob.call("subscribe", {"room": "team"}, sock=phone)["ok"]
    ids = [
        alice.call("room_message", {"room": "team", "message": text})["id"]
        for text in ("one", "two", "@bob look", "@BOB again")
    ]
    info = bob.room("team")
    assert (info["unread"], info["mentions"]) == (4, 2)
    bob_id = next(u["id"] for u in bob.call("who_is_online")["users"] if u["name"] == "bob")
    on_phone = {m["text"]: m for m in received(phone, "room_message") if "text" in m}
    assert list(on_phone) == ["one", "two", "@bob look", "@BOB again"]
    assert on_phone["@bob look"]["mentions"] == [bob_id] and "mentions" not in on_phone["one"]
    phone.get_received()
    assert bob.call("mark_read", {"room": "team", "id": ids[2]}, sock=laptop)["last_read_id"] == ids[2]
    assert received(phone, "read") == [{"room": "team", "last_read_id": ids[2]}]
    info = bob.call("list_rooms", sock=phone)["rooms"]
    team = next(r for r in info if r["name"] == "team")
    assert (team["unread"], team["mentions"]) == (1, 1)
    bob.call("mark_read", {"room": "team", "id": ids[0]}, sock=phone)  # never goes back
    assert bob.room("team")["unread"] == 1
    # An id past any a message can have (ids are 32-bit on PostgreSQL): refused, nothing changes.
    too_big = 2**31 if os.environ.get("CHAT_TEST_DB") == "postgresql" else 2**63
    ack = bob.call("mark_read", {"room": "team", "id": too_big}, sock=phone)
    assert ack["ok"] is False and ack["error"]["code"] == "out_of_range"
    assert bob.room("team")["unread"] == 1
    assert alice.room("team")["unread"] == 0  # one's own messages are read


@pytest.mark.parametrize(
    "event,payload",
    [
        ("create_room", {"room": 5}),
        ("create_room", {"room": "x", "private": "yes"}),
        ("create_room", {"room": "x", "topic": "t" * 501}),
        ("set_topic", {"room": "nope", "topic": "x"}),
        ("invite", {"room": "nope"}),
        ("open_dm", {}),
        ("open_dm", {"user": 3}),
        ("mark_read", {"room": "nope"}),
        ("mark_read", {"room": "nope", "id": -1}),
    ],
)
def test_bad_directory_requests_get_clear_errors(people, event, payload):
    alice = people("alice")
    ack = alice.call(event, payload)
    assert ack["ok"] is False and ack["error"]["code"]
    assert alice.call("join_room", {"room": "fine"})["ok"]


def test_anonymous_sockets_cannot_create_or_invite(client_factory):
    anon = client_factory()
    for event, payload in [
        ("create_room", {"room": "r"}),
        ("open_dm", {"user": "x"}),
        ("invite", {"room": "r", "user": "x"}),
    ]:
        ack = anon.emit(event, payload, callback=True)
        assert ack["ok"] is False and ack["error"]["code"] in ("forbidden", "unknown_room")


def test_rate_limit_refuses_the_excess_and_keeps_everything_accepted(make_app):
    app = make_app(CHAT_RATE_LIMIT=10, CHAT_RATE_BURST=20, CHAT_USER_RATE_LIMIT=20, CHAT_USER_RATE_BURST=40)
    flooder, calm = Person(app, "flooder"), Person(app, "calm")
    for p in (flooder, calm):
        p.call("join_room", {"room": "flood"})
    started = time.monotonic()
    acks = [flooder.call("room_message", {"room": "flood", "message": f"f{i}"}) for i in range(60)]
    elapsed = time.monotonic() - started
    accepted = [a["id"] for a in acks if a["ok"]]
    refused = [a for a in acks if not a["ok"]]
    # The burst, less the token the join took, plus what the bucket refilled (10/s) while the 60
    # were being handled.
    assert 19 <= len(accepted) <= 19 + 10 * elapsed + 1, (len(accepted), elapsed)
    assert refused
    assert {a["error"]["code"] for a in refused} == {"rate_limited"}
    calm_acks = [calm.call("room_message", {"room": "flood", "message": f"c{i}"}) for i in range(5)]
    assert all(a["ok"] for a in calm_acks)
    with app.app_context():
        stored = db.session.execute(db.select(Message.id).where(Message.text.like("f%"))).scalars().all()
    assert sorted(stored) == sorted(accepted)
    time.sleep(0.25)
    assert flooder.call("room_message", {"room": "flood", "message": "later"})["ok"]
    flooder.close(), calm.close()


def test_connections_per_user_are_capped(make_app):
    app = make_app(CHAT_MAX_CONNECTIONS_PER_USER=2)
    alice = Person(app, "alice")
    alice.socket(), alice.socket()
    third = socketio.test_client(app, flask_test_client=alice.http)
    assert not third.is_connected()
    alice.sockets[0].disconnect()
    fourth = socketio.test_client(app, flask_test_client=alice.http)
    assert fourth.is_connected()
    fourth.disconnect()
    alice.close()


def test_members_arriving_together_look_a_new_room_up_once(make_app, tmp_path, monkeypatch):
    """A connect storm: the first to join a room nobody has made yet looks it up and creates
    it; the others wait for that and find it remembered, instead of each querying the room
    (and trying to create it) while the first lookup is still out."""
    import threading

    from chat.models import Room
    from chat.rooms import access as rooms
    from tests.conftest import TEST_DB

    # Threads need a database of their own connections: a file, not the in-memory SQLite.
    app = make_app(**({} if TEST_DB == "postgresql" else {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/s.db"}))
    lookups = []
    real_find_room = rooms.find_room

    def slow_find_room(name):
        lookups.append(name)
        time.sleep(0.05)  # a database round trip under load
        return real_find_room(name)

    monkeypatch.setattr(rooms, "find_room", slow_find_room)
    clients = [socketio.test_client(app) for _ in range(6)]
    replies = []
    start = threading.Barrier(len(clients))

    def join(client):
        start.wait()
        replies.append(client.emit("join_room", {"room": "storm"}, callback=True))

    threads = [threading.Thread(target=join, args=(client,)) for client in clients]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        assert replies == [{"ok": True, "room": "storm"}] * len(clients)
        assert lookups == ["storm"]
        assert rooms._first_lookups == {}
        with app.app_context():
            assert db.session.query(Room).filter_by(name="storm").count() == 1
    finally:
        for client in clients:
            client.disconnect()
