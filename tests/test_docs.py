"""The documentation: no machine's absolute paths, a short BENCHMARKS.md, relative links that resolve."""

import os
import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.once  # no database in it: the SQLite pass runs it (conftest.py)

ROOT = Path(__file__).resolve().parent.parent
SKIP_DIRS = {"node_modules", "vendor", "test-artifacts", "instance", "__pycache__"}
BENCHMARKS_MAX_LINES = 450

# A machine's own folders: /work/, /root/, /home/, /tmp/ (also inside sqlite:////tmp/… or file:///home/…),
# /Users/ (macOS). Not after a letter, digit, dot, tilde or dash, so URLs (https://host/home/…) and relative
# paths (.bench/tmp/, ../work/) pass, and so do container paths such as /app or /etc/nginx.
ABSOLUTE_PATH = re.compile(r"(?<![\w.~-])/(?:work|root|home|tmp|Users)/")
FENCE = re.compile(r"^(```|~~~).*?^\1", re.S | re.M)
CODE_SPAN = re.compile(r"`+[^`]*`+")
INLINE_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
LINK_DEFINITION = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)", re.M)
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.M)
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def repo_files(suffixes=None, under=ROOT):
    """Files of the repository (no dependencies, caches or hidden folders such as .venv, .bench, .git)."""
    for folder, dirs, files in os.walk(under):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d not in SKIP_DIRS]
        for name in files:
            if suffixes is None or name.endswith(suffixes):
                yield Path(folder) / name


def markdown_files():
    return sorted(repo_files((".md",)))


def comment_lines(path):
    """The comment text of a shell, Python or config file: what follows a '#'."""
    for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        if "#" in line:
            yield number, line.split("#", 1)[1]


def absolute_paths_in(lines):
    return [f"{number}: {text.strip()[:120]}" for number, text in lines if ABSOLUTE_PATH.search(text)]


def numbered(path):
    return enumerate(path.read_text(encoding="utf-8").splitlines(), 1)


@pytest.mark.parametrize("path", markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_markdown_names_no_absolute_path_of_a_machine(path):
    assert absolute_paths_in(numbered(path)) == []


@pytest.mark.parametrize("folder", ["bench", "deploy"])
def test_bench_and_deploy_comments_name_no_absolute_path_of_a_machine(folder):
    found = {
        str(path.relative_to(ROOT)): hits
        for path in repo_files(under=ROOT / folder)
        if (hits := absolute_paths_in(comment_lines(path)))
    }
    assert found == {}


def test_absolute_path_pattern():
    """What the checks above catch, and what they leave alone."""
    caught = ["see /work/shared/bench", "`cd /root/x`", "sqlite:////tmp/chat.db", "file:///home/me/", "/Users/me/"]
    passed = ["https://example.com/home/x", "../shared/bench", ".bench/tmp/x", "/app/static", "/etc/nginx/x.conf"]
    assert [text for text in caught if not ABSOLUTE_PATH.search(text)] == []
    assert [text for text in passed if ABSOLUTE_PATH.search(text)] == []


def test_benchmarks_is_a_results_page_not_a_notebook():
    lines = (ROOT / "BENCHMARKS.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= BENCHMARKS_MAX_LINES, f"BENCHMARKS.md has {len(lines)} lines; the notebook is docs/benchmarks/"


def github_slug(heading):
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to dashes."""
    text = CODE_SPAN.sub(lambda m: m.group(0).strip("`"), heading).lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors_of(path):
    seen, anchors = {}, set()
    for heading in HEADING.findall(FENCE.sub("", path.read_text(encoding="utf-8"))):
        slug = github_slug(heading)
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


def links_of(path):
    text = CODE_SPAN.sub("", FENCE.sub("", path.read_text(encoding="utf-8")))
    return INLINE_LINK.findall(text) + LINK_DEFINITION.findall(text)


def broken_links(path):
    broken = []
    for link in links_of(path):
        if SCHEME.match(link):
            continue
        target, _, fragment = link.partition("#")
        resolved = (path.parent / target).resolve() if target else path
        if not resolved.is_relative_to(ROOT) or not resolved.exists():
            broken.append(f"{link}: no such file in the repository")
        elif fragment and resolved.suffix == ".md" and fragment not in anchors_of(resolved):
            broken.append(f"{link}: no heading #{fragment} in {resolved.relative_to(ROOT)}")
    return broken


def linked_markdown():
    return [ROOT / "BENCHMARKS.md", *sorted(repo_files((".md",), under=ROOT / "docs"))]


@pytest.mark.parametrize("path", linked_markdown(), ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_point_to_files_that_exist(path):
    assert broken_links(path) == []


def test_link_check_finds_a_missing_file_and_a_missing_heading(tmp_path, monkeypatch):
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    (tmp_path / "there.md").write_text("# A heading: with `code`\n\n## Twice\n\n## Twice\n", encoding="utf-8")
    page = tmp_path / "page.md"
    page.write_text(
        "[ok](there.md) [ok](there.md#a-heading-with-code) [ok](there.md#twice-1) [ok](https://x.org/a.md)\n"
        "[gone](missing.md) [gone](there.md#nowhere) [outside](../elsewhere.md) `[code](skipped.md)`\n"
        "[def]: also-missing.md\n",
        encoding="utf-8",
    )
    assert [entry.split(":")[0] for entry in broken_links(page)] == [
        "missing.md",
        "there.md#nowhere",
        "../elsewhere.md",
        "also-missing.md",
    ]
