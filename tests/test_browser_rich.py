"""Rich messages in real browsers: uploads, reactions, edits, deletions, search, formatting.

The issue's "Done when": "In the browser a user drags in an image, reacts to a message, fixes a
typo in their own message, deletes another, and finds an old message by a word in it, while a
second user sees each change live and a third sees none of the private ones."

Alice (Japanese) and Bob (English) talk in Alice's private room; Carol (Japanese) is not a member.
The server is the module's own gunicorn+eventlet with a short heartbeat (Bob goes offline and
comes back), a short history on join (the old message is not on screen until searched for) and
a small upload limit (refused in the page before sending).
"""

import base64
import io
import re
import subprocess

import pytest
from PIL import Image

from tests import servers, test_browser
from tests.test_browser import (
    ARTIFACTS,
    RECONNECT_TIMEOUT_MS,
    Pages,
    accessible_controls,
    exactly,
    expect,
    expect_message,
    messages,
)
from tests.test_browser_everyday import assert_never_shown, create_room, emit, entry, open_room_tools, send

pytestmark = pytest.mark.once  # the page's behaviour, not the database's: the SQLite pass runs it

browser, suffix = test_browser.browser, test_browser.suffix

HISTORY_ON_JOIN = 10
MAX_UPLOAD = 200_000
CONFIRM = {"ja": "このメッセージを削除しますか？", "en": "Delete this message?"}


@pytest.fixture
def rich_server(live_database, tmp_path):
    server = servers.gunicorn(
        "eventlet",
        env={
            "DATABASE_URL": live_database(),
            "CHAT_PING_INTERVAL": "2",
            "CHAT_PING_TIMEOUT": "2",
            "CHAT_HISTORY_ON_JOIN": str(HISTORY_ON_JOIN),
            "CHAT_MAX_UPLOAD_SIZE": str(MAX_UPLOAD),
            "CHAT_UPLOAD_FOLDER": str(tmp_path / "uploads"),
        },
    ).start()
    yield server
    server.stop()


@pytest.fixture
def pages(browser, rich_server):
    opened = Pages(browser, rich_server.url)
    yield opened
    opened.close()


# --- helpers ---------------------------------------------------------------------------------


def watch_dialogs(page, lang, dialogs):
    """Only the page's own delete confirmation may open a dialog; anything else (an alert from
    injected markup) is recorded, dismissed and fails the test."""

    def handle(dialog):
        if dialog.type == "confirm" and dialog.message == CONFIRM[lang]:
            dialog.accept()
            return
        dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    page.on("dialog", handle)


def line(page, text):
    """The stored line whose text is exactly `text`."""
    return messages(page).filter(has=page.locator(".text", has_text=exactly(text)))


def by_id(page, message_id):
    return page.locator(f'#messages > li[data-id="{message_id}"]')


def png(width, height):
    picture = Image.new("RGB", (width, height), (30, 120, 200))
    for x in range(0, width, 40):
        for y in range(0, height, 40):
            picture.putpixel((x, y), (250, 250, 250))
    out = io.BytesIO()
    picture.save(out, "PNG")
    return out.getvalue()


def drop_files(page, selector, files):
    """A real drag and drop: a DataTransfer holding the files, dragged over `selector` and dropped.
    Returns whether the page showed its drop hint while dragging."""
    encoded = [[name, mime, base64.b64encode(data).decode()] for name, mime, data in files]
    return page.locator(selector).evaluate(
        """(el, files) => {
        const transfer = new DataTransfer();
        for (const [name, type, b64] of files) {
            const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
            transfer.items.add(new File([bytes], name, {type}));
        }
        const fire = (type) => el.dispatchEvent(
            new DragEvent(type, {bubbles: true, cancelable: true, dataTransfer: transfer}));
        fire('dragenter');
        fire('dragover');
        const hint = document.getElementById('drop-hint');
        const shown = !hint.hidden && getComputedStyle(hint).display !== 'none' && hint.textContent.trim();
        fire('drop');
        return shown;
    }""",
        encoded,
    )


def chip(item, emoji):
    return item.locator(".reactions button.chip").filter(has_text=re.compile("^" + re.escape(emoji) + " \\d+$"))


def expect_chip(item, emoji, count, pressed):
    found = chip(item, emoji)
    expect(found).to_have_count(1)
    expect(found).to_have_text(f"{emoji} {count}")
    expect(found).to_have_attribute("aria-pressed", "true" if pressed else "false")


def message_id(item):
    return int(item.get_attribute("data-id"))


# --- the test --------------------------------------------------------------------------------


