"""What the app page's browser tests share (test_browser_app, test_a11y, test_screenshots, bench).

The page is driven through the stable selectors of issue 20 (#room-list li.room-entry[data-room],
#messages li.message[data-id] with .author/.text, #drawer-toggle, #theme-toggle, ...), at the
issue's sizes (1280x800 and a 390x844 phone), in Japanese and English, light and dark. People who
only need to talk in the background are `Bot`s: a real account (the login page's register form over
HTTP) with a python-socketio connection carrying its session cookie.
"""

import re
import time
import uuid

import requests

from tests.accounts import register as register_over_http
from tests.live_client import LiveClient
from tests.servers import ROOT
from tests.test_browser import PASSWORD, expect

AXE_JS = ROOT / "node_modules" / "axe-core" / "axe.min.js"
DEVICES = {
    "desktop": {"viewport": {"width": 1280, "height": 800}},
    "phone": {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True},
}
LOCALES = {"ja": "ja-JP", "en": "en-US"}
# Every pair of (device, language, colour scheme) values appears in one of these four: the
# scenarios whose behaviour does not depend on the colours run on these, not on all eight.
PAIRWISE = [
    ("desktop", "ja", "light"),
    ("desktop", "en", "dark"),
    ("phone", "ja", "dark"),
    ("phone", "en", "light"),
]
ALL_COMBINATIONS = [(d, lang, s) for d in DEVICES for lang in LOCALES for s in ("light", "dark")]
# The seed's manual steps name these controls and states (its 動作確認 sections; issue 20).
WORDS = {
    "ja": {
        "connect": "接続",
        "disconnect": "切断",
        "connected": "接続中",
        "disconnected": "切断中",
        "join": "ルームに参加",
        "leave": "ルームから退出",
        "room_box": "ルーム名",
    },
    "en": {
        "connect": "Connect",
        "disconnect": "Disconnect",
        "connected": "Connected",
        "disconnected": "Disconnected",
        "join": "Join room",
        "leave": "Leave room",
        "room_box": "Room name",
    },
}


def combo_id(combo):
    return "-".join(combo)


def unique():
    return uuid.uuid4().hex[:6]


def exactly(text):
    return re.compile("^" + re.escape(text) + "$")


def open_app(pages, user, lang="ja", device="desktop", scheme="light", **options):
    """The chat page for a newly registered `user`, in `lang` (?lang=), on `device`, in `scheme`."""
    page = pages.open(user, f"?lang={lang}", locale=LOCALES[lang], color_scheme=scheme, **DEVICES[device], **options)
    expect(page.locator("html")).to_have_attribute("lang", lang)
    expect(page.locator("#status")).to_have_text(WORDS[lang]["connected"])
    return page


def is_phone(page):
    return page.viewport_size["width"] <= 600


def reveal(page, locator):
    """Make `locator` visible: on a phone the sidebar (rooms, people) is a drawer to open first."""
    if locator.is_visible():
        return locator
    toggle = page.locator("#drawer-toggle")
    if toggle.is_visible():
        toggle.click()
    expect(locator).to_be_visible()
    return locator


def close_drawer(page):
    """On a phone, close the drawer if it is open (Escape, as a keyboard user would)."""
    toggle = page.locator("#drawer-toggle")
    if toggle.is_visible() and toggle.get_attribute("aria-expanded") == "true":
        page.keyboard.press("Escape")
        expect(toggle).to_have_attribute("aria-expanded", "false")


def room_entry(page, room):
    return page.locator(f'#room-list li.room-entry[data-room="{room}"]')


def join(page, room):
    """The seed's steps: type the room's name in the room box, press 参加/Join."""
    box = reveal(page, page.locator("#room-input"))
    box.fill(room)
    page.locator("#join").click()
    expect(page.locator("#current-room")).to_have_text(room)
    expect(page.locator("#room-input")).to_have_value("")
    close_drawer(page)


def open_room(page, room):
    """Switch to a room through its sidebar entry (the drawer on a phone)."""
    entry = reveal(page, room_entry(page, room))
    entry.click()
    expect(page.locator("#current-room")).to_have_text(room)
    close_drawer(page)


def send(page, text):
    """Type `text` in the composer and press Enter: it is sent and the box is empty again."""
    box = page.locator("#message-input")
    box.fill(text)
    box.press("Enter")
    expect(box).to_have_value("")


def message(page, text):
    """The log's stored or pending message whose text is exactly `text`."""
    return page.locator("#messages li.message").filter(has=page.locator(".text", has_text=exactly(text)))


def expect_message(page, author, text):
    """Exactly one message with `text`, stored (a numeric data-id), by `author`."""
    item = message(page, text)
    expect(item).to_have_count(1)
    expect(item).to_have_attribute("data-id", re.compile(r"^\d+$"))
    expect(item.locator(".author")).to_have_text(author)
    return item


