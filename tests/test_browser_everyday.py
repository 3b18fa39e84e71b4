"""Everyday chat in real browsers: the sidebar, a private room, a direct conversation, presence,
typing hints, unread and mention badges, the keyboard, and a third user who sees none of it.

The issue's requirement: "Two people on two browsers find each other in the sidebar, talk in a
private room and in a direct conversation, see who is online and typing, and a third user can
neither see nor reach any of it."

Every user has their own browser context (own cookies), registers through the login page and
has their console watched (tests/test_browser.py's Pages). Alice and Carol read Japanese, Bob
reads English, so both languages' sidebar texts are exercised.
"""

import re

import pytest

from tests import test_browser
from tests.test_browser import ARTIFACTS, JA, accessible_controls, exactly, expect, expect_message, messages

pytestmark = pytest.mark.once  # the page's behaviour, not the database's: the SQLite pass runs it

# The browser (Debian's chromium), the per-test Pages with console watching, the name suffix.
browser, pages, suffix = test_browser.browser, test_browser.pages, test_browser.suffix

EN_ROOM = "[Room]"
TYPING_GONE_MS = 5_000  # a hint disappears with the typer's message, or 4 s after the last keystroke


# --- helpers ---------------------------------------------------------------------------------


def entry(page, room):
    """The sidebar's button for `room` (a room in #room-list, a conversation in #dm-list)."""
    return page.locator(f'li.room-entry[data-room="{room}"] > button')


def online_entry(page, name):
    return page.locator("#online-list > li").filter(has_text=name)


def create_room(page, name, topic, private):
    page.locator("#new-room").click()
    page.locator("#new-room-name").fill(name)
    page.locator("#new-room-topic").fill(topic)
    page.locator("#new-room-private").set_checked(private)
    page.locator("#create-room").click()
    expect(page.locator("#current-room")).to_have_text(name)
    expect(page.locator("#new-room-name")).to_have_value("")


def send(page, text):
    box = page.locator("#message-input")
    box.fill(text)
    box.press("Enter")
    expect(box).to_have_value("")


def tab_to(page, selector, limit=60):
    """Press Tab until the element matching `selector` has the focus (keyboard only)."""
    for _ in range(limit):
        if page.evaluate("(s) => document.activeElement && document.activeElement.matches(s)", selector):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {selector}")


def open_room_tools(page):
    """The room's settings dialog, from the header's ⚙ button."""
    expect(page.locator("#room-settings")).to_be_visible()
    if not page.locator("#room-settings-dialog").is_visible():
        page.locator("#room-settings").click()
    expect(page.locator("#invite-input")).to_be_visible()


def emit(page, event, data):
    """Ask the server something through the page's own socket (what a hand-made client could do)."""
    return page.evaluate(
        """([event, data]) => new Promise((resolve) => {
            // The user's own session, a socket of its own. WebSocket only: closed right after its
            // answer, a polling socket can still be upgrading, and its last poll then gets 400
            // (the session is gone), a console error of the helper, not of the page.
            const socket = window.io({forceNew: true, transports: ['websocket']});
            socket.on('connect', () => socket.timeout(5000).emit(event, data, (err, reply) => {
                socket.disconnect();
                resolve(err ? {timeout: true} : reply);
            }));
        })""",
        [event, data],
    )


def assert_never_shown(page, texts):
    html = page.content()
    body = page.locator("body").inner_text()
    for text in texts:
        assert text not in html and text not in body, f"{text!r} shown on a page that must not see it"


def expect_sidebar_named(page):
    """Every sidebar control (and the room settings) has an accessible name, the browser's way."""
    controls = page.locator(
        ".sidebar button, .sidebar input, #room-settings-dialog button, #room-settings-dialog input"
    )
    assert controls.count() >= 5
    for control in controls.all():
        if control.is_visible():
            expect(control).to_have_accessible_name(re.compile(r"\S"))
    named = accessible_controls(page)
    assert named["unnamed"] == []


# --- the test --------------------------------------------------------------------------------


