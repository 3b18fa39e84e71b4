"""The chat page in a real browser (Debian's chromium, driven by Playwright) against gunicorn+eventlet.

Every page gets its own browser context (own cookies, own Accept-Language), registers its own user
through the login page's register form, and records console errors and uncaught exceptions: a CSP
violation, a failed request or a script error fails the test.

The module's server (and so its database) is shared by the tests here, so every test makes its
own users and rooms with a random suffix, and looks only at lines that carry that suffix (every
line names its author, and every author's name has it): messages to everyone stored by another
test come back in a later page's history and must not disturb the counts.
"""

import re
import uuid

import pytest

from tests import servers
from tests.conftest import skip_or_fail
from tests.servers import ROOT

pytestmark = pytest.mark.once  # the page's behaviour, not the database's: the SQLite pass runs it

try:
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # requirements-dev.txt has it; without it, skip (or fail in CI) like chromium
    expect = sync_playwright = PlaywrightError = None

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
# Back online, socket.io's reconnection backoff (1 s doubling to 5 s, ±50 %) decides the next try.
RECONNECT_TIMEOUT_MS = 20_000
ARTIFACTS = ROOT / "test-artifacts"
PASSWORD = "correct horse battery"
XSS = '<img src=x onerror="window.__xss=1">'
SOCKET_CONNECT = re.compile(r'40\{"sid":"([^"]+)"')  # socket.io's CONNECT reply (it carries the id)

JA = {
    "connected": "接続中",
    "reconnecting": "再接続中…",
    "room_prefix": "[ルーム]",
    "no_room": "なし（全員に送信）",
    "send": "送信",
    "send_room": "ルームに送信",
    "pending": "送信中…",
}
EN = {"connected": "Connected", "room_prefix": "[Room]"}


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


@pytest.fixture
def suffix():
    """Makes this test's user and room names unique in the module's shared database."""
    return uuid.uuid4().hex[:6]


class Pages:
    """Opens pages, one browser context each, and collects what went wrong in any of them."""

    def __init__(self, browser, base_url):
        self.browser = browser
        self.base_url = base_url
        self.contexts = []
        self.problems = []
        self.polls = {}  # page -> finished socket.io long-polling GETs
        self.sids = {}  # page -> socket ids seen in websocket frames

    def open(self, user=None, query="", locale="ja-JP", name=None, base_url=None, **context_options):
        """A new page at `/{query}`; with `user`, registered through the login page it lands on."""
        base_url = base_url or self.base_url
        context = self.browser.new_context(locale=locale, **context_options)
        context.set_default_timeout(EXPECT_TIMEOUT_MS)
        self.contexts.append(context)
        page = context.new_page()
        label = name or user or f"page{len(self.contexts)}"
        page.on(
            "console",
            lambda msg: (
                msg.type == "error"
                and self.problems.append(f"{label} console.error: {msg.text} at {msg.location.get('url')}")
            ),
        )
        page.on("pageerror", lambda exc: self.problems.append(f"{label} pageerror: {exc}"))
        # socket.io's CONNECT reply comes over long-polling or, once upgraded, the websocket.
        polls = self.polls[page] = []
        self.sids[page] = []
        page.on(
            "requestfinished",
            lambda req: (
                "/socket.io/" in req.url
                and req.method == "GET"
                and "transport=polling" in req.url
                and polls.append(req)
            ),
        )
        page.on(
            "websocket",
            lambda ws: ws.on(
                "framereceived",
                lambda frame: isinstance(frame, str) and self.sids[page].extend(SOCKET_CONNECT.findall(frame)),
            ),
        )
        page.goto(base_url + "/" + query)
        if user is not None:
            register(page, user)
            expect(page).to_have_url(base_url + "/" + query)
            expect(page.locator("#me")).to_have_text(user)
        return page

    def socket_ids(self, page):
        """The socket.io ids the server gave this page (from its CONNECT replies)."""
        ids = list(self.sids[page])
        for request in self.polls[page]:
            try:
                ids += SOCKET_CONNECT.findall(request.response().text())
            except PlaywrightError:  # body gone with a reloaded page
                continue
        return ids

    def assert_no_problems(self, allowed=None):
        problems = [p for p in self.problems if not (allowed and allowed.search(p))]
        assert problems == [], "\n".join(problems)

    def close(self):
        for context in self.contexts:
            context.close()


@pytest.fixture
def pages(browser, live_server):
    opened = Pages(browser, live_server.url)
    yield opened
    opened.close()


