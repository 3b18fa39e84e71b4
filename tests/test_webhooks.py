"""Incoming webhooks: POST /api/hooks/<token> posts into one room as a bot, through the message path."""

from datetime import UTC, datetime

import pytest

from chat.extensions import db, socketio
from chat.models import Message, User
from chat.tokens.models import Webhook
from tests.data_helpers import make_hook, page_csrf, signed_in


def room_with_member(app, owner, room="deploys"):
    sock = socketio.test_client(app, flask_test_client=owner)
    assert sock.emit("create_room", {"room": room}, callback=True)["ok"]
    assert sock.emit("join_room", {"room": room}, callback=True)["ok"]
    sock.get_received()
    return sock


def test_a_webhook_posts_into_its_room_as_a_bot(app):
    alice = signed_in(app, "alice")
    sock = room_with_member(app, alice)
    hook = make_hook(alice, "deploys", "deploy-bot")
    response = app.test_client().post(hook, json={"text": "build 42 is green"})
    assert response.status_code == 201, response.get_json()
    message_id = response.get_json()["id"]
    live = [r["args"][0] for r in sock.get_received() if r["name"] == "room_message"]
    assert len(live) == 1
    assert live[0]["bot"] is True and live[0]["id"] == message_id
    assert live[0]["user"] == {"id": None, "name": "deploy-bot"} and live[0]["text"] == "build 42 is green"
    # History, search and `since` hold it like any message.
    history = alice.get("/api/rooms/deploys/messages").get_json()["messages"]
    assert [m["id"] for m in history] == [message_id] and history[0]["bot"] is True
    found = sock.emit("search", {"q": "green"}, callback=True)
    assert [m["id"] for m in found["results"]] == [message_id]
    sock.disconnect()


def test_a_retry_with_the_same_client_id_is_stored_once(app):
    alice = signed_in(app, "alice")
    sock = room_with_member(app, alice)
    hook = make_hook(alice, "deploys")
    client = app.test_client()
    first = client.post(hook, json={"text": "once", "client_id": "run-7"})
    again = client.post(hook, json={"text": "once", "client_id": "run-7"})
    assert first.status_code == 201 and again.status_code == 200
    assert again.get_json() == {"ok": True, "id": first.get_json()["id"], "duplicate": True}
    with app.app_context():
        assert db.session.execute(db.select(db.func.count(Message.id))).scalar() == 1
    assert len([r for r in sock.get_received() if r["name"] == "room_message"]) == 1
    sock.disconnect()


def test_only_the_rooms_creator_makes_webhooks(app):
    alice, mallory = signed_in(app, "alice"), signed_in(app, "mallory")
    room_with_member(app, alice).disconnect()
    csrf = page_csrf(mallory, "/settings/tokens")
    response = mallory.post("/settings/webhooks", data={"csrf_token": csrf, "room": "deploys", "name": "evil"})
    assert response.status_code == 403
    with app.app_context():
        assert db.session.execute(db.select(Webhook)).first() is None


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"text": "a\x00b"}, "invalid_text"),
        ({"text": "\ud800"}, "invalid_text"),
        ({"text": ""}, "empty_field"),
        ({"text": "x" * 4001}, "too_long"),
        ({"text": ["nested", {"x": 1}]}, "invalid_type"),
        ({}, "missing_field"),
        ([1, 2], "invalid_payload"),
        ({"text": "ok", "client_id": "c" * 65}, "invalid_type"),
        ({"text": "ok", "client_id": "\x07"}, "invalid_text"),
    ],
)
def test_hostile_bodies_get_clear_errors(app, body, code):
    alice = signed_in(app, "alice")
    room_with_member(app, alice).disconnect()
    hook = make_hook(alice, "deploys")
    response = app.test_client().post(hook, json=body)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == code


def test_unknown_revoked_and_wrong_method(app):
    alice = signed_in(app, "alice")
    room_with_member(app, alice).disconnect()
    hook = make_hook(alice, "deploys")
    client = app.test_client()
    for path in ("/api/hooks/chook_" + "x" * 43, "/api/hooks/nope", "/api/hooks/%00", "/api/hooks/" + "y" * 3000):
        response = client.post(path, json={"text": "hi"})
        assert response.status_code == 404 and response.get_json()["error"]["code"] == "not_found"
    got = client.get(hook)
    assert got.status_code == 405 and got.get_json()["error"]["code"] == "method_not_allowed"
    with app.app_context():
        hook_id = db.session.execute(db.select(Webhook.id)).scalar_one()
    csrf = page_csrf(alice, "/settings/tokens")
    assert alice.post(f"/settings/webhooks/{hook_id}/revoke", data={"csrf_token": csrf}).status_code == 302
    assert client.post(hook, json={"text": "hi"}).status_code == 404


def test_webhooks_are_rate_limited(make_app):
    app = make_app(CHAT_USER_RATE_LIMIT=1.0, CHAT_USER_RATE_BURST=3)
    alice = signed_in(app, "alice")
    room_with_member(app, alice).disconnect()
    hook = make_hook(alice, "deploys")
    client = app.test_client()
    codes = [client.post(hook, json={"text": f"m{i}"}).status_code for i in range(6)]
    assert codes[:3] == [201, 201, 201] and 429 in codes[3:]
    with app.app_context():
        stored = db.session.execute(db.select(db.func.count(Message.id))).scalar()
    assert stored == codes.count(201)


@pytest.mark.parametrize(
    ("name", "room", "code"),
    [
        ("bot\u200b", "deploys", "invalid_user"),
        ("\u202ebot", "deploys", "invalid_user"),
        ("b\x00t", "deploys", "invalid_text"),
        ("bot", "dm:1:2", "forbidden"),  # no room of that name one owns
        ("bot", "nowhere", "forbidden"),
        ("x" * 33, "deploys", "too_long"),
    ],
)
def test_hostile_webhook_forms_get_clear_errors(app, name, room, code):
    alice = signed_in(app, "alice")
    room_with_member(app, alice).disconnect()
    csrf = page_csrf(alice, "/settings/tokens")
    response = alice.post("/settings/webhooks", data={"csrf_token": csrf, "room": room, "name": name})
    assert response.status_code == (403 if code == "forbidden" else 400)
    with app.app_context():
        assert db.session.execute(db.select(Webhook)).first() is None


def test_a_deactivated_creators_webhook_answers_404(app):
    alice = signed_in(app, "alice")
    room_with_member(app, alice).disconnect()
    hook = make_hook(alice, "deploys")

    with app.app_context():
        db.session.execute(db.update(User).values(deactivated_at=datetime.now(UTC)))
        db.session.commit()
    assert app.test_client().post(hook, json={"text": "hi"}).status_code == 404
