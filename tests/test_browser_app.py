"""Issue 20's "Done when" in a real browser: the page as a chat app, against gunicorn+eventlet.

One server for the module, one browser, a context per person. The scenarios the issue names for
every size, language and colour scheme (three people chat, a mention in a background room, reload,
the seed's manual steps) run on four combinations of 1280x800 / 390x844, ja / en and light / dark
that hold every value and every pair of values (browser_helpers.PAIRWISE): the colours do not change
behaviour, and all eight would add minutes to every CI run; tests/test_a11y.py, where the colours
matter, runs all eight. The rest (drawer, 320 px, dark toggle, keyboard, composer, scroll
anchoring) runs where it belongs. Every test makes its own people and rooms with a random suffix.
"""

import re

import pytest

from tests.browser_helpers import (
    PAIRWISE,
    WORDS,
    Bot,
    at_newest,
    combo_id,
    expect_badge,
    expect_log,
    expect_message,
    expect_no_badge,
    favicon,
    join,
    log_scroll,
    message,
    no_horizontal_scroll,
    open_app,
    open_room,
    reveal,
    room_entry,
    send,
    unique,
    wait_for_favicon,
)
from tests.test_browser import Pages, browser, expect  # noqa: F401 (fixture)

pytestmark = pytest.mark.once  # the page's behaviour, not the database's: the SQLite pass runs it

TITLE_COUNT = re.compile(r"^\((\d+)\) ")


@pytest.fixture
def pages(browser, live_server):  # noqa: F811 (the imported fixture)
    opened = Pages(browser, live_server.url)
    yield opened
    opened.close()


@pytest.fixture
def bots(live_server):
    made = []

    def make(name):
        made.append(Bot(live_server.url, name))
        return made[-1]

    yield make
    for bot in made:
        bot.close()


@pytest.mark.parametrize("combo", PAIRWISE, ids=combo_id)
def test_three_people_chat_a_mention_raises_badge_title_and_favicon_and_reload_keeps_the_room(pages, bots, combo):
    device, lang, scheme = combo
    s = unique()
    alice, bob, carol = f"alice-{s}", f"bob-{s}", f"carol-{s}"
    lobby, side = f"lobby-{s}", f"side-{s}"
    pa, pb, pc = (open_app(pages, who, lang, device, scheme) for who in (alice, bob, carol))

    # Alice follows a second room, then all three meet in the lobby and take turns.
    join(pa, side)
    for page in (pa, pb, pc):
        join(page, lobby)
    said = [
        (pa, alice, f"みなさん、こんにちは {s}"),
        (pb, bob, "hello alice 👋"),
        (pc, carol, "<b>not bold</b> & fine"),
        (pa, alice, "また後で"),
    ]
    for sender, author, text in said:
        send(sender, text)
        for page in (pa, pb, pc):
            expect_message(page, author, text)
    ids = [expect_log(page, [text for _, _, text in said]) for page in (pa, pb, pc)]
    assert ids[0] == ids[1] == ids[2]
    expect(pa.locator("#messages b")).to_have_count(0)

    # Nothing unread yet: no count in the tab title.
    expect(pa).not_to_have_title(TITLE_COUNT)
    quiet_icon = favicon(pa)

    # Bob mentions Alice in the side room while she reads the lobby.
    join(pb, side)
    send(pb, f"@{alice} 見てください")
    entry = room_entry(pa, side)
    expect_badge(entry.locator(".mention-badge"), 1)
    expect_badge(entry.locator(".badge"), 1)
    expect(pa).to_have_title(TITLE_COUNT)
    assert int(TITLE_COUNT.match(pa.title()).group(1)) == 1, pa.title()
    expect(pa.locator("#current-room")).to_have_text(lobby)
    wait_for_favicon(pa, lambda icon: icon != quiet_icon)

    # She opens it: the mention is read, the badge, the title count and the dot go.
    open_room(pa, side)
    expect_message(pa, bob, f"@{alice} 見てください")
    expect_no_badge(entry.locator(".mention-badge"))
    expect_no_badge(entry.locator(".badge"))
    expect(pa).not_to_have_title(TITLE_COUNT)
    wait_for_favicon(pa, lambda icon: icon == quiet_icon)

    # The room grows longer than the window; a reload comes back to it, at the newest message.
    dora = bots(f"dora-{s}").join(side)
    lines = [f"{n:02d} 長い履歴の行 {s}" for n in range(1, 41)]
    dora.say_many(side, lines)
    expect_message(pa, dora.name, lines[-1])
    pa.reload()
    expect(pa.locator("#status")).to_have_text(WORDS[lang]["connected"])
    expect(pa.locator("#current-room")).to_have_text(side)
    newest = expect_message(pa, dora.name, lines[-1])
    expect(newest).to_be_in_viewport()
    assert log_scroll(pa)["scrolls"], "40 lines should overflow the log"
    pa.wait_for_function("() => true")  # one frame for any scroll anchoring
    assert at_newest(pa), log_scroll(pa)
    assert no_horizontal_scroll(pa)
    pages.assert_no_problems()


