"""Every relative link and heading anchor in README.md and docs/**/*.md resolves, and every
repo path, module and decisions row named in the code and the docs exists.

New pages under docs/ are covered as soon as they exist. Anchors follow GitHub's heading ids:
lower case, punctuation dropped (inline code keeps its text), spaces to hyphens, and "-1",
"-2" for repeated headings. Paths are checked when they look like paths (an extension, a
trailing slash or three parts: "training/serving" in prose is not one); dotted names when they
start with a module (``training.loop.auto.resolve_auto``: the module, then a name it mentions).
"""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).parents[1]
PACKAGES = ("features", "training", "app", "scoring", "cli", "bench", "tests")
REPO_PATH = re.compile(r"(?<![\w./-])((?:features|training|app|scoring|cli|bench|tests|docs)/[\w./*<>{}-]*)")
DOTTED = re.compile(r"(?<![\w./-])((?:features|training|app|scoring|cli|bench|tests)(?:\.[A-Za-z_]\w*)+)")
DECISION = re.compile(r"decisions\.md\)?:\s*`?([a-z0-9]+(?:-[a-z0-9]+)*)")
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$")
SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)  # http:, https:, mailto:


def pages() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def _outside_fences(text: str) -> list[str]:
    lines, fenced = [], False
    for line in text.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
        elif not fenced:
            lines.append(line)
    return lines


def anchors(path: Path) -> set[str]:
    ids: set[str] = set()
    seen: dict[str, int] = {}
    for line in _outside_fences(path.read_text(encoding="utf-8")):
        heading = HEADING.match(line)
        if heading:
            text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading.group(1))  # a link in a heading: its text
            slug = re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")
            ids.add(slug if slug not in seen else f"{slug}-{seen[slug]}")
            seen[slug] = seen.get(slug, 0) + 1
    return ids


def links(path: Path) -> list[str]:
    """Link targets in the prose; links inside code (fenced or inline) are examples, not links."""
    prose = (re.sub(r"`[^`]*`", "", line) for line in _outside_fences(path.read_text(encoding="utf-8")))
    return [m.group(1) for line in prose for m in LINK.finditer(line)]


def broken_links(page: Path) -> list[str]:
    """Each relative link of ``page`` whose file or heading does not exist, as 'target: why'."""
    problems = []
    for target in links(page):
        if SCHEME.match(target):
            continue
        file_part, _, anchor = target.partition("#")
        resolved = (page.parent / unquote(file_part)).resolve() if file_part else page
        if not resolved.exists():
            problems.append(f"{target}: {file_part} does not exist")
        elif anchor and resolved.suffix == ".md" and unquote(anchor) not in anchors(resolved):
            problems.append(f"{target}: no heading #{anchor} in {resolved.name}")
    return problems


@pytest.mark.parametrize("page", pages(), ids=lambda p: str(p.relative_to(ROOT)))
def test_links_resolve(page):
    assert broken_links(page) == []


def test_the_readme_is_a_front_page_linking_every_docs_page():
    readme = ROOT / "README.md"
    assert len(readme.read_text(encoding="utf-8").splitlines()) <= 250
    linked = {target.partition("#")[0] for target in links(readme)}
    for page in sorted((ROOT / "docs").rglob("*.md")):
        assert page.relative_to(ROOT).as_posix() in linked, f"README.md does not link {page.relative_to(ROOT)}"


def test_the_checker_finds_broken_links(tmp_path):
    (tmp_path / "other.md").write_text("# A title: with `code`\n\n## Twice\n\n## Twice\n```\n# not a heading\n```\n")
    page = tmp_path / "page.md"
    page.write_text(
        "[ok](other.md) [ok](other.md#a-title-with-code) [ok](other.md#twice-1) [ok](#here) [web](https://x.org/nope)\n"
        "# Here\n```\n[in code](gone.md)\n```\n`[inline](gone.md)`\n"
        "[gone](gone.md) ![img](pic.png) [bad anchor](other.md#nope) [fenced](other.md#not-a-heading) [bad local](#nowhere)\n"
    )
    assert broken_links(page) == [
        "gone.md: gone.md does not exist",
        "pic.png: pic.png does not exist",
        "other.md#nope: no heading #nope in other.md",
        "other.md#not-a-heading: no heading #not-a-heading in other.md",
        "#nowhere: no heading #nowhere in page.md",
    ]


