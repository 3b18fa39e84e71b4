"""Single sign-on through a real server (gunicorn, eventlet worker) and a real browser (Chromium):
the provider on 127.0.0.1 (tests/oidc_provider.py), nothing mocked."""

import uuid

import pytest
import requests

from tests import servers
from tests.oidc_provider import CLIENT_ID, CLIENT_SECRET, Provider
from tests.test_browser import CHROMIUM_ARGS, EXPECT_TIMEOUT_MS

pytestmark = pytest.mark.once  # the page's behaviour, not the database's: the SQLite pass runs it

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # requirements-dev.txt has it
    expect = sync_playwright = None


@pytest.fixture(scope="module")
def provider():
    running = Provider().start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def sso_server(provider, live_database):
    port = servers.free_port()
    env = {
        "DATABASE_URL": live_database(),
        "CHAT_OIDC_ISSUER": provider.issuer("a"),
        "CHAT_OIDC_CLIENT_ID": CLIENT_ID,
        "CHAT_OIDC_CLIENT_SECRET": CLIENT_SECRET,
        "CHAT_OIDC_NAME": "Example ID",
        "CHAT_BASE_URL": f"http://127.0.0.1:{port}",
        "CHAT_SSO_ONLY": "true",
    }
    server = servers.gunicorn("eventlet", port=port, env=env).start(timeout=120)  # a busy machine starts slowly
    server.sso_env = env
    yield server
    server.stop()


@pytest.fixture
def person(provider):
    """The person the provider signs in next (unique: the module's server shares one database)."""
    suffix = uuid.uuid4().hex[:6]
    provider.user = {"sub": f"sub-{suffix}", "preferred_username": f"sso-{suffix}"}
    provider.mode = None
    return provider.user


def test_sign_in_on_gunicorn_eventlet_then_logout_ends_the_session(sso_server, person):
    browser = requests.Session()
    start = browser.get(sso_server.url + "/login/sso", params={"next": "/?room=x"}, allow_redirects=False, timeout=10)
    assert start.status_code == 302
    at_provider = requests.get(start.headers["Location"], allow_redirects=False, timeout=10)
    back = at_provider.headers["Location"]
    assert back.startswith(sso_server.url + "/login/sso/callback?")
    done = browser.get(back, allow_redirects=False, timeout=10)
    assert done.status_code == 302 and done.headers["Location"] == "/?room=x"
    page = browser.get(sso_server.url + "/", allow_redirects=False, timeout=10)
    assert page.status_code == 200 and person["preferred_username"] in page.text
    cookie = browser.cookies.get("session")
    assert browser.get(sso_server.url + "/api/rooms", timeout=10).status_code == 200
    token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    assert browser.post(sso_server.url + "/logout", data={"csrf_token": token}, timeout=10).status_code == 200
    thief = requests.Session()
    thief.cookies.set("session", cookie)
    assert thief.get(sso_server.url + "/api/rooms", timeout=10).status_code == 401


def test_sso_only_server_refuses_a_password_login(sso_server):
    browser = requests.Session()
    page = browser.get(sso_server.url + "/login", timeout=10).text
    assert 'id="sso-login"' in page and 'action="/login"' not in page
    token = page.split('name="guest-csrf_token" type="hidden" value="')[1].split('"')[0]
    data = {"login-csrf_token": token, "login-name": "anyone", "login-password": "correct horse"}
    assert browser.post(sso_server.url + "/login", data=data, allow_redirects=False, timeout=10).status_code == 403


def test_the_providers_answer_may_reach_another_node(sso_server, person):
    """The sign-in's state and nonce travel in the signed cookie: a second node (same SECRET_KEY and
    database, as behind nginx) finishes a sign-in the first one started, with its own discovery."""
    other = servers.gunicorn("gevent", env={**sso_server.sso_env, "CHAT_MIGRATE_ON_START": "false"})
    other.start(timeout=120)
    try:
        browser = requests.Session()  # cookies of 127.0.0.1 go to every port
        start = browser.get(sso_server.url + "/login/sso", allow_redirects=False, timeout=10)
        back = requests.get(start.headers["Location"], allow_redirects=False, timeout=10).headers["Location"]
        path = back[len(sso_server.url) :]
        done = browser.get(other.url + path, allow_redirects=False, timeout=10)
        assert done.status_code == 302 and done.headers["Location"] == "/"
        for node in (other, sso_server):
            assert person["preferred_username"] in browser.get(node.url + "/", timeout=10).text
        assert (
            browser.get(other.url + path, allow_redirects=False, timeout=10).headers["Location"].startswith("/login")
        )  # used once, on any node
    finally:
        other.stop()


@pytest.fixture(scope="module")
def chromium(chromium_path):
    if sync_playwright is None:
        pytest.skip("the playwright package is not installed (make setup-dev)")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.mark.parametrize(
    ("locale", "label"), [("en-US", "Sign in with Example ID"), ("ja-JP", "Example ID でログイン")]
)
def test_the_login_pages_button_signs_in_through_the_provider(chromium, sso_server, person, locale, label):
    context = chromium.new_context(locale=locale)
    context.set_default_timeout(EXPECT_TIMEOUT_MS)
    problems = []
    page = context.new_page()
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.on("console", lambda msg: msg.type == "error" and problems.append(msg.text))
    try:
        page.goto(sso_server.url + "/")
        expect(page).to_have_url(sso_server.url + "/login?next=/")
        expect(page.locator("#login-name")).to_have_count(0)  # SSO-only: no password form
        button = page.locator("#sso-login")
        expect(button).to_have_text(label)
        button.click()
        expect(page).to_have_url(sso_server.url + "/")
        expect(page.locator("#me")).to_have_text(person["preferred_username"])
        assert problems == []
    finally:
        context.close()


def test_a_denied_sign_in_shows_why_on_the_login_page(chromium, sso_server, provider, person):
    provider.deny = True
    context = chromium.new_context(locale="en-US")
    context.set_default_timeout(EXPECT_TIMEOUT_MS)
    try:
        page = context.new_page()
        page.goto(sso_server.url + "/login")
        page.locator("#sso-login").click()
        expect(page.locator(".notice")).to_have_text("Single sign-on was cancelled.")
        expect(page).to_have_url(sso_server.url + "/login")
    finally:
        provider.deny = False
        context.close()
