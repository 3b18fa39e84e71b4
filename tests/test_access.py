"""Access ends at once: a removed member, a logged-out cookie and an outsider get nothing.

What a connection remembers about its rooms never grants access to a private room by itself:
every path checks the membership in the database, and a removal makes the user's connections
forget the room on every node. The in-process tests remove members directly in the database
too: that is a removal made on another node whose control message has not arrived yet.
"""

import re
import threading
import time
import uuid

import pytest
import requests
from sqlalchemy import delete, select

from chat.connections.state import state_in
from chat.extensions import db, socketio
from chat.models import Message, Room, RoomMember, User
from chat.rooms import access as rooms
from tests import cluster as cl
from tests.accounts import register
from tests.conftest import pg_database
from tests.live_client import LiveClient
from tests.test_everyday import Person, received


@pytest.fixture
def secret(app):
    """alice owns the private room "secret", bob is a member with one socket in it."""
    alice, bob = Person(app, "alice"), Person(app, "bob")
    bob.socket()  # open before the invitation: the join below is announced to the room
    assert alice.call("create_room", {"room": "secret", "private": True})["ok"]
    assert alice.call("invite", {"room": "secret", "user": "bob"})["ok"]
    joined = bob.call("join_room", {"room": "secret"})
    assert joined["ok"] and "already" not in joined
    assert alice.call("room_message", {"room": "secret", "message": "before"})["ok"]
    alice.sock.get_received(), bob.sock.get_received()
    yield alice, bob
    alice.close(), bob.close()


def user_id(app, name):
    with app.app_context():
        return db.session.execute(select(User.id).filter_by(name=name)).scalar_one()


def remove_in_database(app, name, room="secret"):
    """A removal committed by another node, whose `forget` has not reached this one yet."""
    uid = user_id(app, name)
    with app.app_context():
        room_id = db.session.execute(select(Room.id).filter_by(name=room)).scalar_one()
        db.session.execute(delete(RoomMember).where(RoomMember.room_id == room_id, RoomMember.user_id == uid))
        db.session.commit()


def texts(events):
    """Every message text in a list of received events (live messages and history pages)."""
    found = []
    for event in events:
        payload = event["args"][0] if event.get("args") else None
        if not isinstance(payload, dict):
            continue
        if "messages" in payload:
            found += [m.get("text") for m in payload["messages"]]
        elif "text" in payload:
            found.append(payload["text"])
    return found


def leave_notices(sock, room="secret"):
    return [m for m in received(sock, "room_message") if m.get("type") == "leave" and m.get("room") == room]


@pytest.mark.parametrize("how", ["remove_member", "another_node"])
def test_a_removed_member_cannot_join_again_or_replay_on_the_socket_open_at_removal(secret, app, how):
    alice, bob = secret
    if how == "remove_member":
        assert alice.call("remove_member", {"room": "secret", "user": "bob"})["ok"]
    else:
        remove_in_database(app, "bob")
    assert alice.call("room_message", {"room": "secret", "message": "after removal"})["ok"]
    bob.sock.get_received()
    for payload in ({"room": "secret"}, {"room": "secret", "since": 0}):
        ack = bob.call("join_room", payload)
        assert ack["ok"] is False and ack["error"]["code"] == "forbidden", ack
    ack = bob.call("get_history", {"room": "secret", "since": 0})
    assert ack["ok"] is False and ack["error"]["code"] == "unknown_room"
    assert bob.http.get("/api/rooms/secret/messages").status_code == 404
    got = bob.sock.get_received()
    assert "after removal" not in texts(got) and "before" not in texts(got)
    assert [e for e in got if e["name"] == "history"] == []


