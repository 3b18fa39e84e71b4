"""Passwords (issue 22): change (other sessions end, this one goes on), an optional email, and
reset by email, with mail captured by a real SMTP server (aiosmtpd) on 127.0.0.1."""

import re
import threading
import time
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller

from chat.accounts.models import PasswordReset
from chat.extensions import db, socketio
from chat.models import User
from tests import servers
from tests.accounts import csrf_token, login, register

BASE_URL = "https://chat.example.org"
LINK = re.compile(r"https?://\S+/password/reset/[A-Za-z0-9_-]+")


class Inbox:
    """aiosmtpd's handler: every message it is given, parsed."""

    def __init__(self):
        self.messages = []
        self.arrived = threading.Condition()

    async def handle_DATA(self, server, session, envelope):
        with self.arrived:
            self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
            self.arrived.notify_all()
        return "250 OK"

    def wait(self, count, timeout=10):
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.messages) >= count, timeout)
        return self.messages

    def links(self):
        return [LINK.search(m.get_content()).group(0) for m in self.messages]


@pytest.fixture
def inbox():
    handler = Inbox()
    controller = Controller(handler, hostname="127.0.0.1", port=servers.free_port())
    controller.start()
    handler.port = controller.port
    yield handler
    controller.stop()


@pytest.fixture
def mail_app(make_app, inbox):
    def build(**overrides):
        settings = dict(
            CHAT_SMTP_HOST="127.0.0.1",
            CHAT_SMTP_PORT=inbox.port,
            CHAT_SMTP_STARTTLS=False,
            CHAT_SMTP_FROM="chat@example.org",
            CHAT_BASE_URL=BASE_URL,
            CHAT_RESET_ACCOUNT_LIMIT=None,
            CHAT_RESET_ADDRESS_LIMIT=None,
        )
        settings.update(overrides)
        return make_app(**settings)

    return build


def page_token(client, path, prefix):
    return csrf_token(client.get(path).get_data(as_text=True), prefix)


def settings_post(client, form, **fields):
    token = page_token(client, "/settings", form)
    data = {f"{form}-csrf_token": token, **{f"{form}-{k}": v for k, v in fields.items()}}
    return client.post(f"/settings/{form}", data=data)


def signed_in(app, name, password="correct horse"):
    client = app.test_client()
    assert login(client, name, password).status_code == 302
    return client


def forgot(client, identifier, **kwargs):
    token = csrf_token(client.get("/login", **kwargs).get_data(as_text=True), "forgot")
    return client.post("/password/forgot", data={"forgot-csrf_token": token, "forgot-identifier": identifier}, **kwargs)


def reset(client, link, password):
    path = link.split(BASE_URL, 1)[-1]
    page = client.get(path)
    if page.status_code != 200:
        return page
    token = csrf_token(page.get_data(as_text=True), "reset")
    return client.post(path, data={"reset-csrf_token": token, "reset-password": password, "reset-confirm": password})


def with_email(app, name, email):
    client = app.test_client()
    assert register(client, name).status_code == 302
    answer = settings_post(client, "email", email=email, current_password="correct horse")
    assert answer.status_code == 302, answer.get_data(as_text=True)
    return client


# ---- change ----


def test_a_password_change_ends_the_other_sessions_and_keeps_this_one(app):
    here = app.test_client()
    assert register(here, "alice").status_code == 302
    there = signed_in(app, "alice")
    their_socket = socketio.test_client(app, flask_test_client=there)
    assert their_socket.is_connected()
    wrong = settings_post(here, "password", current_password="nope nope", password="new horse 1", confirm="new horse 1")
    assert wrong.status_code == 400 and "wrong_password" not in wrong.get_data(as_text=True)
    done = settings_post(
        here, "password", current_password="correct horse", password="new horse 1", confirm="new horse 1"
    )
    assert done.status_code == 302
    assert here.get("/api/profile").status_code == 200  # this session goes on
    assert there.get("/api/profile").status_code == 401  # the other one ended
    assert not their_socket.is_connected()
    assert login(app.test_client(), "alice", "correct horse").status_code == 401
    assert login(app.test_client(), "alice", "new horse 1").status_code == 302


def test_a_password_change_follows_the_registration_rule(app):
    client = app.test_client()
    register(client, "alice")
    short = settings_post(client, "password", current_password="correct horse", password="short", confirm="short")
    assert short.status_code == 400
    assert login(app.test_client(), "alice").status_code == 302


def test_wrong_current_passwords_are_throttled(make_app):
    app = make_app(CHAT_LOGIN_ACCOUNT_LIMIT="2 per 10 minutes")
    client = app.test_client()
    register(client, "alice")
    answers = [
        settings_post(client, "password", current_password=f"guess {i}", password="new horse 1", confirm="new horse 1")
        for i in range(3)
    ]
    assert [a.status_code for a in answers] == [400, 400, 429]


# ---- email ----


def test_email_needs_the_current_password_and_is_unique_by_its_key(app):
    alice = app.test_client()
    register(alice, "alice")
    refused = settings_post(alice, "email", email="alice@example.org", current_password="wrong one")
    assert refused.status_code == 400
    assert settings_post(alice, "email", email="Alice@Example.ORG", current_password="correct horse").status_code == 302
    with app.app_context():
        user = db.session.execute(db.select(User).filter_by(name="alice")).scalar_one()
        assert user.email == "Alice@example.org" and user.email_key == "alice@example.org"
    bob = app.test_client()
    register(bob, "bob")
    taken = settings_post(bob, "email", email="ALICE@example.org", current_password="correct horse")
    assert taken.status_code == 400 and "email" in taken.get_data(as_text=True).lower()
    for hostile in ("not an address", "a\x00b@example.org", "evil\u202e@example.org", "x" * 500 + "@example.org"):
        answer = settings_post(bob, "email", email=hostile, current_password="correct horse")
        assert answer.status_code == 400, hostile
    assert settings_post(alice, "email", email="", current_password="correct horse").status_code == 302
    with app.app_context():
        assert db.session.execute(db.select(User.email).filter_by(name="alice")).scalar_one() is None


