"""Issue 18's trust boundary: where a login may send the browser, sessions that end, throttled
password guessing, and password hashing off the event loop."""
import pytest

from tests.accounts import csrf_token, register


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