@pytest.mark.parametrize("combo", PAIRWISE, ids=combo_id)
def test_the_seeds_manual_steps_pass_as_written(pages, bots, combo):
    device, lang, scheme = combo
    words = WORDS[lang]
    s = unique()
    me, room = f"seed-{s}", f"test-room-{s}"
    page = open_app(pages, me, lang, device, scheme)
    status = page.locator("#status")
    expect(status).to_have_attribute("role", "status")

    # 切断 → 切断中, 接続 → 接続中 (buttons found by their accessible names).
    reveal(page, page.get_by_role("button", name=words["disconnect"], exact=True)).click()
    expect(status).to_have_text(words["disconnected"])
    reveal(page, page.get_by_role("button", name=words["connect"], exact=True)).click()
    expect(status).to_have_text(words["connected"])

    # The room box and 参加: the current room becomes test-room, and the page says who joined.
    box = reveal(page, page.get_by_role("textbox", name=re.compile(words["room_box"])))
    box.fill(room)
    page.get_by_role("button", name=words["join"], exact=True).click()
    expect(page.locator("#current-room")).to_have_text(room)
    joined = page.locator("#messages li.notice").filter(has_text=me).filter(has_text=room)
    expect(joined).to_have_count(1)
    if lang == "ja":
        expect(joined).to_contain_text("参加しました")
    else:
        expect(joined).not_to_contain_text(re.compile(r"[ぁ-んァ-ン]"))  # not the seed's Japanese
    expect(room_entry(page, room)).to_have_count(1)

    # Someone else comes and goes: the notices are in the page's language, by name.
    other = bots(f"visitor-{s}").join(room)
    notices = page.locator("#messages li.notice").filter(has_text=other.name)
    expect(notices).to_have_count(1)
    other.client.call("leave_room", {"room": room})
    expect(notices).to_have_count(2)
    if lang == "ja":
        expect(notices.last).to_contain_text("退出しました")
    else:
        expect(notices.last).not_to_contain_text(re.compile(r"[ぁ-んァ-ン]"))

    # A message in the room (Enter), shown by name.
    text = f"ルームの中から {s}"
    send(page, text)
    expect_message(page, me, text)

    # 退出: the room is no longer the current one (a public room may stay listed, to join again).
    leave = page.get_by_role("button", name=f"{words['leave']} ({room})", exact=True)
    reveal(page, leave).click()
    expect(page.locator("#current-room")).not_to_have_text(room)
    expect(leave).to_have_count(0)

    # Out of rooms, a message to everyone is shown too.
    reveal(page, page.locator("#everyone-entry")).click()
    shout = f"to everyone {s}"
    send(page, shout)
    expect_message(page, me, shout)
    pages.assert_no_problems()


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_phone_drawer_composer_at_the_bottom_and_no_horizontal_scroll_at_320px(pages, lang):
    s = unique()
    me, room = f"phone-{s}", f"phone-room-{s}"
    page = open_app(pages, me, lang, "phone")
    width, height = 390, 844

    # One column: the sidebar is a drawer behind a named button, closed at first.
    toggle = page.locator("#drawer-toggle")
    expect(toggle).to_be_visible()
    expect(toggle).to_have_accessible_name(re.compile(r"\S"))
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(page.locator("#sidebar")).not_to_be_in_viewport()
    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(page.locator("#sidebar")).to_be_in_viewport()
    expect(page.locator("#everyone-entry")).to_be_visible()  # always there, whatever rooms exist
    page.keyboard.press("Escape")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(page.locator("#sidebar")).not_to_be_in_viewport()

    # The app fills the screen: the composer is visible at the bottom, the page itself does not scroll.
    join(page, room)
    long_word = "https://example.com/" + "long-path-" * 30
    for text in (f"短い行 {s}", long_word, "x" * 400):
        send(page, text)
        expect_message(page, me, text)
    composer = page.locator("#message-input")
    expect(composer).to_be_in_viewport()
    box = composer.bounding_box()
    assert box["y"] + box["height"] <= height and box["y"] >= height - 200, box
    sizes = page.evaluate("() => [document.documentElement.scrollWidth, document.documentElement.scrollHeight]")
    assert sizes[0] <= width and sizes[1] <= height + 1, sizes

    # Message actions sit in a menu behind a button, not over the text.
    item = message(page, f"短い行 {s}")
    item.locator(".message-menu-button").click()
    menu = page.get_by_role("menu")
    expect(menu).to_be_visible()
    expect(menu.get_by_role("menuitem")).not_to_have_count(0)
    page.keyboard.press("Escape")
    expect(menu).to_be_hidden()
    for action in item.locator(".actions button").all():
        if action.is_visible():
            a, t = action.bounding_box(), item.locator(".text").bounding_box()
            overlap = (
                a["y"] < t["y"] + t["height"]
                and t["y"] < a["y"] + a["height"]
                and (a["x"] < t["x"] + t["width"] and t["x"] < a["x"] + a["width"])
            )
            assert not overlap, (a, t)

    # 320 px wide: still no horizontal scroll, drawer closed or open.
    page.set_viewport_size({"width": 320, "height": 640})
    page.wait_for_function("() => window.innerWidth === 320")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 320
    toggle.click()
    expect(page.locator("#sidebar")).to_be_in_viewport()
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 320
    page.keyboard.press("Escape")
    expect(composer).to_be_in_viewport()
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 320
    pages.assert_no_problems()