def test_rich_messages_live_private_and_inert(pages, rich_server, suffix):
    alice, bob, carol = f"alice-{suffix}", f"bob-{suffix}", f"carol-{suffix}"
    room = f"rich-{suffix}"
    ARTIFACTS.mkdir(exist_ok=True)
    dialogs = []

    pa = pages.open(alice, "?lang=ja")
    pb = pages.open(bob, "?lang=en", locale="en-US")
    pc = pages.open(carol, "?lang=ja")
    for page, lang in ((pa, "ja"), (pb, "en"), (pc, "ja")):
        watch_dialogs(page, lang, dialogs)
        expect(page.locator("#status")).to_have_class("status connected")

    # Alice's private room, Bob invited; Carol is not a member.
    create_room(pa, room, "", private=True)
    open_room_tools(pa)
    pa.locator("#invite-input").fill(bob)
    pa.locator("#invite-input").press("Enter")
    expect(pa.locator("#invite-input")).to_have_value("")
    expect(entry(pb, room)).to_have_count(1)
    entry(pb, room).click()
    expect(pb.locator("#current-room")).to_have_text(room)

    # An old message with a word to find later, then the conversation goes on.
    word = f"kumquat{suffix}"
    old = f"昔の話: {word} の件、覚えてる？"
    send(pa, old)
    expect_message(pb, alice, old, room_prefix="[Room]")  # the plain line's shape, actions and all

    # 1. Alice drags in an image: Bob sees the thumbnail live, sized before it loads.
    picture = f"photo-{suffix}.png"
    assert drop_files(pa, "#messages", [(picture, "image/png", png(640, 480))]) == "ここにファイルをドロップして添付"
    expect(pa.locator("#drop-hint")).to_be_hidden()
    for page in (pa, pb):
        image = page.locator("#messages .file img")
        expect(image).to_have_count(1)
        expect(image).to_have_attribute("alt", picture)
        expect(image).to_have_attribute("width", "320")
        expect(image).to_have_attribute("height", "240")
        page.wait_for_function(
            "() => { const img = document.querySelector('#messages .file img');"
            " return img && img.complete && img.naturalWidth > 0; }"
        )
    shown = line(pb, picture)  # no caption: the text is the file's name
    expect(shown.locator(".author")).to_have_text(alice)
    opens = re.compile(rf"^Open image: {re.escape(picture)} \(\d+(\.\d)? KB\)$")
    expect(shown.get_by_role("link", name=opens)).to_have_count(1)
    file_url = shown.locator(".file a").get_attribute("href")
    thumb_url = shown.locator(".file img").get_attribute("src")
    assert re.match(r"^/uploads/[^/]+/", file_url) and thumb_url.endswith("/thumb")
    got = pb.request.get(pages.base_url + file_url)
    assert got.status == 200 and got.headers["content-type"] == "image/png"

    # A caption from the message field, a text file through the 📎 button (a real file input).
    attach = pa.get_by_role("button", name="ファイルを添付", exact=True)
    expect(attach).to_be_visible()
    pa.locator("#message-input").fill("議事録です")
    minutes = "議題: 来週の計画\n".encode()
    pa.locator("#file-input").set_input_files(
        files=[{"name": f"notes-{suffix}.txt", "mimeType": "text/plain", "buffer": minutes}]
    )
    expect(pa.locator("#message-input")).to_have_value("")
    notes = line(pb, "議事録です")
    expect(notes.locator(".file a.download")).to_have_text(f"📄 notes-{suffix}.txt ({len(minutes)} B)")
    # Refused files say why, in the errors area: a disguised type (415) and one over the limit.
    pa.locator("#file-input").set_input_files(
        files=[{"name": f"fake-{suffix}.png", "mimeType": "image/png", "buffer": b"not an image at all"}]
    )
    expect(pa.locator("#errors")).to_contain_text("この種類のファイルは送れません")
    expect(pa.locator("#messages li.failed .state")).to_contain_text("アップロードできませんでした")
    pa.locator("#file-input").set_input_files(
        files=[
            {"name": f"big-{suffix}.bin", "mimeType": "application/octet-stream", "buffer": b"\0" * (MAX_UPLOAD + 1)}
        ]
    )
    expect(pa.locator("#errors")).to_contain_text("ファイルが大きすぎます（上限 195 KB）")
    expect(line(pb, f"fake-{suffix}.png")).to_have_count(0)

    # 2. Bob reacts to Alice's old message with the keyboard: the picker, Enter on 👍.
    target = line(pb, old)
    react = target.get_by_role("button", name="Add reaction", exact=True)
    react.focus()
    expect(target.locator(".actions")).to_have_css("opacity", "1")  # shown on focus-within
    pb.keyboard.press("Enter")
    picker = pb.get_by_role("dialog", name="Add reaction")
    expect(picker).to_be_visible()
    expect(picker.get_by_role("button", name="👍", exact=True)).to_be_focused()
    pb.screenshot(path=str(ARTIFACTS / "rich-picker.png"))
    pb.keyboard.press("Escape")  # Escape closes it, the focus goes back
    expect(picker).to_be_hidden()
    expect(react).to_be_focused()
    pb.keyboard.press("Enter")
    expect(picker.get_by_role("button", name="👍", exact=True)).to_be_focused()
    pb.keyboard.press("Enter")
    expect(picker).to_be_hidden()
    expect(react).to_be_focused()
    expect_chip(target, "👍", 1, pressed=True)
    expect(chip(target, "👍")).to_have_accessible_name("👍 reaction (1)")
    mine = line(pa, old)
    expect_chip(mine, "👍", 1, pressed=False)  # Alice sees it live
    # Alice adds hers by clicking the chip; Bob sees the count go up.
    chip(mine, "👍").click()
    expect_chip(mine, "👍", 2, pressed=True)
    expect_chip(target, "👍", 2, pressed=True)  # his own stays pressed
    # Any emoji through the picker's field; something that is not one emoji is refused.
    react.click()
    picker.get_by_role("textbox", name="Other emoji").fill("🍣")
    picker.get_by_role("textbox", name="Other emoji").press("Enter")
    expect_chip(mine, "🍣", 1, pressed=False)
    react.click()
    picker.get_by_role("textbox", name="Other emoji").fill("abc")
    picker.get_by_role("textbox", name="Other emoji").press("Enter")
    expect(pb.locator("#errors")).not_to_be_empty()
    expect(mine.locator(".reactions .chip")).to_have_count(2)

    # 3. Alice fixes a typo in her own message (keyboard); Bob sees the text and the mark live.
    typo, fixed = f"明日の会議は10持から {suffix}", f"明日の会議は10時から {suffix}"
    send(pa, typo)
    expect(line(pb, typo)).to_have_count(1)
    own = line(pa, typo)
    expect(line(pb, typo).get_by_role("button", name="Edit message")).to_have_count(0)  # not Bob's
    edit = own.get_by_role("button", name="メッセージを編集", exact=True)
    edit.focus()
    pa.keyboard.press("Enter")
    editor = own.get_by_role("textbox", name="メッセージを編集")
    expect(editor).to_be_focused()
    expect(editor).to_have_value(typo)
    pa.keyboard.press("Escape")  # cancel: nothing changes
    expect(editor).to_have_count(0)
    expect(edit).to_be_focused()
    pa.keyboard.press("Enter")
    expect(editor).to_be_focused()
    editor.fill(fixed)
    pa.screenshot(path=str(ARTIFACTS / "rich-editing.png"))
    # An Enter that belongs to an IME composition does not save.
    assert editor.evaluate("""el => !el.dispatchEvent(new KeyboardEvent('keydown',
        {key: 'Enter', isComposing: true, bubbles: true, cancelable: true}))""")
    expect(editor).to_be_visible()
    pa.keyboard.press("Enter")
    expect(editor).to_have_count(0)
    for page, mark in ((pa, "(編集済み)"), (pb, "(edited)")):
        edited = line(page, fixed)
        expect(edited).to_have_count(1)
        expect(edited.locator(".edited")).to_have_text(mark)
        expect(line(page, typo)).to_have_count(0)
    expect(line(pb, fixed).locator(".edited")).to_have_attribute("title", re.compile(r"^edited \S"))
    fixed_id = message_id(line(pb, fixed))

    # 4. Alice deletes another message (after the confirmation): a tombstone in its place.
    doomed = f"間違えて送った {suffix}"
    send(pa, doomed)
    expect(line(pb, doomed)).to_have_count(1)
    doomed_id = message_id(line(pa, doomed))
    line(pa, doomed).hover()
    line(pa, doomed).get_by_role("button", name="メッセージを削除", exact=True).click()
    expect(by_id(pb, doomed_id).locator(".text")).to_have_text("This message was deleted")
    expect(by_id(pa, doomed_id).locator(".text")).to_have_text("このメッセージは削除されました")
    # No action on a tombstone (the author still opens their profile card).
    expect(by_id(pb, doomed_id).locator("button:not(.author-link)")).to_have_count(0)
    expect(line(pb, doomed)).to_have_count(0)

    # 5. Hostile Markdown is inert in the browser; harmless formatting works.
    hostile = [
        f"<img src=x onerror=alert(1)> {suffix}",
        f"[x](javascript:alert(1)) {suffix}",
        f"**<script>alert(2)</script>** {suffix}",
        f'<a href="javascript:alert(3)">y</a> {suffix}',
    ]
    for text in hostile:
        send(pa, text)
    good = f"**太字** と _斜体_ と `code` https://example.com/docs {suffix}"
    send(pa, good)
    for page in (pa, pb):
        formatted = messages(page).filter(has_text="https://example.com/docs")
        expect(formatted.locator(".text strong")).to_have_text("太字")
        expect(formatted.locator(".text em")).to_have_text("斜体")
        expect(formatted.locator(".text code")).to_have_text("code")
        link = formatted.locator(".text a")
        expect(link).to_have_attribute("href", "https://example.com/docs")
        expect(link).to_have_attribute("rel", "noopener noreferrer")
        expect(link).to_have_attribute("target", "_blank")
        bold = messages(page).filter(has_text="alert(2)")
        expect(bold.locator(".text strong")).to_have_text("<script>alert(2)</script>")
        expect(messages(page).filter(has_text="onerror")).to_have_count(1)
        expect(messages(page).filter(has_text="javascript:alert(1)")).to_have_count(1)
        expect(page.locator("#messages .text img, #messages script, #messages iframe")).to_have_count(0)
        hrefs = page.locator("#messages a").evaluate_all("links => links.map((a) => a.getAttribute('href') || '')")
        assert [h for h in hrefs if not re.match(r"^(https://example\.com/|/uploads/)", h)] == [], hrefs
        handlers = page.locator("#messages *").evaluate_all(
            "els => els.flatMap((el) => [...el.attributes].map((a) => a.name)).filter((n) => n.startsWith('on'))"
        )
        assert handlers == []
        assert page.evaluate("() => typeof window.__xss") == "undefined"

    # 6. Bob is away for a while; meanwhile Alice edits again and reacts. Back, his page shows it.
    pb.context.set_offline(True)
    expect(pb.locator("#status")).to_have_class("status reconnecting")
    again = f"明日の会議は10時半から {suffix}"
    own = line(pa, fixed)
    own.hover()
    own.get_by_role("button", name="メッセージを編集", exact=True).click()
    own.get_by_role("textbox", name="メッセージを編集").fill(again)
    own.get_by_role("textbox", name="メッセージを編集").press("Enter")
    expect(line(pa, again)).to_have_count(1)
    away = line(pa, hostile[0])
    away.hover()
    away.get_by_role("button", name="リアクションを追加", exact=True).click()
    pa.get_by_role("dialog", name="リアクションを追加").get_by_role("button", name="🎉", exact=True).click()
    expect_chip(away, "🎉", 1, pressed=True)
    expect(line(pb, fixed)).to_have_count(1)  # still the old text while offline
    pb.context.set_offline(False)
    expect(pb.locator("#status")).to_have_class("status connected", timeout=RECONNECT_TIMEOUT_MS)
    expect(by_id(pb, fixed_id).locator(".text")).to_have_text(again)
    expect_chip(line(pb, hostile[0]), "🎉", 1, pressed=False)

    # 7. Reloaded, Bob's page shows the edited text with its mark, the tombstone, the reactions.
    pb.reload()
    expect(pb.locator("#status")).to_have_class("status connected")
    entry(pb, room).click()
    expect(pb.locator("#current-room")).to_have_text(room)
    expect(by_id(pb, fixed_id).locator(".text")).to_have_text(again)
    expect(by_id(pb, fixed_id).locator(".edited")).to_have_text("(edited)")
    expect(by_id(pb, doomed_id).locator(".text")).to_have_text("This message was deleted")
    expect_chip(line(pb, hostile[0]), "🎉", 1, pressed=False)
    pb.screenshot(path=str(ARTIFACTS / "rich-bob.png"), full_page=True)

    # 8. Alice finds the old message by its word: after more talk and a reload it is not on
    # screen (the history on join is short); the hit opens the room, loads the page that ends
    # with it and everything after it, and shows it.
    later = [f"その後の話 {n} {suffix}" for n in range(5)]
    for text in later:
        send(pa, text)
    expect(line(pb, later[-1])).to_have_count(1)
    pa.reload()
    expect(pa.locator("#status")).to_have_class("status connected")
    expect(line(pa, old)).to_have_count(0)
    pa.get_by_role("searchbox", name="メッセージを検索").fill(word)
    pa.get_by_role("searchbox", name="メッセージを検索").press("Enter")
    results = pa.get_by_role("region", name="検索結果")
    expect(results).to_be_visible()
    expect(pa.locator("#search-summary")).to_have_text(f"「{word}」の検索結果: 1 件")
    hit = results.get_by_role("button").filter(has_text=word)
    expect(hit).to_have_count(1)
    expect(hit.locator(".author")).to_have_text(alice)
    expect(hit.locator(".where")).to_have_text(f"# {room}")
    expect(hit.locator("mark")).to_have_text(word)
    pa.screenshot(path=str(ARTIFACTS / "rich-search.png"))
    hit.click()
    found = line(pa, old)
    expect(found).to_be_in_viewport()
    expect(found).to_be_focused()
    expect(found).to_have_class(re.compile(r"\bhighlight\b"))
    expect(pa.locator("#current-room")).to_have_text(room)
    expect_chip(found, "👍", 2, pressed=True)
    # Everything from it to the newest is there, in order, with no gap.
    ids = [int(i) for i in pa.locator("#messages > li[data-id]").evaluate_all("els => els.map((li) => li.dataset.id)")]
    assert ids == sorted(ids) and ids[0] <= message_id(found) and ids[-1] == message_id(line(pa, later[-1]))
    assert {fixed_id, doomed_id} <= set(ids) and len(ids) >= 15
    expect(found).not_to_have_class(re.compile(r"\bhighlight\b"), timeout=8_000)  # only briefly
    # Escape closes the results (from the search field or from within them).
    pa.get_by_role("searchbox", name="メッセージを検索").press("Escape")
    expect(results).to_be_hidden()
    expect(pa.get_by_role("searchbox", name="メッセージを検索")).to_be_focused()
    pa.keyboard.press("Enter")
    expect(hit).to_have_count(1)
    hit.focus()
    pa.keyboard.press("Escape")
    expect(results).to_be_hidden()

    # 9. Carol sees none of it: no line, no search hit, no file.
    pc.get_by_role("searchbox", name="メッセージを検索").fill(word)
    pc.get_by_role("searchbox", name="メッセージを検索").press("Enter")
    expect(pc.locator("#search-summary")).to_have_text(f"「{word}」を含むメッセージは見つかりませんでした")
    pc.keyboard.press("Escape")  # closed, the summary that names the word goes too
    expect(pc.get_by_role("region", name="検索結果")).to_be_hidden()
    assert emit(pc, "search", {"q": suffix})["results"] == []
    for url in (file_url, thumb_url):
        assert pc.request.get(pages.base_url + url).status == 404
    assert emit(pc, "react", {"id": fixed_id, "emoji": "👍"})["error"]["code"] == "not_found"
    assert_never_shown(pc, [old, typo, fixed, again, doomed, picture, "議事録です", word, *hostile, *later])
    expect(pc.locator("#messages img")).to_have_count(0)

    # 10. An admin may delete anyone's message. Bob is not one: no Delete on Alice's lines.
    last = line(pb, later[-1])
    expect(last.get_by_role("button", name="Add reaction", exact=True)).to_have_count(1)
    expect(last.get_by_role("button", name="Delete message", exact=True)).to_have_count(0)
    subprocess.run(
        [str(servers.BIN / "flask"), "--app", "wsgi", "chat", "admin", bob],
        cwd=servers.ROOT,
        env=rich_server.env,
        check=True,
        capture_output=True,
    )
    pb.reload()  # the page learns it at load
    expect(pb.locator("#status")).to_have_class("status connected")
    entry(pb, room).click()
    last = line(pb, later[-1])
    last_id = message_id(last)
    delete = last.get_by_role("button", name="Delete message", exact=True)
    delete.focus()
    pb.keyboard.press("Enter")
    expect(by_id(pa, last_id).locator(".text")).to_have_text("このメッセージは削除されました")
    expect(by_id(pb, last_id).locator(".text")).to_have_text("This message was deleted")

    # Every control has an accessible name, in both languages.
    for page in (pa, pb, pc):
        assert accessible_controls(page)["unnamed"] == []
    pa.screenshot(path=str(ARTIFACTS / "rich-alice.png"), full_page=True)
    assert dialogs == []
    # Bob's page was offline for a while (its reconnection attempts fail to load); the refused
    # uploads answer 415 (a failed resource load in Alice's console). Nothing else went wrong.
    pages.assert_no_problems(
        allowed=re.compile(
            rf"^({bob} console\.error: Failed to load resource: net::ERR_INTERNET_DISCONNECTED"
            rf"|{alice} console\.error: Failed to load resource: the server responded with a status of 415)"
        )
    )
