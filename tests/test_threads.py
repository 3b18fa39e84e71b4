"""Replies in threads (issue 21): reply_to, the root's summary, thread pages and catch-up,
following and unread per thread across a user's sockets, mentions, who may reply and read."""

import pytest

from chat.extensions import socketio
from tests.test_everyday import received


@pytest.fixture
def trio(people):
    """alice writes in the public room "r", bob and carol read it; events cleared."""
    alice, bob, carol = people("alice"), people("bob"), people("carol")
    assert alice.call("create_room", {"room": "r"})["ok"]
    for person in (bob, carol):
        assert person.call("join_room", {"room": "r"})["ok"]
    for person in (alice, bob, carol):
        person.sock.get_received()
    return alice, bob, carol


def say(person, text, room="r", reply_to=None, sock=None):
    data = {"room": room, "message": text}
    if reply_to is not None:
        data["reply_to"] = reply_to
    ack = person.call("room_message", data, sock=sock)
    assert ack["ok"], ack
    return ack["id"]


def code(ack):
    assert ack["ok"] is False, ack
    return ack["error"]["code"]


def test_a_reply_is_a_room_message_with_thread_id_and_the_root_gains_a_summary(app, trio):
    alice, bob, carol = trio
    seed = socketio.test_client(app)  # a client that knows nothing of threads nor sessions
    assert seed.emit("join_room", {"room": "r"}, callback=True)["ok"]
    root = say(alice, "lunch?")
    seed.get_received()
    bob.sock.get_received()
    reply = say(bob, "yes", reply_to=root)
    (live,) = received(seed, "room_message")  # an ordinary room_message, the seed's data included
    assert live["id"] == reply and live["thread_id"] == root and live["data"].endswith(": yes")
    updated = received(bob.sock, "message_updated")
    assert [u["id"] for u in updated] == [root]
    summary = updated[0]["thread"]
    assert summary["replies"] == 1 and summary["participants"] == [{"id": live["user"]["id"], "name": "bob"}]
    assert summary["last_reply_at"] == live["ts"]

    again = say(carol, "me too", reply_to=reply)  # a reply to a reply joins the root's thread
    page = alice.call("get_history", {"room": "r"})
    by_id = {m["id"]: m for m in page["messages"]}
    assert by_id[again]["thread_id"] == root and by_id[root]["thread"]["replies"] == 2
    assert [p["name"] for p in by_id[root]["thread"]["participants"]] == ["carol", "bob"]
    assert "thread" not in by_id[reply] and "thread_id" not in by_id[root]
    # A client without a session replies too (it follows nothing); the summary counts it.
    assert seed.emit("room_message", {"room": "r", "message": "anon", "reply_to": root}, callback=True)["ok"]
    latest = [u for u in received(alice.sock, "message_updated") if u["id"] == root][-1]["thread"]
    assert latest["replies"] == 3 and latest["participants"][0]["id"] is None
    seed.disconnect()


def test_thread_pages_before_and_since_are_lossless(app, trio):
    alice, bob, _ = trio
    root = say(alice, "root")
    other = say(alice, "not in the thread")
    replies = [say(bob if i % 2 else alice, f"r{i}", reply_to=root) for i in range(7)]
    page = bob.call("get_history", {"room": "r", "thread": root, "limit": 3})
    assert page["ok"] and page["thread"] == root and page["root"]["id"] == root
    assert page["root"]["thread"]["replies"] == 7
    assert [m["id"] for m in page["messages"]] == replies[-3:] and page["has_more"] is True
    older = bob.call("get_history", {"room": "r", "thread": root, "before": replies[-3], "limit": 3})
    assert [m["id"] for m in older["messages"]] == replies[1:4] and older["has_more"] is True
    caught, since = [], replies[0]
    while True:  # catch-up from an id, a page at a time: every reply after it, in order
        step = bob.call("get_history", {"room": "r", "thread": root, "since": since, "limit": 2})
        caught += [m["id"] for m in step["messages"]]
        if not step["has_more"]:
            break
        since = caught[-1]
    assert caught == replies[1:] and other not in caught
    http = bob.http.get(f"/api/rooms/r/threads/{root}/messages?since={replies[4]}").get_json()
    assert [m["id"] for m in http["messages"]] == replies[5:] and http["root"]["id"] == root
    assert bob.http.get(f"/api/rooms/r/threads/{other + 10**6}/messages").status_code == 404
    assert code(bob.call("get_history", {"room": "r", "thread": replies[0]})) == "not_found"  # a reply is no thread
    assert code(bob.call("get_history", {"room": "r", "thread": root, "since": 1, "before": 9})) == "invalid_query"