@pytest.mark.parametrize("how", ["remove_member", "another_node"])
def test_a_removed_members_leave_gets_not_in_room_and_tells_nobody(secret, app, how):
    alice, bob = secret
    if how == "remove_member":
        assert alice.call("remove_member", {"room": "secret", "user": "bob"})["ok"]
    else:
        remove_in_database(app, "bob")
    alice.sock.get_received()
    ack = bob.call("leave_room", {"room": "secret"})
    assert ack["ok"] is False and ack["error"]["code"] == "not_in_room"
    assert leave_notices(alice.sock) == []
    # Nor does its disconnect (the join was announced, the removal ended it).
    bob.sock.disconnect()
    assert leave_notices(alice.sock) == []


def test_a_removed_members_disconnect_tells_nobody_even_before_the_forget_arrives(secret, app):
    alice, bob = secret
    remove_in_database(app, "bob")
    alice.sock.get_received()
    bob.sock.disconnect()
    assert leave_notices(alice.sock) == []


@pytest.mark.parametrize("how", ["remove_member", "another_node"])
def test_every_other_path_refuses_a_removed_member(secret, app, how):
    alice, bob = secret
    if how == "remove_member":
        assert alice.call("remove_member", {"room": "secret", "user": "bob"})["ok"]
    else:
        remove_in_database(app, "bob")
    alice.sock.get_received()
    for event, payload in [
        ("typing", {"room": "secret"}),
        ("room_message", {"room": "secret", "message": "still here"}),
        ("mark_read", {"room": "secret", "id": 1}),
        ("subscribe", {"room": "secret"}),
        ("search", {"q": "before", "room": "secret"}),
    ]:
        ack = bob.call(event, payload)
        assert ack["ok"] is False, (event, ack)
        assert ack["error"]["code"] in ("forbidden", "not_in_room", "not_found"), (event, ack)
    assert received(alice.sock, "typing") == []
    assert "still here" not in texts(alice.sock.get_received())
    with app.app_context():
        assert db.session.execute(select(Message.id).filter_by(text="still here")).first() is None


def test_removal_makes_every_socket_of_the_user_forget_the_room(secret, app):
    alice, bob = secret
    second_tab = bob.socket()  # follows the room from its membership, without a join
    second_tab.get_received()
    assert alice.call("remove_member", {"room": "secret", "user": "bob"})["ok"]
    for sock in (bob.sock, second_tab):
        assert received(sock, "rooms_changed") == [{"room": "secret", "reason": "removed"}]
    # What each connection remembers is gone: no `already`, no typing hint, nothing to leave.
    for sock in (bob.sock, second_tab):
        state = state_in(socketio.server.environ[sock.eio_sid]["saved_session"])
        assert [ref.name for ref in state.rooms.values()] == [], state
        assert not state.announced, state
    assert bob.room("secret") is None


def test_a_removal_racing_with_a_join_leaves_the_joiner_out(secret, app, monkeypatch):
    """The join checks the membership, the removal commits and takes the user's sockets out of
    the room, then the join puts its socket in: it must notice and take it out again."""
    alice, bob = secret
    other = Person(app, "other")
    assert alice.call("invite", {"room": "secret", "user": "other"})["ok"]
    subscribe = rooms.subscribe

    def removed_meanwhile(ref):
        if ref.private:
            remove_in_database(app, "other")
            rooms.leave_room_everywhere(rooms.user_channel(user_id(app, "other")), rooms.channel(ref.name))
        return subscribe(ref)

    monkeypatch.setattr(rooms, "subscribe", removed_meanwhile)
    ack = other.call("join_room", {"room": "secret"})
    monkeypatch.setattr(rooms, "subscribe", subscribe)
    assert ack["ok"] is False and ack["error"]["code"] == "forbidden"
    other.sock.get_received()
    assert alice.call("room_message", {"room": "secret", "message": "after removal"})["ok"]
    assert "after removal" not in texts(other.sock.get_received())
    other.close()


