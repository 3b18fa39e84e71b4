"""Editing, deleting and reacting to messages: who may, what everyone sees live, what history keeps."""

import re
import time
from io import BytesIO

import pytest
from sqlalchemy import func, select

from chat.extensions import db, socketio
from chat.models import Mention, Message, Reaction, User
from tests.test_cluster import services  # noqa: F401  (fixture: PostgreSQL, Redis, nginx)
from tests.test_everyday import Person, received

CSRF = re.compile(r'<input[^>]*name="csrf_token"[^>]*value="([^"]+)"')


def user_id(app, name):
    with app.app_context():
        return db.session.execute(select(User.id).filter_by(name_key=name)).scalar_one()


def csrf_headers(person):
    """The page's CSRF token, sent as Flask-WTF's default header (as the page's fetch does)."""
    page = person.http.get("/").get_data(as_text=True)
    return {"X-CSRFToken": CSRF.search(page).group(1)}


@pytest.fixture
def trio(people):
    """alice writes in the room "r", bob and carol read it; bob's socket events are cleared."""
    alice, bob, carol = people("alice"), people("bob"), people("carol")
    assert alice.call("create_room", {"room": "r"})["ok"]
    for person in (bob, carol):
        assert person.call("join_room", {"room": "r"})["ok"]
    for person in (alice, bob, carol):
        person.sock.get_received()
    return alice, bob, carol


def say(person, text, room="r"):
    ack = person.call("room_message", {"room": room, "message": text})
    assert ack["ok"], ack
    return ack["id"]


def updates(person):
    return received(person.sock, "message_updated")


def error_code(ack):
    assert ack["ok"] is False, ack
    return ack["error"]["code"]


# ---- edit ----


def test_the_author_edits_and_everyone_in_the_room_sees_it_live_and_in_history(app, trio):
    alice, bob, carol = trio
    first = say(alice, "helo wrold")
    second = say(alice, "unchanged")
    bob.sock.get_received()
    ack = alice.call("edit_message", {"id": first, "message": "hello **world**"})
    assert ack == {"ok": True, "id": first}
    (live,) = updates(bob)
    assert live["id"] == first and live["room"] == "r" and live["text"] == "hello **world**"
    assert live["html"] == "<p>hello <strong>world</strong></p>" and "edited_at" in live
    assert live["data"].endswith(": hello **world**") and live["user"]["name"] == "alice"
    assert [m["id"] for m in updates(carol)] == [first]

    page = carol.call("get_history", {"room": "r"})
    by_id = {m["id"]: m for m in page["messages"]}
    assert by_id[first]["text"] == "hello **world**" and by_id[first]["edited_at"] == live["edited_at"]
    assert "edited_at" not in by_id[second]
    http = carol.http.get("/api/rooms/r/messages").get_json()["messages"]
    assert [(m["id"], m["text"], m.get("edited_at")) for m in http] == [
        (first, "hello **world**", live["edited_at"]),
        (second, "unchanged", None),
    ]
    since = carol.call("get_history", {"room": "r", "since": first - 1})["messages"]
    assert since[0]["text"] == "hello **world**" and since[0]["edited_at"] == live["edited_at"]
    with app.app_context():
        assert db.session.get(Message, first).text == "hello **world**"


def test_only_the_author_edits(app, trio):
    alice, bob, carol = trio
    mine = say(alice, "alice's words")
    assert error_code(bob.call("edit_message", {"id": mine, "message": "bob's words"})) == "forbidden"
    response = bob.http.patch(f"/api/messages/{mine}", json={"message": "bob's words"}, headers=csrf_headers(bob))
    assert response.status_code == 403 and response.get_json()["error"]["code"] == "forbidden"
    assert updates(carol) == []
    with app.app_context():
        row = db.session.get(Message, mine)
        assert row.text == "alice's words" and row.edited_at is None


def test_editing_recounts_mentions(app, trio):
    alice, bob, carol = trio
    first = say(alice, "hello everyone")
    bob_id, carol_id = user_id(app, "bob"), user_id(app, "carol")
    alice.call("edit_message", {"id": first, "message": "hello @bob"})
    assert updates(bob)[0]["mentions"] == [bob_id]
    assert bob.room("r")["mentions"] == 1
    alice.call("edit_message", {"id": first, "message": "hello @carol"})
    assert bob.room("r")["mentions"] == 0 and carol.room("r")["mentions"] == 1
    page = bob.call("get_history", {"room": "r"})
    assert page["messages"][0]["mentions"] == [carol_id]


