"""Single sign-on with OpenID Connect (issue 22), against a provider on 127.0.0.1 (tests/oidc_provider.py):
real HTTP, really signed ID tokens, the chat's side driven by the Flask test client as a browser."""

import json
import logging
import os
import threading
import time
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chat import create_app, names
from chat.accounts import oidc
from chat.accounts.models import UserIdentity
from chat.accounts.sessions import create_user
from chat.config import ConfigError, TestConfig
from chat.extensions import db
from chat.i18n import STRINGS
from chat.models import User
from tests.accounts import csrf_token, login, register
from tests.conftest import TEST_DB
from tests.fuzz_values import NAMES, TEXT, benign_text, hostile_text, wire_bytes, wrong_type
from tests.oidc_provider import CLIENT_ID, CLIENT_SECRET, Provider
from tests.servers import free_port
from tests.test_trust_boundary import logout, with_cookie

BASE = "http://chat.example.test"
CALLBACK = BASE + "/login/sso/callback"


@pytest.fixture(scope="module")
def provider():
    running = Provider().start()
    yield running
    running.stop()


@pytest.fixture(autouse=True)
def fresh_provider(provider):
    provider.user = {"sub": "u-1", "preferred_username": "alice", "name": "Alice Example"}
    provider.mode, provider.deny, provider.token_delay, provider.metadata_issuer = None, False, 0.0, None
    provider.requests.clear()


@pytest.fixture
def sso_app(make_app, provider):
    def build(**overrides):
        settings = dict(
            CHAT_OIDC_ISSUER=provider.issuer("a"),
            CHAT_OIDC_CLIENT_ID=CLIENT_ID,
            CHAT_OIDC_CLIENT_SECRET=CLIENT_SECRET,
            CHAT_OIDC_NAME="Example ID",
            CHAT_BASE_URL=BASE,
        )
        settings.update(overrides)
        return make_app(**settings)

    return build


class Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records = []

    def emit(self, record):
        self.records.append(record)

    def text(self, level=logging.WARNING):
        return "\n".join(r.getMessage() for r in self.records if r.levelno >= level)

    def errors(self):
        return [r.getMessage() for r in self.records if r.levelno >= logging.ERROR]


@pytest.fixture
def chat_log():
    """What the app logs (the `chat` logger does not propagate to pytest's caplog)."""
    handler, logger = Records(), logging.getLogger("chat")
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


def begin(client, target=None, **headers):
    """Press "Sign in with …": where the browser is sent (the provider's /authorize)."""
    response = client.get("/login/sso", query_string={"next": target} if target else None, headers=headers)
    assert response.status_code == 302, response.get_data(as_text=True)
    return response.headers["Location"]


def at_provider(url):
    """The browser at the provider, which consents at once: the chat URL it is sent back to."""
    answer = requests.get(url, allow_redirects=False, timeout=5)
    assert answer.status_code == 302, answer.text
    back = answer.headers["Location"]
    assert back.startswith(CALLBACK + "?")
    return back[len(BASE) :]


def sso(client, target=None):
    """The whole sign-in; the callback's response."""
    return client.get(at_provider(begin(client, target)))


def user_id(client):
    with client.session_transaction() as cookie:
        return int(cookie["_user_id"]) if "_user_id" in cookie else None


def refused_with(client, response, key):
    """The callback sent the browser to the login page, which says why; nobody is signed in."""
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert STRINGS["en"][key] in page
    assert user_id(client) is None


def users(app):
    with app.app_context():
        return {user.id: user.name for user in db.session.execute(db.select(User)).scalars()}


def identities(app):
    with app.app_context():
        rows = db.session.execute(db.select(UserIdentity)).scalars()
        return {(row.issuer, row.subject): row.user_id for row in rows}


