"""The seed's event contract, through Flask-SocketIO's test client."""

import pytest

from chat.extensions import socketio


def sid_of(client):
    return socketio.server.manager.sid_from_eio_sid(client.eio_sid, "/")


def events(client, name=None):
    """(name, payload) pairs of the seed's events and errors (history has tests of its own);
    the test client hands `message` events over unwrapped."""
    out = []
    for r in client.get_received():
        args = r["args"]
        payload = args if r["name"] in ("message", "json") else (args[0] if args else None)
        if (name is None and r["name"] != "history") or name == r["name"]:
            out.append((r["name"], payload))
    return out


def test_join_notifies_the_room_including_the_sender(client_factory):
    a, b = client_factory(), client_factory()
    assert a.emit("join_room", {"room": "r1"}, callback=True) == {"ok": True, "room": "r1"}
    b.emit("join_room", {"room": "r1"})
    sid_a, sid_b = sid_of(a), sid_of(b)
    got_a = [p["data"] for _, p in events(a)]
    assert got_a == [
        f"クライアント {sid_a} がルーム r1 に参加しました",
        f"クライアント {sid_b} がルーム r1 に参加しました",
    ]
    got_b = events(b)
    assert got_b == [("room_message", got_b[0][1])]
    assert got_b[0][1]["data"] == f"クライアント {sid_b} がルーム r1 に参加しました"
    assert got_b[0][1]["room"] == "r1" and got_b[0][1]["type"] == "join"


def test_room_message_reaches_the_room_only(client_factory):
    a, b, outsider = client_factory(), client_factory(), client_factory()
    a.emit("join_room", {"room": "r1"})
    b.emit("join_room", {"room": "r1"})
    outsider.emit("join_room", {"room": "r2"})
    for c in (a, b, outsider):
        c.get_received()
    ack = a.emit("room_message", {"room": "r1", "message": "こんにちは 🎉 <script>"}, callback=True)
    assert ack == {"ok": True, "id": ack["id"]} and isinstance(ack["id"], int)
    expected = f"クライアント {sid_of(a)}: こんにちは 🎉 <script>"
    for member in (a, b):
        ((name, payload),) = events(member)
        assert name == "room_message"
        assert payload["data"] == expected
        assert payload["text"] == "こんにちは 🎉 <script>"
        assert payload["room"] == "r1"
        assert payload["sid"] == sid_of(a)
        assert payload["id"] == ack["id"]
        assert payload["user"] == {"id": None, "name": f"guest-{sid_of(a)[:6]}"}
        assert payload["ts"].endswith("+00:00")
    assert events(outsider) == []


def test_send_message_reaches_everyone(client_factory):
    a, b, c = client_factory(), client_factory(), client_factory()
    c.emit("join_room", {"room": "elsewhere"})
    c.get_received()
    assert a.emit("send_message", {"message": "hello"}, callback=True)["ok"] is True
    for client in (a, b, c):
        ((name, payload),) = events(client)
        assert name == "message"
        assert payload["data"] == f"クライアント {sid_of(a)}: hello"


def test_leave_notifies_those_who_stay_not_the_leaver(client_factory):
    a, b = client_factory(), client_factory()
    a.emit("join_room", {"room": "r1"})
    b.emit("join_room", {"room": "r1"})
    a.get_received(), b.get_received()
    assert a.emit("leave_room", {"room": "r1"}, callback=True) == {"ok": True, "room": "r1"}
    assert events(a) == []
    ((name, payload),) = events(b)
    assert payload["data"] == f"クライアント {sid_of(a)} がルーム r1 から退出しました"
    assert payload["type"] == "leave"
    b.emit("room_message", {"room": "r1", "message": "still here?"})
    assert events(a) == []


def test_joining_twice_does_not_double_deliver(client_factory):
    a, b = client_factory(), client_factory()
    a.emit("join_room", {"room": "r1"})
    assert a.emit("join_room", {"room": "r1"}, callback=True)["ok"] is True
    b.emit("join_room", {"room": "r1"})
    a.get_received()
    b.emit("room_message", {"room": "r1", "message": "once"})
    assert [p["data"] for _, p in events(a)] == [f"クライアント {sid_of(b)}: once"]


