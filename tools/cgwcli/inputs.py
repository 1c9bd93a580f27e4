"""Request files -> requests (pure: the caller reads the bytes).

A file holds requests as JSON lines (one object per line; blank lines are skipped), one JSON
array of objects, or CSV whose header names request fields (`Tags` and `Metadata` as JSON text
in their cells, an empty cell means "absent"). Which one: a `.csv` name is CSV; otherwise a file
whose first non-blank character is `[` is a JSON array, anything else JSON lines.

Each request is checked against schemas/provisioning-request.schema.json (the function checks
a few more rules of its own, e.g. refused IP ranges; those come back as failed outcomes).
Every problem names its file, its line (or array item) and the field.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, cast

from jsonschema import Draft202012Validator, FormatChecker

from .tokens import line_token

JSON_CELLS = ("Tags", "Metadata")


@dataclass(frozen=True)
class Request:
    file: str
    position: int  # line number (JSON lines, CSV) or 1-based item (JSON array)
    where: str  # "line 3" / "line 12 (item 3)"
    fields: dict[str, Any]  # with its ClientToken (its own, or the line token)
    own_token: bool

    @property
    def label(self) -> str:
        return f"{self.file}:{self.position}"


@dataclass(frozen=True)
class Problem:
    file: str
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.where}: {self.message}"


class InputError(ValueError):
    """One or more files hold something that is not a request; nothing of them is sent."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


def validator(schema: dict[str, Any]) -> Draft202012Validator:
    return Draft202012Validator(schema, format_checker=FormatChecker())


def parse_file(
    name: str, text: str, check: Draft202012Validator
) -> tuple[list[Request], list[Problem]]:
    """All requests of one file, or the problems that stop it from being sent."""
    text = text.removeprefix("\ufeff")  # a byte order mark, as spreadsheet programs write
    if name.lower().endswith(".csv"):
        items = _csv_items(text)
    elif text.lstrip().startswith("["):
        items = _array_items(text)
    else:
        items = _jsonl_items(text)
    requests: list[Request] = []
    problems: list[Problem] = []
    for position, where, value in items:
        if isinstance(value, Problem):
            problems.append(Problem(name, where, value.message))
            continue
        errors = _violations(value, check)
        if errors:
            problems.extend(Problem(name, where, e) for e in errors)
            continue
        own = "ClientToken" in value
        fields = dict(value)
        if not own:
            fields["ClientToken"] = line_token(position, value)
        requests.append(Request(name, position, where, fields, own))
    if not requests and not problems:
        problems.append(Problem(name, "line 1", "no request in this file"))
    return (requests if not problems else []), problems


def parse_files(files: Iterable[tuple[str, str]], check: Draft202012Validator) -> list[Request]:
    """Requests of every file in order; InputError listing every problem of every file."""
    requests: list[Request] = []
    problems: list[Problem] = []
    for name, text in files:
        found, wrong = parse_file(name, text, check)
        requests.extend(found)
        problems.extend(wrong)
    if problems:
        raise InputError(problems)
    return requests


def _violations(value: Any, check: Draft202012Validator) -> list[str]:
    if not isinstance(value, dict):
        return [f"not a request object (a JSON {type(value).__name__})"]
    messages = []
    for error in sorted(check.iter_errors(value), key=lambda e: list(e.absolute_path)):
        field = "/".join(str(p) for p in error.absolute_path) or "(request)"
        if error.validator == "additionalProperties":
            schema = cast("Mapping[str, Any]", check.schema)
            unknown = sorted(set(value) - set(schema["properties"]))
            messages.append(f"unknown field(s) {', '.join(unknown)}")
        elif error.validator == "required":
            messages.append(f"{field}: {error.message}")
        else:
            messages.append(f"{field}: {_safe_message(error, field)}")
    return messages


def _safe_message(error: Any, field: str) -> str:
    """jsonschema's message without the value when the field is secret (AuthKey)."""
    if field.split("/")[0] == "AuthKey":
        return f"does not satisfy {error.validator} (value not shown)"
    return error.message


def _jsonl_items(text: str) -> list[tuple[int, str, Any]]:
    items = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            items.append((number, f"line {number}", json.loads(line)))
        except ValueError as exc:
            items.append((number, f"line {number}", Problem("", "", f"not JSON ({exc})")))
        except RecursionError:
            items.append((number, f"line {number}", Problem("", "", "nested too deeply")))
    return items


def _array_items(text: str) -> list[tuple[int, str, Any]]:
    """Items of a JSON array, each with the line it starts on ("line 7 (item 3)")."""
    try:
        value = json.loads(text)
    except ValueError as exc:
        return [(1, f"line {getattr(exc, 'lineno', 1)}", Problem("", "", f"not JSON ({exc})"))]
    except RecursionError:
        return [(1, "line 1", Problem("", "", "nested too deeply"))]
    if not isinstance(value, list):
        return [(1, "line 1", Problem("", "", "not a JSON array of requests"))]
    starts = _item_offsets(text)
    items = []
    for index, item in enumerate(value, start=1):
        line = text.count("\n", 0, starts[index - 1]) + 1 if len(starts) == len(value) else None
        where = f"line {line} (item {index})" if line else f"item {index}"
        items.append((index, where, item))
    return items


def _item_offsets(text: str) -> list[int]:
    """Where each top-level item of a valid JSON array starts (raw_decode walks the items)."""
    decoder = json.JSONDecoder()
    offsets: list[int] = []
    at = text.index("[") + 1
    while True:
        at = _skip(text, at, " \t\r\n")
        if text[at] == "]":
            return offsets
        offsets.append(at)
        _, at = decoder.raw_decode(text, at)
        at = _skip(text, at, " \t\r\n,")


def _skip(text: str, at: int, characters: str) -> int:
    while at < len(text) and text[at] in characters:
        at += 1
    return at


def _csv_items(text: str) -> list[tuple[int, str, Any]]:
    reader = csv.DictReader(io.StringIO(text, newline=""), restkey="\0extra")
    try:
        return _csv_rows(reader)
    except csv.Error as exc:
        line = max(1, reader.line_num)
        return [(line, f"line {line}", Problem("", "", f"not CSV ({exc})"))]


def _csv_rows(reader: csv.DictReader) -> list[tuple[int, str, Any]]:
    items: list[tuple[int, str, Any]] = []
    if reader.fieldnames is None:
        return items
    blank = [i + 1 for i, name in enumerate(reader.fieldnames) if not (name or "").strip()]
    if blank:
        return [(1, "line 1", Problem("", "", f"header: column {blank[0]} has no name"))]
    for row in reader:
        number = reader.line_num
        where = f"line {number}"
        if "\0extra" in row:
            items.append((number, where, Problem("", "", "more cells than header columns")))
            continue
        if all(v in (None, "") for v in row.values()):
            continue
        fields: dict[str, Any] = {}
        problem = None
        for key, cell in row.items():
            key = key.strip()
            if cell is None or cell == "":
                continue
            if key in JSON_CELLS:
                try:
                    fields[key] = json.loads(cell)
                except ValueError as exc:
                    problem = Problem("", "", f"{key}: not JSON text ({exc})")
                    break
            else:
                fields[key] = cell
        items.append((number, where, problem or fields))
    return items
