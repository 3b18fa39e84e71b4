"""The chat page in a real browser (Debian's chromium, driven by Playwright) against gunicorn+eventlet.

Every page gets its own browser context (own cookies, own Accept-Language) and records console
errors and uncaught exceptions: a CSP violation, a failed request or a script error fails the test.
"""
import re

import pytest

from tests.conftest import skip_or_fail
from tests.servers import ROOT

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # requirements-dev.txt has it; without it, skip (or fail in CI) like chromium
    expect = sync_playwright = None

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
EXPECT_TIMEOUT_MS = 10_000
ARTIFACTS = ROOT / "test-artifacts"
ROOM = "lobby"
XSS = '<img src=x onerror="window.__xss=1">'

JA = {"connected": "接続中", "room_prefix": "[ルーム]", "no_room": "なし（全員に送信）",
      "send": "送信", "send_room": "ルームに送信"}
EN = {"connected": "Connected"}


@pytest.fixture(scope="module")
def browser(chromium_path):
    if sync_playwright is None:
        skip_or_fail("the playwright package is not installed (make setup-dev)")
    expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
    expect.set_options(timeout=5_000)


class Pages:
    """Opens pages, one browser context each, and collects what went wrong in any of them."""

    def __init__(self, browser, base_url):
        self.browser = browser
        self.base_url = base_url
        self.contexts = []
        self.problems = []

    def open(self, query="", locale="ja-JP", name=None, **context_options):
        context = self.browser.new_context(locale=locale, **context_options)
        context.set_default_timeout(EXPECT_TIMEOUT_MS)
        self.contexts.append(context)
        page = context.new_page()
        label = name or f"page{len(self.contexts)}"
        page.on("console", lambda msg: msg.type == "error" and self.problems.append(
            f"{label} console.error: {msg.text} at {msg.location.get('url')}"))
        page.on("pageerror", lambda exc: self.problems.append(f"{label} pageerror: {exc}"))
        page.goto(self.base_url + "/" + query)
        return page

    def assert_no_problems(self):
        assert self.problems == [], "\n".join(self.problems)

    def close(self):
        for context in self.contexts:
            context.close()


@pytest.fixture
def pages(browser, live_server):
    opened = Pages(browser, live_server.url)
    yield opened
    opened.close()


# --- helpers ---------------------------------------------------------------------------------

def messages(page):
    return page.locator("#messages > li")


def expect_message(page, text):
    """Exactly one list item whose whole text content is `text` (no HTML interpretation)."""
    item = messages(page).filter(has_text=text)
    expect(item).to_have_count(1)
    assert item.evaluate("li => li.textContent") == text
    return item


def join(page, room, notice_prefix=JA["room_prefix"]):
    """Join `room` through the form; returns this page's sid, read from its own join notice."""
    before = messages(page).count()
    page.locator("#room-input").fill(room)
    page.locator("#join").click()
    expect(page.locator("#current-room")).to_have_text(room)
    expect(page.locator("#room-input")).to_have_value("")
    expect(page.locator("#leave")).to_be_visible()
    notice = messages(page).nth(before)
    expect(notice).to_have_text(re.compile(
        "^" + re.escape(notice_prefix) + r" クライアント \S+ がルーム " + re.escape(room) + " に参加しました$"))
    expect(notice).to_have_class("message room notice")
    return re.search(r"クライアント (\S+) がルーム", notice.text_content()).group(1)


def type_and_press_enter(page, text):
    box = page.locator("#message-input")
    box.fill(text)
    box.press("Enter")
    expect(box).to_have_value("")


def own_global_message(page, text):
    """Send `text` to everyone; wait until this page sees it and return its sid from it."""
    type_and_press_enter(page, text)
    item = messages(page).filter(has_text=text)
    expect(item).to_have_count(1)
    match = re.fullmatch(r"クライアント (\S+): " + re.escape(text), item.text_content())
    assert match, item.text_content()
    return match.group(1)


# --- tests -----------------------------------------------------------------------------------