def test_dark_mode_follows_the_system_until_toggled_and_the_toggle_is_remembered(pages):
    page = open_app(pages, f"theme-{unique()}", "en", "desktop", "light")
    html, toggle = page.locator("html"), page.locator("#theme-toggle")
    background = "() => getComputedStyle(document.body).backgroundColor"
    expect(html).to_have_attribute("data-theme", "light")
    expect(toggle).to_have_attribute("aria-pressed", "false")
    light = page.evaluate(background)

    # No choice made yet: the page follows prefers-color-scheme.
    page.emulate_media(color_scheme="dark")
    page.reload()
    expect(html).to_have_attribute("data-theme", "dark")
    dark = page.evaluate(background)
    assert dark != light
    page.emulate_media(color_scheme="light")
    page.reload()
    expect(html).to_have_attribute("data-theme", "light")

    # The toggle switches at once and is remembered over the system's choice.
    toggle.click()
    expect(html).to_have_attribute("data-theme", "dark")
    expect(toggle).to_have_attribute("aria-pressed", "true")
    assert page.evaluate(background) == dark
    page.reload()
    expect(html).to_have_attribute("data-theme", "dark")
    expect(page.locator("#theme-toggle")).to_have_attribute("aria-pressed", "true")
    toggle.click()
    page.reload()
    expect(html).to_have_attribute("data-theme", "light")
    pages.assert_no_problems()


