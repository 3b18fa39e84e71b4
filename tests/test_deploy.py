"""Deploying without npm: the browser's Socket.IO client is committed, and it is the locked npm package.

The page's client (static/vendor/socket.io.min.js and its source map) is in the repository, so
the Procfile's command serves a page that connects on a Python-only platform. The test here
checks that the committed bytes are exactly those of socket.io-client's tarball as
package-lock.json pins it (version and integrity): an upgrade of package.json or the lockfile
that is not copied into static/vendor fails it (`make vendor` copies it).
"""

import base64
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import uuid
from pathlib import Path

import pytest
import requests

from chat.i18n import STRINGS
from tests import servers
from tests.conftest import skip_or_fail
from tests.live_client import LiveClient
from tests.servers import ROOT
from tests.test_browser import JA, Pages, browser, expect, expect_message, register  # noqa: F401 (fixture)
from tests.test_config import procfile_command

VENDOR = ROOT / "static" / "vendor"
CLIENT_FILES = ("socket.io.min.js", "socket.io.min.js.map")


def locked_client():
    """socket.io-client's entry in package-lock.json: {version, integrity, ...}."""
    lock = json.loads((ROOT / "package-lock.json").read_text())
    return lock["packages"]["node_modules/socket.io-client"]


def npm_cache_dir():
    """npm's cache folder: $npm_config_cache, else what npm says, else ~/.npm."""
    if os.environ.get("npm_config_cache"):
        return Path(os.environ["npm_config_cache"])
    try:
        out = subprocess.run(["npm", "config", "get", "cache"], capture_output=True, text=True, timeout=30)
        if out.returncode == 0 and out.stdout.strip():
            return Path(out.stdout.strip())
    except (OSError, subprocess.TimeoutExpired):
        pass
    return Path.home() / ".npm"


def cached_tarball(integrity):
    """The package tarball npm ci fetched, from npm's content-addressed cache (cacache), or None."""
    algorithm, digest = integrity.split("-", 1)
    hexdigest = base64.b64decode(digest).hex()
    path = npm_cache_dir() / "_cacache" / "content-v2" / algorithm / hexdigest[:2] / hexdigest[2:4] / hexdigest[4:]
    return path.read_bytes() if path.is_file() else None


def files_from_tarball(tarball, integrity):
    """{name: bytes} of the client's dist files, after checking the tarball against the lockfile."""
    algorithm, digest = integrity.split("-", 1)
    assert base64.b64encode(hashlib.new(algorithm, tarball).digest()).decode() == digest, "tarball integrity"
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
        version = json.load(archive.extractfile("package/package.json"))["version"]
        files = {name: archive.extractfile(f"package/dist/{name}").read() for name in CLIENT_FILES}
    return version, files


def files_from_node_modules(locked):
    """{name: bytes} from node_modules, when npm ci installed exactly the locked package (it checked
    the tarball's integrity then, and recorded it in node_modules/.package-lock.json)."""
    hidden = ROOT / "node_modules" / ".package-lock.json"
    if not hidden.is_file():
        return None, None
    installed = json.loads(hidden.read_text())["packages"].get("node_modules/socket.io-client", {})
    if installed.get("integrity") != locked["integrity"]:
        return None, None
    dist = ROOT / "node_modules" / "socket.io-client" / "dist"
    version = json.loads((dist.parent / "package.json").read_text())["version"]
    return version, {name: (dist / name).read_bytes() for name in CLIENT_FILES}


def test_the_committed_client_is_exactly_the_locked_npm_package():
    locked = locked_client()
    tarball = cached_tarball(locked["integrity"])
    if tarball is not None:
        version, files = files_from_tarball(tarball, locked["integrity"])
    else:
        version, files = files_from_node_modules(locked)
    if files is None:
        skip_or_fail(
            f"socket.io-client {locked['version']} is neither in npm's cache nor in node_modules: "
            "run `npm ci` (make setup-dev)"
        )
    assert version == locked["version"]
    for name in CLIENT_FILES:
        committed = (VENDOR / name).read_bytes()
        assert committed == files[name], f"static/vendor/{name} is not socket.io-client {version}'s: run make vendor"
    assert f"Socket.IO v{version}" in (VENDOR / "socket.io.min.js").read_text()[:200]