def test_first_sign_in_creates_the_user_and_the_second_is_the_same_user(sso_app, provider):
    app = sso_app()
    first = app.test_client()
    response = sso(first)
    assert response.status_code == 302 and response.headers["Location"] == "/"
    uid = user_id(first)
    assert users(app) == {uid: "alice"}
    assert identities(app) == {(provider.issuer("a"), "u-1"): uid}
    with app.app_context():
        user = db.session.get(User, uid)
        assert (user.is_guest, user.password_hash) == (False, None)
    assert "alice" in first.get("/").get_data(as_text=True)

    second = app.test_client()  # another browser, the same person at the provider
    sso(second)
    assert user_id(second) == uid and len(users(app)) == 1


def test_the_request_uses_pkce_state_and_nonce_and_a_redirect_uri_from_the_base_url(sso_app, provider):
    app = sso_app()
    client = app.test_client()
    url = begin(client, Host="evil.example", **{"X-Forwarded-Host": "evil.example"})
    args = {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}
    assert args["redirect_uri"] == CALLBACK
    assert args["code_challenge_method"] == "S256" and len(args["code_challenge"]) == 43
    assert len(args["state"]) >= 20 and len(args["nonce"]) >= 20
    assert set(args["scope"].split()) == {"openid", "profile"}
    sso(client)  # (the cookie above went to evil.example's jar: a new sign-in from this host)
    token_request = [entry[2] for entry in provider.requests if entry[0] == "token"][-1]
    assert token_request["redirect_uri"] == CALLBACK and len(token_request["code_verifier"]) >= 43
    assert user_id(client) is not None  # the provider checked the verifier against the challenge


def test_discovery_and_keys_are_fetched_once_and_cached(sso_app, provider):
    app = sso_app()
    for _ in range(3):
        sso(app.test_client())
    fetched = [entry[0] for entry in provider.requests]
    assert fetched.count("discovery") == 1 and fetched.count("jwks") == 1


def test_the_same_subject_at_another_issuer_is_another_user(sso_app, provider):
    app = sso_app()
    first = app.test_client()
    sso(first)
    app.config["CHAT_OIDC_ISSUER"] = provider.issuer("b")  # the operator moves to another provider
    oidc.init_app(app)
    second = app.test_client()
    sso(second)
    assert user_id(second) != user_id(first)
    assert users(app) == {user_id(first): "alice", user_id(second): "alice-2"}
    assert identities(app) == {
        (provider.issuer("a"), "u-1"): user_id(first),
        (provider.issuer("b"), "u-1"): user_id(second),
    }


@pytest.mark.parametrize(
    "mode",
    [
        "expired",
        "wrong_aud",
        "wrong_nonce",
        "no_nonce",
        "wrong_iss",
        "wrong_key",
        "tampered",
        "hs256",
        "no_id_token",
        "no_sub",
        "sub_not_text",
        "id_token_not_text",
        "jwks_broken",
    ],
)
def test_a_bad_id_token_is_refused(sso_app, provider, mode, chat_log):
    app = sso_app()
    provider.mode = mode
    client = app.test_client()
    refused_with(client, sso(client), "sso_failed")
    assert users(app) == {} and identities(app) == {}
    assert "single sign-on refused" in chat_log.text()
    assert chat_log.errors() == []


def test_a_state_that_is_not_this_browsers_is_refused(sso_app):
    app = sso_app()
    victim, attacker = app.test_client(), app.test_client()
    back = at_provider(begin(attacker))  # the attacker's own code, for the attacker's account
    refused_with(victim, victim.get(back), "sso_expired")  # login CSRF: the victim's browser holds no such state
    forged = back.replace("state=", "state=x")
    refused_with(attacker, attacker.get(forged), "sso_expired")
    assert attacker.get(back).status_code == 302 and user_id(attacker) is not None  # the real one still works
    replay = app.test_client()
    refused_with(replay, replay.get(back), "sso_expired")
    assert len(users(app)) == 1


def test_a_used_callback_is_refused_the_second_time(sso_app):
    app = sso_app()
    client = app.test_client()
    back = at_provider(begin(client))
    client.get(back)
    logout(client)
    refused_with(client, client.get(back), "sso_expired")


