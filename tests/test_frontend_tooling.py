"""The page's tools: pinned npm devDependencies, eslint's flat config that can fail, make test's order."""

import json
import re
import subprocess

import pytest

from tests.conftest import skip_or_fail
from tests.servers import ROOT

pytestmark = pytest.mark.once  # the page's behaviour, not the database's: the SQLite pass runs it

DEV_TOOLS = {"eslint": "9.", "@eslint/js": "9.", "globals": "", "axe-core": "4."}
ESLINT = ROOT / "node_modules" / ".bin" / "eslint"


def test_dev_tools_are_pinned_exactly_and_locked():
    package = json.loads((ROOT / "package.json").read_text())
    lock = json.loads((ROOT / "package-lock.json").read_text())
    assert package["type"] == "module"  # node:test files import the page's ES modules
    for name, major in DEV_TOOLS.items():
        pinned = package["devDependencies"][name]
        assert re.fullmatch(r"\d+\.\d+\.\d+", pinned) and pinned.startswith(major), (name, pinned)
        assert lock["packages"][f"node_modules/{name}"]["version"] == pinned, name
        assert lock["packages"][""]["devDependencies"][name] == pinned, name


def test_make_test_lints_and_runs_the_node_tests_before_pytest():
    plan = subprocess.run(
        ["make", "-n", "-W", "package.json", "test"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    steps = [line for line in plan.splitlines() if line.strip()]
    npm_ci = next(i for i, line in enumerate(steps) if line.startswith("npm ci") and "--include=dev" in line)
    eslint = next(i for i, line in enumerate(steps) if "eslint" in line and "static/js" in line and "tests/js" in line)
    node_test = next(i for i, line in enumerate(steps) if line.startswith("node --test tests/js/"))
    pytest_run = next(i for i, line in enumerate(steps) if "-m pytest" in line)
    assert npm_ci < eslint < pytest_run and node_test < pytest_run, steps


def test_eslint_config_rejects_a_bad_module_and_accepts_a_good_one(tmp_path):
    if not ESLINT.exists():
        skip_or_fail("eslint is not installed: run npm ci (make setup-dev)")
    page_js = ROOT / "static" / "js"
    bad = page_js / "zz_lint_probe_bad.js"
    good = page_js / "zz_lint_probe_good.js"
    bad.write_text("export function f(a) {\n  if (a == 1) return undefinedName;\n  var unused = 2;\n}\n")
    good.write_text("export function f(a) {\n  return a === 1 ? document.title : window.location.href;\n}\n")
    try:
        run = subprocess.run(
            [str(ESLINT), "--format", "json", str(bad), str(good)], cwd=ROOT, capture_output=True, text=True
        )
    finally:
        bad.unlink()
        good.unlink()
    assert run.returncode == 1, run.stderr
    rules = {r["filePath"].rsplit("/", 1)[-1]: {m["ruleId"] for m in r["messages"]} for r in json.loads(run.stdout)}
    assert {"eqeqeq", "no-undef", "no-var", "no-unused-vars"} <= rules["zz_lint_probe_bad.js"]
    assert rules["zz_lint_probe_good.js"] == set()  # browser globals known, ES modules parsed
