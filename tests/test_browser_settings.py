"""The settings page in a real browser (Debian's chromium): change the display name, upload an
avatar, change the password; the other browser's session ends, this one goes on."""

from io import BytesIO

import pytest
from PIL import Image

from tests import servers, test_browser
from tests.test_browser import PASSWORD, expect

pytestmark = pytest.mark.once  # the page's behaviour, not the database's: the SQLite pass runs it

# The browser (Debian's chromium), the name suffix.
browser, suffix = test_browser.browser, test_browser.suffix


@pytest.fixture(scope="module")
def settings_server(live_database, tmp_path_factory):
    folder = tmp_path_factory.mktemp("uploads")
    server = servers.gunicorn("eventlet", env={"DATABASE_URL": live_database(), "CHAT_UPLOAD_FOLDER": folder})
    server.start()
    yield server
    server.stop()


@pytest.fixture
def pages(browser, settings_server):
    opened = test_browser.Pages(browser, settings_server.url)
    yield opened
    opened.close()


def picture():
    out = BytesIO()
    Image.new("RGB", (300, 180), (220, 60, 20)).save(out, "JPEG")
    return out.getvalue()


def test_settings_page_changes_display_name_avatar_and_password(pages, suffix):
    name = f"setter{suffix}"
    page = pages.open(name, locale="en-US")
    other = pages.open(name="other", locale="en-US")
    other.goto(pages.base_url + "/login")
    other.locator("#login-name").fill(name)
    other.locator("#login-password").fill(PASSWORD)
    other.locator("#login-password").press("Enter")
    expect(other.locator("#me")).to_have_text(name)

    page.goto(pages.base_url + "/settings")
    expect(page.locator("#login-name")).to_have_text(name)
    page.locator("#profile-display_name").fill(f"Ｓｅｔ {suffix}")
    page.locator("#profile-status").fill("in the settings 🛠️")
    page.locator("#profile-time_zone").select_option("Asia/Tokyo")
    page.get_by_role("button", name="Save profile").click()
    expect(page.locator("p.notice")).to_have_text("Profile saved.")
    expect(page.locator("#profile-display_name")).to_have_value(f"Set {suffix}")
    card = page.request.get(pages.base_url + "/api/profile").json()["user"]
    assert card["display_name"] == f"Set {suffix}" and card["time_zone"] == "Asia/Tokyo"

    page.locator("#avatar-file").set_input_files({"name": "me.jpg", "mimeType": "image/jpeg", "buffer": picture()})
    page.get_by_role("button", name="Upload").click()
    expect(page.locator("p.notice")).to_have_text("Avatar updated.")
    avatar = page.locator("#avatar-image")
    expect(avatar).to_be_visible()
    # Visible is not loaded: the new picture's bytes may still be on their way.
    page.wait_for_function(
        "() => { const i = document.getElementById('avatar-image'); return i.complete && i.naturalWidth > 0; }"
    )
    assert page.evaluate("document.getElementById('avatar-image').naturalWidth") == 128

    page.locator("#password-current_password").fill(PASSWORD)
    page.locator("#password-password").fill("a brand new horse")
    page.locator("#password-confirm").fill("a brand new horse")
    page.get_by_role("button", name="Change password").click()
    expect(page.locator("p.notice")).to_contain_text("Password changed.")
    assert page.request.get(pages.base_url + "/api/profile").status == 200  # this session goes on
    assert other.request.get(pages.base_url + "/api/profile").status == 401  # the other one ended
    pages.assert_no_problems()