def test_a_denial_at_the_provider_says_so(sso_app, provider):
    app = sso_app()
    provider.deny = True
    client = app.test_client()
    refused_with(client, sso(client), "sso_denied")


def test_an_unreachable_provider_says_so_without_a_500(sso_app):
    app = sso_app(CHAT_OIDC_ISSUER=f"http://127.0.0.1:{free_port()}/nobody")
    client = app.test_client()
    response = client.get("/login/sso")
    refused_with(client, response, "sso_unavailable")


def test_a_slow_token_endpoint_times_out(sso_app, provider):
    app = sso_app(CHAT_OIDC_TIMEOUT=0.5)
    client = app.test_client()
    back = at_provider(begin(client))
    provider.token_delay = 3
    started = time.monotonic()
    response = client.get(back)
    assert time.monotonic() - started < 2.5
    refused_with(client, response, "sso_unavailable")


def test_a_discovery_document_naming_another_issuer_is_refused(sso_app, provider, monkeypatch):
    monkeypatch.setattr(oidc, "DISCOVERY_RETRY_AFTER", 0.5)
    app = sso_app()
    provider.metadata_issuer = "https://impostor.example"
    client = app.test_client()
    refused_with(client, client.get("/login/sso"), "sso_unavailable")
    provider.metadata_issuer = None  # fixed at the provider
    refused_with(client, client.get("/login/sso"), "sso_unavailable")  # not asked again at once
    assert [entry[0] for entry in provider.requests] == ["discovery"]
    time.sleep(0.6)
    sso(client)  # fetched again, then trusted
    assert user_id(client) is not None


def test_sso_only_mode_refuses_password_login_and_registration(sso_app):
    app = sso_app(CHAT_SSO_ONLY=True)
    with app.app_context():
        create_user("bob", "correct horse")
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    assert 'id="sso-login"' in page and "Sign in with Example ID" in page
    assert 'action="/login"' not in page and 'action="/register"' not in page
    token = csrf_token(page, "guest")  # one CSRF token per session, whichever form carries it
    fields = {"name": "bob", "password": "correct horse", "confirm": "correct horse"}
    for path, prefix in (("/login", "login"), ("/register", "register")):
        data = {f"{prefix}-csrf_token": token, **{f"{prefix}-{k}": v for k, v in fields.items()}}
        response = client.post(path, data=data)
        assert response.status_code == 403
        assert STRINGS["en"]["sso_only"] in response.get_data(as_text=True)
        assert user_id(client) is None
    assert sorted(users(app).values()) == ["bob"]
    guest_data = {"guest-csrf_token": token, "guest-name": "visitor"}
    assert client.post("/guest", data=guest_data).status_code == 302  # guests follow CHAT_ALLOW_GUESTS
    sso(app.test_client())
    assert sorted(users(app).values()) == ["alice", "bob", "visitor"]


def test_sso_only_mode_without_guests_refuses_guests(sso_app):
    app = sso_app(CHAT_SSO_ONLY=True, CHAT_ALLOW_GUESTS=False, WTF_CSRF_ENABLED=False)
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    assert "<form" not in page and 'id="sso-login"' in page  # the button is all there is
    assert client.post("/guest", data={"guest-name": "visitor"}).status_code == 403
    assert client.post("/login", data={"login-name": "visitor", "login-password": "x" * 8}).status_code == 403
    assert users(app) == {}