# --- helpers ---------------------------------------------------------------------------------


def register(page, name, password=PASSWORD):
    """Create an account with the login page's register form (where `/` sent this page)."""
    expect(page).to_have_url(re.compile(r"/login\?(.+&)?next="))
    page.locator("#register-name").fill(name)
    page.locator("#register-password").fill(password)
    page.locator("#register-confirm").fill(password)
    page.locator("#register-confirm").press("Enter")


def messages(page):
    return page.locator("#messages > li")


def exactly(text):
    return re.compile("^" + re.escape(text) + "$")


def ours(page, suffix):
    """This test's lines: each names a user (author, or who joined or left) with the suffix."""
    return messages(page).filter(has_text=suffix)


def expect_message(page, author, text, room_prefix=JA["room_prefix"]):
    """Exactly one stored line with `text`, by `author`, shown as text: avatar, author, time, text.

    `room_prefix` says whether the line belongs to a room (any prefix) or to everyone (empty)."""
    item = messages(page).filter(has=page.locator(".text", has_text=exactly(text)))
    expect(item).to_have_count(1)
    kind = "room" if room_prefix else "global"
    expect(item).to_have_class(re.compile(rf"^message {kind}( grouped)?( mentioned)?$"))  # not pending
    expect(item).to_have_attribute("data-id", re.compile(r"^\d+$"))
    expect(item.locator(".author")).to_have_text(author)
    parts = item.evaluate("""li => [...li.querySelectorAll('.avatar, .author, time, .text')]
        .map((n) => [n.tagName.toLowerCase() + '.' + n.className, n.textContent])""")
    assert [p[0] for p in parts] == ["span.avatar", "span.author", "time.time", "span.text"], parts
    assert parts[3][1] == text, parts
    assert re.search(r"\d:\d\d", parts[2][1]), parts  # the browser's locale
    expect(item.locator("time")).to_have_attribute("datetime", re.compile(r"^\d{4}-\d\d-\d\dT"))
    return item


NOTICES = {
    "ja": {
        "に参加しました": "{who} がルーム {room} に参加しました",
        "から退出しました": "{who} がルーム {room} から退出しました",
    },
    "en": {"に参加しました": "{who} joined {room}", "から退出しました": "{who} left {room}"},
}


def notice_text(who, room, verb="に参加しました", room_prefix=JA["room_prefix"]):
    """A join or leave notice in the page's language (the seed's `data` stays on the wire only)."""
    lang = "en" if room_prefix == EN["room_prefix"] else "ja"
    return NOTICES[lang][verb].format(who=who, room=room)


def expect_notice(page, who, room, verb="に参加しました", room_prefix=JA["room_prefix"], count=1):
    """`<name> がルーム <room> に参加しました` (or `<name> joined <room>`): by name, never by sid."""
    items = messages(page).filter(has_text=exactly(notice_text(who, room, verb, room_prefix)))
    expect(items).to_have_count(count)
    expect(items.last).to_have_class(re.compile(r"^notice\b"))
    return items


def join(page, room, me, room_prefix=JA["room_prefix"], announced=True):
    """Join `room` through the form; a first join shows the page its own join notice, by name.

    A member coming back (after a reload or a reconnection) may not be announced: the server
    keeps signed-in users' memberships and follows those rooms again at connect, silently.
    """
    mine = messages(page).filter(has_text=exactly(notice_text(me, room, room_prefix=room_prefix)))
    before = mine.count()
    page.locator("#room-input").fill(room)
    page.locator("#join").click()
    expect(page.locator("#current-room")).to_have_text(room)
    expect(page.locator("#room-input")).to_have_value("")
    expect(page.locator("#leave")).to_be_visible()
    if announced:
        expect_notice(page, me, room, room_prefix=room_prefix, count=before + 1)


def type_and_press_enter(page, text):
    box = page.locator("#message-input")
    box.fill(text)
    box.press("Enter")
    expect(box).to_have_value("")


def expect_conversation(page, suffix, lines):
    """The page's stored lines of this test are exactly `lines` [(author, text)], in this order."""
    stored = ours(page, suffix).and_(page.locator("li[data-id]"))
    expect(stored.locator(".author")).to_have_text([author for author, _ in lines])
    expect(stored.locator(".text")).to_have_text([exactly(text) for _, text in lines])
    ids = [int(i) for i in stored.evaluate_all("items => items.map((li) => li.dataset.id)")]
    assert ids == sorted(set(ids)), f"not in stored order: {ids}"
    return ids


