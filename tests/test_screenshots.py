"""The README's screenshots, taken from a real server with a small conversation in it.

In a normal run the images go to a temporary folder and the test checks that each was written at
the expected size and that the page looked right (the conversation shown, no horizontal
overflow). With CHAT_SCREENSHOTS=1 (`make screenshots`) they go to docs/screenshots/, for the
README's "What it looks like".
"""

import os
import struct

import pytest

from tests.browser_helpers import (
    DEVICES,
    LOCALES,
    Bot,
    expect_badge,
    join,
    no_horizontal_scroll,
    open_app,
    room_entry,
    send,
    unique,
)
from tests.servers import ROOT
from tests.test_browser import Pages, browser, expect  # noqa: F401 (fixture)

pytestmark = pytest.mark.once  # the page's behaviour, not the database's: the SQLite pass runs it

DOCS = ROOT / "docs" / "screenshots"
# Per language: the viewer, two others, three rooms (the open one first), the conversation.
CAST = {
    "ja": {
        "viewer": "さくら",
        "others": ("はると", "ゆい"),
        "rooms": ("デザイン", "雑談", "ロビー"),
        "lines": [
            (0, "おはようございます！新しいトップページの案、共有しました"),
            (1, "見ました。配色がすごく良いですね 👍"),
            (None, "ありがとう。ダークモードも確認してもらえますか？"),
            (0, "スマホだと **ドロワー** から部屋を切り替えられます"),
            (1, "了解です、午後に見ておきます"),
        ],
        "mention": "@{viewer} 雑談ルームで質問があります",
    },
    "en": {
        "viewer": "sam",
        "others": ("alex", "jordan"),
        "rooms": ("design", "random", "lobby"),
        "lines": [
            (0, "Morning! I pushed the new landing page draft"),
            (1, "Looks great, the colours work really well 👍"),
            (None, "Thanks! Could you check dark mode too?"),
            (0, "On phones the rooms are in the **drawer**"),
            (1, "Sure, I'll look this afternoon"),
        ],
        "mention": "@{viewer} quick question in random",
    },
}
SHOTS = [
    ("desktop-ja.png", "desktop", "ja", "light"),
    ("phone-en.png", "phone", "en", "light"),
    ("desktop-dark.png", "desktop", "en", "dark"),
]


@pytest.fixture
def out_dir(tmp_path):
    if os.environ.get("CHAT_SCREENSHOTS") == "1":
        DOCS.mkdir(parents=True, exist_ok=True)
        return DOCS
    return tmp_path


def png_size(path):
    """(width, height) from a PNG's IHDR chunk."""
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", head[16:24])


def stage(pages, base_url, lang, device, scheme, suffix):
    """The viewer's page in a lively state: three rooms, a conversation, an unread mention."""
    cast = CAST[lang]
    viewer = cast["viewer"] + suffix
    main, background, _ = rooms = [room + suffix for room in cast["rooms"]]
    bots = [Bot(base_url, other + suffix) for other in cast["others"]]
    page = open_app(pages, viewer, lang, device, scheme)
    for room in reversed(rooms):
        join(page, room)
    for bot in bots:
        bot.join(main).join(background)
    for count, (who, text) in enumerate(cast["lines"], start=1):
        if who is None:
            send(page, text)
        else:
            bots[who].say(main, text)
        expect(page.locator("#messages li.message[data-id]")).to_have_count(count)
    bots[1].say(background, cast["mention"].format(viewer=viewer))
    expect_badge(room_entry(page, background).locator(".mention-badge"), 1)
    return page, bots


def same_viewer(pages, page, lang, device, scheme):
    """The viewer of `page` in a new browser context (cookies and storage copied) on another device."""
    other = pages.open(
        None,
        f"?lang={lang}",
        locale=LOCALES[lang],
        color_scheme=scheme,
        storage_state=page.context.storage_state(),
        **DEVICES[device],
    )
    expect(other.locator("#me")).to_have_text(page.locator("#me").text_content())
    expect(other.locator("#current-room")).to_have_text(page.locator("#current-room").text_content())
    expect(other.locator("#messages li.message[data-id]")).to_have_count(len(CAST[lang]["lines"]))
    return other


def shoot(page, path, device):
    assert no_horizontal_scroll(page)
    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    page.mouse.move(0, 0)
    page.screenshot(path=str(path))
    viewport = DEVICES[device]["viewport"]
    assert png_size(path) == (viewport["width"], viewport["height"])
    assert path.stat().st_size > 10_000, f"{path} looks blank"


def test_readme_screenshots(browser, live_server, out_dir):  # noqa: F811 (the imported fixture)
    pages = Pages(browser, live_server.url)
    bots = []
    # The documentation's copy uses plain names on the module's fresh server; a normal run may
    # share the database with a rerun, so names get a suffix there.
    suffix = "" if out_dir == DOCS else f"-{unique()}"
    staged = {}
    try:
        for filename, device, lang, scheme in SHOTS:
            if lang in staged:
                page = same_viewer(pages, staged[lang], lang, device, scheme)
            else:
                page, made = stage(pages, live_server.url, lang, device, scheme, suffix)
                staged[lang] = page
                bots += made
            shoot(page, out_dir / filename, device)
        pages.assert_no_problems()
    finally:
        for bot in bots:
            bot.close()
        pages.close()
