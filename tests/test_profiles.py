"""Profiles (issue 22): display name, status with expiry, time zone, avatar; socket and HTTP;
hostile values get a clear error, never a 500; on SQLite and PostgreSQL (CHAT_TEST_DB)."""

from datetime import UTC, datetime, timedelta
from io import BytesIO

import pytest
from PIL import Image

from chat.extensions import db, socketio
from chat.models import User
from tests.accounts import guest, register
from tests.test_fuzz import DOCUMENTED_CODES


def csrf_token(client):
    page = client.get("/").get_data(as_text=True)
    return page.split('name="csrf_token" value="')[1].split('"')[0]


class Member:
    """A browser: a Flask test client with a session, its CSRF token and a socket."""

    def __init__(self, app, name, as_guest=False):
        self.app = app
        self.http = app.test_client()
        response = (guest if as_guest else register)(self.http, name)
        assert response.status_code == 302, response.get_data(as_text=True)
        self.token = csrf_token(self.http)
        self.sock = socketio.test_client(app, flask_test_client=self.http)
        assert self.sock.is_connected()

    def update(self, **fields):
        return self.sock.emit("update_profile", fields, callback=True)

    def patch(self, body, token=True):
        headers = {"X-CSRFToken": self.token} if token else {}
        return self.http.patch("/api/profile", json=body, headers=headers)

    def upload(self, content, filename="me.png"):
        return self.http.post(
            "/api/profile/avatar",
            data={"file": (BytesIO(content), filename)},
            headers={"X-CSRFToken": self.token},
            content_type="multipart/form-data",
        )

    def events(self, name):
        return [r["args"][0] for r in self.sock.get_received() if r["name"] == name]


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


def image(width, height, fmt="PNG", color=(200, 30, 30)):
    out = BytesIO()
    Image.new("RGB", (width, height), color).save(out, fmt)
    return out.getvalue()


def user_row(app, name):
    with app.app_context():
        return db.session.execute(db.select(User).filter_by(name=name)).scalar_one()


# ---- display name, status, time zone ----


def test_update_profile_over_the_socket_reaches_everyone_and_the_profile_card(app, member):
    alice, bob = member("alice"), member("bob")
    bob.sock.get_received()
    reply = alice.update(display_name="Alice Ａｎｄｏ", status="会議中 🏳️‍🌈", time_zone="Asia/Tokyo")
    assert reply["ok"] is True
    user = reply["user"]
    assert user["name"] == "alice" and user["display_name"] == "Alice Ando"  # NFKC
    assert user["status"] == "会議中 🏳️‍🌈" and user["avatar_url"] is None
    assert {"id", "name", "guest"} <= set(user)  # fields were added, none dropped
    assert bob.events("user_updated") == [{"user": user}]
    card = bob.http.get(f"/api/users/{user['id']}").get_json()
    assert card["user"]["display_name"] == "Alice Ando" and card["user"]["time_zone"] == "Asia/Tokyo"
    assert bob.http.get("/api/users/999999").status_code == 404
    assert app.test_client().get(f"/api/users/{user['id']}").status_code == 401


def test_patch_profile_needs_csrf_and_a_session(app, member):
    alice = member("alice")
    refused = alice.patch({"status": "x"}, token=False)
    assert refused.status_code == 400 and refused.get_json()["error"]["code"] == "invalid_csrf"
    done = alice.patch({"status": "lunch", "time_zone": "Europe/Paris"})
    assert done.status_code == 200
    assert done.get_json()["user"]["status"] == "lunch" and done.get_json()["user"]["time_zone"] == "Europe/Paris"
    assert alice.http.get("/api/profile").get_json()["user"]["status"] == "lunch"
    alice.http.post("/logout", data={"csrf_token": alice.token})
    after = alice.http.patch("/api/profile", json={"status": "x"}, headers={"X-CSRFToken": alice.token})
    assert after.status_code in (400, 401) and after.get_json()["error"]["code"] in ("unauthorized", "invalid_csrf")
    assert user_row(app, "alice").status_text == "lunch"


