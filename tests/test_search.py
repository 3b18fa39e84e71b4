"""Search: only messages one may read, never tombstones; Japanese and English; socket and HTTP."""

import pytest

from chat.extensions import socketio
from tests.test_everyday import Person


@pytest.fixture
def world(app):
    """alice and bob share a private room and a DM; carol is in neither; everyone sees "lobby"."""
    alice, bob, carol = Person(app, "alice"), Person(app, "bob"), Person(app, "carol")
    alice.call("create_room", {"room": "lobby"})
    bob.call("join_room", {"room": "lobby"})
    alice.call("create_room", {"room": "secret", "private": True})
    alice.call("invite", {"room": "secret", "user": "bob"})
    dm = alice.call("open_dm", {"user": "bob"})["room"]
    sent = {}
    for key, event, data in [
        ("global", "send_message", {"message": "apples for everyone"}),
        ("lobby", "room_message", {"room": "lobby", "message": "apples in the lobby"}),
        ("secret", "room_message", {"room": "secret", "message": "secret apples"}),
        ("dm", "room_message", {"room": dm, "message": "apples just for you"}),
        ("cat", "room_message", {"room": "lobby", "message": "猫が好き"}),
        ("kittens", "room_message", {"room": "lobby", "message": "I like Kittens a lot"}),
        ("percent", "room_message", {"room": "lobby", "message": "100% sure, a_b"}),
    ]:
        ack = alice.call(event, data)
        assert ack["ok"], ack
        sent[key] = ack["id"]
    yield alice, bob, carol, dm, sent
    for person in (alice, bob, carol):
        person.close()


def search(person, q, **extra):
    ack = person.call("search", {"q": q, **extra})
    assert ack["ok"], ack
    assert ack["q"] == q.strip()
    return ack["results"]


def ids(results):
    return [m["id"] for m in results]


def test_search_returns_only_readable_messages_newest_first(world):
    alice, bob, carol, dm, sent = world
    everything = [sent["dm"], sent["secret"], sent["lobby"], sent["global"]]
    assert ids(search(bob, "apples")) == everything
    assert ids(search(alice, "apples")) == everything
    results = search(carol, "apples")
    assert ids(results) == [sent["lobby"], sent["global"]]
    assert [m["room"] for m in results] == ["lobby", None]
    assert results[0]["text"] == "apples in the lobby" and results[0]["user"]["name"] == "alice"
    assert search(carol, "secret") == [] and search(carol, "just for") == []
    # A guest without an account reads the global channel and public rooms only.
    anonymous = socketio.test_client(alice.app)
    try:
        ack = anonymous.emit("search", {"q": "apples"}, callback=True)
        assert ids(ack["results"]) == [sent["lobby"], sent["global"]]
    finally:
        anonymous.disconnect()


def test_a_removed_member_stops_finding_the_private_room(world):
    alice, bob, carol, dm, sent = world
    alice.call("invite", {"room": "secret", "user": "carol"})
    assert sent["secret"] in ids(search(carol, "apples"))
    alice.call("remove_member", {"room": "secret", "user": "carol"})
    assert sent["secret"] not in ids(search(carol, "apples"))


@pytest.mark.parametrize("q", ["猫", "好き", "猫が好き", "が好"])
def test_japanese_is_found_by_any_part(world, q):
    _, _, carol, _, sent = world
    assert ids(search(carol, q)) == [sent["cat"]]


@pytest.mark.parametrize("q", ["kittens", "Kittens", "KITTEN", "like kittens", "it"])
def test_english_is_found_by_word_and_part_of_a_word_regardless_of_case(world, q):
    _, _, carol, _, sent = world
    assert sent["kittens"] in ids(search(carol, q))


