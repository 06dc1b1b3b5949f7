"""A fresh clone holds every document its code and pages cite, and the README stays short.

Every repository path named in a source file, a configuration file or a page exists (or
lies under a git-ignored folder a run creates); every link of README.md and docs/*.md
reaches its file and its heading; a section cited as `docs/page.md, "Section"` is a
heading of that page; nothing cites a document the repository does not hold. The
examples in the pages run in tests/stack/test_readme_examples.py.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.support.procs import ROOT

ROOT_DIR = Path(ROOT)
THIS_FILE = Path(__file__).resolve()
README_MAX_LINES = 250

# Not the project's own text: installed or generated trees, and the vendored browser files.
SKIPPED_DIRS = {".git", ".venv", "mutants", "node_modules", ".data", "__pycache__", "build"}
SKIPPED_DIRS |= {".pytest_cache", ".ruff_cache"}
SKIPPED_PATHS = {"apicore/static/vendor", "bench/.peer", "bench/results"}
TEXT_SUFFIXES = {".py", ".md", ".toml", ".yml", ".yaml", ".json", ".lua", ".graphql", ".txt"}
TEXT_SUFFIXES |= {".sh", ".cfg", ".ini", ".example"}
TEXT_NAMES = {"Makefile", "Dockerfile", "run", ".gitignore", ".dockerignore"}

TOP_LEVEL = (
    "docs",
    "apicore",
    "service_users",
    "service_orders",
    "graphql_gateway",
    "stack",
    "bench",
    "tests",
    "deploy",
    "schema",
)
# A path inside the repository as text names it: `docs/auth.md`, `deploy/k8s/`; a `*`
# or `<…>` right after it makes it a pattern (`tests/auth/test_v1_*`).
CITED_PATH = re.compile(rf"(?<![\w./-])((?:{'|'.join(TOP_LEVEL)})/[\w./-]*[\w/])(?P<pattern>[*<])?")
# A section of a page, cited by its heading: docs/operations.md, "Metrics".
CITED_SECTION = re.compile(r"\b(docs/[\w-]+\.md),\s+\"([^\"]+)\"")
# Documents a clone does not hold, by the names they went by.
ELSEWHERE = re.compile(r"\bSPEC\b|PERFORMANCE\.md|\.\./shared")
MARKDOWN_LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def project_files() -> list[Path]:
    found = []
    for directory, subdirectories, names in os.walk(ROOT_DIR):
        here = Path(directory).relative_to(ROOT_DIR).as_posix()
        subdirectories[:] = [
            name
            for name in subdirectories
            if name not in SKIPPED_DIRS
            and not name.endswith(".egg-info")
            and f"{here}/{name}".removeprefix("./") not in SKIPPED_PATHS
        ]
        found += [
            Path(directory) / name
            for name in names
            if Path(name).suffix in TEXT_SUFFIXES or name in TEXT_NAMES
        ]
    return sorted(found)


FILES = project_files()
# This file names examples of what it looks for; it is checked by running, not scanned.
TEXTS = {
    path.relative_to(ROOT_DIR).as_posix(): path.read_text("utf-8")
    for path in FILES
    if path.resolve() != THIS_FILE
}
PAGES = {
    name: text
    for name, text in TEXTS.items()
    if name == "README.md" or re.fullmatch(r"docs/[^/]+\.md", name)
}


def ignored_folders() -> list[str]:
    """The folders .gitignore names inside the repository: a run creates them."""
    lines = (ROOT_DIR / ".gitignore").read_text("utf-8").splitlines()
    return [line.strip() for line in lines if "/" in line.strip("/") and line.endswith("/")]


IGNORED = ignored_folders()


def exists(path: str, pattern: bool) -> bool:
    if any(f"{path}/".startswith(folder) for folder in IGNORED):
        return True
    if pattern:
        return any(ROOT_DIR.glob(path + "*"))
    return (ROOT_DIR / path).exists()


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def headings(page: str) -> list[str]:
    text = re.sub(r"^```.*?^```", "", PAGES[page], flags=re.MULTILINE | re.DOTALL)
    return [line.lstrip("#").strip() for line in text.splitlines() if re.match(r"#{1,6} ", line)]


def test_the_scan_sees_the_project() -> None:
    assert "README.md" in TEXTS
    assert "docs/index.md" in PAGES
    assert "graphql_gateway/app.py" in TEXTS
    assert "Makefile" in TEXTS
    assert not any(name.startswith("apicore/static/vendor/") for name in TEXTS)
    assert "bench/.peer/" in IGNORED


def test_every_cited_path_is_in_the_repository() -> None:
    missing = [
        f"{name}: {match[1]}"
        for name, text in TEXTS.items()
        for match in CITED_PATH.finditer(text)
        if not exists(match[1], bool(match["pattern"]))
    ]
    assert not missing, "\n".join(missing)


def test_every_cited_section_is_a_heading_of_its_page() -> None:
    wrong = []
    cited = 0
    for name, text in TEXTS.items():
        # A comment's lines joined into one, so that a citation may wrap.
        flat = re.sub(r"[ \t]*\n[ \t]*(?:#+|//|\*)?[ \t]*", " ", text)
        for page, section in CITED_SECTION.findall(flat):
            cited += 1
            if page not in PAGES or not any(h.startswith(section) for h in headings(page)):
                wrong.append(f"{name}: {page}, {section!r}")
    assert cited >= 10, "the code cites the docs by section"
    assert not wrong, "\n".join(wrong)


def test_nothing_cites_a_document_outside_the_repository() -> None:
    found = [
        f"{name}:{text.count(chr(10), 0, match.start()) + 1}: {match[0]}"
        for name, text in TEXTS.items()
        for match in ELSEWHERE.finditer(text)
    ]
    assert not found, "\n".join(found)


@pytest.mark.parametrize("page", sorted(PAGES))
def test_every_link_reaches_its_file_and_heading(page: str) -> None:
    here = (ROOT_DIR / page).parent
    broken = []
    for target in MARKDOWN_LINK.findall(PAGES[page]):
        if re.match(r"[a-z]+:", target):
            continue  # a web address
        file_part, _, anchor = target.partition("#")
        resolved = (here / file_part).resolve() if file_part else ROOT_DIR / page
        if not resolved.exists():
            broken.append(f"{target}: no file")
            continue
        if anchor:
            linked = resolved.relative_to(ROOT_DIR.resolve()).as_posix()
            if linked not in PAGES or anchor not in {slug(h) for h in headings(linked)}:
                broken.append(f"{target}: no such heading")
    assert not broken, broken


def test_every_page_is_linked_from_the_readme_or_the_index() -> None:
    linked = {
        (ROOT_DIR / source).parent.joinpath(target.partition("#")[0]).resolve()
        for source in ("README.md", "docs/index.md")
        for target in MARKDOWN_LINK.findall(PAGES[source])
    }
    unlinked = [
        page
        for page in PAGES
        if page not in {"README.md", "docs/index.md"} and (ROOT_DIR / page).resolve() not in linked
    ]
    assert not unlinked, f"add to docs/index.md's table: {unlinked}"


def test_the_readme_is_short_and_sends_readers_on() -> None:
    readme = PAGES["README.md"]
    assert readme.count("\n") <= README_MAX_LINES
    for title in ("The two commands", "A first REST call", "A first GraphQL call"):
        assert f"\n## {title}\n" in readme, title
    assert "(docs/index.md)" in readme
    assert "## Where does X live" in readme


def test_the_where_does_x_live_table_names_real_paths() -> None:
    section = PAGES["README.md"].split("## Where does X live", 1)[1]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    assert len(rows) >= 10
    for row in rows:
        (path,) = re.findall(r"^\| `([^`]+)`", row)
        assert (ROOT_DIR / path).exists(), path
