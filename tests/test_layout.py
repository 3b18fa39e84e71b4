"""The code's shape: capability packages without import loops, small modules and thin socket handlers;
what a connection remembers and what a refused HTTP request gets, each decided in one place."""

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

from chat.errors import ChatError

pytestmark = pytest.mark.once  # no database in it: the SQLite pass runs it (conftest.py)

CHAT = Path(__file__).resolve().parent.parent / "chat"

# Flask's `session` read or written by key (not `db.session` or another object's `.session`).
RAW_SESSION = re.compile(r"(?<![\w.])session(\[|\.(get|setdefault|pop|clear|update|keys|items)\()")
# The one owner of the connection's session, and the accounts code, which uses the cookie's session
# (the login and its generation) in HTTP requests.
SESSION_OWNERS = {"connections/state.py", "accounts/sessions.py", "accounts/pages.py", "accounts/oidc.py"}


def chat_modules():
    return sorted(p for p in CHAT.rglob("*.py") if "__pycache__" not in p.parts)


def test_only_the_state_module_reads_the_connection_session():
    found = [
        f"{path.relative_to(CHAT.parent)}:{number}: {line.strip()}"
        for path in chat_modules()
        if path.relative_to(CHAT).as_posix() not in SESSION_OWNERS
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if RAW_SESSION.search(line)
    ]
    assert found == [], "raw session keys outside chat/connections/state.py:\n" + "\n".join(found)


# What builds an HTTP error body or picks its status: chat/errors.py alone.
OWN_ERROR_PATH = re.compile(r"http_error\(|jsonify\(error|errorhandler\(|register_error_handler\(|\), 4\d\d\b")


def test_one_http_error_path():
    found = [
        f"{path.relative_to(CHAT.parent)}:{number}: {line.strip()}"
        for path in chat_modules()
        if path.name != "errors.py"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if OWN_ERROR_PATH.search(line) and "register_error_handler(socketio)" not in line
    ]
    assert found == [], "HTTP errors decided outside chat/errors.py:\n" + "\n".join(found)


@pytest.mark.parametrize(
    ("code", "status"),
    [("conflict", 409), ("busy", 503), ("unknown_room", 404), ("too_long", 400), ("unauthorized", 401)],
)
def test_a_chat_error_in_any_view_answers_json_with_its_codes_status(make_app, code, status):
    app = make_app()

    @app.get("/api/layout-probe")
    def probe():
        raise ChatError(code, "refused here")

    response = app.test_client().get("/api/layout-probe")
    assert response.status_code == status
    assert response.get_json() == {"error": {"code": code, "message": "refused here"}}


MAX_MODULE_LINES = 400
MAX_HANDLER_LINES = 15