def assert_no_socket_ids(pages, *opened):
    """Lines name people: no line shows a socket id (nor the seed's `クライアント <sid>`)."""
    sids = {sid for page in opened for sid in pages.socket_ids(page)}
    assert len(sids) >= len(opened), "every page should have connected at least once"
    for page in opened:
        lines = messages(page).all_text_contents()
        assert [line for line in lines if "クライアント" in line or any(sid in line for sid in sids)] == []


# --- tests -----------------------------------------------------------------------------------


def test_rooms_messages_escaping_and_leave(pages, suffix):
    alice, bob, carol = f"alice-{suffix}", f"bob-{suffix}", f"carol-{suffix}"
    room = f"lobby-{suffix}"
    # 1. Three people log in; the language is chosen explicitly by ?lang=, overriding Accept-Language.
    p1 = pages.open(alice, "?lang=ja", locale="en-US")
    p2 = pages.open(bob, "?lang=ja", locale="en-US")
    p3 = pages.open(carol, "?lang=en", locale="ja-JP")
    for page in (p1, p2):
        expect(page.locator("html")).to_have_attribute("lang", "ja")
        expect(page.locator("#status")).to_have_text(JA["connected"])
        expect(page.locator("#status")).to_have_class("status connected")
    expect(p3.locator("html")).to_have_attribute("lang", "en")
    expect(p3.locator("#status")).to_have_text(EN["connected"])
    expect(p3.locator("#status")).to_have_class("status connected")

    # 2. Alice and Bob join the room; Alice sees Bob arrive, by name.
    join(p1, room, alice)
    join(p2, room, bob)
    expect_notice(p1, bob, room)
    expect(p1.locator("#send")).to_have_text(JA["send_room"])

    # Alice sends with Enter, Bob replies with the send button; both see both, by name.
    hello = "こんにちは、ロビーの皆さん"
    type_and_press_enter(p1, hello)
    for page in (p1, p2):
        expect_message(page, alice, hello)
    reply = "はい、届きました"
    p2.locator("#message-input").fill(reply)
    p2.get_by_role("button", name=JA["send_room"]).click()
    expect(p2.locator("#message-input")).to_have_value("")
    for page in (p1, p2):
        expect_message(page, bob, reply)

    # 3. Markup in a message is shown as text: no element is created, no handler runs.
    p1.locator("#message-input").fill(XSS)
    p1.locator("#message-input").press("Enter")
    for page in (p1, p2):
        item = expect_message(page, alice, XSS)
        assert item.locator(".text").evaluate("el => el.textContent") == XSS
        expect(page.locator("#messages img")).to_have_count(0)
        assert page.evaluate("() => typeof window.__xss") == "undefined"

    # Carol is in no room: her later message to everyone goes to the "everyone" conversation, and
    # by the time it has come back to her, the earlier room messages would have too. They must
    # not be there. Alice and Bob, in the room, see it when they open "everyone".
    shout = f"hello everyone from {carol}"
    type_and_press_enter(p3, shout)
    expect_message(p3, carol, shout, room_prefix="")
    expect(ours(p3, suffix)).to_have_count(1)
    expect(p3.locator("#messages > li.room")).to_have_count(0)
    for text in (hello, reply, XSS):
        expect(p3.locator("#messages .text", has_text=exactly(text))).to_have_count(0)
    expect(ours(p1, suffix)).to_have_count(5)  # 2 joins, 3 room messages
    expect(ours(p2, suffix)).to_have_count(4)  # 1 join (its own), 3 room messages
    assert_no_socket_ids(pages, p1, p2, p3)

    ARTIFACTS.mkdir(exist_ok=True)
    p1.screenshot(path=str(ARTIFACTS / "chat-page.png"), full_page=True)

    # 4. Alice leaves: the page shows it, Bob is told (by name), and Alice no longer gets room messages.
    p1.locator("#leave").click()
    expect(p1.locator("#current-room")).to_have_text(JA["no_room"])
    expect(p1.locator("#leave")).to_be_hidden()
    expect(p1.locator("#send")).to_have_text(JA["send"])
    expect_message(p1, carol, shout, room_prefix="")  # "everyone", with Carol's message
    expect_notice(p2, alice, room, "から退出しました")
    after = "ロビーに残った人だけに"
    type_and_press_enter(p2, after)
    expect_message(p2, bob, after)
    bye = "alice now talks to everyone"
    type_and_press_enter(p1, bye)
    for page in (p1, p3):
        expect_message(page, alice, bye, room_prefix="")
    expect(p2.locator("#messages .text", has_text=exactly(bye))).to_have_count(0)  # Bob reads the room
    expect(p1.locator("#messages .text", has_text=exactly(after))).to_have_count(0)
    expect(ours(p3, suffix)).to_have_count(2)
    assert_no_socket_ids(pages, p1, p2, p3)

    # 5. Nothing went wrong in any page (CSP violations, failed loads, script errors).
    pages.assert_no_problems()