def test_with_creation_off_only_known_identities_sign_in(sso_app, provider):
    app = sso_app(CHAT_OIDC_CREATE_USERS=False)
    client = app.test_client()
    refused_with(client, sso(client), "sso_no_account")
    assert users(app) == {}
    with app.app_context():
        create_user("Alice", "correct horse")
    runner = app.test_cli_runner()
    assert runner.invoke(args=["chat", "sso-link", "nobody", "u-1"]).exit_code != 0
    linked = runner.invoke(args=["chat", "sso-link", "ALICE", "u-1"])  # the operator links the account
    assert linked.exit_code == 0, linked.output
    uid = next(iter(users(app)))
    sso(client)
    assert user_id(client) == uid and users(app) == {uid: "Alice"}
    assert runner.invoke(args=["chat", "sso-link", "Alice", "u-1"]).exit_code == 0  # again: no change
    assert identities(app) == {(provider.issuer("a"), "u-1"): uid}
    unlinked = runner.invoke(args=["chat", "sso-link", "--unlink", "Alice", "u-1"])
    assert unlinked.exit_code == 0, unlinked.output
    other = app.test_client()
    refused_with(other, sso(other), "sso_no_account")
    assert runner.invoke(args=["chat", "sso-link", "--unlink", "Alice", "u-1"]).exit_code != 0


def test_an_identity_links_to_one_user_only(sso_app):
    app = sso_app()
    with app.app_context():
        create_user("bob", "correct horse")
    sso(app.test_client())  # creates alice with identity u-1
    refused = app.test_cli_runner().invoke(args=["chat", "sso-link", "bob", "u-1"])
    assert refused.exit_code != 0 and "already signs in as 'alice'" in refused.output


