"""Helpers for the data tests: the settings pages' forms, as a browser sends them (CSRF included)."""

import re

from tests.accounts import register

PAGE_CSRF = re.compile(r'name="csrf[_-]token" (?:value|content)="([^"]+)"')
SECRET = re.compile(r'<code id="new-secret">([^<]+)</code>')


def page_csrf(client, path):
    html = client.get(path).get_data(as_text=True)
    return PAGE_CSRF.search(html).group(1)


def signed_in(app, name):
    client = app.test_client()
    assert register(client, name).status_code == 302
    return client


def make_token(client, name="script", scope="write", expires_days=""):
    """Create a token through /settings/tokens; returns the token shown once."""
    csrf = page_csrf(client, "/settings/tokens")
    response = client.post(
        "/settings/tokens", data={"csrf_token": csrf, "name": name, "scope": scope, "expires_days": expires_days}
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    return SECRET.search(response.get_data(as_text=True)).group(1)


def make_hook(client, room, name="deploy-bot"):
    """Create a webhook through the page; returns its URL's path."""
    csrf = page_csrf(client, "/settings/tokens")
    response = client.post("/settings/webhooks", data={"csrf_token": csrf, "room": room, "name": name})
    assert response.status_code == 201, response.get_data(as_text=True)
    url = SECRET.search(response.get_data(as_text=True)).group(1)
    return "/api/hooks/" + url.rsplit("/", 1)[1]


def bearer(token):
    return {"Authorization": f"Bearer {token}"}
