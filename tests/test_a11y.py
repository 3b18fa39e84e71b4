"""axe-core on the login page and the chat page: no serious or critical violation (issue 20).

axe-core comes from npm (devDependencies, `make setup-dev`); the test evaluates its source in the
page as the test's own script, so the page's CSP (script-src 'self') stays as it is. Every
combination of 1280x800 / 390x844, ja / en and light / dark; the chat page with a room open and
messages in it (and on a phone with the drawer open too). The assertion lists each violation's
id, impact, help text and the nodes it found.
"""

import pytest

from tests.browser_helpers import (
    ALL_COMBINATIONS,
    AXE_JS,
    DEVICES,
    LOCALES,
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