def test_rooms_messages_escaping_and_leave(pages):
    # 1. Three pages connect; the language is chosen explicitly by ?lang=, overriding Accept-Language.
    p1 = pages.open("?lang=ja", locale="en-US", name="p1")
    p2 = pages.open("?lang=ja", locale="en-US", name="p2")
    p3 = pages.open("?lang=en", locale="ja-JP", name="p3")
    for page in (p1, p2):
        expect(page.locator("html")).to_have_attribute("lang", "ja")
        expect(page.locator("#status")).to_have_text(JA["connected"])
        expect(page.locator("#status")).to_have_class("status connected")
    expect(p3.locator("html")).to_have_attribute("lang", "en")
    expect(p3.locator("#status")).to_have_text(EN["connected"])
    expect(p3.locator("#status")).to_have_class("status connected")

    # 2. Pages 1 and 2 join the room; page 1 sees page 2 arrive.
    sid1 = join(p1, ROOM)
    sid2 = join(p2, ROOM)
    assert sid1 != sid2
    expect_message(p1, f"{JA['room_prefix']} クライアント {sid2} がルーム {ROOM} に参加しました")
    expect(p1.locator("#send")).to_have_text(JA["send_room"])

    # Page 1 sends with Enter, page 2 replies with the send button; both see both, in the room's format.
    hello = "こんにちは、ロビーの皆さん"
    type_and_press_enter(p1, hello)
    for page in (p1, p2):
        item = expect_message(page, f"{JA['room_prefix']} クライアント {sid1}: {hello}")
        expect(item).to_have_class("message room")
    reply = "はい、届きました"
    p2.locator("#message-input").fill(reply)
    p2.get_by_role("button", name=JA["send_room"]).click()
    expect(p2.locator("#message-input")).to_have_value("")
    for page in (p1, p2):
        expect_message(page, f"{JA['room_prefix']} クライアント {sid2}: {reply}")

    # 3. Markup in a message is shown as text: no element is created, no handler runs.
    p1.locator("#message-input").fill(XSS)
    p1.locator("#message-input").press("Enter")
    for page in (p1, p2):
        expect_message(page, f"{JA['room_prefix']} クライアント {sid1}: {XSS}")
        expect(page.locator("#messages img")).to_have_count(0)
        assert page.evaluate("() => typeof window.__xss") == "undefined"

    # Page 3 is in no room: its own later message to everyone reaches everyone, and by the time
    # it has come back to page 3, the earlier room messages would have too. They must not be there.
    shout = "hello everyone from page 3"
    sid3 = own_global_message(p3, shout)
    assert sid3 not in (sid1, sid2)
    expect(messages(p3)).to_have_count(1)
    assert "ルーム" not in p3.locator("#messages").text_content()
    for page in (p1, p2):
        item = expect_message(page, f"クライアント {sid3}: {shout}")
        expect(item).to_have_class("message global")
    expect(messages(p1)).to_have_count(6)  # 2 joins, 3 room messages, 1 message to everyone
    expect(messages(p2)).to_have_count(5)  # 1 join (its own), 3 room messages, 1 to everyone

    ARTIFACTS.mkdir(exist_ok=True)
    p1.screenshot(path=str(ARTIFACTS / "chat-page.png"), full_page=True)

    # 4. Page 1 leaves: the page shows it, page 2 is told, and page 1 no longer gets room messages.
    p1.locator("#leave").click()
    expect(p1.locator("#current-room")).to_have_text(JA["no_room"])
    expect(p1.locator("#leave")).to_be_hidden()
    expect(p1.locator("#send")).to_have_text(JA["send"])
    expect_message(p2, f"{JA['room_prefix']} クライアント {sid1} がルーム {ROOM} から退出しました")
    after = "ロビーに残った人だけに"
    type_and_press_enter(p2, after)
    expect_message(p2, f"{JA['room_prefix']} クライアント {sid2}: {after}")
    bye = "p1 now talks to everyone"
    own_global_message(p1, bye)
    for page in (p2, p3):
        expect_message(page, f"クライアント {sid1}: {bye}")
    expect(messages(p1).filter(has_text=after)).to_have_count(0)
    expect(messages(p3)).to_have_count(2)

    # 7. Nothing went wrong in any page (CSP violations, failed loads, script errors).
    pages.assert_no_problems()