def test_two_people_talk_privately_and_a_third_sees_nothing(pages, suffix):
    alice, bob, carol = f"alice-{suffix}", f"bob-{suffix}", f"carol-{suffix}"
    secret, lobby = f"secret-{suffix}", f"lobby-{suffix}"
    topic = f"計画の相談 {suffix}"
    ARTIFACTS.mkdir(exist_ok=True)

    # 1. Three people log in; each sees the others online, with the count.
    pa = pages.open(alice, "?lang=ja")
    pb = pages.open(bob, "?lang=en", locale="en-US")
    pc = pages.open(carol, "?lang=ja")
    for page in (pa, pb, pc):
        expect(page.locator("#status")).to_have_class("status connected")
    for page in (pa, pb, pc):  # the module's own server: these three are everyone online
        expect(page.locator("#online-list > li")).to_have_count(3)
        expect(page.locator("#online-count")).to_have_text("3")
    for name in (bob, carol):
        expect(online_entry(pa, name)).to_have_count(1)
        expect(pa.get_by_role("button", name=f"{name} にダイレクトメッセージ", exact=True)).to_have_count(1)
    expect(online_entry(pb, alice)).to_have_count(1)
    expect(pb.get_by_role("button", name=f"Direct message {alice}", exact=True)).to_have_count(1)
    # No DM button for oneself.
    expect(online_entry(pa, alice).locator("button[data-user]")).to_have_count(0)  # (the person opens a card)

    # 2. Alice creates a private room with a topic: it is hers, with a lock.
    create_room(pa, secret, topic, private=True)
    mine = entry(pa, secret)
    expect(mine).to_have_count(1)
    expect(mine.locator(".room-name")).to_have_text(f"# {secret} 🔒")
    expect(mine).to_have_attribute("aria-current", "true")
    expect(mine).to_have_accessible_name(f"{secret}, 1 メンバー · 1 オンライン")
    expect(pa.locator("#room-topic")).to_have_text(topic)
    earlier = f"まだ二人だけの話 {suffix}"
    send(pa, earlier)
    expect_message(pa, alice, earlier)

    # Then a public room, with the keyboard only: Tab to "new room", Enter, type, Tab, Enter.
    tab_to(pa, "#new-room")
    pa.keyboard.press("Enter")
    expect(pa.locator("#new-room-name")).to_be_focused()
    pa.keyboard.type(lobby)
    pa.keyboard.press("Tab")
    pa.keyboard.type("誰でもどうぞ")
    pa.keyboard.press("Tab")
    expect(pa.locator("#new-room-private")).to_be_focused()
    expect(pa.locator("#new-room-private")).not_to_be_checked()
    pa.keyboard.press("Tab")
    expect(pa.locator("#create-room")).to_be_focused()
    pa.keyboard.press("Enter")
    expect(pa.locator("#current-room")).to_have_text(lobby)
    # A public room is announced to everyone: once Bob and Carol list it, they would also have
    # listed the private room, were it shown to them. It is not.
    for page in (pb, pc):
        expect(entry(page, lobby)).to_have_count(1)
        expect(entry(page, secret)).to_have_count(0)
    assert secret not in [r["name"] for r in emit(pc, "list_rooms", {})["rooms"]]

    # Alice goes back with a click in her sidebar and invites Bob from the room's settings.
    entry(pa, secret).click()
    expect(pa.locator("#current-room")).to_have_text(secret)
    expect_message(pa, alice, earlier)
    open_room_tools(pa)
    expect(pa.locator("#topic-input")).to_have_value(topic)  # the creator may change it
    pa.locator("#invite-input").fill(bob)
    pa.locator("#invite-input").press("Enter")
    expect(pa.locator("#invite-input")).to_have_value("")

    # Bob's sidebar lists the room at once (no reload), and his page says who invited him.
    invited = entry(pb, secret)
    expect(invited).to_have_count(1)
    expect(invited.locator(".room-name")).to_have_text(f"# {secret} 🔒")
    expect(messages(pb).filter(has_text=exactly(f"{alice} invited you to {secret}"))).to_have_count(1)
    expect(entry(pc, secret)).to_have_count(0)
    invited.click()
    expect(pb.locator("#current-room")).to_have_text(secret)
    expect(pb.locator("#room-topic")).to_have_text(topic)
    expect_message(pb, alice, earlier, room_prefix=EN_ROOM)
    open_room_tools(pb)
    expect(pb.locator("#topic-form")).to_be_hidden()  # not his room: no topic or remove forms
    expect(pb.locator("#remove-form")).to_be_hidden()
    pb.keyboard.press("Escape")
    expect(pb.locator("#room-settings-dialog")).to_be_hidden()
    expect(entry(pa, secret)).to_have_accessible_name(re.compile(rf"^{secret}, 2 メンバー · 2 オンライン$"))

    said = [(bob, f"招待ありがとう {suffix}"), (alice, "ようこそ、ここなら安心")]
    for author, text in said:
        send(pa if author == alice else pb, text)
        expect_message(pa, author, text)
        expect_message(pb, author, text, room_prefix=EN_ROOM)

    # Carol cannot join by typing the name (the seed's room field): an error, and she is not in.
    pc.locator("#room-input").fill(secret)
    pc.locator("#join").click()
    expect(pc.locator("#errors")).to_contain_text("private")
    expect(pc.locator("#current-room")).to_have_text(JA["no_room"])
    expect(pc.locator("#leave")).to_be_hidden()
    # Nor with a hand-made request through her socket: no history, no writing into it.
    assert emit(pc, "get_history", {"room": secret})["error"]["code"] == "unknown_room"
    assert emit(pc, "room_message", {"room": secret, "message": "let me in"})["ok"] is False
    assert emit(pc, "subscribe", {"room": secret})["error"]["code"] == "forbidden"
    assert emit(pc, "invite", {"room": secret, "user": carol})["error"]["code"] == "forbidden"
    expect(messages(pa).filter(has_text="let me in")).to_have_count(0)

    # 3. Typing: Bob types (real key presses) and Alice, in the room, is told; his message ends it.
    typing_a, typing_b = pa.locator("#typing"), pb.locator("#typing")
    pb.locator("#message-input").press_sequentially("hold on, writing", delay=30)
    expect(typing_a).to_have_text(f"{bob} が入力中…")
    expect(pc.locator("#typing")).to_have_text("")
    pb.locator("#message-input").press("Enter")
    expect_message(pa, bob, "hold on, writing")
    expect(typing_a).to_have_text("", timeout=TYPING_GONE_MS)
    # The other way round, in English: and a hint with no message after it fades by itself.
    pa.locator("#message-input").press_sequentially("あと少し", delay=30)
    expect(typing_b).to_have_text(f"{alice} is typing…")
    expect(typing_b).to_have_text("", timeout=TYPING_GONE_MS)
    pa.locator("#message-input").fill("")

    # 4. A direct conversation: Alice uses the DM button next to Bob's name.
    pa.get_by_role("button", name=f"{bob} にダイレクトメッセージ", exact=True).click()
    expect(pa.locator("#current-room")).to_have_text(f"@{bob}")
    dm = pa.locator("#dm-list .room-entry").first.get_attribute("data-room")
    assert dm.startswith("dm:")
    expect(entry(pa, dm)).to_have_attribute("aria-current", "true")
    expect(pa.locator("#room-settings")).to_have_accessible_name("通知の設定")  # a conversation's: notifications only
    whisper = f"ここだけの話 {suffix}"
    send(pa, whisper)
    expect_message(pa, alice, whisper)

    # Bob is still in the private room: the conversation appears with an unread badge.
    conversation = entry(pb, dm)
    expect(conversation).to_have_count(1)
    expect(conversation.locator(".room-name")).to_have_text(f"@{alice}")
    expect(conversation.locator(".badge")).to_have_text("1")
    expect(conversation).to_have_accessible_name(f"@{alice}, 1 unread")
    expect(pb.locator("#current-room")).to_have_text(secret)
    expect(messages(pb).filter(has_text=whisper)).to_have_count(0)  # the list shows his room only
    pb.screenshot(path=str(ARTIFACTS / "everyday-bob-unread.png"), full_page=True)
    conversation.click()
    expect(pb.locator("#current-room")).to_have_text(f"@{alice}")
    expect_message(pb, alice, whisper, room_prefix=EN_ROOM)
    expect(conversation.locator(".badge, .mention-badge")).to_have_count(0)
    expect(conversation).to_have_accessible_name(f"@{alice}")
    reply = "got it, between us"
    send(pb, reply)
    expect_message(pa, bob, reply)
    # Carol cannot open it either.
    assert emit(pc, "get_history", {"room": dm})["error"]["code"] == "unknown_room"
    assert emit(pc, "join_room", {"room": dm})["error"]["code"] == "unknown_room"

    # 5. Unread and mentions: Alice reads the public lobby while Bob mentions her in the room.
    entry(pa, lobby).click()
    expect(pa.locator("#current-room")).to_have_text(lobby)
    # Bob goes back to the private room with the keyboard only: Tab to its entry, Enter.
    tab_to(pb, f'li.room-entry[data-room="{secret}"] > button')
    pb.keyboard.press("Enter")
    expect(pb.locator("#current-room")).to_have_text(secret)
    expect_message(pb, bob, said[0][1], room_prefix=EN_ROOM)
    mention = f"@{alice} hello"
    pb.locator("#message-input").focus()
    pb.keyboard.type(mention)
    pb.keyboard.press("Enter")
    expect_message(pb, bob, mention, room_prefix=EN_ROOM)
    badges = entry(pa, secret)
    expect(badges.locator(".badge")).to_have_text("1")
    expect(badges.locator(".mention-badge")).to_have_text("1")  # shown as "@1" (the "@" by CSS)
    expect(badges).to_have_accessible_name(re.compile(rf"^{secret}, 2 メンバー · \d オンライン, 1 未読, 1 メンション$"))
    expect(messages(pa).filter(has_text=mention)).to_have_count(0)
    pa.screenshot(path=str(ARTIFACTS / "everyday-alice.png"), full_page=True)  # the badges
    badges.click()
    expect(pa.locator("#current-room")).to_have_text(secret)
    line = messages(pa).filter(has=pa.locator(".text", has_text=exactly(mention)))
    expect(line).to_have_count(1)
    expect(line).to_have_class(
        re.compile(r"^message room( grouped)? mentioned$")
    )  # from the history: it came while away
    expect(line.locator(".author")).to_have_text(bob)
    expect(messages(pa).and_(pa.locator(".mentioned"))).to_have_count(1)
    expect(badges.locator(".badge, .mention-badge")).to_have_count(0)
    pa.screenshot(path=str(ARTIFACTS / "everyday-alice-mentioned.png"), full_page=True)
    # Read means read: a reload (a fresh directory from the server) shows no badge either.
    pa.reload()
    expect(pa.locator("#status")).to_have_class("status connected")
    expect(entry(pa, secret)).to_have_count(1)
    expect(entry(pa, secret).locator(".badge, .mention-badge")).to_have_count(0)
    expect(entry(pa, dm).locator(".badge, .mention-badge")).to_have_count(0)

    # 6. Every control in the sidebar (and the room settings) has an accessible name.
    for page in (pa, pb, pc):
        expect_sidebar_named(page)

    # Carol's page never showed any of it: no room, no topic, no message, no conversation.
    secrets = [earlier, topic, whisper, reply, mention, *(text for _, text in said), "hold on, writing"]
    assert_never_shown(pc, secrets)
    expect(pc.locator("#dm-list .room-entry")).to_have_count(0)
    expect(entry(pc, secret)).to_have_count(0)
    expect(entry(pc, lobby)).to_have_count(1)

    pb.screenshot(path=str(ARTIFACTS / "everyday-bob.png"), full_page=True)
    pc.screenshot(path=str(ARTIFACTS / "everyday-carol.png"), full_page=True)

    # 7. Nothing went wrong in any page.
    pages.assert_no_problems()