SELF_TESTS = ("tests/test_docs.py", "tests/test_architecture.py")  # their checkers' own tests name made-up paths


def sources() -> list[Path]:
    code = [path for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))]
    return [path for path in [*code, *pages()] if path.relative_to(ROOT).as_posix() not in SELF_TESTS]


def _ignored(token: str) -> bool:
    """Files git ignores (what a run writes, such as a test's screenshot) are named before they exist."""
    patterns = [line.strip() for line in (ROOT / ".gitignore").read_text().splitlines() if line.strip()]
    return any(fnmatch.fnmatch(token, pattern) for pattern in patterns if not pattern.startswith("!"))


def missing_paths(text: str, root: Path = ROOT) -> list[str]:
    """Repo paths named in ``text`` that do not exist under ``root``."""
    missing = []
    for match in REPO_PATH.finditer(text):
        token = match.group(1).rstrip(".,:;")
        if any(c in token for c in "*<>{}") or not (
            token.endswith("/") or "." in token.rsplit("/", 1)[-1] or token.count("/") >= 2
        ):
            continue  # a pattern, or prose such as "training/serving"
        if not (root / token).exists() and not _ignored(token):
            missing.append(token)
    return missing


def missing_names(text: str, root: Path = ROOT) -> list[str]:
    """Dotted names whose module exists (two parts or more) but does not mention the name after it."""
    missing = []
    for match in DOTTED.finditer(text):
        parts = match.group(1).split(".")
        found = 0
        for i in range(len(parts), 0, -1):
            if (root.joinpath(*parts[:i]).with_suffix(".py")).is_file() or (root.joinpath(*parts[:i]) / "__init__.py").is_file():
                found = i
                break
        if found < 2 or found == len(parts):
            continue  # not a module reference (app.state, training.config in a manifest), or a module itself
        module = root.joinpath(*parts[:found])
        source = (module.with_suffix(".py") if module.with_suffix(".py").is_file() else module / "__init__.py").read_text()
        if not re.search(rf"\b{re.escape(parts[found])}\b", source):
            missing.append(match.group(1))
    return missing


def decision_keys() -> set[str]:
    rows = (
        line.split("|")[1].strip() for line in (ROOT / "docs" / "decisions.md").read_text().splitlines() if line.startswith("| ")
    )
    return {key for key in rows if key and key != "key" and not key.startswith("---")}


@pytest.mark.parametrize("source", sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_named_paths_modules_and_decisions_exist(source):
    text = source.read_text(encoding="utf-8")
    assert missing_paths(text) == []
    assert missing_names(text) == []
    assert sorted(set(DECISION.findall(text)) - decision_keys()) == []


def test_the_path_checker_finds_what_is_gone(tmp_path):
    (tmp_path / "training" / "loop").mkdir(parents=True)
    (tmp_path / "training" / "loop" / "auto.py").write_text("def resolve_auto():\n    pass\n")
    (tmp_path / "training" / "__init__.py").write_text("")
    text = (
        "see training/loop/auto.py, training/loop/gone.py and docs/readme/; training/serving is prose;\n"
        "training.loop.auto.resolve_auto, training.loop.auto.sized, training.loop.gone, training.config.ensemble"
    )
    assert missing_paths(text, tmp_path) == ["training/loop/gone.py", "docs/readme/"]
    assert missing_names(text, tmp_path) == ["training.loop.auto.sized"]