def test_keyboard_switcher_next_room_and_next_unread(pages, bots):
    s = unique()
    me = f"keys-{s}"
    rooms = [f"k{n}-{s}" for n in range(3)]
    page = open_app(pages, me, "en", "desktop")
    for room in rooms:
        join(page, room)
    for room in rooms:
        expect(room_entry(page, room)).to_have_count(1)
    # The sidebar's order (it may list other tests' public rooms between ours).
    order = page.locator("#room-list li.room-entry").evaluate_all("els => els.map((e) => e.dataset.room)")
    first = min(rooms, key=order.index)
    after = order[order.index(first) + 1]

    # Ctrl+K opens the quick switcher; typing filters, Enter opens the room.
    page.locator("#message-input").focus()
    page.keyboard.press("Control+k")
    switcher = page.locator("#switcher")
    expect(switcher).to_be_visible()
    expect(page.locator("#switcher-input")).to_be_focused()
    page.keyboard.type(first)
    expect(switcher.get_by_role("option").first).to_contain_text(first)
    page.keyboard.press("Enter")
    expect(switcher).to_be_hidden()
    expect(page.locator("#current-room")).to_have_text(first)

    # Alt+↓ / Alt+↑: the next and previous room in the sidebar's order.
    page.keyboard.press("Alt+ArrowDown")
    expect(page.locator("#current-room")).to_have_text(after)
    page.keyboard.press("Alt+ArrowUp")
    expect(page.locator("#current-room")).to_have_text(first)

    # Alt+Shift+↓: the next room with unread messages (the only one: a room of ours, further down).
    target = max(rooms, key=order.index)
    bot = bots(f"nudge-{s}").join(target)
    bot.say(target, "unread here")
    expect_badge(room_entry(page, target).locator(".badge"), 1)
    page.keyboard.press("Alt+Shift+ArrowDown")
    expect(page.locator("#current-room")).to_have_text(target)
    expect_message(page, bot.name, "unread here")
    expect_no_badge(room_entry(page, target).locator(".badge"))
    pages.assert_no_problems()


def test_enter_sends_shift_enter_is_a_new_line_and_the_composer_grows(pages):
    s = unique()
    me = f"composer-{s}"
    page = open_app(pages, me, "ja", "desktop")
    join(page, f"compose-{s}")
    box = page.locator("#message-input")
    expect(box).to_have_js_property("tagName", "TEXTAREA")
    one_line = box.bounding_box()["height"]

    box.click()
    page.keyboard.type("一行目")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("二行目")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("三行目")
    expect(box).to_have_value("一行目\n二行目\n三行目")
    assert box.bounding_box()["height"] > one_line * 1.5
    expect(page.locator("#messages li.message").filter(has_text="一行目")).to_have_count(0)  # not sent
    page.keyboard.press("Enter")
    expect(box).to_have_value("")
    item = page.locator("#messages li.message[data-id]").filter(has_text="一行目")
    expect(item).to_have_count(1)
    assert item.locator(".text").inner_text().split("\n") == ["一行目", "二行目", "三行目"]
    expect(item.locator(".author")).to_have_text(me)
    # Back to one line once sent; at most about 8 lines tall however long the text.
    assert box.bounding_box()["height"] < one_line * 1.5
    box.fill("\n".join(f"line {n}" for n in range(30)))
    box.dispatch_event("input")
    grown = box.bounding_box()["height"]
    assert one_line * 3 < grown < one_line * 12, (one_line, grown)
    pages.assert_no_problems()


SCROLL_BY_JS = """(offset) => {
    let el = document.getElementById('messages');
    while (el && el !== document.body) {
        const style = getComputedStyle(el);
        if (/(auto|scroll)/.test(style.overflowY) && el.scrollHeight > el.clientHeight) break;
        el = el.parentElement;
    }
    el = el && el !== document.body ? el : document.scrollingElement;
    el.scrollTop = el.scrollHeight - el.clientHeight - offset;
    el.dispatchEvent(new Event('scroll'));
}"""
ANCHOR_JS = """(id) => {
    const li = document.querySelector(`#messages li.message[data-id="${id}"]`);
    return li ? Math.round(li.getBoundingClientRect().top) : null;
}"""
VISIBLE_IDS_JS = """() => [...document.querySelectorAll('#messages li.message[data-id]')]
    .filter((li) => { const r = li.getBoundingClientRect(); return r.top > 80 && r.bottom < innerHeight - 150; })
    .map((li) => li.dataset.id)"""


