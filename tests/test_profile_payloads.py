"""Profiles on the wire (issue 22): message payloads (live, history, search, edits) and the online
list carry the author's display_name and avatar_url, at little cost; and the loose ends of the
password pages (SSO-only mode, deactivated accounts). SQLite and PostgreSQL (CHAT_TEST_DB)."""

from datetime import UTC, datetime, timedelta
from io import BytesIO

import pytest
from PIL import Image
from sqlalchemy import event
from sqlalchemy.engine import Engine

from chat.accounts.sessions import GENERATION_KEY, create_user
from chat.extensions import db
from chat.messages.payloads import seed_text
from chat.models import User
from tests.test_passwords import forgot, mail_app, reset, settings_post, with_email  # noqa: F401
from tests.test_passwords import inbox as inbox  # noqa: F401 - a fixture
from tests.test_profiles import Member


@pytest.fixture
def member(app):
    made = []

    def make(name, as_guest=False):
        person = Member(app, name, as_guest)
        made.append(person)
        return person

    yield make
    for person in made:
        if person.sock.is_connected():
            person.sock.disconnect()


def png(side=40):
    out = BytesIO()
    Image.new("RGB", (side, side), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


def live(person, event_name="room_message"):
    return person.events(event_name)


def test_live_history_and_search_payloads_carry_the_authors_profile(member):
    alice, bob = member("alice"), member("bob")
    assert alice.update(display_name="Alice Liddell")["ok"]
    assert alice.upload(png()).status_code == 200
    for who in (alice, bob):
        assert who.sock.emit("join_room", {"room": "tea"}, callback=True)["ok"]
    alice.sock.get_received(), bob.sock.get_received()
    sent = alice.sock.emit("room_message", {"room": "tea", "message": "apples"}, callback=True)
    assert sent["ok"], sent
    got = [m for m in live(bob) if m.get("id") is not None]
    assert len(got) == 1
    user = got[0]["user"]
    assert user["name"] == "alice" and user["display_name"] == "Alice Liddell"
    assert user["avatar_url"].startswith("/avatars/") and user["avatar_url"].endswith(".png")
    assert got[0]["data"] == seed_text(got[0]["sid"], "apples")  # the seed's string is untouched
    bob.sock.emit("room_message", {"room": "tea", "message": "pears"}, callback=True)

    history = bob.sock.emit("get_history", {"room": "tea"}, callback=True)
    by_name = {m["user"]["name"]: m["user"] for m in history["messages"]}
    assert by_name["alice"]["display_name"] == "Alice Liddell" and by_name["alice"]["avatar_url"] == user["avatar_url"]
    assert by_name["bob"]["display_name"] is None and by_name["bob"]["avatar_url"] is None
    over_http = bob.http.get("/api/rooms/tea/messages").get_json()["messages"]
    assert [m["user"] for m in over_http] == [m["user"] for m in history["messages"]]
    found = bob.sock.emit("search", {"q": "apples"}, callback=True)
    assert found["ok"] and found["results"][0]["user"]["display_name"] == "Alice Liddell"


def test_a_changed_profile_shows_on_the_next_message_and_in_history_at_once(member):
    alice, bob = member("alice"), member("bob")
    for who in (alice, bob):
        who.sock.emit("join_room", {"room": "tea"}, callback=True)
    alice.sock.emit("room_message", {"room": "tea", "message": "one"}, callback=True)  # fills the cache
    assert alice.update(display_name="Queen of Hearts")["ok"]
    bob.sock.get_received()
    alice.sock.emit("room_message", {"room": "tea", "message": "two"}, callback=True)
    assert [m["user"]["display_name"] for m in live(bob) if m.get("id")] == ["Queen of Hearts"]
    history = bob.sock.emit("get_history", {"room": "tea"}, callback=True)["messages"]
    assert [m["user"]["display_name"] for m in history] == ["Queen of Hearts", "Queen of Hearts"]
    assert alice.update(display_name=None)["ok"]
    history = bob.sock.emit("get_history", {"room": "tea"}, callback=True)["messages"]
    assert [m["user"]["display_name"] for m in history] == [None, None]
    edited = alice.sock.emit("edit_message", {"id": history[0]["id"], "message": "uno"}, callback=True)
    assert edited["ok"], edited
    updated = [m for m in live(bob, "message_updated")]
    assert updated and updated[-1]["user"] == {
        "id": history[0]["user"]["id"],
        "name": "alice",
        "display_name": None,
        "avatar_url": None,
    }


def test_messages_without_an_account_keep_their_user_as_before(app, client_factory):
    anonymous = client_factory()
    anonymous.emit("send_message", {"message": "hello"}, callback=True)
    history = anonymous.emit("get_history", {}, callback=True)["messages"]
    assert history[0]["user"]["id"] is None and set(history[0]["user"]) == {"id", "name"}


def count_statements():
    """Every statement any engine runs (history reads through a pool of its own on PostgreSQL)."""
    seen = []

    def note(conn, cursor, statement, *rest):
        seen.append(statement)

    event.listen(Engine, "before_cursor_execute", note)
    return seen, lambda: event.remove(Engine, "before_cursor_execute", note)


def test_a_history_page_reads_authors_once_then_from_the_cache(app, member):
    alice, bob = member("alice"), member("bob")
    for who in (alice, bob):
        who.sock.emit("join_room", {"room": "tea"}, callback=True)
    for n in range(6):
        (alice if n % 2 else bob).sock.emit("room_message", {"room": "tea", "message": f"m{n}"}, callback=True)
    app.extensions["chat_authors"].clear()
    seen, stop = count_statements()
    try:
        bob.sock.emit("get_history", {"room": "tea"}, callback=True)
        first = [s for s in seen if "display_name" in s and "messages" not in s]
        seen.clear()
        bob.sock.emit("get_history", {"room": "tea"}, callback=True)
        second = [s for s in seen if "display_name" in s and "messages" not in s]
        seen.clear()
        alice.sock.emit("room_message", {"room": "tea", "message": "cached"}, callback=True)
        sending = [s for s in seen if "display_name" in s]
    finally:
        stop()
    assert len(first) == 1  # both authors in one query
    assert second == [] and sending == []  # then from the cache: no round trip on PostgreSQL


def test_the_online_list_carries_display_name_avatar_and_status_text(app, member):
    alice, bob = member("alice"), member("bob")
    assert alice.update(display_name="Alice Liddell", status="🍵 tea time")["ok"]
    users = {u["name"]: u for u in bob.sock.emit("who_is_online", callback=True)["users"]}
    assert users["alice"]["display_name"] == "Alice Liddell" and users["alice"]["status_text"] == "🍵 tea time"
    assert users["alice"]["status"] == "online" and users["alice"]["avatar_url"] is None
    assert users["bob"]["display_name"] is None and users["bob"]["status_text"] is None
    assert bob.http.get("/api/presence").get_json()["users"] == list(users.values())
    with app.app_context():
        user = db.session.get(User, users["alice"]["id"])
        user.status_expires_at = datetime.now(UTC) - timedelta(seconds=1)
        db.session.commit()
    users = {u["name"]: u for u in bob.sock.emit("who_is_online", callback=True)["users"]}
    assert users["alice"]["status_text"] is None  # expired: not shown


# ---- loose ends: SSO-only mode, deactivated accounts, the settings page's links ----


@pytest.fixture
def sso_only_app(make_app, inbox):
    return make_app(
        CHAT_SSO_ONLY=True,
        CHAT_OIDC_ISSUER="https://id.example",
        CHAT_OIDC_CLIENT_ID="chat",
        CHAT_BASE_URL="https://chat.example",
        CHAT_SMTP_HOST="127.0.0.1",
        CHAT_SMTP_PORT=inbox.port,
        CHAT_SMTP_STARTTLS=False,
        CHAT_SMTP_FROM="chat@example.org",
    )


def session_of(app, name):
    """A signed-in session (SSO-only mode has no password login to go through)."""
    with app.app_context():
        user = create_user(name, "correct horse")
        user_id, generation = user.id, user.session_generation
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"], session["_fresh"], session[GENERATION_KEY] = str(user_id), True, generation
    return client


def test_sso_only_mode_hides_and_refuses_the_password_forms(sso_only_app, inbox):
    app = sso_only_app
    client = session_of(app, "alice")
    page = client.get("/settings").get_data(as_text=True)
    assert page.count('id="profile-heading"') == 1 and 'id="password-heading"' not in page
    assert 'action="/settings/password"' not in page
    token = page.split('name="profile-csrf_token" type="hidden" value="')[1].split('"')[0]
    fields = {"current_password": "correct horse", "password": "new horse 12", "confirm": "new horse 12"}
    changed = client.post(
        "/settings/password", data={"password-csrf_token": token, **{f"password-{k}": v for k, v in fields.items()}}
    )
    assert changed.status_code == 403
    login_page = app.test_client().get("/login").get_data(as_text=True)
    assert 'action="/password/forgot"' not in login_page
    anyone = app.test_client()
    csrf = anyone.get("/login").get_data(as_text=True).split('csrf_token" type="hidden" value="')[1].split('"')[0]
    for answer in (
        anyone.post("/password/forgot", data={"forgot-csrf_token": csrf, "forgot-identifier": "alice"}),
        anyone.get("/password/reset/" + "a" * 43),
        anyone.post("/password/reset/" + "a" * 43, data={"reset-csrf_token": csrf, "reset-password": "x" * 12}),
    ):
        assert answer.status_code == 403
        assert "single sign-on" in answer.get_data(as_text=True) or "シングルサインオン" in answer.get_data(
            as_text=True
        )
    assert inbox.messages == []


def test_a_deactivated_account_gets_nothing_from_the_reset_flow(mail_app, inbox):  # noqa: F811
    app = mail_app()
    with_email(app, "alice", "alice@example.org")
    assert forgot(app.test_client(), "alice").status_code == 200
    inbox.wait(1)
    [link] = inbox.links()
    with app.app_context():
        user = db.session.execute(db.select(User).filter_by(name="alice")).scalar_one()
        user.deactivated_at = datetime.now(UTC)
        db.session.commit()
    assert reset(app.test_client(), link, "new horse 12").status_code == 400  # the link is dead now
    assert forgot(app.test_client(), "alice").status_code == 200  # the same page as for anyone
    assert forgot(app.test_client(), "alice@example.org").status_code == 200
    inbox.wait(2, timeout=1)
    assert len(inbox.messages) == 1  # no new mail


def test_a_deactivated_user_gets_nothing_from_the_profile_endpoints(app, member):
    alice, bob = member("alice"), member("bob")
    with app.app_context():
        user = db.session.execute(db.select(User).filter_by(name="alice")).scalar_one()
        user.deactivated_at = datetime.now(UTC)
        db.session.commit()
        alice_id = user.id
    assert alice.http.get("/api/profile").status_code == 401
    assert alice.patch({"display_name": "Still Here"}).status_code in (400, 401)
    assert (
        alice.http.get(f"/api/users/{bob.sock.emit('who_is_online', callback=True)['users'][0]['id']}").status_code
        == 401
    )
    assert alice.upload(png()).status_code in (400, 401)
    assert alice.http.delete("/api/profile/avatar", headers={"X-CSRFToken": alice.token}).status_code in (400, 401)
    assert settings_post(bob.http, "profile", display_name="Bob").status_code == 302
    with app.app_context():
        assert db.session.get(User, alice_id).display_name is None


def test_the_settings_pages_link_to_each_other(app, member):
    alice = member("alice")
    page = alice.http.get("/settings").get_data(as_text=True)
    nav = page.split('<nav class="row"')[1].split("</nav>")[0]
    links = [part.split('"')[0] for part in nav.split('href="')[1:]]
    assert links == ["/", "/settings", "/settings/tokens", "/settings/data"]
    for link in links:
        assert alice.http.get(link).status_code == 200, link
