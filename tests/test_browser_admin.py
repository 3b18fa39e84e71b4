"""The /admin page in a real browser (Debian's chromium through Playwright) against gunicorn: an
admin finds a user and deactivates them; the user's session ends at once."""

import re
import uuid

import pytest
import requests
from sqlalchemy import create_engine, text

from chat.config import database_url
from tests import servers
from tests.accounts import register
from tests.conftest import skip_or_fail
from tests.test_browser import CHROMIUM_ARGS

pytestmark = pytest.mark.once  # the page's behaviour, not the database's: the SQLite pass runs it

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:
    expect = sync_playwright = None

PASSWORD = "correct horse"


@pytest.fixture(scope="module")
def server(live_database):
    url = live_database()
    running = servers.gunicorn("eventlet", env={"DATABASE_URL": url}).start()
    yield running, url
    running.stop()


def test_an_admin_deactivates_a_user_on_the_page(server, chromium_path):
    if sync_playwright is None:
        skip_or_fail("the playwright package is not installed (make setup-dev)")
    running, db_url = server
    suffix = uuid.uuid4().hex[:6]
    admin, bob = f"admin-{suffix}", f"bob-{suffix}"
    bob_session = requests.Session()
    assert register(bob_session, bob, PASSWORD, base=running.url).status_code == 302
    assert register(requests.Session(), admin, PASSWORD, base=running.url).status_code == 302
    engine = create_engine(database_url(db_url))
    with engine.begin() as conn:
        conn.execute(text("UPDATE users SET is_admin = true WHERE name = :name"), {"name": admin})
    engine.dispose()
    problems = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(locale="en-US")
        page = context.new_page()
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.goto(running.url + "/login?next=/admin")
        page.locator("#login-name").fill(admin)
        page.locator("#login-password").fill(PASSWORD)
        page.locator("#login-password").press("Enter")
        expect(page).to_have_url(re.compile(r"/admin$"))
        page.locator("#q").fill(bob)
        page.locator("#q").press("Enter")
        row = page.locator(f'tr[data-user="{bob}"]')
        expect(row.locator(".status")).to_contain_text("active")
        row.locator('form[data-action="deactivate"] button').click()
        expect(page.locator(".notice")).to_have_text("Done.")
        row = page.locator(f'tr[data-user="{bob}"]')
        expect(row.locator(".status")).to_contain_text("deactivated")
        expect(page.locator("#audit")).to_contain_text("deactivate")
        expect(page.locator("#audit")).to_contain_text(bob)
        # In Japanese too.
        page.goto(running.url + f"/admin?lang=ja&q={bob}")
        expect(page.locator(f'tr[data-user="{bob}"] .status')).to_contain_text("無効")
        browser.close()
    assert problems == []
    assert bob_session.get(running.url + "/api/rooms").status_code == 401
