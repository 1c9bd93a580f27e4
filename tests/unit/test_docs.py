"""The documentation holds together: a short README, links that resolve, every docs page two
clicks from the README, and no reference to notes outside the repository."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
MAX_README_LINES = 250

# Built from parts so that this file does not itself mention what it forbids.
FORBIDDEN = tuple(
    part + suffix
    for part, suffix in (
        ("fc-platform", ".md"),
        ("wire", ".md"),
        ("anchors", ".md"),
        ("../shared", "/"),
        ("/work", "/shared"),
    )
)

_FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
_CODE_SPAN = re.compile(r"`[^`\n]*`")
_LINK = re.compile(r"!?\[[^\]\n]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
_EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)


def markdown_links(text: str) -> list[str]:
    """Targets of inline links and images, outside code blocks and code spans."""
    prose = _CODE_SPAN.sub("", _FENCE.sub("", text))
    return _LINK.findall(prose)


def relative_targets(page: Path) -> list[tuple[str, Path]]:
    """Each relative link of `page` with the path it points at (fragment dropped)."""
    targets = []
    for link in markdown_links(page.read_text(encoding="utf-8")):
        if _EXTERNAL.match(link) or link.startswith("#"):
            continue
        path = link.split("#", 1)[0]
        targets.append((link, (page.parent / path).resolve()))
    return targets


def broken_links(pages: list[Path]) -> list[str]:
    """`page: link` for every relative link whose target does not exist."""
    broken = []
    for page in pages:
        for link, target in relative_targets(page):
            if not target.exists():
                broken.append(f"{os.path.relpath(page, ROOT)}: {link}")
    return broken


def doc_pages() -> list[Path]:
    return sorted(DOCS.rglob("*.md"))


def tracked_files() -> list[Path]:
    names = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, check=True, capture_output=True
    ).stdout.split(b"\0")
    return [ROOT / name.decode() for name in names if name]


def test_readme_is_a_short_front_door_naming_run_and_test():
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= MAX_README_LINES
    assert "make run" in text
    assert "make test" in text


def test_every_relative_link_in_readme_and_docs_resolves():
    assert doc_pages(), "docs/ has no pages"
    assert broken_links([README, *doc_pages()]) == []


def test_every_docs_page_is_two_clicks_from_the_readme():
    index = DOCS / "README.md"
    from_readme = {target for _, target in relative_targets(README)}
    assert index.resolve() in from_readme, "README.md must link docs/README.md"
    reachable = from_readme | {target for _, target in relative_targets(index)}
    unreachable = [
        str(page.relative_to(ROOT))
        for page in doc_pages()
        if page != index and page.resolve() not in reachable
    ]
    assert unreachable == []


def test_no_tracked_file_refers_to_notes_outside_the_repository():
    offenders = []
    for path in tracked_files():
        if not path.is_file():
            continue
        content = path.read_bytes()
        offenders += [
            f"{path.relative_to(ROOT)}: {word}" for word in FORBIDDEN if word.encode() in content
        ]
    assert offenders == []


def test_the_link_check_reports_a_missing_target_and_ignores_code_and_urls(tmp_path):
    page = tmp_path / "page.md"
    (tmp_path / "there.md").write_text("x", encoding="utf-8")
    page.write_text(
        "[ok](there.md#part) [gone](missing.md) ![img](gone.png)\n"
        "`[code](nowhere.md)` [web](https://example.com/x.md) [self](#top)\n"
        "```\n[fenced](nowhere.md)\n```\n",
        encoding="utf-8",
    )
    links = [link for link, _ in relative_targets(page)]
    assert links == ["there.md#part", "missing.md", "gone.png"]
    broken = broken_links([page])
    assert [line.rsplit(": ", 1)[1] for line in broken] == ["missing.md", "gone.png"]
