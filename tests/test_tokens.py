"""Personal API tokens: made once, stored hashed, scoped, revocable; for the HTTP API and the socket."""

import hashlib
import io
from datetime import UTC, datetime

import pytest

from chat.extensions import db, socketio
from chat.models import Message, User
from chat.tokens.models import ApiToken
from tests.accounts import guest
from tests.data_helpers import bearer, make_token, page_csrf, signed_in


def test_a_token_is_shown_once_and_stored_hashed(app):
    alice = signed_in(app, "alice")
    token = make_token(alice, "ci")
    assert token.startswith("chat_")
    with app.app_context():
        row = db.session.execute(db.select(ApiToken)).scalar_one()
        assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
        assert row.scope == "write" and row.name == "ci"
    page = alice.get("/settings/tokens").get_data(as_text=True)
    assert token not in page and "ci" in page


def test_a_write_token_reads_and_writes_over_http_without_csrf_or_cookie(app):
    alice = signed_in(app, "alice")
    token = make_token(alice)
    script = app.test_client()  # no cookie at all
    assert script.get("/api/rooms", headers=bearer(token)).status_code == 200
    # Write without CSRF: a message from the socket, edited over HTTP with the token.
    sock = socketio.test_client(app, flask_test_client=alice)
    sock.emit("join_room", {"room": "general"}, callback=True)
    message_id = sock.emit("room_message", {"room": "general", "message": "hello"}, callback=True)["id"]
    edited = script.patch(f"/api/messages/{message_id}", json={"message": "edited by script"}, headers=bearer(token))
    assert edited.status_code == 200, edited.get_json()
    with app.app_context():
        assert db.session.get(Message, message_id).text == "edited by script"
    # The same write with the cookie and no token still needs its CSRF token.
    assert (
        alice.patch(f"/api/messages/{message_id}", json={"message": "x"}).get_json()["error"]["code"] == "invalid_csrf"
    )
    sock.disconnect()


def test_a_read_token_cannot_write(app):
    alice = signed_in(app, "alice")
    token = make_token(alice, scope="read")
    script = app.test_client()
    assert script.get("/api/messages", headers=bearer(token)).status_code == 200
    refused = script.patch("/api/messages/1", json={"message": "x"}, headers=bearer(token))
    assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "insufficient_scope"
    # On the socket: reading and following rooms work, writing does not.
    sock = socketio.test_client(app, auth={"token": token})
    assert sock.is_connected()
    assert sock.emit("join_room", {"room": "general"}, callback=True)["ok"]
    reply = sock.emit("room_message", {"room": "general", "message": "hi"}, callback=True)
    assert reply["error"]["code"] == "insufficient_scope"
    assert sock.emit("get_history", {"room": "general"}, callback=True)["ok"]
    sock.disconnect()


@pytest.mark.parametrize(
    "header",
    [
        "Bearer chat_unknown_unknown_unknown_unknown_unknown_unk",
        "Bearer ",
        "Bearer chat_\x00",
        "Bearer " + "a" * 5000,
        "Bearer chat_\u202eevil",
        "bearer chat_😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀",
    ],
)
def test_bad_tokens_get_a_clear_401(app, header):
    response = app.test_client().get("/api/rooms", headers={"Authorization": header.encode().decode("latin-1")})
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "invalid_token"


@pytest.mark.parametrize("auth", [{"token": "chat_nope"}, {"token": None}, {"token": ["x"]}, {"token": "\ud800"}])
def test_bad_socket_tokens_are_refused(app, auth):
    sock = socketio.test_client(app, auth=auth)
    assert not sock.is_connected()


def test_expired_and_revoked_tokens_get_nothing(app):
    alice = signed_in(app, "alice")
    token = make_token(alice, "short", expires_days="1")
    with app.app_context():
        row = db.session.execute(db.select(ApiToken)).scalar_one()
        row.expires_at = row.created_at  # already past
        db.session.commit()
    assert app.test_client().get("/api/rooms", headers=bearer(token)).status_code == 401
    assert not socketio.test_client(app, auth={"token": token}).is_connected()

    other = make_token(alice, "revoke-me")
    sock = socketio.test_client(app, auth={"token": other})
    assert sock.is_connected()
    with app.app_context():
        token_id = db.session.execute(db.select(ApiToken.id).filter_by(name="revoke-me")).scalar_one()
    csrf = page_csrf(alice, "/settings/tokens")
    assert alice.post(f"/settings/tokens/{token_id}/revoke", data={"csrf_token": csrf}).status_code == 302
    assert not sock.is_connected()  # its live socket closed at once
    assert app.test_client().get("/api/rooms", headers=bearer(other)).status_code == 401
    assert not socketio.test_client(app, auth={"token": other}).is_connected()