def test_query_syntax_is_text(world):
    _, _, carol, _, sent = world
    assert ids(search(carol, "100%")) == [sent["percent"]]
    assert ids(search(carol, "a_b")) == [sent["percent"]]
    assert search(carol, "%") and ids(search(carol, "%")) == [sent["percent"]]
    assert search(carol, "_") and ids(search(carol, "_")) == [sent["percent"]]
    for q in ('"', '"apples', "apples OR secret", "NEAR(apples lobby)", "apples*", "app:les", "\\", "' OR 1=1 --"):
        ack = carol.call("search", {"q": q})
        assert ack["ok"] is True, (q, ack)
        assert sent["secret"] not in ids(ack["results"])


def test_deleted_messages_are_not_found_and_edits_are_found_by_their_new_text(world):
    alice, _, carol, _, sent = world
    assert alice.call("delete_message", {"id": sent["lobby"]})["ok"]
    assert ids(search(carol, "apples")) == [sent["global"]]
    assert alice.call("edit_message", {"id": sent["kittens"], "message": "I like puppies"})["ok"]
    assert search(carol, "Kittens") == []
    (found,) = search(carol, "puppies")
    assert found["id"] == sent["kittens"] and "edited_at" in found


def test_search_in_one_room(world):
    alice, bob, carol, dm, sent = world
    assert ids(search(bob, "apples", room="secret")) == [sent["secret"]]
    assert ids(search(bob, "apples", room=dm)) == [sent["dm"]]
    assert ids(search(carol, "apples", room="lobby")) == [sent["lobby"]]
    for room in ("secret", dm, "nowhere"):
        ack = carol.call("search", {"q": "apples", "room": room})
        assert ack["ok"] is False and ack["error"]["code"] == "not_found"


def test_limit(world):
    alice, _, carol, _, sent = world
    more = [alice.call("room_message", {"room": "lobby", "message": f"pear {i}"})["id"] for i in range(25)]
    assert ids(search(carol, "pear")) == list(reversed(more))[:20]
    assert ids(search(carol, "pear", limit=3)) == list(reversed(more))[:3]
    assert len(search(carol, "pear", limit=50)) == 25


@pytest.mark.parametrize(
    "payload,code",
    [
        ({}, "missing_field"),
        ({"q": ""}, "empty_field"),
        ({"q": "   "}, "empty_field"),
        ({"q": 5}, "invalid_type"),
        ({"q": "x" * 201}, "too_long"),
        ({"q": "x", "limit": 51}, "out_of_range"),
        ({"q": "x", "limit": 0}, "out_of_range"),
        ({"q": "x", "limit": "5"}, "invalid_type"),
        ({"q": "x", "room": 5}, "invalid_type"),
        ("apples", "invalid_payload"),
    ],
)
def test_bad_searches_get_clear_errors(world, payload, code):
    _, _, carol, _, sent = world
    ack = carol.call("search", payload)
    assert ack["ok"] is False and ack["error"]["code"] == code
    assert ids(search(carol, "apples")) == [sent["lobby"], sent["global"]]


def test_http_search(world):
    alice, bob, carol, dm, sent = world
    body = carol.http.get("/api/search?q=apples").get_json()
    assert body["q"] == "apples" and ids(body["results"]) == [sent["lobby"], sent["global"]]
    body = bob.http.get("/api/search", query_string={"q": "apples", "room": dm}).get_json()
    assert ids(body["results"]) == [sent["dm"]]
    body = carol.http.get("/api/search", query_string={"q": "猫"}).get_json()
    assert ids(body["results"]) == [sent["cat"]]
    assert ids(carol.http.get("/api/search?q=apples&limit=1").get_json()["results"]) == [sent["lobby"]]
    for query, status, code in [
        ("", 400, "missing_field"),
        ("q=", 400, "empty_field"),
        ("q=" + "x" * 201, 400, "too_long"),
        ("q=x&limit=51", 400, "invalid_query"),
        ("q=apples&room=secret", 404, "not_found"),
    ]:
        response = carol.http.get(f"/api/search?{query}")
        assert response.status_code == status and response.get_json()["error"]["code"] == code, query


def test_http_search_needs_a_login_when_guests_are_off(make_app):
    app = make_app(CHAT_ALLOW_GUESTS=False)
    assert app.test_client().get("/api/search?q=x").status_code == 401
