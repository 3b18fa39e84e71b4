"""Pins, notification levels and DM read receipts in a real browser (issue 21): a muted room
shows no unread number (its mentions still count), a pin shows in the header's 📌 list and a
click there jumps to the message, and "既読" appears under the message the other person read."""

import pytest

from tests import test_browser
from tests.browser_helpers import expect_badge, expect_no_badge
from tests.test_browser import expect, expect_message
from tests.test_browser_everyday import create_room, emit, entry, open_room_tools, send

pytestmark = pytest.mark.once  # the page's behaviour, not the database's: the SQLite pass runs it

browser, pages, suffix = test_browser.browser, test_browser.pages, test_browser.suffix


def open_room(page, room):
    entry(page, room).click()
    expect(page.locator("#current-room")).to_have_text(room)


def level_on_server(page, room, level):
    """Wait until the server lists `room` at `level` for the page's user."""
    for _ in range(50):
        listed = emit(page, "list_rooms", {})["rooms"]
        if next(r for r in listed if r["name"] == room)["notify"] == level:
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"the level {level!r} never reached the server")


def choose_level(page, level):
    """The header's control for the current conversation (⚙ of a room, 🔔 of a DM): pick `level`."""
    page.locator("#room-settings").click()
    page.locator("#notify-level").select_option(level)
    page.locator("#room-settings-dialog [data-close]").click()
    expect(page.locator("#room-settings-dialog")).to_be_hidden()


def test_a_muted_room_shows_no_badge_and_pins_show_in_the_header(pages, suffix):
    alice, bob = f"alice-{suffix}", f"bob-{suffix}"
    quiet, loud = f"quiet-{suffix}", f"loud-{suffix}"
    pa = pages.open(alice, "?lang=ja")
    pb = pages.open(bob, "?lang=en", locale="en-US")
    for page in (pa, pb):
        expect(page.locator("#status")).to_have_class("status connected")
    create_room(pa, quiet, "", private=False)
    create_room(pa, loud, "", private=False)
    for room in (quiet, loud):
        assert emit(pb, "join_room", {"room": room})["ok"]

    # Alice mutes "quiet" in its settings dialog; the choice is stored on the server.
    open_room(pa, quiet)
    open_room_tools(pa)
    expect(pa.locator("#notify-level")).to_have_value("mentions")
    pa.locator("#notify-level").select_option("nothing")
    pa.locator("#room-settings-dialog [data-close]").click()
    level_on_server(pa, quiet, "nothing")
    open_room(pa, loud)

    # Bob writes in "quiet" (muted): no unread number. Alice moves on; then "loud", not open and
    # not muted, shows its unread number (the control), "quiet" still none.
    assert emit(pb, "room_message", {"room": quiet, "message": f"news in {quiet}"})["ok"]
    expect_no_badge(entry(pa, quiet).locator(".badge"), timeout=3)
    create_room(pa, f"other-{suffix}", "", private=False)
    assert emit(pb, "room_message", {"room": loud, "message": "more news"})["ok"]
    expect_badge(entry(pa, loud).locator(".badge"), 1)
    assert emit(pb, "room_message", {"room": quiet, "message": "still quiet"})["ok"]
    pa.wait_for_timeout(500)
    expect_no_badge(entry(pa, quiet).locator(".badge"), timeout=3)
    # A mention still counts in a muted room.
    assert emit(pb, "room_message", {"room": quiet, "message": f"@{alice} look"})["ok"]
    expect_badge(entry(pa, quiet).locator(".mention-badge"), 1)
    expect_no_badge(entry(pa, quiet).locator(".badge"), timeout=3)

    # A pin: Alice pins Bob's message from its menu; Bob's header lists it and jumps to it.
    open_room(pa, quiet)
    open_room(pb, quiet)
    text = f"news in {quiet}"
    expect_message(pa, bob, text)
    line = pa.locator("#messages li.message").filter(has_text=text)
    line.hover()
    line.locator(".message-menu-button").click()
    pin_item = pa.locator('#message-menu [data-action="pin"]')
    expect(pin_item).to_have_text("📌 ピン留め")
    pin_item.click()
    expect(pa.locator("#pins-count")).to_have_text("1")
    expect(pb.locator("#pins-count")).to_have_text("1")
    expect(pb.locator("#pins-button")).to_have_accessible_name("Pinned messages (1)")
    pb.locator("#pins-button").click()
    listed = pb.locator("#pins-list .pin-item")
    expect(listed).to_have_count(1)
    expect(listed.locator(".pin-text")).to_have_text(text)
    listed.click()
    expect(pb.locator("#pins-dialog")).not_to_be_visible()
    expect(pb.locator("#messages li.message.highlight")).to_have_count(1)
    expect(pb.locator("#messages li.message.highlight .text")).to_have_text(text)
    # The menu now offers to unpin; unpinned, both headers empty their lists.
    line.hover()
    line.locator(".message-menu-button").click()
    expect(pin_item).to_have_text("📌 ピン留めを外す")
    pin_item.click()
    expect(pa.locator("#pins-count")).to_have_text("")
    expect(pb.locator("#pins-count")).to_have_text("")
    assert pages.problems == []