def test_a_message_is_one_payload_live_in_history_after_an_edit_and_in_search(app, trio):
    """One builder for every path: the same fields, mentions and reactions included."""
    alice, bob, carol = trio
    target = say(alice, "lunch with @bob and @carol today")
    live = [p for p in received(bob.sock, "room_message") if p.get("id") == target][0]
    assert live["mentions"] == sorted([user_id(app, "bob"), user_id(app, "carol")])
    page = bob.call("get_history", {"room": "r"})["messages"]
    assert [p for p in page if p["id"] == target] == [live]
    assert bob.call("search", {"q": "lunch", "room": "r"})["results"] == [live]
    assert bob.call("react", {"id": target, "emoji": "👍"})["ok"]
    updated = updates(alice)[-1]
    assert updated == {**live, "reactions": [{"emoji": "👍", "count": 1, "users": [user_id(app, "bob")]}]}
    assert bob.call("search", {"q": "lunch"})["results"] == [updated]
    assert [p for p in bob.call("get_history", {"room": "r"})["messages"] if p["id"] == target] == [updated]


# ---- delete ----


def test_the_author_deletes_and_a_tombstone_keeps_the_id(app, trio):
    alice, bob, carol = trio
    ids = [say(alice, f"m{i} @bob") for i in range(3)]
    bob.call("react", {"id": ids[1], "emoji": "👍"})
    bob.sock.get_received(), carol.sock.get_received()
    assert alice.call("delete_message", {"id": ids[1]}) == {"ok": True, "id": ids[1]}
    (live,) = updates(carol)
    assert live["id"] == ids[1] and live["deleted"] is True and "deleted_at" in live
    assert live["text"] == "" and "html" not in live and "reactions" not in live and "mentions" not in live
    assert [m["id"] for m in updates(bob)] == [ids[1]]

    page = carol.call("get_history", {"room": "r"})["messages"]
    assert [m["id"] for m in page] == ids  # no gap: clients asking `since` see the tombstone
    assert page[1]["deleted"] is True and page[1]["text"] == "" and page[1]["deleted_at"] == live["deleted_at"]
    assert all("deleted" not in m for m in (page[0], page[2]))
    http = carol.http.get(f"/api/rooms/r/messages?since={ids[0]}").get_json()["messages"]
    assert [(m["id"], m.get("deleted", False)) for m in http] == [(ids[1], True), (ids[2], False)]
    with app.app_context():
        row = db.session.get(Message, ids[1])
        assert row.text == "" and row.deleted_at is not None
        assert db.session.execute(select(func.count()).select_from(Reaction)).scalar() == 0
        assert db.session.execute(select(Mention.message_id).order_by(Mention.message_id)).scalars().all() == [
            ids[0],
            ids[2],
        ]
    assert bob.room("r")["mentions"] == 2
    # Deleting again is harmless (a retry), and a tombstone cannot be edited back to life.
    assert alice.call("delete_message", {"id": ids[1]})["ok"] is True
    assert error_code(alice.call("edit_message", {"id": ids[1], "message": "back"})) == "deleted"
    assert error_code(bob.call("react", {"id": ids[1], "emoji": "👍"})) == "deleted"


def test_only_the_author_or_an_admin_deletes(app, trio):
    alice, bob, carol = trio
    mine = say(alice, "keep me")
    assert error_code(bob.call("delete_message", {"id": mine})) == "forbidden"
    response = bob.http.delete(f"/api/messages/{mine}", headers=csrf_headers(bob))
    assert response.status_code == 403 and response.get_json()["error"]["code"] == "forbidden"
    assert updates(carol) == []

    result = app.test_cli_runner().invoke(args=["chat", "admin", "bob"])
    assert result.exit_code == 0 and "bob is now an admin" in result.output
    assert bob.call("delete_message", {"id": mine}) == {"ok": True, "id": mine}
    assert updates(carol)[0]["deleted"] is True
    # An admin may delete, not edit.
    other = say(alice, "mine to edit")
    assert error_code(bob.call("edit_message", {"id": other, "message": "x"})) == "forbidden"

    result = app.test_cli_runner().invoke(args=["chat", "admin", "--revoke", "bob"])
    assert result.exit_code == 0 and "no longer" in result.output
    assert error_code(bob.call("delete_message", {"id": other})) == "forbidden"
    result = app.test_cli_runner().invoke(args=["chat", "admin", "nobody"])
    assert result.exit_code != 0 and "No user called 'nobody'" in result.output