def test_reading_older_messages_holds_the_scroll_position_and_offers_jump_to_latest(pages, bots):
    s = unique()
    room = f"scroll-{s}"
    page = open_app(pages, f"reader-{s}", "en", "desktop")
    join(page, room)
    talker = bots(f"talker-{s}").join(room)
    lines = [f"{n:02d} older line {s}" for n in range(1, 46)]
    talker.say_many(room, lines)
    expect_message(page, talker.name, lines[-1])
    jump = page.locator("#jump-latest")
    expect(jump).to_be_hidden()

    # Scroll up a screen or so; the reader looks at a line in the middle.
    page.evaluate(SCROLL_BY_JS, 700)
    expect(jump).to_be_visible()
    page.wait_for_timeout(300)  # any older page the scroll asked for has arrived
    anchor = page.evaluate(VISIBLE_IDS_JS)[0]
    top = page.evaluate(ANCHOR_JS, anchor)

    # A new message arrives: the line the reader looks at does not move.
    talker.say(room, f"new while reading {s}")
    expect(message(page, f"new while reading {s}")).to_have_count(1)
    page.wait_for_timeout(200)
    assert page.evaluate(ANCHOR_JS, anchor) == top
    assert not at_newest(page)
    expect(jump).to_be_visible()

    # Jump to latest: the newest message is in view and the button goes.
    jump.click()
    expect(message(page, f"new while reading {s}")).to_be_in_viewport()
    expect(jump).to_be_hidden()
    page.wait_for_function("() => true")
    assert at_newest(page), log_scroll(page)
    pages.assert_no_problems()


def test_a_reader_at_the_newest_stays_there_when_the_last_line_grows_in_place(pages, bots):
    # An edit that makes the newest message longer re-renders that line in place (no line is
    # added to the log): a reader at the newest still sees all of it.
    s = unique()
    room = f"grows-{s}"
    page = open_app(pages, f"reader-{s}", "en", "desktop")
    join(page, room)
    talker = bots(f"talker-{s}").join(room)
    ids = talker.say_many(room, [f"{n:02d} line {s}" for n in range(1, 41)])
    expect_message(page, talker.name, f"40 line {s}")
    page.wait_for_function("() => true")
    assert at_newest(page), log_scroll(page)
    before = log_scroll(page)["height"]

    longer = "\n".join(f"40 line {s}, now paragraph {n}" for n in range(1, 13))
    reply = talker.client.call("edit_message", {"id": ids[-1], "message": longer})
    assert reply and reply.get("ok"), reply
    expect(page.locator("#messages li.message .text", has_text="now paragraph 12")).to_have_count(1)
    page.wait_for_function("() => true")
    assert log_scroll(page)["height"] > before + 100, log_scroll(page)
    assert at_newest(page), log_scroll(page)
    pages.assert_no_problems()


# The log's own scroll box (#messages), read in the page.
LOG_JS = "document.getElementById('messages')"
STATE_JS = (
    f"(() => {{ const l = {LOG_JS}; return {{top: l.scrollTop, height: l.scrollHeight, client: l.clientHeight}}; }})()"
)
# Two frames: whatever the first one's observers (resize, scroll) do has been done.
FRAMES_JS = "() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(() => done())))"
# A change to the page around the log in a task of its own, as when the room's member count
# appears in the header once the directory arrives: where the log is once what the change
# queued (microtasks) has run, before the next frame and before any other task.
BANNER_JS = f"""async () => {{
    const banner = document.getElementById('delayed');
    banner.hidden = !banner.hidden;
    await Promise.resolve();
    return {STATE_JS};
}}"""
# The newest line grows with no change to the page (as when a font, an emoji or a wrap lays it
# out again): only a style sheet, which no mutation observer sees.
GROW_JS = """(px) => {
    const last = [...document.querySelectorAll('#messages li.message[data-id]')].pop();
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(`#messages li[data-id="${last.dataset.id}"] { padding-bottom: ${px}px; }`);
    document.adoptedStyleSheets = [...document.adoptedStyleSheets, sheet];
}"""
# The newest line gets a line more (the log scrolls itself to the bottom: a scroll event is on
# its way), then, before that event, grows much more with no change to the page.
OWN_SCROLL_THEN_GROW_JS = f"""async (px) => {{
    const text = [...document.querySelectorAll('#messages li.message[data-id] .text')].pop();
    text.append('\\none more line');
    await Promise.resolve();
    ({GROW_JS})(px);
}}"""


