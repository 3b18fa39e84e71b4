"""Helpers that go through the real forms (CSRF token included), as a browser would."""

import re

TOKEN = re.compile(r'name="(?:(\w+)-)?csrf_token" type="hidden" value="([^"]+)"')


def csrf_token(html, prefix):
    for form_prefix, token in TOKEN.findall(html):
        if form_prefix == prefix:
            return token
    raise AssertionError(f"no CSRF token for {prefix!r} in page")


def form_post(client, path, prefix, **fields):
    """POST one of the login page's forms; `client` is a Flask test client or a requests.Session
    (then `path` must be a full URL)."""
    login_url = path.rsplit("/", 1)[0] + "/login"
    page = client.get(login_url)
    html = page.get_data(as_text=True) if hasattr(page, "get_data") else page.text
    data = {f"{prefix}-csrf_token": csrf_token(html, prefix)}
    data.update({f"{prefix}-{k}": v for k, v in fields.items()})
    if hasattr(client, "cookies") and not hasattr(client, "get_cookie"):  # requests
        return client.post(path, data=data, allow_redirects=False)
    return client.post(path, data=data)


def register(client, name, password="correct horse", base=""):
    return form_post(client, base + "/register", "register", name=name, password=password, confirm=password)


def login(client, name, password="correct horse", base=""):
    return form_post(client, base + "/login", "login", name=name, password=password)


def guest(client, name, base=""):
    return form_post(client, base + "/guest", "guest", name=name)