@pytest.mark.skipif(TEST_DB != "postgresql", reason="two sign-ins at once need a server database")
def test_two_first_sign_ins_of_one_identity_at_once_make_one_account(sso_app, monkeypatch):
    app = sso_app()
    browsers = [app.test_client() for _ in range(4)]
    backs = [at_provider(begin(browser)) for browser in browsers]  # four tabs, one person
    barrier = threading.Barrier(len(browsers), timeout=20)
    first_lookup, looked_up = threading.Barrier(len(browsers), timeout=20), threading.local()
    lookup = oidc.identity_user

    def lookup_together(issuer, subject):
        """Each sign-in finds no account before any of them creates one (the race, every time)."""
        found = lookup(issuer, subject)
        if not getattr(looked_up, "once", False):
            looked_up.once = True
            first_lookup.wait()
        return found

    monkeypatch.setattr(oidc, "identity_user", lookup_together)
    answers = []

    def finish(browser, back):
        barrier.wait()
        answers.append(browser.get(back).status_code)

    threads = [threading.Thread(target=finish, args=pair) for pair in zip(browsers, backs, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert answers == [302] * len(browsers)
    assert len(users(app)) == 1 and len(identities(app)) == 1, users(app)
    assert {user_id(browser) for browser in browsers} == set(users(app))


def test_a_taken_name_gets_a_suffix_and_is_never_linked(sso_app, provider):
    app = sso_app()
    owner = app.test_client()
    register(owner, "alice")
    local = user_id(owner)
    provider.user = {"sub": "u-9", "preferred_username": "ＡＬＩＣＥ"}  # the same key as "alice"
    client = app.test_client()
    sso(client)
    assert user_id(client) != local
    assert users(app)[user_id(client)] == "ALICE-2"
    other = app.test_client()
    login(other, "alice")
    assert user_id(other) == local  # the local account is untouched, its password still its own


@pytest.mark.parametrize(
    ("claims", "expected"),
    [
        ({"preferred_username": "a\u200bb", "name": "Bea Example"}, "Bea Example"),  # invisible: the next claim
        ({"preferred_username": "\u202eevil"}, "user"),  # bidi override, no other claim
        ({"preferred_username": "x" * 100}, "x" * 32),  # cut to CHAT_MAX_NAME_LENGTH
        ({"preferred_username": "  spaced   out "}, "spaced out"),
        ({"preferred_username": 42, "name": ["list"]}, "user"),
    ],
)
def test_the_name_comes_from_the_claims_by_the_rule_for_names(sso_app, provider, claims, expected):
    app = sso_app()
    provider.user = {"sub": "u-2", **claims}
    client = app.test_client()
    sso(client)
    assert users(app)[user_id(client)] == expected


def test_logout_ends_the_sso_session(sso_app):
    app = sso_app()
    client = app.test_client()
    sso(client)
    cookie = client.get_cookie("session").value
    assert with_cookie(app, cookie).get("/api/rooms").status_code == 200
    assert logout(client).status_code == 302
    assert user_id(client) is None
    assert with_cookie(app, cookie).get("/api/rooms").status_code == 401


def test_a_deactivated_user_is_refused(sso_app, monkeypatch):
    app = sso_app()
    client = app.test_client()
    sso(client)
    uid = user_id(client)
    logout(client)
    monkeypatch.setattr(User, "is_active", property(lambda user: user.id != uid))
    refused_with(client, sso(client), "sso_deactivated")


@pytest.mark.parametrize(
    ("target", "landing"),
    [
        ("/?room=general", "/?room=general"),
        ("//evil.example/", "/"),
        ("/\t/evil.example", "/"),
        ("https://evil.example/", "/"),
        ("/" + "a" * 5000, "/"),
    ],
)
def test_next_follows_the_logins_rule(sso_app, target, landing):
    app = sso_app()
    client = app.test_client()
    response = sso(client, target)
    assert response.status_code == 302 and response.headers["Location"] == landing


@pytest.mark.parametrize(
    "query",
    [
        {"state": "\x00", "code": "x"},
        {"state": "s" * 10000, "code": "\ud800".encode("utf-8", "surrogatepass")},
        {"error": "\x00\x1b[31m", "state": "x"},
        {"error": "access_denied"},
        {"code": "abc"},
        {},
    ],
)
def test_hostile_callbacks_get_the_login_page_never_a_500(sso_app, query, chat_log):
    app = sso_app()
    client = app.test_client()
    response = client.get("/login/sso/callback", query_string=query)
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert client.get(response.headers["Location"]).status_code == 200
    assert chat_log.errors() == [] and "single sign-on refused" in chat_log.text()
    assert user_id(client) is None


def test_single_sign_on_is_off_without_an_issuer(make_app):
    client = make_app().test_client()
    assert client.get("/login/sso").status_code == 404
    assert client.get("/login/sso/callback?state=x&code=y").status_code == 404
    assert 'id="sso-login"' not in client.get("/login").get_data(as_text=True)


def test_the_login_page_names_the_provider_escaped_in_both_languages(sso_app):
    app = sso_app(CHAT_OIDC_NAME="<b>Corp</b>")
    client = app.test_client()
    english = client.get("/login?lang=en").get_data(as_text=True)
    assert "Sign in with &lt;b&gt;Corp&lt;/b&gt;" in english and "<b>Corp" not in english
    assert "&lt;b&gt;Corp&lt;/b&gt; でログイン" in client.get("/login?lang=ja").get_data(as_text=True)
    assert 'href="/login/sso?next=/?room%3Dx"' in client.get("/login?next=/?room=x").get_data(as_text=True)


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"CHAT_SSO_ONLY": True}, "CHAT_SSO_ONLY"),
        ({"CHAT_OIDC_ISSUER": "https://id.example", "CHAT_OIDC_CLIENT_ID": "c"}, "CHAT_BASE_URL"),
        ({"CHAT_OIDC_ISSUER": "https://id.example", "CHAT_BASE_URL": "https://chat.example"}, "CHAT_OIDC_CLIENT_ID"),
        ({"CHAT_OIDC_ISSUER": "ftp://id.example", "CHAT_OIDC_CLIENT_ID": "c"}, "CHAT_OIDC_ISSUER"),
        ({"CHAT_OIDC_ISSUER": "https://id.example/\n", "CHAT_OIDC_CLIENT_ID": "c"}, "CHAT_OIDC_ISSUER"),
        (
            {"CHAT_OIDC_ISSUER": "http://id.example", "CHAT_ENV": "production", "CHAT_OIDC_CLIENT_ID": "c"},
            "CHAT_OIDC_ISSUER",
        ),
        (
            {
                "CHAT_OIDC_ISSUER": "https://id.example",
                "CHAT_OIDC_CLIENT_ID": "c",
                "CHAT_BASE_URL": "https://chat.example",
                "CHAT_OIDC_SCOPE": "profile",
            },
            "CHAT_OIDC_SCOPE",
        ),
    ],
)
def test_a_configuration_that_cannot_work_refuses_to_start(settings, named):
    with pytest.raises(ConfigError, match=named):
        create_app(TestConfig(**settings))


