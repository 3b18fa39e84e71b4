"""The settings pages in a real browser: a token made, used and revoked; the export downloaded;
the account deleted (Debian's chromium through Playwright, against a real gunicorn server)."""

import io
import json
import re
import zipfile

import pytest
import requests

from tests import test_browser
from tests.test_browser import PASSWORD, expect

pytestmark = pytest.mark.once  # the page's behaviour, not the database's: the SQLite pass runs it

browser, pages, suffix = test_browser.browser, test_browser.pages, test_browser.suffix


def signed_up(pages, name, locale):
    page = pages.open(locale=locale)
    test_browser.register(page, name)
    expect(page).not_to_have_url(re.compile(r"/login"))
    return page


def test_a_token_is_made_used_and_revoked_through_the_page(pages, suffix):
    base = pages.base_url
    page = signed_up(pages, f"tok{suffix}", "ja-JP")
    page.goto(base + "/settings/tokens")
    expect(page.locator("h1")).to_have_text("API トークン")
    page.locator("#token-name").fill("<b>ci</b>")
    page.locator("#token-scope").select_option("read")
    page.locator("#token-name").press("Enter")
    secret = page.locator("#new-secret").inner_text()
    assert secret.startswith("chat_")
    expect(page.locator(".token-list")).to_contain_text("<b>ci</b>")  # shown as text, not markup
    headers = {"Authorization": f"Bearer {secret}"}
    assert requests.get(base + "/api/rooms", headers=headers, timeout=5).status_code == 200
    refused = requests.patch(base + "/api/messages/1", json={"message": "x"}, headers=headers, timeout=5)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "insufficient_scope"
    page.get_by_role("button", name="無効にする").click()
    expect(page.locator(".token-list")).to_contain_text("無効")
    assert requests.get(base + "/api/rooms", headers=headers, timeout=5).status_code == 401
    page.reload()
    expect(page.locator("#new-secret")).to_have_count(0)  # shown once
    pages.assert_no_problems()


def test_the_export_downloads_and_the_account_is_deleted_through_the_page(pages, suffix):
    base = pages.base_url
    name = f"exp{suffix}"
    page = signed_up(pages, name, "en-US")
    page.goto(base + "/settings/data")
    expect(page.locator("h1")).to_have_text("Your data")
    with page.expect_download() as download:
        page.get_by_role("button", name="Download").click()
    archive = zipfile.ZipFile(io.BytesIO(open(download.value.path(), "rb").read()))
    assert json.loads(archive.read("user.json"))["name"] == name
    assert json.loads(archive.read("messages.json")) == []
    page.locator("#delete-password").fill("wrong password")
    page.get_by_role("button", name="Delete my account").click()
    expect(page.locator(".errors")).to_have_text("The password is wrong.")
    page.locator("#delete-password").fill(PASSWORD)
    page.get_by_role("button", name="Delete my account").click()
    expect(page.locator("#deleted")).to_have_text("Your account has been deleted.")
    page.goto(base + "/settings/data")
    expect(page).to_have_url(re.compile(r"/login"))
    pages.assert_no_problems(allowed=re.compile(r"status of 403 .*/settings/data/delete"))  # the wrong password