def test_two_users_see_names_and_the_room_history_after_a_reload(pages, suffix):
    alice, bob = f"alice-{suffix}", f"bob-{suffix}"
    room = f"history-{suffix}"
    pa, pb = pages.open(alice, "?lang=ja"), pages.open(bob, "?lang=ja")
    for page in (pa, pb):
        expect(page.locator("#status")).to_have_class("status connected")
    join(pa, room, alice)
    join(pb, room, bob)
    expect_notice(pa, bob, room)

    # They take turns (each line seen by both before the next), so the order is known.
    said = [
        (alice, f"最初のメッセージ {suffix}"),
        (bob, "二番目: hello alice"),
        (alice, "三番目 <b>not bold</b>"),
        (bob, "四番目、最後"),
    ]
    for author, text in said:
        type_and_press_enter(pa if author == alice else pb, text)
        for page in (pa, pb):
            expect_message(page, author, text)
    expect_conversation(pb, suffix, said)

    # Bob reloads: still logged in, a new connection, back in the same room with its history;
    # Alice sees his old connection go, by name.
    pb.reload()
    expect(pb).to_have_url(pages.base_url + "/?lang=ja")
    expect(pb.locator("#me")).to_have_text(bob)
    expect(pb.locator("#status")).to_have_class("status connected")
    expect(pb.locator("#current-room")).to_have_text(room)
    expect_notice(pa, bob, room, "から退出しました")
    expect_conversation(pb, suffix, said)
    pb.locator("#leave").click()  # out of it, to join again through the form
    expect(pb.locator("#current-room")).to_have_text(JA["no_room"])
    expect(ours(pb, suffix)).to_have_count(0)

    # He rejoins through the form: the room's history, both names, in order, each line once.
    join(pb, room, bob)
    ids = expect_conversation(pb, suffix, said)
    for author, text in said:
        expect_message(pb, author, text)
    # Lines that arrive live afterwards go after the history, once.
    later = (alice, "おかえりなさい")
    type_and_press_enter(pa, later[1])
    expect_message(pb, *later)
    assert expect_conversation(pb, suffix, [*said, later])[:-1] == ids
    expect_conversation(pa, suffix, [*said, later])
    assert_no_socket_ids(pages, pa, pb)

    ARTIFACTS.mkdir(exist_ok=True)
    pb.screenshot(path=str(ARTIFACTS / "chat-history.png"), full_page=True)
    pages.assert_no_problems()


@pytest.fixture
def quick_server(live_database):
    """Its own server and database, with a short heartbeat: a connection that silently goes away
    (no close frame) is noticed within seconds, by the page and by the server."""
    server = servers.gunicorn(
        "eventlet",
        env={
            "DATABASE_URL": live_database(),
            "CHAT_PING_INTERVAL": "2",
            "CHAT_PING_TIMEOUT": "2",
        },
    ).start()
    yield server
    server.stop()


def test_no_message_lost_while_a_page_is_offline(browser, quick_server, suffix):
    pages = Pages(browser, quick_server.url)
    try:
        check_offline_delivery(pages, suffix)
    finally:
        pages.close()