def filled_room(pages, bots, prefix):
    """A reader (desktop, en) in a room whose 40 lines overflow the log, at the newest."""
    s = unique()
    room = f"{prefix}-{s}"
    page = open_app(pages, f"reader-{s}", "en", "desktop")
    join(page, room)
    talker = bots(f"talker-{s}").join(room)
    talker.say_many(room, [f"{n:02d} line {s}" for n in range(1, 41)])
    expect_message(page, talker.name, f"40 line {s}")
    page.evaluate(FRAMES_JS)
    assert log_scroll(page)["scrolls"] and at_newest(page), log_scroll(page)
    return page, talker, room, s


def settled_top(page):
    """The log's scrollTop once it has stopped moving (a wheel may scroll over several frames)."""
    top = None
    for _ in range(50):
        page.evaluate(FRAMES_JS)
        now = log_scroll(page)["top"]
        if now == top:
            return top
        top = now
    raise AssertionError(f"the log is still scrolling: {log_scroll(page)}")


def test_a_reader_at_the_newest_stays_there_when_the_page_or_a_line_changes_size_without_a_new_line(pages, bots):
    page, _, _, _ = filled_room(pages, bots, "pinned")

    # A banner above the log takes room from it: the log is at the bottom again at once, not only
    # at the next frame (a read in between saw it short of the bottom: the CI flake after a reload).
    for _ in range(2):  # shown, then hidden again
        state = page.evaluate(BANNER_JS)
        assert state["top"] + state["client"] >= state["height"] - 1, state
        page.evaluate(FRAMES_JS)
        assert at_newest(page), log_scroll(page)

    # The newest line grows with no change to the page: the log follows its content, not only its box.
    before = log_scroll(page)["height"]
    page.evaluate(GROW_JS, 60)
    page.evaluate(FRAMES_JS)
    assert log_scroll(page)["height"] > before + 40, log_scroll(page)
    assert at_newest(page), log_scroll(page)

    # The log's own scroll to the bottom, then more growth before its scroll event: that event
    # (not the reader's) leaves the log pinned, and it goes back to the bottom.
    page.evaluate(OWN_SCROLL_THEN_GROW_JS, 300)
    page.evaluate(FRAMES_JS)
    assert at_newest(page), log_scroll(page)
    page.evaluate(GROW_JS, 400)
    page.evaluate(FRAMES_JS)
    assert at_newest(page), log_scroll(page)
    expect(page.locator("#jump-latest")).to_be_hidden()
    pages.assert_no_problems()


def test_a_reader_who_scrolled_up_is_not_pulled_down_when_the_page_or_the_lines_change(pages, bots):
    page, talker, room, s = filled_room(pages, bots, "away")
    jump = page.locator("#jump-latest")

    # The reader scrolls up with the wheel; then the page and the lines change, and a message comes.
    box = page.locator("#messages").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.wheel(0, -400)
    expect(jump).to_be_visible()
    top = settled_top(page)
    assert not at_newest(page), log_scroll(page)
    page.evaluate(BANNER_JS)
    page.evaluate(GROW_JS, 200)
    talker.say(room, f"new while away {s}")
    expect(message(page, f"new while away {s}")).to_have_count(1)
    page.evaluate(BANNER_JS)
    page.evaluate(FRAMES_JS)
    assert log_scroll(page)["top"] == top, (top, log_scroll(page))
    assert not at_newest(page)
    expect(jump).to_be_visible()

    # Back at the newest; a scroll up whose event is not dispatched yet when the page and the
    # newest line change in the same task: the reader is not pulled back down.
    jump.click()
    expect(jump).to_be_hidden()
    page.evaluate(FRAMES_JS)
    assert at_newest(page), log_scroll(page)
    state = page.evaluate(f"""async () => {{
        const l = {LOG_JS};
        l.scrollTop -= 300;
        const wanted = l.scrollTop;
        const banner = document.getElementById('delayed');
        banner.hidden = !banner.hidden;
        [...l.querySelectorAll('li.message[data-id] .text')].pop().append('\\nanother line');
        await Promise.resolve();
        return {{wanted, top: l.scrollTop}};
    }}""")
    assert state["top"] == state["wanted"], state
    page.evaluate(FRAMES_JS)
    assert log_scroll(page)["top"] == state["wanted"], (state, log_scroll(page))
    expect(jump).to_be_visible()
    pages.assert_no_problems()