# ---- reset ----


def test_the_forgot_form_is_shown_only_when_mail_is_configured(app, mail_app):
    assert "forgot-identifier" not in app.test_client().get("/login").get_data(as_text=True)
    assert "forgot-identifier" in mail_app().test_client().get("/login").get_data(as_text=True)


def test_reset_by_email_full_flow(mail_app, inbox):
    app = mail_app()
    old_session = with_email(app, "alice", "alice@example.org")
    old_socket = socketio.test_client(app, flask_test_client=old_session)
    visitor = app.test_client()
    answer = forgot(visitor, "ALICE", base_url="http://evil.example")  # the Host header names no link
    assert answer.status_code == 200 and 'id="reset-sent"' in answer.get_data(as_text=True)
    [mail] = inbox.wait(1)
    assert mail["To"] == "alice@example.org" and mail["From"] == "chat@example.org"
    [link] = inbox.links()
    assert link.startswith(BASE_URL + "/password/reset/") and "evil" not in mail.get_content()
    token = link.rsplit("/", 1)[1]
    with app.app_context():
        stored = db.session.execute(db.select(PasswordReset)).scalar_one()
        assert token not in stored.token_hash and len(stored.token_hash) == 64  # only its hash is kept
    done = reset(visitor, link, "brand new horse")
    assert done.status_code == 302 and done.headers["Location"].endswith("/login")
    assert login(app.test_client(), "alice", "correct horse").status_code == 401
    assert login(app.test_client(), "alice", "brand new horse").status_code == 302
    assert old_session.get("/api/profile").status_code == 401  # every old session ended
    assert not old_socket.is_connected()
    reused = reset(app.test_client(), link, "another horse 2")
    assert reused.status_code == 400 and 'id="reset-invalid"' in reused.get_data(as_text=True)
    assert login(app.test_client(), "alice", "brand new horse").status_code == 302
    forgot(app.test_client(), "alice")  # a new link: the spent one is deleted
    inbox.wait(2)
    with app.app_context():
        rows = db.session.execute(db.select(PasswordReset)).scalars().all()
        assert len(rows) == 1 and rows[0].used_at is None and rows[0].token_hash != stored.token_hash


def test_by_email_address_too_and_an_expired_link_is_refused(mail_app, inbox):
    app = mail_app()
    with_email(app, "alice", "alice@example.org")
    forgot(app.test_client(), "Alice@EXAMPLE.org")
    inbox.wait(1)
    [link] = inbox.links()
    with app.app_context():
        row = db.session.execute(db.select(PasswordReset)).scalar_one()
        row.expires_at = datetime.now(UTC) - timedelta(seconds=1)
        db.session.commit()
    expired = reset(app.test_client(), link, "brand new horse")
    assert expired.status_code == 400
    assert login(app.test_client(), "alice", "correct horse").status_code == 302


def test_unknown_names_get_the_same_answer_and_no_mail(mail_app, inbox):
    app = mail_app()
    with_email(app, "alice", "alice@example.org")
    register(app.test_client(), "bob")  # no email address
    answers = [forgot(app.test_client(), who) for who in ("nobody", "bob", "nobody@example.org", "a\x00b", "x" * 254)]
    known = forgot(app.test_client(), "alice")
    strip = re.compile(r'value="[^"]*"')
    bodies = {strip.sub("", a.get_data(as_text=True)) for a in [*answers, known]}
    assert {a.status_code for a in [*answers, known]} == {200} and len(bodies) == 1
    time.sleep(0.5)
    assert len(inbox.wait(1)) == 1 and inbox.messages[0]["To"] == "alice@example.org"


def test_reset_requests_are_rate_limited(mail_app, inbox):
    app = mail_app(CHAT_RESET_ACCOUNT_LIMIT="1 per hour", CHAT_RESET_ADDRESS_LIMIT="3 per hour")
    with_email(app, "alice", "alice@example.org")
    first, second = forgot(app.test_client(), "alice"), forgot(app.test_client(), "alice@example.org")
    assert first.status_code == second.status_code == 200  # the account's limit: silent
    assert forgot(app.test_client(), "nobody").status_code == 200
    limited = forgot(app.test_client(), "nobody")  # the address' limit: said, for any name
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0
    time.sleep(0.5)
    assert len(inbox.wait(1)) == 1


def test_reset_links_of_hostile_shape(mail_app):
    app = mail_app()
    client = app.test_client()
    for token in ("x", "A" * 43, "%00" * 20, "..%2f..%2fetc", "\u202e" * 20, "a" * 5000):
        answer = client.get(f"/password/reset/{token}")
        assert answer.status_code in (400, 404), token


def test_the_operators_reset_command_exists(app):
    register(app.test_client(), "alice")
    result = app.test_cli_runner().invoke(args=["chat", "reset-password", "alice", "--password", "operator set 1"])
    assert result.exit_code == 0, result.output
    assert login(app.test_client(), "alice", "operator set 1").status_code == 302