def check_offline_delivery(pages, suffix):
    alice, bob = f"alice-{suffix}", f"bob-{suffix}"
    room = f"offline-{suffix}"
    pa, pb = pages.open(alice, "?lang=ja"), pages.open(bob, "?lang=ja")
    join(pa, room, alice)
    join(pb, room, bob)
    first = (bob, "まだ全員オンライン")
    type_and_press_enter(pb, first[1])
    expect_message(pa, *first)

    # Alice's network goes away (Chromium closes her websocket; were it left open, the short
    # heartbeat would end it): her page says so, and the server has dropped her from the room.
    pa.context.set_offline(True)
    expect(pa.locator("#status")).to_have_class("status reconnecting")
    expect(pa.locator("#status")).to_have_text(JA["reconnecting"])
    expect_notice(pb, alice, room, "から退出しました")

    # Bob talks on while she is away.
    missed = [(bob, f"オフライン中のメッセージ {n}") for n in range(1, 6)]
    for _, text in missed:
        type_and_press_enter(pb, text)
        expect_message(pb, bob, text)
    # Alice writes too: the line waits on her page, marked as being sent.
    mine = (alice, "オフラインで書いたメッセージ")
    type_and_press_enter(pa, mine[1])
    waiting = messages(pa).filter(has=pa.locator(".text", has_text=exactly(mine[1])))
    expect(waiting).to_have_count(1)
    expect(waiting).to_have_class("message room pending")
    expect(waiting.locator(".author")).to_have_text(alice)
    expect(waiting.locator(".state")).to_have_text(JA["pending"])
    expect(pa.locator("#messages .text", has_text="オフライン中のメッセージ")).to_have_count(0)
    ARTIFACTS.mkdir(exist_ok=True)
    pa.screenshot(path=str(ARTIFACTS / "chat-offline.png"), full_page=True)

    # Back online: the page reconnects by itself, catches up and sends what waited.
    pa.context.set_offline(False)
    expect(pa.locator("#status")).to_have_class("status connected", timeout=RECONNECT_TIMEOUT_MS)
    expect(pa.locator("#current-room")).to_have_text(room)
    conversation = [first, *missed, mine]
    ids_a = expect_conversation(pa, suffix, conversation)
    ids_b = expect_conversation(pb, suffix, conversation)
    assert ids_a == ids_b  # the same stored lines, in the same order, on both pages
    for page in (pa, pb):
        for author, text in conversation:
            expect_message(page, author, text)  # once each; Alice's line no longer pending
    expect(pa.locator("#messages .pending, #messages .state")).to_have_count(0)

    # Later lines both ways arrive after all that, and nothing came twice meanwhile.
    last = [(bob, "おかえり"), (alice, "ただいま")]
    type_and_press_enter(pb, last[0][1])
    expect_message(pa, *last[0])
    type_and_press_enter(pa, last[1][1])
    expect_message(pb, *last[1])
    assert expect_conversation(pa, suffix, [*conversation, *last]) == expect_conversation(
        pb, suffix, [*conversation, *last]
    )
    assert_no_socket_ids(pages, pa, pb)
    # Offline, the page's reconnection attempts fail to load; nothing else may go wrong.
    pages.assert_no_problems(
        allowed=re.compile(rf"^{alice} console\.error: Failed to load resource: net::ERR_INTERNET_DISCONNECTED")
    )


def test_enter_during_ime_composition_does_not_send(pages, suffix):
    me = f"ime-{suffix}"
    page = pages.open(me, "?lang=ja")
    expect(page.locator("#status")).to_have_text(JA["connected"])
    box = page.locator("#message-input")
    box.focus()

    # A synthetic Enter that is part of a composition is cancelled by the page (both the standard
    # flag and Safari's keyCode 229) and sends nothing; dispatchEvent() returns false when the
    # default was prevented. A plain Enter is cancelled too (it sends instead of adding a line:
    # with an empty box, nothing); Shift+Enter is left alone (a new line).
    cancelled = page.evaluate("""() => {
        const box = document.getElementById('message-input');
        box.value = 'へんかんちゅう';
        const composing = new KeyboardEvent('keydown',
            {key: 'Enter', code: 'Enter', isComposing: true, bubbles: true, cancelable: true});
        const legacy = new KeyboardEvent('keydown', {key: 'Enter', bubbles: true, cancelable: true});
        Object.defineProperty(legacy, 'keyCode', {value: 229});
        const results = [!box.dispatchEvent(composing), !box.dispatchEvent(legacy)];
        box.value = '';
        const plain = new KeyboardEvent('keydown', {key: 'Enter', bubbles: true, cancelable: true});
        const shifted = new KeyboardEvent('keydown', {key: 'Enter', shiftKey: true, bubbles: true, cancelable: true});
        return [...results, !box.dispatchEvent(plain), !box.dispatchEvent(shifted)];
    }""")
    assert cancelled == [True, True, True, False]
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
    expect_message(page, me, word, room_prefix="")
    # The composing Enter would have arrived first; only the committed one ever did.
    expect(ours(page, suffix)).to_have_count(1)
    pages.assert_no_problems()


def accessible_controls(page):
    """Every control's accessible name, computed the browser's way (hidden ones included)."""
    return page.evaluate("""() => {
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
        const controls = [...document.querySelectorAll(
            'button, input:not([type=hidden]), select, textarea, a[href], [role=button]')];
        return {count: controls.length, unnamed: controls.filter((el) => !name(el)).map((el) => el.outerHTML)};
    }""")