def test_a_removal_racing_with_a_connect_leaves_the_new_socket_out(secret, app, monkeypatch):
    """Connect reads the memberships, the removal commits, then connect subscribes."""
    alice, bob = secret
    subscribe = rooms.subscribe

    def removed_meanwhile(ref):
        if ref.private:
            remove_in_database(app, "bob")
        return subscribe(ref)

    monkeypatch.setattr(rooms, "subscribe", removed_meanwhile)
    tab = bob.socket()
    monkeypatch.setattr(rooms, "subscribe", subscribe)
    tab.get_received()
    assert alice.call("room_message", {"room": "secret", "message": "after removal"})["ok"]
    assert "after removal" not in texts(tab.get_received())
    assert bob.call("typing", {"room": "secret"}, sock=tab)["ok"] is False


def test_a_logged_out_cookie_and_an_outsider_get_nothing(secret, app):
    alice, bob = secret
    mallory = Person(app, "mallory")
    page = bob.http.get("/")
    token = page.get_data(as_text=True).split('name="csrf_token" value="')[1].split('"')[0]
    assert bob.http.post("/logout", data={"csrf_token": token}).status_code == 302
    assert not bob.sock.is_connected()
    assert alice.call("room_message", {"room": "secret", "message": "after logout"})["ok"]
    # The browser's cookie after logout: a guest without a name at most.
    after = socketio.test_client(app, flask_test_client=bob.http)
    for who in (after, mallory.sock):
        for event, payload in [
            ("join_room", {"room": "secret", "since": 0}),
            ("get_history", {"room": "secret"}),
            ("subscribe", {"room": "secret"}),
            ("leave_room", {"room": "secret"}),
        ]:
            assert who.emit(event, payload, callback=True)["ok"] is False, (event,)
        assert "after logout" not in texts(who.get_received())
    assert bob.http.get("/api/rooms/secret/messages").status_code in (401, 404)
    after.disconnect()
    mallory.close()


# ---- three gunicorn nodes, Redis and PostgreSQL (tests/cluster.py) ----


@pytest.fixture(scope="module")
def nodes(pg_available):
    cl.require_services(pg_available)
    # No rate limits: the racing clients below ask as fast as they can.
    running = cl.Cluster(
        pg_database(f"chat_access_{uuid.uuid4().hex[:8]}"), CHAT_RATE_LIMIT="0", CHAT_USER_RATE_LIMIT="0"
    ).start()
    yield running.nodes
    running.stop()


def signed_in(url, name):
    session = requests.Session()
    assert register(session, name, base=url).status_code == 302
    return session


def cookie_of(session):
    return "; ".join(f"{k}={v}" for k, v in session.cookies.items())


class Racer:
    """A socket asking join_room {since: 0} and get_history {since: 0} over and over (in a thread),
    keeping every reply; what arrives as events the LiveClient keeps."""

    def __init__(self, url, session, room):
        self.room = room
        self.client = LiveClient(url).connect(headers={"Cookie": cookie_of(session)})
        self.replies = []
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        while not self.stopped.is_set() and self.client.sio.connected:
            for event in ("join_room", "get_history"):
                try:
                    self.replies.append((time.monotonic(), self.client.call(event, {"room": self.room, "since": 0})))
                except Exception:  # noqa: BLE001 - disconnected (a logout) or timed out
                    return

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.stopped.set()
        self.thread.join(15)
        assert not self.thread.is_alive()

    def texts(self):
        """Every message text this socket got: live, in history events and in get_history replies."""
        found = [p.get("text") for _, p in self.client.received if isinstance(p, dict)]
        found += [m["text"] for _, page in self.client.histories for m in page["messages"]]
        found += [m["text"] for _, reply in self.replies for m in reply.get("messages", ())]
        return found

    def refused_after(self, moment):
        """Replies to requests answered after `moment`: (accepted, refused) counts."""
        late = [reply for at, reply in self.replies if at > moment]
        return sum(1 for r in late if r.get("ok")), sum(1 for r in late if not r.get("ok"))


