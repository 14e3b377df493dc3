"""Every relative link and heading anchor in README.md and docs/**/*.md resolves.

New pages under docs/ are covered as soon as they exist. Anchors follow GitHub's heading ids:
lower case, punctuation dropped (inline code keeps its text), spaces to hyphens, and "-1",
"-2" for repeated headings.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).parents[1]
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