def test_the_client_is_committed_not_ignored():
    """Tracked by git (a Python-only deploy has it), and neither git nor Docker leaves it out."""
    tracked = subprocess.run(
        ["git", "ls-files", "--error-unmatch", *(f"static/vendor/{n}" for n in CLIENT_FILES)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert tracked.returncode == 0, tracked.stderr
    for ignore in (".gitignore", ".dockerignore"):
        assert "static/vendor" not in (ROOT / ignore).read_text(), ignore


# ---- the Procfile's command on a checkout where npm never ran, in a real browser ----


@pytest.fixture(scope="module")
def npm_free_checkout(tmp_path_factory):
    """The repository's tracked files, copied: what a Python-only platform builds from."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    target = tmp_path_factory.mktemp("checkout")
    for name in filter(None, listed.decode().split("\0")):
        source = ROOT / name
        if source.is_file():  # a file deleted but not yet committed is not there
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


@pytest.fixture(scope="module")
def procfile_server(npm_free_checkout, live_database):
    """`web:` of the Procfile, as a platform runs it (PORT from the environment), in that copy."""
    assert not (npm_free_checkout / "node_modules").exists()
    port = servers.free_port()
    argv = procfile_command()
    argv[0] = str(servers.BIN / argv[0])  # the platform's gunicorn is the venv's here
    env = servers.server_env(PORT=port, DATABASE_URL=live_database())
    server = servers.ServerProcess(argv, port, env, cwd=npm_free_checkout).start()
    yield server
    server.stop()


@pytest.fixture
def pages(browser, procfile_server):  # noqa: F811 (browser: the fixture)
    opened = Pages(browser, procfile_server.url)
    yield opened
    opened.close()


def test_the_procfile_serves_a_page_that_connects_without_npm(pages, procfile_server):
    script = requests.get(procfile_server.url + "/static/vendor/socket.io.min.js", timeout=10)
    assert script.status_code == 200 and script.text == (VENDOR / "socket.io.min.js").read_text()
    name = "deploy-" + uuid.uuid4().hex[:6]
    page = pages.open(name)
    expect(page.locator("#status")).to_have_text(JA["connected"])
    expect(page.locator("#client-missing")).to_be_hidden()
    page.locator("#message-input").fill("動いています")
    page.locator("#message-input").press("Enter")
    expect_message(page, name, "動いています", room_prefix=None)
    pages.assert_no_problems()


@pytest.mark.parametrize(
    "locale, alert, status",
    [
        ("ja-JP", STRINGS["ja"]["client_missing"], STRINGS["ja"]["cannot_connect"]),
        ("en-US", STRINGS["en"]["client_missing"], STRINGS["en"]["cannot_connect"]),
    ],
)
def test_the_page_says_when_its_client_did_not_load(pages, locale, alert, status):
    """A proxy that blocks the script, a broken copy: an alert says so, and nothing pretends to wait."""
    blocked = []
    context = pages.browser.new_context(locale=locale)
    pages.contexts.append(context)
    page = context.new_page()
    page.route("**/static/vendor/socket.io.min.js", lambda route: (blocked.append(route.request.url), route.abort()))
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(pages.base_url + "/")
    register(page, "nojs-" + uuid.uuid4().hex[:6])
    expect(page.locator("#me")).to_be_visible()
    shown = page.get_by_role("alert").filter(has_text=alert)
    expect(shown).to_be_visible()
    expect(shown).to_have_text(alert)
    expect(page.locator("#status")).to_have_text(status)
    expect(page.locator("#connect")).to_be_disabled()
    assert blocked and errors == []  # the page handled it: no uncaught exception


# ---- start-up: what the eventlet warnings mean, and the open-files limit ----

# Lowers the soft RLIMIT_NOFILE, then runs the server (as `ulimit -n N; exec ...` would).
WITH_OPEN_FILES_LIMIT = (
    "import os, resource, sys; hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]; "
    "resource.setrlimit(resource.RLIMIT_NOFILE, (int(sys.argv[1]), hard)); os.execv(sys.argv[2], sys.argv[2:])"
)
EXPLAINED = "the same app runs on gevent: see README.md, 'eventlet or gevent'"


@pytest.mark.parametrize(
    "worker, soft_limit, connections, warned",
    [
        ("eventlet", 1024, 10000, True),
        ("eventlet", 4096, 1000, False),
        ("gevent", 1024, 10000, True),
    ],
)
def test_start_up_explains_eventlet_and_warns_below_worker_connections(
    tmp_path, worker, soft_limit, connections, warned
):
    server = servers.gunicorn(worker, env={"GUNICORN_WORKER_CONNECTIONS": connections})
    server.argv = [sys.executable, "-c", WITH_OPEN_FILES_LIMIT, str(soft_limit), *server.argv]
    server.log_path = tmp_path / "gunicorn.log"
    server.start()
    server.stop()
    log = server.log()
    warning = f"open-files limit (ulimit -n) is {soft_limit}, below worker_connections {connections}"
    assert (warning in log) == warned, log
    assert log.count(EXPLAINED) == (1 if worker == "eventlet" else 0), log
    assert "### eventlet or gevent" in (ROOT / "README.md").read_text()


# ---- the gevent set: gunicorn 26+, no eventlet ----

GEVENT_VENV = ROOT / ".venv-gevent"


def pip_reaches_the_index(pip):
    """Whether pip can see gunicorn on its index (no network: skip, or fail in CI)."""
    probe = subprocess.run([str(pip), "index", "versions", "gunicorn"], capture_output=True, text=True, timeout=120)
    return probe.returncode == 0


def gevent_venv():
    """.venv-gevent built from requirements-gevent.txt (as `make setup-gevent` does), reused while the file
    is unchanged."""
    wanted = hashlib.sha256((ROOT / "requirements-gevent.txt").read_bytes()).hexdigest()
    stamp = GEVENT_VENV / ".req-sha256"
    if stamp.is_file() and stamp.read_text() == wanted:
        return GEVENT_VENV / "bin"
    subprocess.run([sys.executable, "-m", "venv", str(GEVENT_VENV)], check=True, timeout=300)
    pip = GEVENT_VENV / "bin" / "pip"
    if not pip_reaches_the_index(pip):
        skip_or_fail("pip cannot reach its package index: requirements-gevent.txt cannot be installed here")
    install = subprocess.run(
        [str(pip), "install", "-q", "--disable-pip-version-check", "-r", str(ROOT / "requirements-gevent.txt")],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert install.returncode == 0, install.stdout[-3000:] + install.stderr[-3000:]
    stamp.write_text(wanted)
    return GEVENT_VENV / "bin"


def test_the_gevent_set_pins_the_same_app_packages():
    """requirements-gevent.txt is requirements.txt with gunicorn 26+ for 25 and without eventlet."""

    def pins(name):
        lines = (ROOT / name).read_text().splitlines()
        pairs = (line.split("==") for line in lines if line and not line.startswith("#"))
        return {package.split("[")[0]: version for package, version in pairs}

    main, gevent = pins("requirements.txt"), pins("requirements-gevent.txt")
    assert int(gevent.pop("gunicorn").split(".")[0]) >= 26 and main.pop("gunicorn").startswith("25.")
    assert "eventlet" not in gevent and main.pop("eventlet")
    gevent.pop("packaging")  # gunicorn 26's gevent worker needs it
    assert gevent == main


@pytest.mark.timeout(1200)
def test_the_gevent_set_serves_the_app_on_gunicorn_26(tmp_path, live_database):
    bin_dir = gevent_venv()
    version = subprocess.run([str(bin_dir / "gunicorn"), "--version"], capture_output=True, text=True, check=True)
    assert int(version.stdout.split()[-1].strip(")").split(".")[0]) >= 26, version.stdout
    port = servers.free_port()
    argv = [
        str(bin_dir / "gunicorn"),
        "-k",
        "gevent",
        "-w",
        "1",
        "-c",
        "gunicorn.conf.py",
        "-b",
        f"127.0.0.1:{port}",
        "wsgi:app",
    ]
    server = servers.ServerProcess(
        argv, port, servers.server_env(DATABASE_URL=live_database()), log_path=tmp_path / "gunicorn.log"
    )
    server.start(timeout=60)
    alice, bob = LiveClient(server.url).connect(), LiveClient(server.url, ["polling"]).connect()
    try:
        assert alice.call("send_message", {"message": "gevent で動いています"})["ok"]
        bob.wait_for(lambda got: any(p.get("text") == "gevent で動いています" for n, p in got if n == "message"))
        assert requests.get(server.url + "/health", timeout=10).json()["status"] == "healthy"
    finally:
        alice.disconnect()
        bob.disconnect()
        server.stop()
    log = server.log()
    assert "async_mode=gevent" in log and "eventlet" not in log.lower(), log
