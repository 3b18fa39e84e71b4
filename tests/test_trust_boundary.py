"""Issue 18's trust boundary: where a login may send the browser, sessions that end, throttled
password guessing, and password hashing off the event loop."""

import os
import threading
import time
import uuid

import pytest
import redis

from chat.accounts import sessions as users
from chat.accounts.sessions import end_sessions
from chat.blocking import BlockingPool, Busy
from chat.blocking import pool as blocking_pool
from chat.config import Config, ConfigError, TestConfig, database_url
from chat.extensions import db, socketio
from chat.models import User
from tests.accounts import csrf_token, guest, login, register
from tests.conftest import skip_or_fail


def login_with_next(client, next_value, name="dave", password="correct horse"):
    page = client.get("/login").get_data(as_text=True)
    return client.post(
        "/login",
        data={
            "login-csrf_token": csrf_token(page, "login"),
            "login-name": name,
            "login-password": password,
            "next": next_value,
        },
    )


OFF_SITE = [
    "/\t/evil.example",  # /%09/evil.example: browsers drop the tab and read //evil.example
    "/\n/evil.example",
    "/\r/evil.example",
    "//evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "/\\/evil.example",
    "https://evil.example/",
    "http:evil.example",
    " //evil.example",
    "\t//evil.example",
    "javascript:alert(1)",
    "JavaScript:alert(1)",
    "evil.example",
    "/%0d%0aSet-Cookie: x=1".replace("%0d%0a", "\r\n"),
    "/\x00/evil.example",
    "/\x7f/evil.example",
]


@pytest.mark.parametrize("target", OFF_SITE)
def test_login_never_redirects_off_site(app, target):
    register(app.test_client(), "dave")
    client = app.test_client()
    response = login_with_next(client, target)
    assert response.status_code == 302 and response.headers["Location"] == "/"
    # Signed in already: GET /login?next=… redirects at once, through the same check.
    response = client.get("/login", query_string={"next": target})
    assert response.status_code == 302 and response.headers["Location"] == "/"


@pytest.mark.parametrize(
    "raw",
    [
        "/%09/evil.example",
        "/%0d%0aSet-Cookie:%20x=1",
        "/%0a/evil",
        "%2F%2Fevil.example",
        "/%5Cevil.example",
        "javascript:alert(1)",
    ],
)
def test_raw_query_strings_are_checked_after_decoding(app, raw):
    register(app.test_client(), "dave")
    client = app.test_client()
    login_with_next(client, "/")
    response = client.get(f"/login?next={raw}")
    assert response.status_code == 302 and response.headers["Location"] == "/"


@pytest.mark.parametrize("target", ["/", "/?lang=en", "/api/rooms", "/?room=%E9%9B%91%E8%AB%87#x"])
def test_paths_on_this_site_are_kept(app, target):
    register(app.test_client(), "dave")
    response = login_with_next(app.test_client(), target)
    assert response.status_code == 302 and response.headers["Location"] == target


# --- Sessions that end ------------------------------------------------------------------------


def copy_of(app, client):
    """Another browser holding the same session cookie (copied before logout)."""
    return with_cookie(app, client.get_cookie("session").value)


def with_cookie(app, cookie):
    client = app.test_client()
    client.set_cookie("session", cookie)
    return client


def logout(client):
    page = client.get("/").get_data(as_text=True)
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    return client.post("/logout", data={"csrf_token": token})


def assert_gets_nothing(app, client):
    """The page sends it to the login form, the HTTP API answers 401, the socket is refused;
    each tried with the cookie as copied (a thief ignores the server's order to forget it)."""
    cookie = client.get_cookie("session").value
    page = with_cookie(app, cookie).get("/")
    assert page.status_code == 302 and page.headers["Location"].startswith("/login")
    api = with_cookie(app, cookie).get("/api/rooms")
    assert api.status_code == 401 and api.get_json()["error"]["code"] == "unauthorized"
    sock = socketio.test_client(app, flask_test_client=with_cookie(app, cookie))
    assert not sock.is_connected()


def test_a_cookie_copied_before_logout_gets_nothing(app):
    owner = app.test_client()
    register(owner, "Ivy")
    thief = copy_of(app, owner)
    assert thief.get("/").status_code == 200  # the copy works while the owner is signed in
    assert logout(owner).status_code == 302
    assert_gets_nothing(app, thief)
    assert owner.get("/").status_code == 302


