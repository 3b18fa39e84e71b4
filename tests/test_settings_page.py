"""The /settings page (issue 22): server-rendered forms with CSRF tokens, in Japanese and English;
what the forms change, and hostile values answered with the page, never a 500."""

from io import BytesIO

import pytest
from PIL import Image

from chat.extensions import db
from chat.models import User
from tests.accounts import csrf_token, guest, register


def post(client, form, files=None, token=None, **fields):
    page = client.get("/settings").get_data(as_text=True)
    data = {f"{form}-csrf_token": token if token is not None else csrf_token(page, form)}
    data.update({f"{form}-{k}": v for k, v in fields.items()})
    data.update(files or {})
    target = {"noavatar": "/settings/avatar/remove"}.get(form, f"/settings/{form}")
    return client.post(target, data=data, content_type="multipart/form-data" if files else None)


def row(app, name):
    with app.app_context():
        return db.session.execute(db.select(User).filter_by(name=name)).scalar_one()


def png(width=50, height=80):
    out = BytesIO()
    Image.new("RGB", (width, height), (0, 90, 200)).save(out, "PNG")
    return out.getvalue()


def test_settings_needs_a_session_and_links_the_other_settings_pages(app):
    anonymous = app.test_client().get("/settings")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    client = app.test_client()
    register(client, "alice")
    for lang, word in (("ja", "設定"), ("en", "Settings")):
        page = client.get(f"/settings?lang={lang}")
        html = page.get_data(as_text=True)
        assert page.status_code == 200 and word in html and f'lang="{lang}"' in html
        assert 'href="/settings/tokens"' in html and 'href="/settings/data"' in html
        assert "Asia/Tokyo" in html and 'name="password-current_password"' in html
        assert f'href="/settings?lang={"en" if lang == "ja" else "ja"}"' in html
        assert f'lang="{lang}"' in client.get("/settings").get_data(as_text=True)  # remembered


def test_profile_form_sets_display_name_status_and_time_zone(app):
    client = app.test_client()
    register(client, "alice")
    done = post(client, "profile", display_name="Ａｌｉ", status="休憩中", expires="60", time_zone="Asia/Tokyo")
    assert done.status_code == 302
    user = row(app, "alice")
    assert (user.display_name, user.status_text, user.time_zone) == ("Ali", "休憩中", "Asia/Tokyo")
    assert user.status_expires_at is not None
    html = client.get("/settings").get_data(as_text=True)
    assert 'value="Ali"' in html and 'value="休憩中"' in html


@pytest.mark.parametrize(
    "fields",
    [
        {"display_name": "bad\x00"},
        {"display_name": "evil\u202eexe"},
        {"display_name": "x" * 5000},
        {"status": "non-character \ufffe"},
        {"status": "rtl\u202e"},
        {"status": "y" * 3000},
        {"time_zone": "Mars/Olympus"},
        {"time_zone": "\x00"},
        {"expires": "999"},
    ],
)
def test_profile_form_answers_hostile_values_with_the_page(app, fields):
    client = app.test_client()
    register(client, "bob")
    register(app.test_client(), "alice")
    answer = post(client, "profile", **{"display_name": "", "status": "", "time_zone": "", "expires": "0", **fields})
    assert answer.status_code in (400, 409), answer.status_code
    assert 'class="field-error"' in answer.get_data(as_text=True)
    user = row(app, "bob")
    assert user.display_name is None and user.status_text is None and user.time_zone is None


def test_a_look_alike_display_name_is_refused_on_the_page(app):
    register(app.test_client(), "alice")
    client = app.test_client()
    register(client, "bob")
    answer = post(client, "profile", display_name="ALİCE".replace("İ", "I"), status="", time_zone="", expires="0")
    assert answer.status_code == 409


def test_forms_without_their_csrf_token_change_nothing(app):
    client = app.test_client()
    register(client, "alice")
    answer = post(client, "profile", token="forged", display_name="Mallory", status="", time_zone="", expires="0")
    assert answer.status_code == 400 and row(app, "alice").display_name is None


def test_avatar_form_uploads_and_removes(app):
    client = app.test_client()
    register(client, "alice")
    done = post(client, "avatar", files={"avatar-file": (BytesIO(png()), "me.png")})
    assert done.status_code == 302
    token = row(app, "alice").avatar
    html = client.get("/settings").get_data(as_text=True)
    assert f'src="/avatars/{token}.png"' in html
    served = client.get(f"/avatars/{token}.png")
    assert Image.open(BytesIO(served.data)).size == (128, 128)
    refused = post(client, "avatar", files={"avatar-file": (BytesIO(b"<html>no</html>"), "x.png")})
    assert refused.status_code == 415 and row(app, "alice").avatar == token
    assert post(client, "noavatar").status_code == 302
    assert row(app, "alice").avatar is None and client.get(f"/avatars/{token}.png").status_code == 404


def test_guests_see_status_and_time_zone_only(app):
    client = app.test_client()
    guest(client, "kim")
    html = client.get("/settings").get_data(as_text=True)
    assert 'name="profile-status"' in html and 'name="profile-display_name"' not in html
    assert 'name="password-current_password"' not in html and 'name="email-email"' not in html
    assert post(client, "profile", status="browsing", time_zone="UTC", expires="0").status_code == 302
    assert row(app, "kim").status_text == "browsing" and row(app, "kim").display_name is None