def test_disconnect_leaves_every_room_and_tells_the_others(client_factory):
    a, b = client_factory(), client_factory()
    for room in ("r1", "r2"):
        a.emit("join_room", {"room": room})
        b.emit("join_room", {"room": room})
    sid_a = sid_of(a)
    b.get_received()
    a.disconnect()
    notices = sorted(p["data"] for _, p in events(b))
    assert notices == [
        f"クライアント {sid_a} がルーム r1 から退出しました",
        f"クライアント {sid_a} がルーム r2 から退出しました",
    ]
    b.emit("room_message", {"room": "r1", "message": "x"})
    assert len(events(b)) == 1


def test_room_names_cannot_reach_another_clients_private_channel(client_factory):
    victim, attacker = client_factory(), client_factory()
    attacker.emit("join_room", {"room": sid_of(victim)})
    attacker.get_received()
    victim.emit("leave_room", {"room": "not-joined"})  # the error goes to the victim's sid only
    assert [n for n, _ in events(victim)] == ["error"]
    assert events(attacker) == []


BAD_INPUTS = [
    ("join_room", "r1", "invalid_payload"),
    ("join_room", 42, "invalid_payload"),
    ("join_room", None, "invalid_payload"),
    ("join_room", ["r1"], "invalid_payload"),
    ("join_room", {}, "missing_field"),
    ("join_room", {"room": 7}, "invalid_type"),
    ("join_room", {"room": None}, "invalid_type"),
    ("join_room", {"room": ["r"]}, "invalid_type"),
    ("join_room", {"room": {"a": 1}}, "invalid_type"),
    ("join_room", {"room": ""}, "empty_field"),
    ("join_room", {"room": "   "}, "empty_field"),
    ("join_room", {"room": "x" * 101}, "too_long"),
    ("join_room", {"room": "a\nb"}, "invalid_room"),
    ("join_room", {"room": "a\x00b"}, "invalid_text"),
    ("join_room", {"room": "a\ud800"}, "invalid_text"),
    ("leave_room", {"room": "never-joined"}, "not_in_room"),
    ("leave_room", {"room": 1.5}, "invalid_type"),
    ("room_message", {"room": "r1"}, "missing_field"),
    ("room_message", {"message": "hi"}, "missing_field"),
    ("room_message", {"room": "r1", "message": 3}, "invalid_type"),
    ("room_message", {"room": "r1", "message": None}, "invalid_type"),
    ("room_message", {"room": "r1", "message": ""}, "empty_field"),
    ("room_message", {"room": "r1", "message": "x" * 4001}, "too_long"),
    ("room_message", {"room": "r1", "message": "a\x00b"}, "invalid_text"),
    ("room_message", {"room": "r1", "message": "\udfff"}, "invalid_text"),
    ("room_message", {"room": "r1", "message": "hi", "client_id": "a\x00"}, "invalid_text"),
    ("room_message", {"room": "not-joined", "message": "hi"}, "not_in_room"),
    ("send_message", "hello", "invalid_payload"),
    ("send_message", {}, "missing_field"),
    ("send_message", {"message": ["a"]}, "invalid_type"),
    ("send_message", {"message": "x" * 4001}, "too_long"),
    ("send_message", {"message": "a\x00b"}, "invalid_text"),
    ("no_such_event", {"x": 1}, "unknown_event"),
]


@pytest.mark.parametrize("event,payload,code", BAD_INPUTS)
def test_bad_input_gets_a_clear_error_and_the_connection_keeps_working(client_factory, event, payload, code):
    sender, bystander = client_factory(), client_factory()
    for c in (sender, bystander):
        c.emit("join_room", {"room": "r1"})
    sender.get_received(), bystander.get_received()

    ack = sender.emit(event, payload, callback=True)
    assert ack["ok"] is False
    assert ack["error"]["code"] == code
    assert ack["error"]["event"] == event
    assert "Traceback" not in ack["error"]["message"]
    ((name, err),) = events(sender)
    assert name == "error" and err == ack["error"]
    assert events(bystander) == []

    sender.emit("room_message", {"room": "r1", "message": "still works"})
    assert [p["data"] for _, p in events(bystander)] == [f"クライアント {sid_of(sender)}: still works"]


def test_event_without_payload_and_without_callback_gets_an_error_event(client_factory):
    client = client_factory()
    client.emit("join_room")
    ((name, err),) = events(client)
    assert name == "error" and err["code"] == "invalid_payload"


