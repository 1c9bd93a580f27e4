"""cgw.py's request files: JSON lines, a JSON array, CSV; validated before anything is sent."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tools.cgwcli.inputs import InputError, parse_file, parse_files, validator

ROOT = Path(__file__).resolve().parents[2]
CHECK = validator(json.loads((ROOT / "schemas/provisioning-request.schema.json").read_text()))
GOOD = {"RegionId": "cn-shanghai", "IpAddress": "203.0.113.10", "Name": "branch-1"}

names = st.text(st.sampled_from("abcdefghij-_0123456789"), min_size=2, max_size=20)
octet = st.integers(min_value=1, max_value=223)
valid_requests = st.fixed_dictionaries(
    {
        "RegionId": st.sampled_from(["cn-shanghai", "cn-beijing", "ap-southeast-1"]),
        "IpAddress": st.tuples(octet, octet, octet, octet).map(lambda t: ".".join(map(str, t))),
    },
    optional={
        "Name": names,
        "Asn": st.integers(min_value=1, max_value=4294967295).map(str),
        "AuthKey": st.text(st.sampled_from("abcXYZ123!@#"), min_size=1, max_size=20),
        "ClientToken": st.text(st.sampled_from("abc-123_Z"), min_size=1, max_size=64),
        "Tags": st.lists(
            st.fixed_dictionaries(
                {"Key": st.sampled_from(["team", "env", "site"]), "Value": names}
            ),
            max_size=1,
        ),
    },
)


def as_jsonl(requests):
    return "".join(json.dumps(r) + "\n" for r in requests)


def as_csv(requests):
    columns = ["RegionId", "IpAddress", "Name", "Asn", "AuthKey", "ClientToken", "Tags"]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    for r in requests:
        writer.writerow([json.dumps(r[c]) if c == "Tags" else r.get(c, "") for c in columns])
    return out.getvalue()


@settings(max_examples=100, deadline=None)
@given(st.lists(valid_requests, min_size=1, max_size=5))
def test_the_three_formats_give_the_same_requests(requests):
    for r in requests:
        r.setdefault("Tags", [])
    jsonl, _ = parse_file("r.jsonl", as_jsonl(requests), CHECK)
    array, _ = parse_file("r.json", json.dumps(requests), CHECK)
    table, problems = parse_file("r.csv", as_csv(requests), CHECK)
    assert problems == []
    strip = lambda found: [{k: v for k, v in r.fields.items() if k != "ClientToken"} for r in found]  # noqa: E731
    expected = [{k: v for k, v in r.items() if k != "ClientToken"} for r in requests]
    assert strip(jsonl) == strip(array) == expected
    assert [{k: v for k, v in r.items() if v != []} for r in strip(table)] == [
        {k: v for k, v in r.items() if v != []} for r in expected
    ]
    for found in (jsonl, array, table):
        for request, original in zip(found, requests, strict=True):
            assert request.own_token == ("ClientToken" in original)
            if request.own_token:
                assert request.fields["ClientToken"] == original["ClientToken"]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["x.jsonl", "x.json", "x.csv"]), st.text(max_size=300))
def test_any_text_gives_requests_or_named_problems_never_a_traceback(name, text):
    requests, problems = parse_file(name, text, CHECK)
    assert not (requests and problems)
    for problem in problems:
        assert problem.file == name
        assert problem.where.split()[0] in ("line", "item")
        assert problem.message


@settings(max_examples=100, deadline=None)
@given(st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=65, max_size=80))
def test_a_bad_auth_key_is_named_but_never_shown(secret):
    text = json.dumps({**GOOD, "AuthKey": secret}) + "\n"
    _, problems = parse_file("s.jsonl", text, CHECK)
    assert problems
    assert all(secret not in str(p) for p in problems)
    assert any("AuthKey" in str(p) for p in problems)


def test_a_bad_line_names_file_line_and_field_and_stops_only_that_file():
    bad = as_jsonl([GOOD]) + "\n" + json.dumps({**GOOD, "IpAddress": "203.0.113"}) + "\n"
    with pytest.raises(InputError) as caught:
        parse_files([("good.jsonl", as_jsonl([GOOD])), ("bad.jsonl", bad)], CHECK)
    (problem,) = caught.value.problems
    assert (problem.file, problem.where) == ("bad.jsonl", "line 3")
    assert problem.message.startswith("IpAddress: ")


@pytest.mark.parametrize(
    ("name", "text", "where", "message"),
    [
        ("a.jsonl", "{not json}\n", "line 1", "not JSON"),
        (
            "a.json",
            '[{"RegionId": "cn-shanghai"}]',
            "line 1 (item 1)",
            "'IpAddress' is a required property",
        ),
        ("a.json", "[1]", "line 1 (item 1)", "not a request object"),
        ("a.jsonl", "[" * 5000 + "\n", "line 1", "nested too deeply"),
        ("a.json", "[" * 5000 + "]" * 5000, "line 1", "nested too deeply"),
        (
            "a.csv",
            "RegionId,IpAddress,Colour\ncn-shanghai,203.0.113.1,red\n",
            "line 2",
            "unknown field(s) Colour",
        ),
        (
            "a.csv",
            'RegionId,IpAddress,Tags\ncn-shanghai,203.0.113.1,"[{"\n',
            "line 2",
            "Tags: not JSON text",
        ),
        ("a.csv", "RegionId,IpAddress\ncn-shanghai,203.0.113.1,extra\n", "line 2", "more cells"),
        ("a.jsonl", "\n\n", "line 1", "no request in this file"),
    ],
)
def test_problems_are_specific(name, text, where, message):
    requests, problems = parse_file(name, text, CHECK)
    assert requests == []
    assert problems[0].where == where
    assert message in problems[0].message


def test_line_numbers_skip_blank_lines_and_csv_counts_the_header():
    (first, second), _ = parse_file(
        "a.jsonl", "\n" + as_jsonl([GOOD]) + "\n" + as_jsonl([GOOD]), CHECK
    )
    assert (first.where, second.where) == ("line 2", "line 4")
    assert first.fields["ClientToken"] != second.fields["ClientToken"]
    (row,), _ = parse_file("a.csv", "RegionId,IpAddress\ncn-shanghai,203.0.113.1\n", CHECK)
    assert (row.where, row.fields) == (
        "line 2",
        {
            "RegionId": "cn-shanghai",
            "IpAddress": "203.0.113.1",
            "ClientToken": row.fields["ClientToken"],
        },
    )


def test_the_sample_csv_of_100_branch_offices_is_valid():
    path = ROOT / "events" / "cli" / "branches-100.csv"
    requests, problems = parse_file(path.name, path.read_text(encoding="utf-8"), CHECK)
    assert problems == []
    assert len(requests) == 100
    assert len({r.fields["IpAddress"] for r in requests}) == 100


def test_a_byte_order_mark_is_not_part_of_the_first_header():
    (row,), problems = parse_file(
        "excel.csv", "\ufeffRegionId,IpAddress\ncn-shanghai,203.0.113.1\n", CHECK
    )
    assert problems == []
    assert row.fields["RegionId"] == "cn-shanghai"


def test_an_array_item_is_reported_with_the_line_it_starts_on():
    items = [GOOD, GOOD, {**GOOD, "IpAddress": "300.1.1.1"}]
    text = json.dumps(items, indent=2)  # 6 lines per item, the third starts on line 12
    _, problems = parse_file("pretty.json", text, CHECK)
    assert [p.where for p in problems] == ["line 12 (item 3)"]
    assert problems[0].message.startswith("IpAddress: ")
