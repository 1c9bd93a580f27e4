"""List the code written twice: runs of at least N identical lines in two places.

    python tools/duplicates.py [--lines 6] [paths ...]   (default: functions localcloud tools bench)

Lines are compared stripped of indentation, with blank lines, comments, imports and lines of
only brackets left out, so a block moved into a class or re-indented is still found. Overlapping
windows of the same pair of places are merged into one report line. Exit status 0 always: what
is listed is for a reader to judge (two SDK error handlers may rightly look alike).
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PATHS = ("functions", "localcloud", "tools", "bench")
_TRIVIAL = {"", ")", "]", "}", "),", "],", "},", "else:", "try:", "finally:", "pass", "return"}


@dataclass(frozen=True)
class Line:
    path: str
    number: int
    text: str


@dataclass(frozen=True)
class Duplicate:
    first: tuple[str, int, int]  # path, first line, last line
    second: tuple[str, int, int]

    def __str__(self) -> str:
        (p1, a1, b1), (p2, a2, b2) = self.first, self.second
        return f"{p1}:{a1}-{b1}  ==  {p2}:{a2}-{b2}  ({b1 - a1 + 1} lines)"


def meaningful_lines(path: str, source: str) -> list[Line]:
    """The lines that count, stripped, with their line numbers."""
    imports: set[int] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            imports.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
    kept = []
    for number, raw in enumerate(source.splitlines(), 1):
        text = raw.strip()
        if text in _TRIVIAL or text.startswith("#") or number in imports:
            continue
        kept.append(Line(path, number, text))
    return kept


def find(files: dict[str, str], window: int = 6) -> list[Duplicate]:
    """Runs of `window` or more meaningful lines that appear in two places."""
    seen: dict[tuple[str, ...], list[tuple[str, int]]] = defaultdict(list)
    lines = {path: meaningful_lines(path, source) for path, source in files.items()}
    for path, kept in lines.items():
        for start in range(len(kept) - window + 1):
            key = tuple(line.text for line in kept[start : start + window])
            seen[key].append((path, start))
    merged: dict[tuple[str, str, int], Duplicate] = {}
    for places in seen.values():
        for i, (path1, start1) in enumerate(places):
            for path2, start2 in places[i + 1 :]:
                if path1 == path2 and abs(start1 - start2) < window:
                    continue  # a repeated line pattern overlapping itself
                offset = (path1, path2, start2 - start1)
                a, b = lines[path1], lines[path2]
                first = (path1, a[start1].number, a[start1 + window - 1].number)
                second = (path2, b[start2].number, b[start2 + window - 1].number)
                known = merged.get(offset)
                if known is not None and known.first[2] >= first[1] - 1:
                    first = (path1, known.first[1], max(known.first[2], first[2]))
                    second = (path2, known.second[1], max(known.second[2], second[2]))
                merged[offset] = Duplicate(first, second)
    return sorted(set(merged.values()), key=lambda d: (d.first, d.second))


def python_files(paths: Iterable[str]) -> dict[str, str]:
    files: dict[str, str] = {}
    for name in paths:
        base = ROOT / name
        candidates = [base] if base.is_file() else sorted(base.rglob("*.py"))
        for path in candidates:
            files[str(path.relative_to(ROOT))] = path.read_text(encoding="utf-8")
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=6, help="shortest run reported (6)")
    parser.add_argument("paths", nargs="*", default=list(DEFAULT_PATHS))
    args = parser.parse_args(argv)
    found = find(python_files(args.paths), args.lines)
    for duplicate in found:
        print(duplicate)
    print(f"{len(found)} duplicated run(s) of {args.lines}+ lines", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