def module_name(path):
    parts = path.relative_to(CHAT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path, known):
    """The chat modules `path` imports, at its top or inside functions (absolute names)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name in known}
        elif isinstance(node, ast.ImportFrom):
            base = package
            for _ in range(node.level - 1):
                base = base.rpartition(".")[0]
            target = node.module if node.level == 0 else ".".join(p for p in (base, node.module) if p)
            for alias in node.names:  # `from . import x` names a module when x is one
                found.add(f"{target}.{alias.name}" if f"{target}.{alias.name}" in known else target)
    return {m for m in found if m in known and m != name}


def import_graph():
    modules = {module_name(path): path for path in chat_modules()}
    return {name: imported_modules(path, modules) for name, path in modules.items()}


def find_loop(graph):
    """One import loop (a list of modules, first = last), or None."""
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (loop := visit(nxt)):
                return loop
        state[node] = "done"
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state and (loop := visit(node)):
            return loop
    return None


def test_the_loop_finder_finds_a_loop():
    assert find_loop({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_loop({"a": {"b"}, "b": set()}) is None


def test_no_import_loop_in_chat():
    graph = import_graph()
    assert graph["chat.rooms.joining"] >= {"chat.rooms.access", "chat.messages.history"}  # it sees imports
    loop = find_loop(graph)
    assert loop is None, "import loop: " + " -> ".join(loop)


def test_no_module_over_400_lines():
    long = {
        str(p.relative_to(CHAT.parent)): n
        for p in chat_modules()
        if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}


def socket_handlers(path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.FunctionDef):
            for decorator in node.decorator_list:
                if isinstance(decorator, ast.Call) and ast.unparse(decorator.func) == "socketio.on":
                    yield node


def test_socket_handlers_are_thin():
    handlers = [(p, h) for p in chat_modules() for h in socket_handlers(p)]
    assert len(handlers) >= 20  # every event of the README's contract
    long = {
        f"{p.relative_to(CHAT.parent)}:{h.name}": h.end_lineno - h.lineno + 1
        for p, h in handlers
        if h.end_lineno - h.lineno + 1 > MAX_HANDLER_LINES
    }
    assert long == {}


def test_make_test_checks_the_format_and_the_lint_before_the_suite():
    recipe = (CHAT.parent / "Makefile").read_text().split("\ntest: ", 1)[1].split("\n\n", 1)[0]
    steps = [line.strip() for line in recipe.splitlines()[1:]]
    assert steps == [
        "$(BIN)/ruff format --check .",
        "$(BIN)/ruff check .",
        "$(MAKE) --no-print-directory lint-js test-js",  # the page: eslint, node --test
        # Each database: the suite on several workers, then what stops a shared service, alone.
        '$(PYTEST) $(PYTEST_PARALLEL) -m "not serial" $(PYTEST_ARGS) || [ $$? -eq 5 ]',
        "$(PYTEST) -m serial $(PYTEST_ARGS) || [ $$? -eq 5 ]",
        'CHAT_TEST_DB=postgresql $(PYTEST) $(PYTEST_PARALLEL) -m "not serial" $(PYTEST_ARGS) || [ $$? -eq 5 ]',
        "CHAT_TEST_DB=postgresql $(PYTEST) -m serial $(PYTEST_ARGS) || [ $$? -eq 5 ]",
    ]


def test_tests_that_stop_redis_are_marked_serial():
    """make test runs the others on several workers at once: a test that stops Redis there would
    fail the tests of other workers that use it at that moment."""
    stoppers = []
    for path in sorted((CHAT.parent / "tests").glob("test_*.py")):
        text = path.read_text()
        for node in ast.parse(text).body:
            calls = [
                getattr(call.func, "attr", getattr(call.func, "id", None))
                for call in ast.walk(node)
                if isinstance(call, ast.Call)
            ]
            if isinstance(node, ast.FunctionDef) and "stop_redis" in calls:
                stoppers.append(node.name)
                marks = [ast.unparse(decorator) for decorator in node.decorator_list]
                assert "pytest.mark.serial" in marks, f"{path.name}::{node.name}"
    assert len(stoppers) >= 2, stoppers


def test_the_code_is_formatted_and_clean():
    ruff = Path(sys.executable).with_name("ruff")
    for command in (["format", "--check", "."], ["check", "."]):
        result = subprocess.run([str(ruff), *command], cwd=CHAT.parent, capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr


def readme_section(path, heading):
    text = path.read_text()
    start = text.index(heading) + len(heading)
    end = text.find("\n#", start)
    return text[start:] if end < 0 else text[start:end]


def test_the_readme_layout_names_every_module_and_nothing_else():
    layout = readme_section(CHAT.parent / "README.md", "### Layout")
    named = set(re.findall(r"^(chat/[\w/]*?(?:\.py|/))\s", layout, re.MULTILINE))
    actual = {
        str(p.relative_to(CHAT.parent))
        if p.name != "__init__.py" or p.parent == CHAT
        else f"{p.parent.relative_to(CHAT.parent)}/"
        for p in chat_modules()
    }
    assert sorted(actual - named) == [], "in chat/ but not in the README's layout"
    assert sorted(named - actual) == [], "in the README's layout but not in chat/"


def test_architecture_names_the_file_that_handles_each_readme_event():
    readme = (CHAT.parent / "README.md").read_text()
    events = set(re.findall(r"^\| `(\w+)` \| (?:—|`\{)", readme, re.MULTILINE))
    assert {"join_room", "room_message", "get_history", "typing", "react", "search", "connect"} <= events
    architecture = (CHAT.parent / "docs" / "ARCHITECTURE.md").read_text()
    files = dict(re.findall(r"^\| `(\w+)` \| `(chat/[\w/]+\.py)` \|$", architecture, re.MULTILINE))
    assert sorted(events - set(files)) == []
    for event, file in files.items():
        assert f'@socketio.on("{event}")' in (CHAT.parent / file).read_text(), (event, file)