def test_enter_during_ime_composition_does_not_send(pages):
    page = pages.open("?lang=ja")
    expect(page.locator("#status")).to_have_text(JA["connected"])
    box = page.locator("#message-input")
    box.focus()

    # A synthetic Enter that is part of a composition is cancelled by the page (both the standard
    # flag and Safari's keyCode 229); dispatchEvent() returns false when the default was prevented.
    cancelled = page.evaluate("""() => {
        const box = document.getElementById('message-input');
        box.value = 'へんかんちゅう';
        const composing = new KeyboardEvent('keydown',
            {key: 'Enter', code: 'Enter', isComposing: true, bubbles: true, cancelable: true});
        const legacy = new KeyboardEvent('keydown', {key: 'Enter', bubbles: true, cancelable: true});
        Object.defineProperty(legacy, 'keyCode', {value: 229});
        const plain = new KeyboardEvent('keydown', {key: 'Enter', bubbles: true, cancelable: true});
        return [!box.dispatchEvent(composing), !box.dispatchEvent(legacy), !box.dispatchEvent(plain)];
    }""")
    assert cancelled == [True, True, False]
    box.fill("")

    # A real (trusted) Enter key while the IME has an active composition: Chromium sets
    # isComposing=true, and without the page's handler this Enter would submit the form.
    cdp = page.context.new_cdp_session(page)
    word = "にほんご"
    cdp.send("Input.imeSetComposition", {"text": word, "selectionStart": len(word), "selectionEnd": len(word)})
    expect(box).to_have_value(word)
    box.press("Enter")
    expect(box).to_have_value(word)  # still there: not sent, not cleared
    # Commit the composition, then a plain Enter sends exactly once.
    cdp.send("Input.insertText", {"text": word})
    expect(box).to_have_value(word)
    box.press("Enter")
    expect(box).to_have_value("")
    sent = messages(page).filter(has_text=word)
    expect(sent).to_have_count(1)
    expect(sent).to_have_text(re.compile(r"^クライアント \S+: " + word + "$"))
    # The composing Enter would have arrived first; only the committed one ever did.
    expect(messages(page)).to_have_count(1)
    pages.assert_no_problems()


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_every_control_has_an_accessible_name(pages, lang):
    page = pages.open(f"?lang={lang}")
    expect(page.locator("#status")).to_have_class("status connected")
    join(page, "a11y", "[ルーム]" if lang == "ja" else "[Room]")  # reveals the leave button

    # Computed the browser's way, for every control (hidden ones included).
    unnamed = page.evaluate("""() => {
        const name = (el) => {
            const parts = [];
            for (const label of el.labels || []) parts.push(label.textContent);
            parts.push(el.getAttribute('aria-label') || '');
            for (const id of (el.getAttribute('aria-labelledby') || '').split(/\\s+/).filter(Boolean)) {
                const ref = document.getElementById(id);
                if (ref) parts.push(ref.textContent);
            }
            if (el.tagName === 'BUTTON' || el.tagName === 'A') parts.push(el.textContent);
            if (el.tagName === 'INPUT' && ['submit', 'button', 'reset'].includes(el.type)) parts.push(el.value);
            return parts.join('').trim();
        };
        const controls = [...document.querySelectorAll('button, input, select, textarea, a[href], [role=button]')];
        return {count: controls.length, unnamed: controls.filter((el) => !name(el)).map((el) => el.outerHTML)};
    }""")
    assert unnamed["count"] >= 9  # 5 buttons, 2 inputs, 2 language links
    assert unnamed["unnamed"] == []

    # And as the accessibility tree exposes them (visible controls).
    for control in page.locator("button:visible, input:visible, a[href]:visible").all():
        expect(control).to_have_accessible_name(re.compile(r"\S"))
    names = {
        "ja": {"textbox": ["ルーム名", "メッセージ"],
               "button": ["接続", "切断", "ルームに参加", "ルームから退出 (a11y)", "ルームに送信"]},
        "en": {"textbox": ["Room name", "Message"],
               "button": ["Connect", "Disconnect", "Join room", "Leave room (a11y)", "Send to room"]},
    }[lang]
    for role, expected in names.items():
        for name in expected:
            expect(page.get_by_role(role, name=name, exact=True)).to_have_count(1)
    expect(page.get_by_role("status")).to_have_text(JA["connected"] if lang == "ja" else EN["connected"])
    expect(page.get_by_role("log")).to_have_count(1)
    pages.assert_no_problems()


def test_language_follows_accept_language_then_choice_is_remembered(pages):
    english = pages.open("", locale="en-US")
    expect(english.locator("html")).to_have_attribute("lang", "en")
    expect(english.locator("#status")).to_have_text(EN["connected"])
    # Switch with the page's own language link; the choice sticks without ?lang= afterwards.
    english.get_by_role("link", name="日本語").click()
    expect(english).to_have_url(re.compile(r"\?lang=ja$"))
    expect(english.locator("#status")).to_have_text(JA["connected"])
    english.goto(pages.base_url + "/")
    expect(english.locator("html")).to_have_attribute("lang", "ja")
    expect(english.locator("#status")).to_have_text(JA["connected"])

    japanese = pages.open("", locale="ja-JP")
    expect(japanese.locator("html")).to_have_attribute("lang", "ja")
    expect(japanese.locator("#status")).to_have_text(JA["connected"])
    pages.assert_no_problems()