def test_a_logout_racing_with_a_connect_leaves_no_socket_open(app, monkeypatch):
    """The connect reads the session (still current), a logout on another request commits and
    closes the user's channel, then the connect joins that channel: it must not stay open."""
    from chat.connections import lifecycle as connection

    client = app.test_client()
    register(client, "Rae")
    join = connection.join_room

    def logged_out_meanwhile(room, *args, **kwargs):
        if room.startswith("user:"):
            with app.app_context():
                end_sessions(db.session.execute(db.select(User).filter_by(name="Rae")).scalar_one())
        return join(room, *args, **kwargs)

    monkeypatch.setattr(connection, "join_room", logged_out_meanwhile)
    sock = socketio.test_client(app, flask_test_client=client)
    assert not sock.is_connected()


def test_logging_in_again_after_logout_works(app):
    client = app.test_client()
    register(client, "Jay")
    old = copy_of(app, client)
    logout(client)
    assert login(client, "Jay").status_code == 302
    assert client.get("/").status_code == 200
    sock = socketio.test_client(app, flask_test_client=client)
    assert sock.is_connected()
    sock.disconnect()
    assert old.get("/api/rooms").status_code == 401


def test_a_logged_out_cookie_gets_nothing_from_another_node(make_app, app_database_url, tmp_path):
    url = app_database_url if app_database_url.startswith("postgresql") else f"sqlite:///{tmp_path / 'shared.db'}"
    node1 = make_app(SQLALCHEMY_DATABASE_URI=database_url(url))
    node2 = make_app(SQLALCHEMY_DATABASE_URI=database_url(url))  # one database, two processes' apps
    owner = node1.test_client()
    register(owner, "Kim")
    on_node2 = copy_of(node2, owner)
    assert on_node2.get("/").status_code == 200  # the same cookie is good on every node
    logout(owner)
    assert_gets_nothing(node2, on_node2)


def test_end_sessions_ends_every_session_and_closes_sockets(app):
    phone, laptop = app.test_client(), app.test_client()
    register(phone, "Lee")
    login(laptop, "Lee")
    sock = socketio.test_client(app, flask_test_client=laptop)
    assert sock.is_connected()
    with app.app_context():
        end_sessions(db.session.execute(db.select(User).filter_by(name_key="lee")).scalar_one())
    assert not sock.is_connected()
    for client in (phone, laptop):
        assert_gets_nothing(app, client)


def test_a_session_from_before_the_upgrade_still_works_until_logout(app):
    client = app.test_client()
    register(client, "Max")
    with client.session_transaction() as sess:
        sess.pop("session_generation")  # what a cookie signed before this version holds
    assert client.get("/").status_code == 200
    old = copy_of(app, client)
    logout(client)
    assert old.get("/api/rooms").status_code == 401


# --- Blocking work off the event loop, bounded ------------------------------------------------


def test_the_blocking_pool_runs_jobs_and_passes_their_errors_on():
    pool = BlockingPool(threads=2, queue=0, mode="threading")
    assert pool.run(pow, 2, 10) == 1024
    with pytest.raises(ZeroDivisionError):
        pool.run(divmod, 1, 0)
    assert pool.admitted == 0


def test_the_blocking_pool_bounds_running_and_waiting_jobs():
    pool = BlockingPool(threads=1, queue=1, mode="threading")
    release, running, results = threading.Event(), [], []

    def job(n):
        running.append(n)
        release.wait(10)
        return n

    first = threading.Thread(target=lambda: results.append(pool.run(job, 1)))
    second = threading.Thread(target=lambda: results.append(pool.run(job, 2)))
    first.start()
    wait_until(lambda: running == [1])
    second.start()
    wait_until(lambda: pool.admitted == 2)
    assert running == [1]  # one at a time: the second waits for a slot
    with pytest.raises(Busy) as refused:
        pool.run(job, 3)  # no room left to wait: refused at once, with a clear code
    assert refused.value.code == "busy"
    release.set()
    first.join(10)
    second.join(10)
    assert sorted(results) == [1, 2] and running == [1, 2] and pool.admitted == 0


def test_the_blocking_bounds_come_from_the_environment(monkeypatch, make_app):
    monkeypatch.setenv("CHAT_BLOCKING_THREADS", "3")
    monkeypatch.setenv("CHAT_BLOCKING_QUEUE", "7")
    app = make_app()
    with app.app_context():
        made = blocking_pool()
    assert (made.threads, made.capacity) == (3, 10)
    monkeypatch.setenv("CHAT_BLOCKING_THREADS", "0")
    with pytest.raises(ConfigError, match="CHAT_BLOCKING_THREADS"):
        TestConfig()