def expect_named_roles(page, names):
    for control in page.locator("button:visible, input:visible, a[href]:visible").all():
        expect(control).to_have_accessible_name(re.compile(r"\S"))
    for role, expected in names.items():
        for name, count in expected.items():
            expect(page.get_by_role(role, name=name, exact=True)).to_have_count(count)


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_every_control_has_an_accessible_name(pages, suffix, lang):
    # The login page first, in the language ?lang= chose (Accept-Language says the other one).
    page = pages.open(None, f"login?lang={lang}&next=%2F%3Flang%3D{lang}", locale="ja-JP" if lang == "en" else "en-US")
    expect(page.locator("html")).to_have_attribute("lang", lang)
    controls = accessible_controls(page)
    assert controls["count"] >= 9  # 6 fields, 3 buttons (+ language links, once the page has them)
    assert controls["unnamed"] == []
    expect_named_roles(
        page,
        {
            "ja": {
                "textbox": {"名前": 3, "パスワード": 2, "パスワード（確認）": 1},
                "button": {"ログイン": 1, "登録": 1, "ゲストで参加": 1},
                "heading": {"ログイン": 1, "アカウント作成": 1, "ゲストとして参加": 1},
            },
            "en": {
                "textbox": {"Name": 3, "Password": 2, "Password (again)": 1},
                "button": {"Log in": 1, "Register": 1, "Join as guest": 1},
                "heading": {"Log in": 1, "Create an account": 1, "Join as a guest": 1},
            },
        }[lang],
    )
    if lang == "ja":
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "login-page.png"), full_page=True)

    # Then the chat page, logged in.
    room = f"a11y-{suffix}"
    register(page, f"a11y-{lang}-{suffix}")
    expect(page).to_have_url(pages.base_url + f"/?lang={lang}")
    expect(page.locator("#status")).to_have_class("status connected")
    join(page, room, f"a11y-{lang}-{suffix}", JA["room_prefix"] if lang == "ja" else EN["room_prefix"])
    controls = accessible_controls(page)
    assert controls["count"] >= 11  # 7 buttons (load-older hidden), 2 inputs, 2 language links
    assert controls["unnamed"] == []
    expect_named_roles(
        page,
        {
            "ja": {
                "textbox": {"ルーム名": 1, "メッセージ": 1},
                "button": {
                    "接続": 1,
                    "切断": 1,
                    "ルームに参加": 1,
                    f"ルームから退出 ({room})": 1,
                    "ルームに送信": 1,
                    "ログアウト": 1,
                },
            },
            "en": {
                "textbox": {"Room name": 1, "Message": 1},
                "button": {
                    "Connect": 1,
                    "Disconnect": 1,
                    "Join room": 1,
                    f"Leave room ({room})": 1,
                    "Send to room": 1,
                    "Log out": 1,
                },
            },
        }[lang],
    )
    expect(page.get_by_role("status")).to_have_text(JA["connected"] if lang == "ja" else EN["connected"])
    expect(page.get_by_role("log")).to_have_count(1)
    pages.assert_no_problems()


def test_language_follows_accept_language_then_choice_is_remembered(pages, suffix):
    english = pages.open(None, "", locale="en-US")
    expect(english.locator("html")).to_have_attribute("lang", "en")  # the login page
    expect(english.get_by_role("heading", name="Log in")).to_be_visible()
    register(english, f"english-{suffix}")
    expect(english).to_have_url(pages.base_url + "/")
    expect(english.locator("html")).to_have_attribute("lang", "en")
    expect(english.locator("#status")).to_have_text(EN["connected"])
    # Switch with the page's own language link; the choice sticks without ?lang= afterwards.
    english.get_by_role("link", name="日本語").click()
    expect(english).to_have_url(re.compile(r"\?lang=ja$"))
    expect(english.locator("#status")).to_have_text(JA["connected"])
    english.goto(pages.base_url + "/")
    expect(english.locator("html")).to_have_attribute("lang", "ja")
    expect(english.locator("#status")).to_have_text(JA["connected"])

    japanese = pages.open(f"japanese-{suffix}", "", locale="ja-JP")
    expect(japanese.locator("html")).to_have_attribute("lang", "ja")
    expect(japanese.locator("#status")).to_have_text(JA["connected"])
    pages.assert_no_problems()
