"""cgw.py send: outcome events matched to requests, the table, the results file; run names."""

from __future__ import annotations

import json

from tools.cgwcli import defaults, outcomes, runs
from tools.cgwcli.inputs import Request


def request(n: int, token: str | None = None) -> Request:
    fields = {
        "RegionId": "cn-shanghai",
        "IpAddress": f"203.0.113.{n}",
        "ClientToken": token or f"t-{n}",
    }
    return Request("f.jsonl", n, f"line {n}", fields, token is not None)


def event(kind: str, message_id: str, token: str, **data) -> dict:
    base = {"trigger": {"kind": "mns-queue", "messageId": message_id}}
    if kind == "created":
        base |= {
            "customerGateway": {"CustomerGatewayId": data.get("gw", "cgw-1")},
            "adopted": False,
        }
    else:
        base |= {"error": {"code": data.get("code", "Throttling"), "message": "slow down\nplease"}}
    return {"type": f"vpc.customergateway.{kind}", "subject": token, "data": base}


def tracker(count: int) -> outcomes.Tracker:
    t = outcomes.Tracker.of([request(n) for n in range(1, count + 1)])
    for item in t.items:
        t.sent(item, f"M-{item.request.position}")
    return t


def test_outcomes_are_matched_by_message_id_then_token_and_kept_in_input_order():
    t = tracker(3)
    assert t.accept(event("created", "M-2", "t-2", gw="cgw-2"))
    assert t.accept(event("failed", "other-id", "t-3", code="InvalidAsn"))  # by token
    assert not t.accept(event("created", "M-9", "t-9"))
    assert not t.accept({"no": "data"})
    assert t.counts() == {"created": 1, "failed": 1, "waiting": 1}
    rows = [outcomes.row(i) for i in t.items]
    assert [r[1:3] for r in rows] == [
        ("no outcome", "-"),
        ("created", "cgw-2"),
        ("failed", "InvalidAsn"),
    ]
    assert outcomes.exit_status(t) == 1


def test_a_later_created_replaces_a_failed_but_not_the_other_way():
    t = tracker(1)
    t.accept(event("failed", "M-1", "t-1"))
    t.accept(event("created", "M-1", "t-1", gw="cgw-7"))
    t.accept(event("failed", "M-1", "t-1"))
    assert t.items[0].created
    assert t.done()
    assert outcomes.exit_status(t) == 0


def test_table_and_results_lines():
    t = tracker(2)
    t.accept(event("failed", "M-1", "t-1", code="Throttling"))
    text = outcomes.table(t.items)
    assert text.splitlines()[0].split() == [
        "request",
        "outcome",
        "gateway",
        "/",
        "error",
        "message",
    ]
    assert "f.jsonl:1  failed      Throttling" in text
    assert "slow down please" in text  # one line per row
    first, second = (json.loads(outcomes.result_line(i, "no outcome within 5 s")) for i in t.items)
    assert first["data"]["error"]["code"] == "Throttling"
    assert second == {
        "request": "f.jsonl:2",
        "messageId": "M-2",
        "outcome": None,
        "reason": "no outcome within 5 s",
    }


def test_bar_shows_every_count():
    assert outcomes.bar({"created": 2, "failed": 1, "waiting": 1}, width=8) == (
        "[####--..] created 2  failed 1  waiting 1"
    )


def test_leftover_run_queues_are_recognised():
    mine = runs.inbox_name("host-a", 4242, 1_000_000)
    assert mine.startswith("cgw-cli-")
    assert len(mine) <= 120
    dead_pid = runs.is_leftover(mine, "host-a", 1_000_100, running=lambda pid: False)
    live_pid = runs.is_leftover(mine, "host-a", 1_000_100, running=lambda pid: True)
    other_host = runs.is_leftover(mine, "host-b", 1_000_100, running=lambda pid: False)
    old = runs.is_leftover(
        mine, "host-b", 1_000_000 + runs.STALE_AFTER_S + 1, running=lambda p: True
    )
    assert (dead_pid, live_pid, other_host, old) == (True, False, False, True)
    assert not runs.is_leftover(mine, "host-a", 1_000_100, running=lambda p: False, own=mine)
    assert not runs.is_leftover("cgw-requests", "host-a", 1_000_100, running=lambda p: False)


def test_template_defaults_and_endpoint_identity():
    names = defaults.names(
        "Parameters:\n  RequestQueueName: {Type: String, Default: q1}\n"
        "  DeadLetterQueueName: {Type: String, Default: d1}\n"
    )
    assert names == {
        "queue": "q1",
        "dead_letter_queue": "d1",
        "topic": "cgw-outcomes",
        "token_queue": "cgw-send-tokens",
    }
    assert defaults.endpoint_identity("https://1234567890123456.mns.cn-shanghai.aliyuncs.com") == (
        "cn-shanghai",
        "1234567890123456",
    )
    assert defaults.endpoint_identity(
        "http://1234567890123456.mns.cn-hangzhou-internal.aliyuncs.com/"
    ) == ("cn-hangzhou", "1234567890123456")
    assert defaults.endpoint_identity("http://127.0.0.1:8080") == (None, None)