# ---- property-based: hostile claims and hostile callbacks (tests/fuzz_values.py) ----

EXAMPLES = max(10, int(os.environ.get("CHAT_FUZZ_EXAMPLES", "100")) // 4)  # each example is a whole sign-in
fuzz = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=os.environ.get("CHAT_FUZZ_SEED", "") != "random",
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)


def in_a_token(value):
    """What a provider can put in a JSON ID token: no lone surrogate (no UTF-8 for it), no bytes, no NaN;
    and short of joserfc's size limit (test_an_id_token_too_large_is_refused)."""
    try:
        size = len(json.dumps(value, allow_nan=False).encode())
    except (TypeError, ValueError):
        return False
    if size > 20_000:
        return False
    return not isinstance(value, str) or not any(0xD800 <= ord(ch) <= 0xDFFF for ch in value)


def test_an_id_token_too_large_is_refused(sso_app, provider):
    app = sso_app()
    provider.user = {"sub": "u-3", "preferred_username": "a" * 100_000}  # joserfc refuses over ~128 KB
    client = app.test_client()
    refused_with(client, sso(client), "sso_failed")
    assert users(app) == {}


@pytest.fixture
def one_app(sso_app):
    """One app for all of a property test's examples (each example signs in someone new)."""
    return sso_app()


@fuzz
@given(
    claim=st.one_of(hostile_text(NAMES, 32, near=("alice",)), hostile_text(TEXT, 32), wrong_type()).filter(in_a_token)
)
def test_any_name_claim_makes_an_account_with_a_name_the_rule_accepts(one_app, provider, claim):
    app = one_app
    provider.user = {"sub": uuid.uuid4().hex, "preferred_username": claim, "name": claim}
    client = app.test_client()
    response = sso(client)
    assert response.status_code == 302 and response.headers["Location"] == "/"
    name = users(app)[user_id(client)]
    assert names.checked_name(name, app.config["CHAT_MAX_NAME_LENGTH"]) == name


@fuzz
@given(
    query=st.dictionaries(
        st.sampled_from(["state", "code", "error", "error_description", "iss", "session_state"]),
        st.one_of(hostile_text(TEXT, 200), hostile_text(NAMES, 200), benign_text()).map(wire_bytes),
        max_size=4,
    )
)
def test_a_hostile_callback_gets_the_login_page(one_app, query):
    client = one_app.test_client()
    response = client.get("/login/sso/callback", query_string=query)
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert user_id(client) is None


def test_a_deleted_account_takes_its_identities_with_it(sso_app):
    app = sso_app()
    client = app.test_client()
    sso(client)
    with app.app_context():  # account deletion (another part of issue 22) deletes the user row
        db.session.execute(db.delete(User).where(User.id == user_id(client)))
        db.session.commit()
    assert identities(app) == {}
    again = app.test_client()
    sso(again)  # the same person comes back: a new account, not an error
    assert list(users(app).values()) == ["alice"] and set(identities(app).values()) == {user_id(again)}


def test_a_browser_keeps_only_its_newest_pending_sign_ins(sso_app):
    app = sso_app()
    client = app.test_client()
    urls = [begin(client) for _ in range(oidc.MAX_PENDING + 2)]  # tabs opened and left
    assert len(client.get_cookie("session").value) < 2000  # the cookie stays small
    backs = [at_provider(url) for url in urls]
    refused_with(client, client.get(backs[0]), "sso_expired")  # the oldest was forgotten
    assert client.get(backs[-1]).headers["Location"] == "/" and user_id(client) is not None