def test_a_full_pool_answers_the_login_form_with_503_not_a_traceback(make_app):
    app = make_app(CHAT_BLOCKING_THREADS=1, CHAT_BLOCKING_QUEUE=0)
    register(app.test_client(), "Ned")
    with app.app_context():
        blocking_pool().admitted = 1  # another password check holds the only slot
    response = login(app.test_client(), "Ned")
    assert response.status_code == 503 and response.headers["Retry-After"] == "1"
    assert 'class="field-error"' in response.get_data(as_text=True)


def wait_until(predicate, timeout=5):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


# --- Password guessing, throttled -------------------------------------------------------------


def attempt(app, name, password, address="192.0.2.1", headers=None):
    """One login from a fresh browser at `address`."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    if headers:
        client.environ_base.update({f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()})
    return login(client, name, password)


def throttled_app(make_app, account="10 per 10 minutes", address="30 per 10 minutes", **overrides):
    app = make_app(CHAT_LOGIN_ACCOUNT_LIMIT=account, CHAT_LOGIN_ADDRESS_LIMIT=address, **overrides)
    register(app.test_client(), "victim", "right password")
    return app


def test_thirty_wrong_passwords_then_the_right_one_does_not_sign_in(make_app):
    app = throttled_app(make_app)
    statuses = [attempt(app, "victim", f"guess {i}", address=f"198.51.100.{i}").status_code for i in range(30)]
    assert statuses[:10] == [401] * 10 and set(statuses[10:]) == {429}  # every guess from its own address
    response = attempt(app, "Victim", "right password", address="203.0.113.9", headers={"Accept-Language": "ja"})
    assert response.status_code == 429
    retry_after = int(response.headers["Retry-After"])
    assert 0 < retry_after <= 600
    assert "ログインの失敗が続きました" in response.get_data(as_text=True)
    english = attempt(app, "victim", "right password", headers={"Accept-Language": "en"})
    assert english.status_code == 429 and "Too many failed log-ins" in english.get_data(as_text=True)
    assert 'class="field-error"' in english.get_data(as_text=True)


def test_guesses_sent_all_at_once_get_no_more_tries_than_the_limit(make_app):
    app = throttled_app(make_app, account="5 per 10 minutes", address=None)
    start, statuses = threading.Barrier(20), []

    def guess(i):
        start.wait(10)
        statuses.append(attempt(app, "victim", f"guess {i}", address=f"198.51.100.{i}").status_code)

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(statuses) == [401] * 5 + [429] * 15  # each attempt is counted before its password is checked


def test_one_address_guessing_at_many_accounts_is_throttled(make_app):
    app = throttled_app(make_app, account=None, address="5 per 10 minutes")
    assert [attempt(app, f"user{i}", "guess", address="192.0.2.7").status_code for i in range(5)] == [401] * 5
    assert attempt(app, "victim", "right password", address="192.0.2.7").status_code == 429
    assert attempt(app, "victim", "right password", address="192.0.2.8").status_code == 302  # another address


def test_only_failures_count_and_the_owner_getting_in_clears_them(make_app):
    app = throttled_app(make_app, account="3 per 10 minutes")
    assert all(attempt(app, "victim", "right password").status_code == 302 for _ in range(10))
    for _ in range(3):
        assert attempt(app, "victim", "typo", address="192.0.2.20").status_code == 401
        assert attempt(app, "victim", "typo", address="192.0.2.21").status_code == 401
        assert attempt(app, "victim", "right password", address="192.0.2.22").status_code == 302


def test_unknown_names_and_guests_are_checked_against_a_hash_like_real_ones(make_app, monkeypatch):
    app = throttled_app(make_app, account="2 per 10 minutes", address=None)
    guest(app.test_client(), "visitor")
    checked = []
    real_check = users.check_password_hash
    monkeypatch.setattr(
        users, "check_password_hash", lambda stored, pw: checked.append(stored) or real_check(stored, pw)
    )
    for name in ("victim", "nobody", "visitor"):
        assert attempt(app, name, "wrong password").status_code == 401
    method = lambda stored: stored.split("$")[0]  # noqa: E731  e.g. "scrypt:32768:8:1"
    assert len(checked) == 3 and {method(h) for h in checked} == {method(checked[0])}
    # Unknown names are throttled too: they cannot be told apart from real ones by that either.
    assert attempt(app, "nobody", "wrong password").status_code == 401
    assert attempt(app, "nobody", "wrong password").status_code == 429


def test_x_forwarded_for_counts_only_behind_a_trusted_proxy(make_app):
    direct = throttled_app(make_app, account=None, address="2 per 10 minutes")
    for i in range(2):  # a forged header cannot make each guess look like another client
        assert attempt(direct, "victim", "guess", headers={"X-Forwarded-For": f"203.0.113.{i}"}).status_code == 401
    assert attempt(direct, "victim", "guess", headers={"X-Forwarded-For": "203.0.113.99"}).status_code == 429
    proxied = throttled_app(make_app, account=None, address="2 per 10 minutes", CHAT_TRUSTED_PROXIES=1)
    for _ in range(2):
        assert attempt(proxied, "victim", "guess", headers={"X-Forwarded-For": "203.0.113.1"}).status_code == 401
    assert attempt(proxied, "victim", "guess", headers={"X-Forwarded-For": "203.0.113.1"}).status_code == 429
    assert attempt(proxied, "victim", "right password", headers={"X-Forwarded-For": "203.0.113.2"}).status_code == 302


@pytest.fixture
def redis_url():
    url = os.environ.get("CHAT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError as exc:
        skip_or_fail(f"Redis is not reachable at {url}: {exc}")
    return url


def test_failures_are_counted_across_nodes_through_redis(make_app, redis_url, app_database_url, tmp_path):
    url = app_database_url if app_database_url.startswith("postgresql") else f"sqlite:///{tmp_path / 'shared.db'}"
    shared = dict(
        CHAT_LOGIN_LIMIT_STORAGE=redis_url,
        CHAT_QUEUE_CHANNEL=f"test-{uuid.uuid4().hex}",
        SQLALCHEMY_DATABASE_URI=database_url(url),
    )
    node1 = make_app(CHAT_LOGIN_ACCOUNT_LIMIT="4 per 10 minutes", CHAT_LOGIN_ADDRESS_LIMIT=None, **shared)
    node2 = make_app(CHAT_LOGIN_ACCOUNT_LIMIT="4 per 10 minutes", CHAT_LOGIN_ADDRESS_LIMIT=None, **shared)
    register(node1.test_client(), "victim", "right password")
    for node in (node1, node2, node1, node2):
        assert attempt(node, "victim", "guess").status_code == 401
    assert attempt(node1, "victim", "right password").status_code == 429
    assert attempt(node2, "victim", "right password").status_code == 429


def test_an_unreachable_redis_leaves_logins_working_and_throttled_in_memory(make_app):
    app = throttled_app(
        make_app, account="2 per 10 minutes", address=None, CHAT_LOGIN_LIMIT_STORAGE="redis://127.0.0.1:1/0"
    )
    assert attempt(app, "victim", "right password").status_code == 302
    assert [attempt(app, "victim", "guess").status_code for _ in range(3)] == [401, 401, 429]


def test_login_limits_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("CHAT_LOGIN_ACCOUNT_LIMIT", "5 per minute")
    monkeypatch.setenv("CHAT_LOGIN_ADDRESS_LIMIT", "off")
    config = Config()
    assert (config.CHAT_LOGIN_ACCOUNT_LIMIT, config.CHAT_LOGIN_ADDRESS_LIMIT) == ("5 per minute", None)
    monkeypatch.setenv("CHAT_LOGIN_ADDRESS_LIMIT", "lots")
    with pytest.raises(ConfigError, match="CHAT_LOGIN_ADDRESS_LIMIT"):
        Config()


def test_reset_password_from_the_command_line_ends_the_users_sessions(app):
    client = app.test_client()
    register(client, "Oda", "old password")
    sock = socketio.test_client(app, flask_test_client=client)
    old_cookie = client.get_cookie("session").value
    result = app.test_cli_runner().invoke(args=["chat", "reset-password", "oda"], input="new password\nnew password\n")
    assert result.exit_code == 0, result.output
    assert not sock.is_connected()
    assert_gets_nothing(app, with_cookie(app, old_cookie))
    assert login(app.test_client(), "Oda", "old password").status_code == 401
    assert login(app.test_client(), "Oda", "new password").status_code == 302
    short = app.test_cli_runner().invoke(args=["chat", "reset-password", "oda", "--password", "short"])
    assert short.exit_code != 0 and "characters" in short.output
    unknown = app.test_cli_runner().invoke(args=["chat", "reset-password", "nobody", "--password", "long enough"])
    assert unknown.exit_code != 0 and "No user called" in unknown.output