def expect_log(page, texts):
    """The log's messages with these texts are there once each, in this order (ascending ids)."""
    for text in texts:
        expect(message(page, text)).to_have_count(1)
        expect(message(page, text)).to_have_attribute("data-id", re.compile(r"^\d+$"))
    ids = [int(message(page, text).get_attribute("data-id")) for text in texts]
    assert ids == sorted(ids), f"not in stored order: {list(zip(texts, ids, strict=True))}"
    return ids


SCROLLER_JS = """() => {
    let el = document.getElementById('messages');
    while (el && el !== document.body) {
        const style = getComputedStyle(el);
        if (/(auto|scroll)/.test(style.overflowY) && el.scrollHeight > el.clientHeight) break;
        el = el.parentElement;
    }
    el = el && el !== document.body ? el : document.scrollingElement;
    return {top: el.scrollTop, height: el.scrollHeight, client: el.clientHeight,
            scrolls: el.scrollHeight > el.clientHeight};
}"""


def log_scroll(page):
    """The log's scroll box: {top, height, client, scrolls} (the first scrolling ancestor of #messages)."""
    return page.evaluate(SCROLLER_JS)


def at_newest(page, slack=4):
    state = log_scroll(page)
    return state["top"] + state["client"] >= state["height"] - slack


def no_horizontal_scroll(page):
    return page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")


def favicon(page):
    """The icon the tab shows: the last link[rel~=icon]'s href (a data: URL when drawn)."""
    return page.evaluate("""() => {
        const links = [...document.querySelectorAll('link[rel~="icon"]')];
        return links.length ? links[links.length - 1].href : null;
    }""")


def wait_for_favicon(page, predicate, timeout=10):
    """Wait until predicate(favicon href) holds (the page redraws its icon when mentions change)."""
    deadline = time.monotonic() + timeout
    while not predicate(icon := favicon(page)):
        assert time.monotonic() < deadline, f"favicon still {icon[:80] if icon else icon!r}"
        page.wait_for_timeout(100)


def expect_badge(badge, count):
    """A count badge showing `count` (with or without a mark, like the mention badge's "@1")."""
    expect(badge).to_have_text(re.compile(rf"^\D*{count}\D*$"))


BADGE_STATE_JS = """(els) => els.map((e) => ({text: e.textContent.trim(),
    off: e.hidden || getComputedStyle(e).display === 'none' || getComputedStyle(e).visibility === 'hidden'}))"""


def expect_no_badge(badge, timeout=10):
    """A count badge with nothing to count: absent, hidden (itself, not by a closed drawer), empty or 0."""
    deadline = time.monotonic() + timeout
    while True:
        states = badge.evaluate_all(BADGE_STATE_JS)
        if all(b["off"] or b["text"] in ("", "0") for b in states):
            return
        assert time.monotonic() < deadline, f"badge still shows {states}"
        time.sleep(0.1)


def run_axe(page, tags=("wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice")):
    """axe-core's violations on the page, as {id, impact, help, nodes: [target, summary]}."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        # Evaluated as the test's own script (not a <script> element), so the page's CSP
        # (script-src 'self') neither blocks it nor needs a change.
        page.evaluate(AXE_JS.read_text())
    result = page.evaluate(
        """async (tags) => {
            const found = await window.axe.run(document, {runOnly: {type: 'tag', values: tags},
                resultTypes: ['violations']});
            return found.violations.map((v) => ({id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map((n) => [n.target.join(' '), n.failureSummary])}));
        }""",
        list(tags),
    )
    return result


def describe_violations(violations):
    lines = []
    for v in violations:
        lines.append(f"{v['id']} ({v['impact']}): {v['help']}")
        lines += [f"    {target}: {summary}".replace("\n", " / ") for target, summary in v["nodes"][:8]]
    return "\n".join(lines)


class Bot:
    """Someone talking in the background: a registered account with a socket of its own."""

    def __init__(self, base_url, name):
        self.name = name
        self.session = requests.Session()
        response = register_over_http(self.session, name, PASSWORD, base=base_url)
        assert response.status_code in (302, 303), response.text[:300]
        cookie = "; ".join(f"{k}={v}" for k, v in self.session.cookies.items())
        self.client = LiveClient(base_url).connect(headers={"Cookie": cookie})

    def join(self, room):
        reply = self.client.call("join_room", {"room": room})
        assert not (isinstance(reply, dict) and reply.get("ok") is False), reply
        return self

    def say(self, room, text):
        reply = self.client.call("room_message", {"room": room, "message": text})
        assert reply and reply.get("ok"), reply
        return reply["id"]

    def say_many(self, room, texts):
        return [self.say(room, text) for text in texts]

    def close(self):
        self.client.disconnect()
        self.session.close()