def test_deleting_a_message_deletes_its_file(make_app, tmp_path):
    folder = tmp_path / "uploads"
    app = make_app(CHAT_UPLOAD_FOLDER=str(folder))
    alice, bob = Person(app, "alice"), Person(app, "bob")
    try:
        alice.call("create_room", {"room": "files"})
        bob.call("join_room", {"room": "files"})
        response = alice.http.post(
            "/api/uploads",
            data={"file": (BytesIO(b"hello, file"), "note.txt"), "room": "files"},
            headers=csrf_headers(alice),
            content_type="multipart/form-data",
        )
        assert response.status_code == 201, response.get_data(as_text=True)
        message = response.get_json()["message"]
        url = message["file"]["url"]
        assert bob.http.get(url).status_code == 200
        on_disk = [p for p in folder.rglob("*") if p.is_file()]
        assert on_disk
        bob.sock.get_received()

        assert alice.call("delete_message", {"id": message["id"]})["ok"] is True
        (live,) = updates(bob)
        assert live["deleted"] is True and "file" not in live
        assert not any(p.exists() for p in on_disk)
        assert bob.http.get(url).status_code == 404
        tombstone = bob.call("get_history", {"room": "files"})["messages"][-1]
        assert tombstone["id"] == message["id"] and "file" not in tombstone
    finally:
        alice.close(), bob.close()


# ---- reactions ----


def test_reactions_toggle_count_per_user_and_show_in_history(app, trio):
    alice, bob, carol = trio
    target = say(alice, "react to me")
    alice_id, bob_id = user_id(app, "alice"), user_id(app, "bob")
    first = bob.call("react", {"id": target, "emoji": "👍"})
    assert first == {
        "ok": True,
        "id": target,
        "emoji": "👍",
        "added": True,
        "reactions": [{"emoji": "👍", "count": 1, "users": [bob_id]}],
    }
    live = updates(carol)
    assert live[-1]["id"] == target and live[-1]["reactions"] == first["reactions"]
    alice.call("react", {"id": target, "emoji": "👍"})
    both = alice.call("react", {"id": target, "emoji": "🎉"})
    assert both["reactions"] == [
        {"emoji": "👍", "count": 2, "users": [bob_id, alice_id]},
        {"emoji": "🎉", "count": 1, "users": [alice_id]},
    ]
    page = carol.call("get_history", {"room": "r"})["messages"]
    assert page[0]["reactions"] == both["reactions"]

    off = bob.call("react", {"id": target, "emoji": "👍"})
    assert off["added"] is False
    assert off["reactions"] == [
        {"emoji": "👍", "count": 1, "users": [alice_id]},
        {"emoji": "🎉", "count": 1, "users": [alice_id]},
    ]
    assert updates(carol)[-1]["reactions"] == off["reactions"]
    alice.call("react", {"id": target, "emoji": "👍"})
    alice.call("react", {"id": target, "emoji": "🎉"})
    cleared = carol.call("get_history", {"room": "r"})["messages"][0]
    assert "reactions" not in cleared


def test_a_message_carries_a_limited_number_of_different_emoji(make_app):
    app = make_app(CHAT_MAX_REACTIONS_PER_MESSAGE=2)
    alice, bob = Person(app, "alice"), Person(app, "bob")
    alice.call("create_room", {"room": "r"})
    bob.call("join_room", {"room": "r"})
    target = say(alice, "few emoji")
    assert alice.call("react", {"id": target, "emoji": "👍"})["added"]
    assert alice.call("react", {"id": target, "emoji": "🎉"})["added"]
    assert error_code(bob.call("react", {"id": target, "emoji": "😀"})) == "too_many_reactions"
    # One of the emoji already there is still fine.
    assert bob.call("react", {"id": target, "emoji": "🎉"})["reactions"][1]["count"] == 2
    alice.close(), bob.close()


def test_every_emoji_form_is_one_emoji(trio):
    alice, bob, _ = trio
    target = say(alice, "emoji")
    for emoji in ("👍🏽", "👨\u200d👩\u200d👧", "🇯🇵", "❤️"):
        assert bob.call("react", {"id": target, "emoji": emoji})["added"] is True, emoji


# ---- who may touch which message ----