def test_following_and_unread_agree_across_a_users_sockets(app, trio):
    alice, bob, carol = trio
    second = bob.socket()
    root = say(alice, "plan")
    say(bob, "I'm in", reply_to=root)  # bob follows by replying; alice follows as the root's author
    for s in (*bob.sockets, alice.sock):
        s.get_received()
    first = say(carol, "me too", reply_to=root)
    say(carol, "@bob bring snacks", reply_to=root)
    for s in bob.sockets:  # both of bob's sockets hear the thread's state
        states = received(s, "thread_state")
        assert states[-1]["id"] == root and states[-1]["unread"] == 2 and states[-1]["mentions"] == 1
        assert states[-1]["following"] is True and states[-1]["room"] == "r"
    listed = bob.call("list_threads", {}, sock=second)
    assert [(t["id"], t["unread"], t["mentions"]) for t in listed["threads"]] == [(root, 2, 1)]
    assert listed["threads"][0]["root"]["thread"]["replies"] == 3

    ack = bob.call("mark_thread_read", {"id": root, "last": first})
    assert ack == {"ok": True, "id": root, "last_read_id": first}
    (state,) = received(second, "thread_state")
    assert state["unread"] == 1 and state["mentions"] == 1 and state["last_read_id"] == first
    assert bob.call("mark_thread_read", {"id": root, "last": 0})["last_read_id"] == first  # never down
    assert bob.room("r")["unread"] == 1  # the root; its replies are not the room's unread
    assert bob.room("r")["mentions"] >= 1  # a mention in a thread counts in its room too

    assert bob.call("follow_thread", {"id": root, "follow": False}) == {"ok": True, "id": root, "follow": False}
    assert received(second, "thread_state")[-1]["following"] is False
    assert bob.call("list_threads", {})["threads"] == []
    say(carol, "anyone?", reply_to=root)
    assert bob.call("list_threads", {})["threads"] == []  # unfollowed stays unfollowed
    say(carol, "@bob you?", reply_to=root)  # a mention follows again
    assert [t["id"] for t in bob.call("list_threads", {})["threads"]] == [root]
    assert [t["id"] for t in alice.call("list_threads", {})["threads"]] == [root]


def test_replies_do_not_count_as_the_rooms_unread(app, trio):
    alice, bob, _ = trio
    root = say(alice, "root")
    assert bob.call("mark_read", {"room": "r", "id": root})["ok"]
    say(alice, "a reply", reply_to=root)
    assert bob.room("r")["unread"] == 0
    say(alice, "in the room")
    assert bob.room("r")["unread"] == 1


@pytest.mark.parametrize(
    "value, expected",
    [
        ("1", "invalid_type"),
        (True, "invalid_type"),
        (1.5, "invalid_type"),
        ([1], "invalid_type"),
        ({"id": 1}, "invalid_type"),
        (-1, "out_of_range"),
        (2**70, "out_of_range"),
        (0, "not_found"),
        (2**63 - 1, "not_found"),
        (2**31, "not_found"),
    ],
)
def test_hostile_reply_to_values_get_a_clear_error(app, trio, value, expected):
    alice, _, _ = trio
    ack = alice.call("room_message", {"room": "r", "message": "x", "reply_to": value})
    assert code(ack) == expected