def test_a_dm_set_to_nothing_shows_no_badge_and_the_choice_survives_a_reload(pages, suffix):
    alice, bob, other = f"alice-{suffix}", f"bob-{suffix}", f"other-{suffix}"
    pa = pages.open(alice, "?lang=ja")
    pb = pages.open(bob, "?lang=en", locale="en-US")
    for page in (pa, pb):
        expect(page.locator("#status")).to_have_class("status connected")
    create_room(pa, other, "", private=False)
    assert emit(pb, "join_room", {"room": other})["ok"]
    pa.get_by_role("button", name=f"{bob} にダイレクトメッセージ", exact=True).click()
    expect(pa.locator("#current-room")).to_have_text(f"@{bob}")
    dm = pa.locator("#dm-list .room-entry").first.get_attribute("data-room")

    # In a DM the header's 🔔 holds the notification level alone (no invitations); "all" at first.
    bell = pa.locator("#room-settings")
    expect(bell).to_have_accessible_name("通知の設定")
    bell.click()
    expect(pa.locator("#room-settings-title")).to_have_text("通知の設定")
    expect(pa.get_by_label("通知", exact=True)).to_have_value("all")  # the field, named apart from the title
    expect(pa.locator("#invite-form")).to_be_hidden()
    expect(pa.locator("#notify-level")).to_have_value("all")
    pa.screenshot(path=str(test_browser.ARTIFACTS / "dm-notifications-ja.png"))
    pa.locator("#notify-level").select_option("nothing")
    pa.locator("#room-settings-dialog [data-close]").click()
    level_on_server(pa, dm, "nothing")

    # Alice reads elsewhere; Bob writes to her, then in the room (not muted, the control): the
    # room shows its number, the DM none, though the server counts it unread.
    open_room(pa, other)
    expect(pa.locator("#room-settings")).to_have_accessible_name("ルーム設定")
    assert emit(pb, "room_message", {"room": dm, "message": f"psst {suffix}"})["ok"]
    create_room(pa, f"elsewhere-{suffix}", "", private=False)
    assert emit(pb, "room_message", {"room": other, "message": "news"})["ok"]
    expect_badge(entry(pa, other).locator(".badge"), 1)
    expect_no_badge(entry(pa, dm).locator(".badge"), timeout=3)
    assert next(r for r in emit(pa, "list_rooms", {})["rooms"] if r["name"] == dm)["unread"] == 1

    # After a reload still none, and the DM's 🔔 still says "nothing".
    pa.reload()
    expect(pa.locator("#status")).to_have_class("status connected")
    expect_badge(entry(pa, other).locator(".badge"), 1)
    expect_no_badge(entry(pa, dm).locator(".badge"), timeout=3)
    entry(pa, dm).click()
    expect(pa.locator("#current-room")).to_have_text(f"@{bob}")
    bell.click()
    expect(pa.locator("#notify-level")).to_have_value("nothing")
    pa.locator("#room-settings-dialog [data-close]").click()

    # Back to "all": Bob's next message shows its number again, also after a reload.
    choose_level(pa, "all")
    level_on_server(pa, dm, "all")
    open_room(pa, other)
    assert emit(pb, "room_message", {"room": dm, "message": f"again {suffix}"})["ok"]
    expect_badge(entry(pa, dm).locator(".badge"), 1)
    pa.reload()
    expect(pa.locator("#status")).to_have_class("status connected")
    expect_badge(entry(pa, dm).locator(".badge"), 1)
    entry(pa, dm).click()
    expect(pa.locator("#current-room")).to_have_text(f"@{bob}")
    bell.click()
    expect(pa.locator("#notify-level")).to_have_value("all")
    assert pages.problems == []


def test_seen_under_the_message_the_other_person_read(pages, suffix):
    alice, bob = f"alice-{suffix}", f"bob-{suffix}"
    pa = pages.open(alice, "?lang=ja")
    pb = pages.open(bob, "?lang=en", locale="en-US")
    for page in (pa, pb):
        expect(page.locator("#status")).to_have_class("status connected")
    pa.get_by_role("button", name=f"{bob} にダイレクトメッセージ", exact=True).click()
    expect(pa.locator("#current-room")).to_have_text(f"@{bob}")
    first, second = f"first {suffix}", f"second {suffix}"
    send(pa, first)
    expect_message(pa, alice, first)
    expect(pa.locator(".seen-mark")).to_have_count(0)
    # Bob opens the conversation and reads it: Alice sees 既読 under her message.
    pb.locator("#dm-list li.room-entry button").first.click()
    expect(pb.locator("#current-room")).to_have_text(f"@{alice}")
    expect_message(pb, alice, first)
    mark = pa.locator("#messages li.message").filter(has_text=first).locator(".seen-mark")
    expect(mark).to_have_text("既読")
    # Her next message, unread yet, takes it once Bob reads that too (he has the page open).
    send(pa, second)
    expect(pa.locator("#messages li.message").filter(has_text=second).locator(".seen-mark")).to_have_text("既読")
    expect(pa.locator(".seen-mark")).to_have_count(1)
    # Bob turns receipts off: Alice sees none any more after a reload, and Bob sees none either.
    assert emit(pb, "set_preferences", {"read_receipts": False})["read_receipts"] is False
    pa.reload()
    expect(pa.locator("#status")).to_have_class("status connected")
    expect_message(pa, alice, second)
    pa.wait_for_timeout(500)
    expect(pa.locator(".seen-mark")).to_have_count(0)
    assert pages.problems == []
