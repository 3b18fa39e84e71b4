"""Register, log in, log out, guests; the socket shares the page's session."""

import pytest

from chat.extensions import db, socketio
from chat.models import User
from tests.accounts import guest, login, register


def test_register_logs_in_and_the_page_shows_the_name(app):
    client = app.test_client()
    response = register(client, "Alice")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    page = client.get("/").get_data(as_text=True)
    assert 'id="me">Alice<' in page
    with app.app_context():
        user = db.session.execute(db.select(User).filter_by(name_key="alice")).scalar_one()
        assert user.password_hash.startswith("scrypt:") and "correct horse" not in user.password_hash
        assert user.created_at.tzinfo is not None


def test_the_page_requires_an_identity(app):
    response = app.test_client().get("/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login?next=/")


def test_duplicate_registration_is_refused_regardless_of_case(app):
    register(app.test_client(), "Bob")
    response = register(app.test_client(), "bob")
    assert response.status_code == 409
    assert "この名前は使われています" in response.get_data(as_text=True) or "taken" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.execute(db.select(db.func.count(User.id))).scalar() == 1


def test_login_and_wrong_password(app):
    register(app.test_client(), "carol", "right password")
    client = app.test_client()
    assert login(client, "carol", "wrong password").status_code == 401
    assert client.get("/").status_code == 302
    assert login(client, "CAROL", "right password").status_code == 302
    assert client.get("/").status_code == 200


@pytest.mark.parametrize(
    "name,password,status",
    [
        ("x" * 33, "long enough", 400),
        ("", "long enough", 400),
        ("tab\tname", "long enough", 400),
        ("shortpw", "short", 400),
        ("longpw", "p" * 129, 400),
    ],
)
def test_bad_registrations_are_refused_clearly(app, name, password, status):
    response = register(app.test_client(), name, password)
    assert response.status_code == status
    assert 'class="field-error"' in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.execute(db.select(db.func.count(User.id))).scalar() == 0


def test_forms_without_csrf_token_are_refused(app):
    client = app.test_client()
    response = client.post(
        "/register",
        data={"register-name": "eve", "register-password": "whatever123", "register-confirm": "whatever123"},
    )
    assert response.status_code == 400
    with app.app_context():
        assert db.session.execute(db.select(db.func.count(User.id))).scalar() == 0


def test_login_redirect_only_goes_to_this_site(app):
    register(app.test_client(), "dave")
    client = app.test_client()
    page = client.get("/login?next=//evil.example/").get_data(as_text=True)
    token = page.split('name="login-csrf_token" type="hidden" value="')[1].split('"')[0]
    response = client.post(
        "/login",
        data={
            "login-csrf_token": token,
            "login-name": "dave",
            "login-password": "correct horse",
            "next": "//evil.example/",
        },
    )
    assert response.headers["Location"] == "/"


def test_session_cookie_flags(app):
    response = register(app.test_client(), "erin")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie


def test_session_cookie_is_secure_in_production(make_app):
    app = make_app(SESSION_COOKIE_SECURE=True)
    response = register(app.test_client(), "frank")
    assert "Secure" in response.headers["Set-Cookie"]


def test_guest_picks_a_nickname(app):
    client = app.test_client()
    assert guest(client, "ゲスト太郎").status_code == 302
    assert "ゲスト太郎" in client.get("/").get_data(as_text=True)
    assert guest(app.test_client(), "ゲスト太郎").status_code == 409


def test_guests_can_be_turned_off(make_app):
    app = make_app(CHAT_ALLOW_GUESTS=False)
    client = app.test_client()
    assert "guest-name" not in client.get("/login").get_data(as_text=True)
    token = client.get("/login").get_data(as_text=True).split('value="')[1].split('"')[0]
    assert client.post("/guest", data={"guest-csrf_token": token, "guest-name": "sneaky"}).status_code in (400, 403)


def test_socket_uses_the_page_session(app):
    flask_client = app.test_client()
    register(flask_client, "Gina")
    sock = socketio.test_client(app, flask_test_client=flask_client)
    sock.emit("join_room", {"room": "r"})
    ack = sock.emit("room_message", {"room": "r", "message": "hi"}, callback=True)
    received = [r["args"][0] for r in sock.get_received() if r["name"] == "room_message"]
    message = received[-1]
    assert message["user"]["name"] == "Gina" and isinstance(message["user"]["id"], int)
    assert message["id"] == ack["id"]
    assert message["data"].startswith("クライアント ")  # the seed's string is unchanged
    sock.disconnect()


def test_the_session_cookie_is_read_once_per_connection(app, monkeypatch):
    """Every event pushes a request context; only the first (connect) reads the cookie."""
    from flask.sessions import SecureCookieSessionInterface

    flask_client = app.test_client()
    register(flask_client, "Gus")
    opened = []
    cookie_session = SecureCookieSessionInterface.open_session
    monkeypatch.setattr(
        SecureCookieSessionInterface,
        "open_session",
        lambda self, app_, request: opened.append(1) or cookie_session(self, app_, request),
    )
    sock = socketio.test_client(app, flask_test_client=flask_client)
    sock.emit("join_room", {"room": "once"}, callback=True)
    acks = [sock.emit("room_message", {"room": "once", "message": f"m{i}"}, callback=True) for i in range(5)]
    assert all(ack["ok"] for ack in acks)
    assert len(opened) == 1
    names = {
        r["args"][0]["user"]["name"]
        for r in sock.get_received()
        if r["name"] == "room_message" and r["args"][0].get("id")
    }
    assert names == {"Gus"}  # the events still know who is talking
    assert "Gus" in flask_client.get("/").get_data(as_text=True)  # HTTP still reads the cookie
    assert len(opened) == 2
    sock.disconnect()


def test_socket_without_session_is_refused_when_guests_are_off(make_app):
    app = make_app(CHAT_ALLOW_GUESTS=False)
    anonymous = socketio.test_client(app)
    assert not anonymous.is_connected()
    flask_client = app.test_client()
    register(flask_client, "Hana")
    member = socketio.test_client(app, flask_test_client=flask_client)
    assert member.is_connected()
    member.disconnect()


def test_logout_disconnects_the_users_sockets(app):
    flask_client = app.test_client()
    register(flask_client, "Ivan")
    sockets = [socketio.test_client(app, flask_test_client=flask_client) for _ in range(2)]
    bystander = socketio.test_client(app)
    assert all(s.is_connected() for s in sockets)
    page = flask_client.get("/").get_data(as_text=True)
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    response = flask_client.post("/logout", data={"csrf_token": token})
    assert response.status_code == 302
    assert not any(s.is_connected() for s in sockets)
    assert bystander.is_connected()
    assert flask_client.get("/").status_code == 302
    bystander.disconnect()