def test_a_display_name_may_not_look_like_someone_elses_name(app, member):
    alice, bob = member("alice"), member("bob")
    assert bob.update(display_name="ＡＬＩＣＥ")["error"]["code"] == "name_taken"
    assert alice.update(display_name="Alice")["ok"]  # one's own login name, differently written
    assert bob.update(display_name="Carol")["ok"]
    assert alice.update(display_name="carol")["error"]["code"] == "name_taken"
    # A new account may not take a display name as its login name either.
    assert register(app.test_client(), "CAROL").status_code == 409
    # Clearing frees it.
    assert bob.update(display_name=None)["user"]["display_name"] is None
    assert alice.update(display_name="carol")["ok"]


def test_status_expires(app, member):
    alice, bob = member("alice"), member("bob")
    soon = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
    user = alice.update(status="in a meeting", status_expires_at=soon)["user"]
    assert user["status"] == "in a meeting"
    with app.app_context():
        row = db.session.get(User, user["id"])
        row.status_expires_at = datetime.now(UTC) - timedelta(seconds=1)
        db.session.commit()
    assert bob.http.get(f"/api/users/{user['id']}").get_json()["user"]["status"] is None
    past = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    assert alice.update(status="x", status_expires_at=past)["error"]["code"] == "out_of_range"
    naive = datetime.now().replace(microsecond=0).isoformat()
    assert alice.update(status="x", status_expires_at=naive)["error"]["code"] == "invalid_type"
    # A new status without an expiry does not inherit the old one's.
    assert alice.update(status="back")["user"]["status"] == "back"
    assert user_row(app, "alice").status_expires_at is None


def test_time_zones_are_iana_names(member):
    alice = member("alice")
    assert alice.update(time_zone="America/Argentina/Buenos_Aires")["ok"]
    for bad in ("Mars/Olympus", "../../etc/passwd", "asia/tokyo", "UTC\u202e"):
        reply = alice.update(time_zone=bad)
        assert reply["error"]["code"] in ("invalid_time_zone", "invalid_text"), bad
    assert alice.update(time_zone=None)["ok"]


HUGE = "x" * 100_000
HOSTILE = [
    "bad\x00nul",
    "lone \ud800 surrogate",
    "evil\u202egnp.exe",
    "isolate\u2066x\u2069",
    HUGE,
    "line\nbreak",
    "\u200b",
    12,
    True,
    ["list"],
    {"nested": {"deep": [1, 2]}},
    1.5,
]


@pytest.mark.parametrize("field", ["display_name", "status", "status_expires_at", "time_zone"])
def test_hostile_values_get_a_clear_error_never_a_500(app, member, field):
    alice, bob = member("alice"), member("bob")
    for value in HOSTILE:
        body = {field: value}
        if field == "status_expires_at":
            body["status"] = "ok"
        reply = alice.update(**body)
        assert reply["ok"] is False, (field, value)
        assert reply["error"]["code"] in DOCUMENTED_CODES, reply
        http = alice.patch(body)
        assert 400 <= http.status_code < 500, (field, value, http.status_code)
        assert http.get_json()["error"]["code"] in DOCUMENTED_CODES
    assert alice.sock.is_connected()
    row = user_row(app, "alice")
    assert row.status_text in (None, "ok") and row.time_zone is None
    assert bob.update(status="still fine")["ok"]


def test_payloads_of_the_wrong_shape(member):
    alice = member("alice")
    for payload in (None, "text", 5, [1], {"unknown": 1}, {"display_name": "a", "admin": True}):
        reply = alice.sock.emit("update_profile", payload, callback=True)
        assert reply["ok"] is False and reply["error"]["code"] == "invalid_payload", payload
    assert alice.patch("not json").status_code == 400
    assert alice.update()["ok"]  # nothing to change is fine


def test_guests_set_a_status_but_no_display_name_or_avatar(app, member):
    kim = member("kim", as_guest=True)
    assert kim.update(status="just looking")["ok"]
    assert kim.update(display_name="Kimberly")["error"]["code"] == "forbidden"
    refused = kim.upload(image(40, 40))
    assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "forbidden"


