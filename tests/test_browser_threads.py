"""Threads in real browsers (issue 21): a reply from the thread panel reaches a follower in another
tab with the thread's unread count, the root shows "N replies" and who replied, replies stay out
of the main log, reading the thread in one tab clears its unread in the other, and a thread longer
than a page is read fully through "load older replies" and scrolling up."""

import pytest

from tests import servers
from tests.browser_helpers import close_drawer, join, message, open_app, reveal, unique
from tests.test_browser import ARTIFACTS, Pages, browser, expect  # noqa: F401 (fixture)

pytestmark = pytest.mark.once  # the page's behaviour, not the database's: the SQLite pass runs it

PAGE = 5


@pytest.fixture(scope="module")
def live_server(live_database):
    """conftest's server, given longer to start (the machine's cores are shared); pages of 5 (a
    thread's newest page and each older one), so a long thread needs only a dozen replies."""
    env = {"DATABASE_URL": live_database(), "CHAT_HISTORY_ON_JOIN": str(PAGE)}
    server = servers.gunicorn("eventlet", env=env).start(timeout=120)
    yield server
    server.stop()


@pytest.fixture
def pages(browser, live_server):  # noqa: F811 (the imported fixture)
    opened = Pages(browser, live_server.url)
    yield opened
    opened.close()


def reply_in_panel(page, text):
    box = page.locator("#thread-input")
    box.fill(text)
    box.press("Enter")
    expect(box).to_have_value("")
    expect(page.locator("#thread-messages li.message .text").filter(has_text=text)).to_have_count(1)


def thread_entry(page):
    return page.locator("#thread-list li.thread-entry")


def test_a_reply_reaches_a_follower_in_another_tab_with_the_threads_unread(pages, live_server):
    tag = unique()
    room, alice_name, bob_name = f"th-{tag}", f"alice{tag}", f"bob{tag}"
    alice = open_app(pages, alice_name, lang="ja")
    bob = open_app(pages, bob_name, lang="en")
    join(alice, room)
    join(bob, room)
    alice.locator("#message-input").fill("lunch at noon?")
    alice.locator("#message-input").press("Enter")
    root = message(bob, "lunch at noon?")
    expect(root).to_have_count(1)

    # Bob replies from the thread panel: he follows the thread; the root shows the summary.
    root.hover()
    root.locator('button[data-action="reply"]').click()
    expect(bob.locator("#thread-panel")).to_be_visible()
    expect(bob.locator("#thread-root .text")).to_have_text("lunch at noon?")
    reply_in_panel(bob, "count me in")
    summary = message(alice, "lunch at noon?").locator(".thread-summary")
    expect(summary.locator(".thread-count")).to_have_text("1 件の返信")
    expect(summary.locator(".thread-names")).to_have_text(bob_name)
    expect(message(alice, "count me in")).to_have_count(0)  # replies stay out of the main log
    bob.locator("#thread-close").click()
    expect(bob.locator("#thread-panel")).to_be_hidden()

    # Bob's other tab lists the thread he follows, read.
    other = bob.context.new_page()
    other.goto(live_server.url + "/?lang=en")
    expect(other.locator("#status")).to_have_text("Connected")
    reveal(other, other.locator("#thread-list"))
    entry = thread_entry(other)
    expect(entry).to_have_count(1)
    expect(entry.locator(".badge")).to_have_count(0)
    close_drawer(other)

    # Alice replies through the root's "1 件の返信": the other tab shows the thread's unread.
    summary.click()
    expect(alice.locator("#thread-panel")).to_be_visible()
    expect(alice.locator("#thread-messages li.message .text")).to_have_text(["count me in"])
    reply_in_panel(alice, "see you there")
    reveal(other, other.locator("#thread-list"))
    entry = thread_entry(other)
    expect(entry.locator(".badge")).to_have_text("1 unread")
    expect(other.locator("#threads-unread")).to_have_text("1")
    expect(thread_entry(bob).locator(".badge")).to_have_text("1 unread")  # every tab agrees
    expect(message(bob, "lunch at noon?").locator(".thread-count")).to_have_text("2 replies")

    # Reading it in the other tab clears the unread everywhere.
    entry.click()
    expect(other.locator("#thread-panel")).to_be_visible()
    expect(other.locator("#thread-messages li.message .text")).to_have_text(["count me in", "see you there"])
    expect(thread_entry(bob).locator(".badge")).to_have_count(0)
    expect(bob.locator("#threads-unread")).to_be_hidden()
    pages.assert_no_problems()


