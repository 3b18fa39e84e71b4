"""The code's shape: what a connection remembers and what a refused HTTP request gets are each decided in one place."""
import re
from pathlib import Path

import pytest

from chat.errors import ChatError

CHAT = Path(__file__).resolve().parent.parent / "chat"

# Flask's `session` read or written by key (not `db.session` or another object's `.session`).
RAW_SESSION = re.compile(r"(?<![\w.])session(\[|\.(get|setdefault|pop|clear|update|keys|items)\()")
# The one owner of the connection's session, and the accounts code, which uses the cookie's session
# (the login and its generation) in HTTP requests.
SESSION_OWNERS = {"state.py", "users.py"}


def chat_modules():
    return sorted(p for p in CHAT.rglob("*.py") if "__pycache__" not in p.parts)


def test_only_the_state_module_reads_the_connection_session():
    found = [
        f"{path.relative_to(CHAT.parent)}:{number}: {line.strip()}"
        for path in chat_modules() if path.name not in SESSION_OWNERS
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if RAW_SESSION.search(line)
    ]
    assert found == [], "raw session keys outside chat/state.py:\n" + "\n".join(found)


# What builds an HTTP error body or picks its status: chat/errors.py alone.
OWN_ERROR_PATH = re.compile(r"http_error\(|jsonify\(error|errorhandler\(|register_error_handler\(|\), 4\d\d\b")


def test_one_http_error_path():
    found = [
        f"{path.relative_to(CHAT.parent)}:{number}: {line.strip()}"
        for path in chat_modules() if path.name != "errors.py"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if OWN_ERROR_PATH.search(line) and "register_error_handler(socketio)" not in line
    ]
    assert found == [], "HTTP errors decided outside chat/errors.py:\n" + "\n".join(found)


@pytest.mark.parametrize(("code", "status"), [("conflict", 409), ("busy", 503), ("unknown_room", 404),
                                              ("too_long", 400), ("unauthorized", 401)])
def test_a_chat_error_in_any_view_answers_json_with_its_codes_status(make_app, code, status):
    app = make_app()

    @app.get("/api/layout-probe")
    def probe():
        raise ChatError(code, "refused here")

    response = app.test_client().get("/api/layout-probe")
    assert response.status_code == status
    assert response.get_json() == {"error": {"code": code, "message": "refused here"}}