def test_messages_in_channels_one_cannot_read_are_not_found(app, people):
    alice, bob, mallory = people("alice"), people("bob"), people("mallory")
    alice.call("create_room", {"room": "secret", "private": True})
    alice.call("invite", {"room": "secret", "user": "bob"})
    secret = say(alice, "private words", room="secret")
    dm = alice.call("open_dm", {"user": "bob"})["room"]
    whisper = say(alice, "just us", room=dm)
    missing = whisper + 1000
    expected = {"code": "not_found"}
    for target in (secret, whisper, missing):
        for event, data in (("edit_message", {"message": "x"}), ("delete_message", {}), ("react", {"emoji": "👍"})):
            ack = mallory.call(event, {"id": target, **data})
            assert {"code": ack["error"]["code"]} == expected, (event, target)
            assert "secret" not in ack["error"]["message"] and "just us" not in ack["error"]["message"]
        response = mallory.http.post(
            f"/api/messages/{target}/reactions", json={"emoji": "👍"}, headers=csrf_headers(mallory)
        )
        assert response.status_code == 404 and response.get_json()["error"]["code"] == "not_found"
    # bob, a member, reacts to both; the DM's update reaches both of its users' sockets.
    bob.sock.get_received()
    assert bob.call("react", {"id": whisper, "emoji": "👍"})["added"]
    assert [m["id"] for m in updates(alice)] == [whisper]
    assert [m["id"] for m in updates(bob)] == [whisper]
    assert updates(mallory) == []
    assert bob.call("react", {"id": secret, "emoji": "👍"})["added"]
    assert updates(mallory) == []


def test_anonymous_connections_change_nothing(app, people):
    alice = people("alice")
    target = alice.call("send_message", {"message": "for everyone"})["id"]
    anonymous = socketio.test_client(app)
    try:
        for event, data in (("edit_message", {"message": "x"}), ("delete_message", {}), ("react", {"emoji": "👍"})):
            assert error_code(anonymous.emit(event, {"id": target, **data}, callback=True)) == "forbidden"
        assert app.test_client().delete(f"/api/messages/{target}").status_code in (400, 403)
        # It still reads updates of the global channel, like every connection.
        anonymous.get_received()
        alice.call("edit_message", {"id": target, "message": "for everyone, edited"})
        (live,) = received(anonymous, "message_updated")
        assert live["room"] is None and live["text"] == "for everyone, edited"
    finally:
        anonymous.disconnect()


def test_global_channel_updates_reach_every_connection(app, people):
    alice, bob = people("alice"), people("bob")
    target = alice.call("send_message", {"message": "hi all"})["id"]
    bob.sock.get_received()
    assert bob.call("react", {"id": target, "emoji": "👋"})["added"]
    assert updates(alice)[-1]["reactions"][0]["emoji"] == "👋"
    assert alice.call("delete_message", {"id": target})["ok"]
    assert updates(bob)[-1]["deleted"] is True
    assert app.test_client().get("/api/messages").get_json()["messages"][0]["deleted"] is True


# ---- bad input ----


@pytest.mark.parametrize(
    "event,payload,code",
    [
        ("edit_message", {"message": "x"}, "missing_field"),
        ("edit_message", {"id": "1", "message": "x"}, "invalid_type"),
        ("edit_message", {"id": 1.5, "message": "x"}, "invalid_type"),
        ("edit_message", {"id": True, "message": "x"}, "invalid_type"),
        ("edit_message", {"id": 2**70, "message": "x"}, "out_of_range"),
        ("edit_message", {"id": -1, "message": "x"}, "out_of_range"),
        ("edit_message", {"id": "TARGET"}, "missing_field"),
        ("edit_message", {"id": "TARGET", "message": 5}, "invalid_type"),
        ("edit_message", {"id": "TARGET", "message": "   "}, "empty_field"),
        ("edit_message", {"id": "TARGET", "message": "x" * 4001}, "too_long"),
        ("edit_message", "not an object", "invalid_payload"),
        ("edit_message", {"id": 2**62, "message": "x"}, "not_found"),
        ("delete_message", {}, "missing_field"),
        ("delete_message", {"id": [1]}, "invalid_type"),
        ("delete_message", None, "invalid_payload"),
        ("react", {"id": "TARGET"}, "missing_field"),
        ("react", {"id": "TARGET", "emoji": "a"}, "invalid_emoji"),
        ("react", {"id": "TARGET", "emoji": "👍👍"}, "invalid_emoji"),
        ("react", {"id": "TARGET", "emoji": ":+1:"}, "invalid_emoji"),
        ("react", {"id": "TARGET", "emoji": ""}, "invalid_emoji"),
        ("react", {"id": "TARGET", "emoji": "👍" * 100}, "invalid_emoji"),
        ("react", {"id": "TARGET", "emoji": 1}, "invalid_type"),
    ],
)
def test_bad_requests_get_clear_errors_and_the_connection_keeps_working(app, trio, event, payload, code):
    alice, bob, _ = trio
    target = say(alice, "original")
    if isinstance(payload, dict) and payload.get("id") == "TARGET":
        payload = {**payload, "id": target}
    ack = alice.call(event, payload)
    assert error_code(ack) == code
    assert received(alice.sock, "error")[-1]["code"] == code
    assert updates(bob) == []
    assert say(alice, "still here") > target
    with app.app_context():
        assert db.session.get(Message, target).text == "original"


