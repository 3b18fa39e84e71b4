"""axe-core on the login page and the chat page: no serious or critical violation (issue 20).

axe-core comes from npm (devDependencies, `make setup-dev`); the test evaluates its source in the
page as the test's own script, so the page's CSP (script-src 'self') stays as it is. Every
combination of 1280x800 / 390x844, ja / en and light / dark; the chat page with a room open and
messages in it (and on a phone with the drawer open too). The assertion lists each violation's
id, impact, help text and the nodes it found. And the log: a polite live region that is busy
while history fills it, so new messages are announced and history is not read out.
"""

import re

import pytest

from tests.browser_helpers import (
    ALL_COMBINATIONS,
    AXE_JS,
    DEVICES,
    LOCALES,
    Bot,
    combo_id,
    describe_violations,
    expect_message,
    join,
    run_axe,
    send,
    unique,
)
from tests.conftest import skip_or_fail
from tests.test_browser import Pages, browser, expect, register  # noqa: F401 (fixture)

pytestmark = pytest.mark.once  # the page's behaviour, not the database's: the SQLite pass runs it

BLOCKING = ("serious", "critical")


@pytest.fixture
def pages(browser, live_server):  # noqa: F811 (the imported fixture)
    if not AXE_JS.is_file():
        skip_or_fail(f"axe-core is not installed ({AXE_JS}): run npm ci (make setup-dev)")
    opened = Pages(browser, live_server.url)
    yield opened
    opened.close()


def assert_accessible(page, where):
    violations = [v for v in run_axe(page) if v["impact"] in BLOCKING]
    assert violations == [], f"axe on {where}:\n{describe_violations(violations)}"


@pytest.mark.parametrize("combo", ALL_COMBINATIONS, ids=combo_id)
def test_no_serious_axe_violation_on_the_login_and_chat_pages(pages, combo):
    device, lang, scheme = combo
    s = unique()
    me = f"axe-{s}"
    page = pages.open(None, f"?lang={lang}", locale=LOCALES[lang], color_scheme=scheme, name=me, **DEVICES[device])
    expect(page.locator("html")).to_have_attribute("lang", lang)
    assert_accessible(page, f"the login page ({combo_id(combo)})")

    register(page, me)
    expect(page.locator("#me")).to_have_text(me)
    join(page, f"axe-room-{s}")
    for text in ("最初のメッセージ", "**bold**, `code` and https://example.com/", f"@{me} 三つ目"):
        send(page, text)
    expect_message(page, me, "最初のメッセージ")
    expect(page.locator("#messages li.message[data-id]")).to_have_count(3)  # stored, none pending
    assert_accessible(page, f"the chat page ({combo_id(combo)})")

    if device == "phone":
        page.locator("#drawer-toggle").click()
        expect(page.locator("#sidebar")).to_be_in_viewport()
        assert_accessible(page, f"the chat page with the drawer open ({combo_id(combo)})")
    pages.assert_no_problems()


BUSY_RECORDER_JS = """() => {
    const log = document.getElementById('messages');
    window.__busy = [];
    new MutationObserver((changes) => {
        for (const c of changes) window.__busy.push([log.getAttribute('aria-busy'), log.children.length]);
    }).observe(log, {attributes: true, attributeFilter: ['aria-busy']});
}"""


def test_the_log_announces_new_messages_politely_and_history_silently(pages, live_server):
    s = unique()
    me, room = f"listener-{s}", f"quiet-{s}"
    page = pages.open(None, "?lang=en", locale="en-US")
    register(page, me)
    expect(page.locator("#status")).to_have_text("Connected")
    log = page.get_by_role("log")
    expect(log).to_have_count(1)
    expect(log).to_have_attribute("aria-live", "polite")
    expect(log).to_have_accessible_name(re.compile(r"\S"))

    talker = Bot(live_server.url, f"talker-{s}").join(room)
    try:
        lines = [f"history line {n} {s}" for n in range(1, 21)]
        talker.say_many(room, lines)
        # Opening the room fills the log with its history while aria-busy (not read out line by line).
        page.evaluate(BUSY_RECORDER_JS)
        join(page, room)
        expect_message(page, talker.name, lines[-1])
        # A new member has read nothing: when the room list answers (before or after the history),
        # the log is drawn again with the new-messages line. Only then is the log settled.
        expect(page.locator("#messages .new-messages-line")).to_have_count(1)
        page.wait_for_function("() => !document.getElementById('messages').hasAttribute('aria-busy')")
        busy = page.evaluate("() => window.__busy")
        assert busy and busy[0][0] == "true", busy
        # A live message goes in without aria-busy: the live region announces it.
        page.evaluate(BUSY_RECORDER_JS)
        talker.say(room, f"live line {s}")
        expect_message(page, talker.name, f"live line {s}")
        assert page.evaluate("() => window.__busy") == []
        expect(log).not_to_have_attribute("aria-busy", "true")
    finally:
        talker.close()
    pages.assert_no_problems()