def test_reply_to_must_be_a_live_message_of_the_same_room(app, trio):
    alice, bob, _ = trio
    assert alice.call("create_room", {"room": "elsewhere"})["ok"]
    there = say(alice, "elsewhere", room="elsewhere")
    assert code(alice.call("room_message", {"room": "r", "message": "x", "reply_to": there})) == "not_found"
    gone = say(alice, "soon deleted")
    assert alice.call("delete_message", {"id": gone})["ok"]
    assert code(bob.call("room_message", {"room": "r", "message": "x", "reply_to": gone})) == "not_found"
    glob = alice.call("send_message", {"message": "global"})["id"]
    assert code(bob.call("room_message", {"room": "r", "message": "x", "reply_to": glob})) == "not_found"
    for bad in (0, -5, "x", None):
        assert code(bob.call("follow_thread", {"id": bad})) in {
            "not_found",
            "invalid_type",
            "out_of_range",
            "missing_field",
        }
    root = say(alice, "root")
    assert code(bob.call("follow_thread", {"id": root, "follow": "yes"})) == "invalid_type"
    assert code(bob.call("mark_thread_read", {"id": root})) == "missing_field"
    assert code(bob.call("list_threads", [1])) == "invalid_payload"


def test_outsiders_and_removed_members_can_neither_reply_nor_read_a_private_thread(app, people):
    alice, bob, mallory = people("alice"), people("bob"), people("mallory")
    assert alice.call("create_room", {"room": "secret", "private": True})["ok"]
    assert alice.call("invite", {"room": "secret", "user": "bob"})["ok"]
    assert bob.call("join_room", {"room": "secret"})["ok"]
    root = say(alice, "classified", room="secret")
    say(bob, "ok", room="secret", reply_to=root)
    anonymous = socketio.test_client(app)

    for client in (mallory.sock, anonymous):
        ack = client.emit("room_message", {"room": "secret", "message": "x", "reply_to": root}, callback=True)
        assert code(ack) in {"not_in_room", "unknown_room"}
        assert code(client.emit("get_history", {"room": "secret", "thread": root}, callback=True)) == "unknown_room"
    assert code(mallory.call("follow_thread", {"id": root})) == "not_found"
    assert code(mallory.call("mark_thread_read", {"id": root, "last": root})) == "not_found"
    assert code(anonymous.emit("list_threads", {}, callback=True)) == "forbidden"
    assert mallory.http.get(f"/api/rooms/secret/threads/{root}/messages").status_code == 404

    assert alice.call("remove_member", {"room": "secret", "user": "bob"})["ok"]
    bob.sock.get_received()
    assert code(bob.call("room_message", {"room": "secret", "message": "x", "reply_to": root})) in {
        "not_in_room",
        "forbidden",
    }
    assert code(bob.call("get_history", {"room": "secret", "thread": root})) == "unknown_room"
    assert bob.http.get(f"/api/rooms/secret/threads/{root}/messages").status_code == 404
    assert bob.call("list_threads", {})["threads"] == []  # a thread of a room one left is not listed
    say(alice, "after bob left", room="secret", reply_to=root)
    assert received(bob.sock, "thread_state") == [] and received(bob.sock, "room_message") == []
    anonymous.disconnect()


def test_a_deleted_reply_leaves_the_summary_and_the_unread(app, trio):
    alice, bob, _ = trio
    root = say(alice, "root")
    keep = say(bob, "keep", reply_to=root)
    gone = say(bob, "oops", reply_to=root)
    alice.sock.get_received()
    assert bob.call("delete_message", {"id": gone})["ok"]
    got = alice.sock.get_received()
    roots = [r["args"][0] for r in got if r["name"] == "message_updated" and r["args"][0]["id"] == root]
    assert roots[-1]["thread"]["replies"] == 1
    states = [r["args"][0] for r in got if r["name"] == "thread_state"]
    assert states[-1]["id"] == root and states[-1]["unread"] == 1
    page = alice.call("get_history", {"room": "r", "thread": root})
    assert [m["id"] for m in page["messages"]] == [keep, gone] and page["messages"][1]["deleted"] is True