def test_one_cannot_revoke_another_users_token(app):
    alice, mallory = signed_in(app, "alice"), signed_in(app, "mallory")
    token = make_token(alice)
    with app.app_context():
        token_id = db.session.execute(db.select(ApiToken.id)).scalar_one()
    csrf = page_csrf(mallory, "/settings/tokens")
    assert mallory.post(f"/settings/tokens/{token_id}/revoke", data={"csrf_token": csrf}).status_code == 404
    assert app.test_client().get("/api/rooms", headers=bearer(token)).status_code == 200


def test_a_deactivated_users_token_gets_nothing(app):
    alice = signed_in(app, "alice")
    token = make_token(alice)
    assert socketio.test_client(app, auth={"token": token}).is_connected()
    with app.app_context():
        user = db.session.execute(db.select(User).filter_by(name="alice")).scalar_one()
        user.deactivated_at = datetime.now(UTC)  # what the administration's "deactivate" stores
        db.session.commit()
    assert app.test_client().get("/api/rooms", headers=bearer(token)).status_code == 401
    assert not socketio.test_client(app, auth={"token": token}).is_connected()


def test_guests_and_anonymous_clients_cannot_make_tokens(app):
    visitor = app.test_client()
    assert guest(visitor, "visitor").status_code == 302
    page = visitor.get("/settings/tokens")
    assert page.status_code == 200
    csrf = page_csrf(visitor, "/settings/tokens")
    refused = visitor.post("/settings/tokens", data={"csrf_token": csrf, "name": "x", "scope": "write"})
    assert refused.status_code == 403
    anonymous = app.test_client().get("/settings/tokens")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]


def test_the_settings_forms_need_csrf(app):
    alice = signed_in(app, "alice")
    assert alice.post("/settings/tokens", data={"name": "x", "scope": "write"}).status_code == 400
    with app.app_context():
        assert db.session.execute(db.select(ApiToken)).first() is None


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"name": "", "scope": "write"}, "must not be empty"),
        ({"name": "a\x00b", "scope": "write"}, "not accepted"),
        ({"name": "x" * 65, "scope": "write"}, "at most 64"),
        ({"name": "ok", "scope": "admin"}, "read"),
        ({"name": "ok", "scope": "write", "expires_days": "-1"}, "from 1 to"),
        ({"name": "ok", "scope": "write", "expires_days": "١٢"}, "from 1 to"),
        ({"name": "ok", "scope": "write", "expires_days": "99999999999999999999"}, "from 1 to"),
    ],
)
def test_hostile_form_values_get_clear_errors(app, fields, message):
    alice = signed_in(app, "alice")
    csrf = page_csrf(alice, "/settings/tokens")
    response = alice.post("/settings/tokens", data={"csrf_token": csrf, **fields})
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)


def test_bearer_tokens_do_not_count_on_pages(app):
    alice = signed_in(app, "alice")
    token = make_token(alice)
    # A token cannot open the settings page (no token can make more tokens).
    response = app.test_client().get("/settings/tokens", headers=bearer(token))
    assert response.status_code == 302


def test_a_read_token_downloads_but_cannot_upload(app):
    alice = signed_in(app, "alice")
    writer, reader = make_token(alice, "w"), make_token(alice, "r", scope="read")
    files = {"file": (io.BytesIO(b"hello\n"), "a.txt")}
    sent = app.test_client().post(
        "/api/uploads", data=files, headers=bearer(writer), content_type="multipart/form-data"
    )
    assert sent.status_code == 201, sent.get_json()
    url = sent.get_json()["message"]["file"]["url"]
    assert app.test_client().get(url, headers=bearer(reader)).get_data() == b"hello\n"
    assert app.test_client().get(url).status_code == 404  # no token, no session
    again = {"file": (io.BytesIO(b"x"), "b.txt")}
    refused = app.test_client().post(
        "/api/uploads", data=again, headers=bearer(reader), content_type="multipart/form-data"
    )
    assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "insufficient_scope"
