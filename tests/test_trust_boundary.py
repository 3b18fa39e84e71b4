"""Issue 18's trust boundary: where a login may send the browser, sessions that end, throttled
password guessing, and password hashing off the event loop."""
import pytest

from chat.config import database_url
from chat.extensions import db, socketio
from chat.models import User
from chat.users import end_sessions
from tests.accounts import csrf_token, login, register


def login_with_next(client, next_value, name="dave", password="correct horse"):
    page = client.get("/login").get_data(as_text=True)
    return client.post("/login", data={
        "login-csrf_token": csrf_token(page, "login"), "login-name": name, "login-password": password,
        "next": next_value,
    })


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


@pytest.mark.parametrize("raw", ["/%09/evil.example", "/%0d%0aSet-Cookie:%20x=1", "/%0a/evil", "%2F%2Fevil.example",
                                 "/%5Cevil.example", "javascript:alert(1)"])
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
