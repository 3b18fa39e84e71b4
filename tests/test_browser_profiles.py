"""Profiles in the chat page (Debian's chromium): display names and avatars on messages and in the
online list, hostile display names shown as text, the profile card and its DM button, and
`user_updated` changing what another browser shows."""

import re
from io import BytesIO

import pytest
from PIL import Image

from tests import servers, test_browser
from tests.browser_helpers import join, message, open_room, send
from tests.test_browser import expect

pytestmark = pytest.mark.once  # the page's behaviour, not the database's: the SQLite pass runs it

browser, suffix = test_browser.browser, test_browser.suffix

# Markup and right-to-left letters (bidi controls are refused by the name rule; these are not).
HOSTILE = "<img src=x onerror=boom()>שלום"


@pytest.fixture(scope="module")
def profile_server(live_database, tmp_path_factory):
    folder = tmp_path_factory.mktemp("uploads")
    server = servers.gunicorn("eventlet", env={"DATABASE_URL": live_database(), "CHAT_UPLOAD_FOLDER": folder})
    server.start(timeout=90)  # a busy machine starts it slowly
    yield server
    server.stop()


@pytest.fixture
def pages(browser, profile_server):
    opened = test_browser.Pages(browser, profile_server.url)
    yield opened
    opened.close()


def csrf(page):
    return page.locator('input[name="csrf_token"]').first.get_attribute("value")


def patch_profile(page, base_url, **fields):
    answer = page.request.patch(base_url + "/api/profile", data=fields, headers={"X-CSRFToken": csrf(page)})
    assert answer.status == 200, answer.text()
    return answer.json()["user"]


def picture():
    out = BytesIO()
    Image.new("RGB", (90, 60), (20, 120, 220)).save(out, "PNG")
    return out.getvalue()


def person(page, login):
    return page.locator("#online-list > li").filter(has=page.locator(f'button.person[title="@{login}"]'))


def test_profiles_show_escaped_update_live_and_open_a_card(pages, suffix):
    alice, bob, room = f"alice{suffix}", f"bob{suffix}", f"prof{suffix}"
    pa = pages.open(alice, "?lang=en", locale="en-US")
    pb = pages.open(bob, "?lang=en", locale="en-US")
    pb.evaluate("() => { window.__boom = 0; window.boom = () => { window.__boom += 1; }; }")
    for page in (pa, pb):
        join(page, room)
    send(pa, "before the change")
    line = message(pb, "before the change")
    expect(line.locator(".author")).to_have_text(alice)

    # Alice's new display name reaches Bob's page through user_updated: shown as text, escaped.
    patch_profile(pa, pages.base_url, display_name=HOSTILE, status="<b>tea</b> ☕", time_zone="Asia/Tokyo")
    expect(line.locator(".author")).to_have_text(HOSTILE)
    expect(line.locator(".author")).to_have_attribute("title", f"@{alice}")
    expect(line.locator(".meta img")).to_have_count(0)
    entry = person(pb, alice)
    expect(entry.locator(".person-name")).to_have_text(HOSTILE)
    expect(entry.locator(".person-status")).to_have_text("<b>tea</b> ☕")
    expect(pb.locator("#online-list b")).to_have_count(0)
    send(pa, "after the change")
    expect(message(pb, "after the change").locator(".author")).to_have_text(HOSTILE)
    expect(pa.locator("#me")).to_have_text(HOSTILE)

    # An avatar: a sized picture from /avatars/, with an alt text, on messages and in the list.
    uploaded = pa.request.post(
        pages.base_url + "/api/profile/avatar",
        multipart={"file": {"name": "me.png", "mimeType": "image/png", "buffer": picture()}},
        headers={"X-CSRFToken": csrf(pa)},
    )
    assert uploaded.status == 200, uploaded.text()
    img = line.locator(".avatar img")
    expect(img).to_have_attribute("src", re.compile(r"^/avatars/[A-Za-z0-9_-]+\.png$"))
    expect(img).to_have_attribute("alt", HOSTILE)
    expect(img).to_have_attribute("width", "36")
    expect(entry.locator(".avatar img")).to_have_attribute("src", re.compile(r"^/avatars/"))
    pb.wait_for_function(
        "() => { const i = document.querySelector('#messages .avatar img');"
        " return i && i.complete && i.naturalWidth > 0; }"
    )

    # The profile card: display name, login name, status, local time in Tokyo, "message" opens a DM.
    line.locator("button.author-link").click()
    card = pb.locator("#profile-dialog")
    expect(card).to_be_visible()
    expect(card.locator("#profile-title")).to_have_text(HOSTILE)
    expect(card.locator("#profile-login")).to_have_text(f"@{alice}")
    expect(card.locator("#profile-status")).to_have_text("Status: <b>tea</b> ☕")
    expect(card.locator("#profile-time")).to_contain_text("Asia/Tokyo")
    expect(card.locator(".profile-avatar img")).to_have_attribute("alt", HOSTILE)
    # It follows user_updated while open.
    patch_profile(pa, pages.base_url, status="away for lunch")
    expect(card.locator("#profile-status")).to_have_text("Status: away for lunch")
    card.locator("#profile-dm").click()
    expect(card).to_be_hidden()
    expect(pb.locator("#current-room")).to_contain_text(alice)

    # From the online list too; one's own card has no "message" button.
    person(pb, alice).locator("button.person").click()
    expect(card).to_be_visible()
    expect(card.locator("#profile-title")).to_have_text(HOSTILE)
    pb.keyboard.press("Escape")
    expect(card).to_be_hidden()
    pa.locator("#messages button.author-link").first.click()
    expect(pa.locator("#profile-dialog #profile-title")).to_have_text(HOSTILE)
    expect(pa.locator("#profile-dm")).to_be_hidden()

    # Cleared: back to the login name everywhere.
    pa.keyboard.press("Escape")
    open_room(pb, room)
    patch_profile(pa, pages.base_url, display_name=None)
    expect(line.locator(".author")).to_have_text(alice)
    expect(person(pb, alice).locator(".person-name")).to_have_count(0)  # title gone with the display name
    expect(pb.locator("#online-list .person-name").filter(has_text=alice)).to_have_count(1)
    assert pb.evaluate("window.__boom") == 0  # no markup ever ran
    pages.assert_no_problems()
