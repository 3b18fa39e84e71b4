"""Desktop notifications and the service worker in Debian's chromium (issue 21).

The page is "hidden" through an init script (document.visibilityState reads window.__hidden) and
window.Notification is wrapped to record what the page shows; the permission is granted to the
context, and the page asks for nothing until #notify-toggle is clicked. The service worker's
notificationclick handler (openConversation) is run inside the worker itself.
"""

import re

import pytest

from tests import servers, test_browser
from tests.browser_helpers import Bot, unique
from tests.test_browser import expect, register

pytestmark = pytest.mark.once  # the page's behaviour, not the database's: the SQLite pass runs it

browser = test_browser.browser

HOOK = """
(() => {
  window.__hidden = false;
  window.__notes = [];
  Object.defineProperty(Document.prototype, "visibilityState", {
    configurable: true, get() { return window.__hidden ? "hidden" : "visible"; } });
  Object.defineProperty(Document.prototype, "hidden", { configurable: true, get() { return window.__hidden; } });
  const Real = window.Notification;
  class Recorded {
    constructor(title, options = {}) {
      this.title = title;
      this.options = options;
      window.__notes.push({ title, body: options.body, tag: options.tag });
      window.__last = this;
    }
    close() {}
    static get permission() { return Real.permission; }
    static requestPermission() { return Real.requestPermission(); }
  }
  window.Notification = Recorded;
})();
"""


@pytest.fixture(scope="module")
def server(live_database, tmp_path_factory):
    vapid = tmp_path_factory.mktemp("vapid") / "vapid.pem"
    found = servers.gunicorn("eventlet", env={"DATABASE_URL": live_database(), "CHAT_VAPID_FILE": str(vapid)}).start(
        timeout=90
    )
    yield found
    found.stop()


@pytest.fixture
def context(browser, server):
    made = browser.new_context(locale="en-US", permissions=["notifications"], base_url=server.url)
    made.add_init_script(HOOK)
    made.set_default_timeout(10_000)
    yield made
    made.close()


def signed_in(context, name):
    page = context.new_page()
    page.goto("/")
    register(page, name)
    expect(page.locator("#me")).to_have_text(name)
    expect(page.locator("#status")).to_have_text("Connected")
    return page


def notes(page):
    return page.evaluate("window.__notes")


def shown_in(page, second, count):
    """The notifications both tabs showed, once there are `count`, after time for a duplicate."""
    for _ in range(100):
        if len(notes(page) + notes(second)) >= count:
            break
        page.wait_for_timeout(100)
    page.wait_for_timeout(800)
    return notes(page) + notes(second)


def test_a_mention_and_a_dm_raise_one_desktop_notification_while_hidden(context, server):
    me, other = f"bob{unique()}", f"alice{unique()}"
    room = f"general{unique()}"
    page = signed_in(context, me)
    toggle = page.locator("#notify-toggle")
    expect(toggle).to_have_text("Turn on notifications")
    toggle.click()  # the user's gesture; the permission is granted
    expect(toggle).to_have_text("Turn off notifications")
    expect(toggle).to_have_attribute("aria-pressed", "true")
    second = context.new_page()  # another tab of the same browser
    second.goto("/")
    expect(second.locator("#status")).to_have_text("Connected")
    alice = Bot(server.url, other).join(room)
    try:
        for tab in (page, second):
            tab.locator("#room-input").fill(room)
            tab.locator("#join").click()
            expect(tab.locator("#current-room")).to_contain_text(room)
        alice.say(room, "visible: no notification @" + me)
        page.wait_for_timeout(800)
        assert notes(page) == [] and notes(second) == []
        for tab in (page, second):
            tab.evaluate("window.__hidden = true")
        alice.say(room, "nobody named here")
        alice.say(room, f"@{me} the report is ready")
        shown = shown_in(page, second, 1)
        assert shown == [{"title": f"{other} · #{room}", "body": f"@{me} the report is ready", "tag": f"chat:{room}"}]
        dm = alice.client.call("open_dm", {"user": me})
        dm_name = dm["room"]["name"] if isinstance(dm["room"], dict) else dm["room"]
        alice.say(dm_name, "a word in private")
        shown = shown_in(page, second, 2)
        assert len(shown) == 2  # whichever tab claimed it first showed it; no duplicate
        assert {"title": other, "body": "a word in private", "tag": f"chat:{dm_name}"} in shown
        clicked = next(p for p in (page, second) if any(n["body"] == "a word in private" for n in notes(p)))
        clicked.evaluate("window.__last.onclick()")
        expect(clicked.locator("#current-room")).to_contain_text(other)
    finally:
        alice.close()


def test_the_service_worker_opens_the_conversation_a_notification_is_about(context, server):
    me, other = f"bob{unique()}", f"alice{unique()}"
    page = signed_in(context, me)
    alice = Bot(server.url, other)
    try:
        dm = alice.client.call("open_dm", {"user": me})
        dm_name = dm["room"]["name"] if isinstance(dm["room"], dict) else dm["room"]
        alice.say(dm_name, "hello")
        with context.expect_event("serviceworker") as found:
            page.locator("#notify-toggle").click()
        worker = found.value
        assert worker.url.endswith("/sw.js")
        page.evaluate("navigator.serviceWorker.ready.then(() => true)")
        expect(page.locator("#current-room")).not_to_contain_text(other)
        url = "/?room=" + dm_name.replace(":", "%3A")
        worker.evaluate("(data) => self.openConversation(data).then(() => true)", {"url": url, "room": dm_name})
        expect(page.locator("#current-room")).to_contain_text(other)
        # The URL a notification opens in a new window shows that conversation too.
        page.goto("/")
        page.locator("#room-input").fill(f"elsewhere{unique()}")
        page.locator("#join").click()
        expect(page.locator("#current-room")).not_to_contain_text(other)
        page.goto(url)
        expect(page.locator("#current-room")).to_contain_text(other)
        expect(page).to_have_url(re.compile(r"/$"))
    finally:
        alice.close()