def test_a_socket_without_a_session_changes_nothing(app, client_factory):
    anonymous = client_factory()
    reply = anonymous.emit("update_profile", {"status": "hi"}, callback=True)
    assert reply["ok"] is False and reply["error"]["code"] == "forbidden"


# ---- avatars ----


def avatar_of(client, url):
    response = client.get(url)
    assert response.status_code == 200
    return response, Image.open(BytesIO(response.data))


def test_an_avatar_is_a_square_png_served_safely(app, member):
    alice, bob = member("alice"), member("bob")
    bob.sock.get_received()
    done = alice.upload(image(300, 200, "JPEG"), "me.jpg")
    assert done.status_code == 200, done.get_json()
    url = done.get_json()["user"]["avatar_url"]
    assert url.startswith("/avatars/") and url.endswith(".png")
    assert bob.events("user_updated")[-1]["user"]["avatar_url"] == url
    response, picture = avatar_of(bob.http, url)
    assert picture.format == "PNG" and picture.size == (128, 128)
    assert response.headers["Content-Type"] == "image/png"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response.headers["Content-Security-Policy"]
    assert app.test_client().get(url).status_code == 404  # no session: nothing
    # A new picture replaces the old file; removing it leaves none.
    second = alice.upload(image(64, 64, "GIF"), "x.gif").get_json()["user"]["avatar_url"]
    assert second != url and bob.http.get(url).status_code == 404
    assert avatar_of(bob.http, second)[1].size == (128, 128)
    removed = alice.http.delete("/api/profile/avatar", headers={"X-CSRFToken": alice.token})
    assert removed.status_code == 200 and removed.get_json()["user"]["avatar_url"] is None
    assert bob.http.get(second).status_code == 404


@pytest.mark.parametrize(
    "content, code, status",
    [
        (b"", "empty_file", 400),
        (b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>", "invalid_image", 415),
        (b"GIF89a" + b"\0" * 50, "invalid_image", 415),
        (b"\x89PNG\r\n\x1a\n" + b"junk" * 10, "invalid_image", 415),
        (b"%PDF-1.4 not a picture", "invalid_image", 415),
    ],
)
def test_what_is_no_picture_is_refused(app, member, content, code, status):
    alice = member("alice")
    response = alice.upload(content)
    assert response.status_code == status and response.get_json()["error"]["code"] == code
    assert user_row(app, "alice").avatar is None


def test_large_files_and_decompression_bombs_are_refused(make_app):
    app = make_app(CHAT_MAX_AVATAR_SIZE=50_000, CHAT_UPLOAD_MAX_PIXELS=1_000_000)
    alice = Member(app, "alice")
    big = alice.upload(b"\x89PNG\r\n\x1a\n" + b"\0" * 60_000)
    assert big.status_code == 413 and big.get_json()["error"]["code"] == "too_large"
    bomb = BytesIO()
    Image.new("1", (4000, 4000)).save(bomb, "PNG")  # 16 MP, a few kB
    assert len(bomb.getvalue()) < 50_000
    refused = alice.upload(bomb.getvalue())
    assert refused.status_code == 413 and refused.get_json()["error"]["code"] == "too_large"
    missing = alice.http.post(
        "/api/profile/avatar", data={}, headers={"X-CSRFToken": alice.token}, content_type="multipart/form-data"
    )
    assert missing.status_code == 400 and missing.get_json()["error"]["code"] == "missing_field"
    forged = alice.http.post("/api/profile/avatar", data={"file": (BytesIO(image(20, 20)), "a.png")})
    assert forged.status_code == 400 and forged.get_json()["error"]["code"] == "invalid_csrf"
    alice.sock.disconnect()


def test_avatar_urls_take_no_user_controlled_names(member):
    alice = member("alice")
    for path in ("/avatars/..%2f..%2fetc%2fpasswd.png", "/avatars/short.png", "/avatars/%00%00%00%00%00.png"):
        assert alice.http.get(path).status_code == 404, path