# ---- HTTP twins ----


def test_http_edit_delete_and_react_with_a_csrf_token(app, trio):
    alice, bob, carol = trio
    target = say(alice, "via http")
    headers = csrf_headers(alice)
    refused = alice.http.patch(f"/api/messages/{target}", json={"message": "no token"})
    assert refused.status_code == 400 and refused.get_json()["error"]["code"] == "invalid_csrf"

    edited = alice.http.patch(f"/api/messages/{target}", json={"message": "via _http_"}, headers=headers)
    assert edited.status_code == 200
    body = edited.get_json()
    assert body["ok"] is True and body["id"] == target and body["message"]["html"] == "<p>via <em>http</em></p>"
    assert updates(carol)[-1]["text"] == "via _http_"

    reacted = bob.http.post(f"/api/messages/{target}/reactions", json={"emoji": "👍"}, headers=csrf_headers(bob))
    assert reacted.status_code == 200 and reacted.get_json()["added"] is True
    assert updates(carol)[-1]["reactions"][0]["users"] == [user_id(app, "bob")]

    bad = bob.http.post(f"/api/messages/{target}/reactions", json={"emoji": "no"}, headers=csrf_headers(bob))
    assert bad.status_code == 400 and bad.get_json()["error"]["code"] == "invalid_emoji"
    bad = alice.http.patch(f"/api/messages/{target}", data="not json", headers=headers)
    assert bad.status_code == 400 and bad.get_json()["error"]["code"] == "invalid_payload"
    bad = alice.http.patch(f"/api/messages/{target}", json={"message": ""}, headers=headers)
    assert bad.status_code == 400 and bad.get_json()["error"]["code"] == "empty_field"
    huge = alice.http.delete("/api/messages/99999999999999999999999", headers=headers)
    assert huge.status_code == 404 and huge.get_json()["error"]["code"] == "not_found"

    deleted = alice.http.delete(f"/api/messages/{target}", headers=headers)
    assert deleted.status_code == 200 and deleted.get_json()["message"]["deleted"] is True
    assert updates(carol)[-1]["deleted"] is True
    again = alice.http.patch(f"/api/messages/{target}", json={"message": "back"}, headers=headers)
    assert again.status_code == 400 and again.get_json()["error"]["code"] == "deleted"


# ---- several nodes ----


@pytest.mark.usefixtures("services")
def test_updates_reach_the_clients_of_every_node_in_order():
    """Three gunicorn nodes, Redis and PostgreSQL: an edit, a reaction and a deletion made on
    node 1 reach readers on nodes 2 and 3 once each, in the order they were made."""
    import requests

    from tests.accounts import register
    from tests.live_client import LiveClient
    from tests.test_cluster import new_cluster

    cluster = new_cluster()
    clients = []
    try:
        author_http = requests.Session()
        assert register(author_http, "alice", base=cluster.nodes[0].url).status_code == 302
        cookie = "; ".join(f"{k}={v}" for k, v in author_http.cookies.get_dict().items())
        author = LiveClient(cluster.nodes[0].url).connect(headers={"Cookie": cookie})
        readers = [LiveClient(node.url) for node in cluster.nodes[1:]]
        for reader in readers:
            reader.sio.on("message_updated", reader._recorder(reader.received, "message_updated"))
            reader.connect()
        clients = [author, *readers]

        target = author.call("send_message", {"message": "across nodes"})["id"]
        assert author.call("edit_message", {"id": target, "message": "across *nodes*"})["ok"]
        assert author.call("react", {"id": target, "emoji": "👍"})["added"] is True
        assert author.call("delete_message", {"id": target})["ok"]
        for reader in readers:
            got = reader.wait_count("message_updated", 3)
            updates_seen = [p for n, p in got if n == "message_updated"]
            assert [u["id"] for u in updates_seen] == [target] * 3
            assert updates_seen[0]["html"] == "<p>across <em>nodes</em></p>" and "reactions" not in updates_seen[0]
            assert updates_seen[1]["reactions"][0]["emoji"] == "👍"
            assert updates_seen[2]["deleted"] is True
            time.sleep(0.2)  # nothing more arrives: one copy each
            assert len([1 for n, _ in reader.received if n == "message_updated"]) == 3
    finally:
        for client in clients:
            client.disconnect()
        cluster.stop()