def private_room(nodes, owner, members):
    """A private room made by `owner` (a session on node 1) with `members` invited."""
    room = f"private-{uuid.uuid4().hex[:6]}"
    maker = LiveClient(nodes[0].url).connect(headers={"Cookie": cookie_of(owner)})
    assert maker.call("create_room", {"room": room, "private": True})["ok"]
    for name in members:
        assert maker.call("invite", {"room": room, "user": name})["ok"]
    assert maker.call("room_message", {"room": room, "message": "before"})["ok"]
    return room, maker


def test_a_removal_on_one_node_racing_with_joins_and_history_on_the_others(nodes):
    suffix = uuid.uuid4().hex[:6]
    owner, member = signed_in(nodes[0].url, f"owner-{suffix}"), signed_in(nodes[1].url, f"member-{suffix}")
    room, maker = private_room(nodes, owner, [f"member-{suffix}"])
    racers = [Racer(node.url, member, room).start() for node in nodes[1:]]
    outsider = LiveClient(nodes[2].url).connect()
    try:
        time.sleep(0.5)
        assert all(r.refused_after(0)[0] > 0 for r in racers), "the member was never let in"
        assert maker.call("remove_member", {"room": room, "user": f"member-{suffix}"})["ok"]
        removed_at = time.monotonic()
        for i in range(5):
            assert maker.call("room_message", {"room": room, "message": f"after {i}"})["ok"]
        time.sleep(1.0)
        for racer in racers:
            racer.stop()
            accepted, refused = racer.refused_after(removed_at)
            assert accepted == 0 and refused > 0, (accepted, refused)
            assert not [t for t in racer.texts() if t and t.startswith("after")], racer.texts()[-10:]
            maker.clear()
            ack = racer.client.call("leave_room", {"room": room})
            assert ack["ok"] is False and ack["error"]["code"] == "not_in_room"
        time.sleep(0.3)
        assert [p for _, p in maker.received if p.get("type") == "leave"] == []
        for node in nodes:
            assert member.get(f"{node.url}/api/rooms/{room}/messages").status_code == 404
        for event in ("join_room", "get_history", "subscribe", "leave_room"):
            assert outsider.call(event, {"room": room, "since": 0})["ok"] is False
        assert "before" not in [p.get("text") for _, p in outsider.received]
    finally:
        for client in (maker, outsider, *(r.client for r in racers)):
            client.disconnect()


def test_a_logout_on_one_node_racing_with_joins_and_history_on_the_others(nodes):
    suffix = uuid.uuid4().hex[:6]
    owner, leaver = signed_in(nodes[0].url, f"owner-{suffix}"), signed_in(nodes[1].url, f"leaver-{suffix}")
    room, maker = private_room(nodes, owner, [f"leaver-{suffix}"])
    racers = [Racer(node.url, leaver, room).start() for node in nodes[1:]]
    try:
        time.sleep(0.5)
        page = leaver.get(nodes[0].url + "/")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        assert (
            leaver.post(nodes[0].url + "/logout", data={"csrf_token": token}, allow_redirects=False).status_code == 302
        )
        for i in range(5):
            assert maker.call("room_message", {"room": room, "message": f"after {i}"})["ok"]
        deadline = time.monotonic() + 10
        while any(r.client.sio.connected for r in racers) and time.monotonic() < deadline:
            time.sleep(0.05)
        for racer in racers:
            racer.stop()
            assert not racer.client.sio.connected
            assert not [t for t in racer.texts() if t and t.startswith("after")], racer.texts()[-10:]
        # The browser's cookie after logout is no one's: a guest, at most.
        after = LiveClient(nodes[2].url).connect(headers={"Cookie": cookie_of(leaver)})
        try:
            for event in ("join_room", "get_history", "subscribe"):
                assert after.call(event, {"room": room, "since": 0})["ok"] is False
            assert [p.get("text") for _, p in after.received if p.get("text")] == []
        finally:
            after.disconnect()
        assert leaver.get(f"{nodes[2].url}/api/rooms/{room}/messages").status_code in (401, 404)
    finally:
        for client in (maker, *(r.client for r in racers)):
            client.disconnect()