def test_the_thread_panel_is_full_screen_on_a_phone(pages):
    tag = unique()
    phone = open_app(pages, f"carol{tag}", lang="en", device="phone")
    join(phone, f"ph-{tag}")
    phone.locator("#message-input").fill("root on a phone")
    phone.locator("#message-input").press("Enter")
    line = message(phone, "root on a phone")
    expect(line).to_have_attribute("data-id", __import__("re").compile(r"^\d+$"))
    line.locator(".message-menu-button").click()
    phone.locator('#message-menu [data-action="reply"]').click()
    panel = phone.locator("#thread-panel")
    expect(panel).to_be_visible()
    box = panel.bounding_box()
    assert box["x"] == 0 and box["y"] == 0 and box["width"] == 390 and box["height"] == 844
    reply_in_panel(phone, "a reply on a phone")
    phone.locator("#thread-close").click()
    expect(line.locator(".thread-count")).to_have_text("1 reply")
    pages.assert_no_problems()


SEND_REPLIES_JS = """async ([room, root, texts]) => {
    // The user's own session, a socket of its own (WebSocket only: see test_browser_everyday.emit).
    const socket = window.io({forceNew: true, transports: ['websocket']});
    const call = (event, data) => new Promise((resolve) => socket.emit(event, data, resolve));
    await new Promise((resolve) => socket.on("connect", resolve));
    for (const message of texts) {
        const ack = await call("room_message", {room, message, reply_to: root});
        if (!ack || !ack.ok) throw new Error(JSON.stringify(ack));
    }
    socket.disconnect();
}"""


def test_a_thread_longer_than_a_page_is_read_fully(pages):
    tag = unique()
    room, name = f"long-{tag}", f"dave{tag}"
    page = open_app(pages, name, lang="en")
    join(page, room)
    page.locator("#message-input").fill("a long story")
    page.locator("#message-input").press("Enter")
    root = message(page, "a long story")
    expect(root).to_have_attribute("data-id", __import__("re").compile(r"^\d+$"))
    # 12 replies (two full pages and two more), each a few lines long: two pages overflow the panel.
    texts = [f"part {n}: " + "and then it went on " * 12 for n in range(1, 2 * PAGE + 3)]
    texts = [text.strip() for text in texts]
    page.evaluate(SEND_REPLIES_JS, [room, int(root.get_attribute("data-id")), texts])
    expect(root.locator(".thread-count")).to_have_text(f"{len(texts)} replies")

    # The panel opens on the newest page, with the control for older ones.
    root.locator(".thread-summary").click()
    replies = page.locator("#thread-messages li.message .text")
    older = page.locator("#thread-older")
    expect(replies).to_have_text(texts[-PAGE:])
    expect(older).to_be_visible()
    expect(older).to_have_text("Load older replies")
    # Joining a room that did not exist yet raised no error (the page asks for its pins after the join).
    expect(page.locator("#errors")).to_be_empty()
    page.screenshot(path=str(ARTIFACTS / "thread-older-en.png"))
    # One click: the page before; scrolling to the top of the replies: the rest, in order.
    older.click()
    expect(replies).to_have_text(texts[-2 * PAGE :])
    expect(older).to_be_visible()
    assert page.locator("#thread-messages").evaluate("(list) => list.scrollHeight > list.clientHeight")
    page.locator("#thread-messages").evaluate("(list) => { list.scrollTop = 0; }")
    expect(replies).to_have_text(texts)
    expect(older).to_be_hidden()  # nothing older is left
    # A new reply still comes in at the bottom.
    reply_in_panel(page, "the end")
    expect(replies).to_have_text([*texts, "the end"])
    pages.assert_no_problems()
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(ARTIFACTS / "thread-phone-en.png"))
