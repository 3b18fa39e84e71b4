"""The code's shape: what a connection remembers lives in one place (chat/state.py)."""
import re
from pathlib import Path

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