def test_limits_come_from_configuration(make_app):
    app = make_app(CHAT_MAX_MESSAGE_LENGTH=5, CHAT_MAX_ROOM_LENGTH=3, CHAT_MAX_ROOMS_PER_CONNECTION=2)
    client = socketio.test_client(app)
    assert client.emit("join_room", {"room": "abcd"}, callback=True)["error"]["code"] == "too_long"
    assert client.emit("join_room", {"room": "a"}, callback=True)["ok"]
    assert client.emit("join_room", {"room": "b"}, callback=True)["ok"]
    assert client.emit("join_room", {"room": "c"}, callback=True)["error"]["code"] == "too_many_rooms"
    assert client.emit("room_message", {"room": "a", "message": "123456"}, callback=True)["error"]["code"] == "too_long"
    assert client.emit("room_message", {"room": "a", "message": "12345"}, callback=True)["ok"] is True
    client.emit("leave_room", {"room": "a"})
    assert client.emit("join_room", {"room": "c"}, callback=True)["ok"]
    client.disconnect()


def test_an_unexpected_server_error_is_reported_without_a_traceback(client_factory, monkeypatch):
    from chat.messages import events as messages

    def boom(*_):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(messages, "send_to_everyone", boom)
    client = client_factory()
    ack = client.emit("send_message", {"message": "x"}, callback=True)
    assert ack["ok"] is False and ack["error"]["code"] == "internal_error"
    assert "secret internals" not in str(ack)


@pytest.mark.parametrize("name", ["connect", "disconnect", "*"])
def test_an_event_named_like_the_servers_own_is_refused_and_changes_nothing(app, name):
    """A client that emits `connect`, `disconnect` or `*` itself gets unknown_event; it stays
    connected and in its rooms (python-socketio dispatches such events to the server's handlers)."""
    sender, listener = socketio.test_client(app), socketio.test_client(app)
    for client in (sender, listener):
        assert client.emit("join_room", {"room": "lobby"}, callback=True)["ok"]
    listener.get_received()
    for args in [(), ({},), ("join_room",), ({"room": "lobby"},)]:
        ack = sender.emit(name, *args, callback=True)
        assert ack["ok"] is False and ack["error"]["code"] == "unknown_event", (args, ack)
        assert sender.is_connected()
    notices = [p["args"][0] for p in listener.get_received() if p["name"] == "room_message"]
    assert notices == []  # no leave (or join) notice
    assert sender.emit("room_message", {"room": "lobby", "message": "still here"}, callback=True)["ok"]
    assert any(p["args"][0].get("text") == "still here" for p in listener.get_received())


@pytest.mark.parametrize(
    "raw",
    [
        '2[["room_message"],{"room":"lobby","message":"x"}]',
        "2[]",
        "2{}",
        "25",
        '2"room_message"',
        '2[{"a":1}]',
        "2[null]",
    ],
)
def test_an_event_packet_without_a_string_name_is_refused_and_the_client_stays(app, raw):
    """A raw Socket.IO event packet whose name is a list, an object, a number or missing gets
    unknown_event (as an `error` event, and in its ack when it asked for one): it used to raise
    inside python-socketio, and the client heard nothing."""
    sender, listener = socketio.test_client(app), socketio.test_client(app)
    for client in (sender, listener):
        assert client.emit("join_room", {"room": "lobby"}, callback=True)["ok"]
        client.get_received()
    server = socketio.server
    server._handle_eio_message(sender.eio_sid, raw)
    errors = [p["args"][0] for p in sender.get_received() if p["name"] == "error"]
    assert [e["code"] for e in errors] == ["unknown_event"], errors
    if raw.startswith("2["):  # with an ack id: the ack says why too
        sender.acks = None
        server._handle_eio_message(sender.eio_sid, "27" + raw[1:])
        assert sender.acks["args"][0]["error"]["code"] == "unknown_event", sender.acks
        sender.acks = None
        sender.get_received()
    assert sender.is_connected()
    assert listener.get_received() == []  # nothing reached the room
    assert sender.emit("room_message", {"room": "lobby", "message": "still here"}, callback=True)["ok"]
    assert any(p["args"][0].get("text") == "still here" for p in listener.get_received())


def test_api_urls_without_a_route_answer_json(app):
    client = app.test_client()
    missing = client.get("/api/nothing-here")
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "not_found"
    wrong = client.get("/api/uploads")
    assert wrong.status_code == 405 and wrong.get_json()["error"]["code"] == "method_not_allowed"
    assert "POST" in wrong.headers["Allow"]
    page = client.get("/no-such-page")
    assert page.status_code == 404 and page.mimetype == "text/html"
