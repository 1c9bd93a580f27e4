"""tools/cgw.py, the real command (a subprocess), against localcloud with template.yml deployed.

Every call of the command goes over HTTP through aliyun-mns-sdk; the function runs behind the
emulated EventBridge trigger; faults come from localcloud's fault rules.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from mns.account import Account
from mns.queue import Message, QueueMeta
from mns.subscription import SubscriptionMeta

from localcloud import LocalCloud
from localcloud.credentials import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET
from tools.cgwcli import runs

ROOT = Path(__file__).resolve().parents[2]
CLI = ROOT / "tools" / "cgw.py"
SECRET = "bgp-Secret-77"
VPC_DOWN = {
    "service": "vpc",
    "action": "CreateCustomerGateway",
    "error": {"status": 503, "code": "ServiceUnavailable", "message": "down"},
}

pytestmark = [pytest.mark.timeout(300), pytest.mark.slow]


class Cli:
    def __init__(self, cloud: LocalCloud, tmp: Path) -> None:
        self.cloud = cloud
        self.tmp = tmp
        self.outputs = cloud.deployment.outputs
        self.env = {
            **{k: v for k, v in os.environ.items() if "PROXY" not in k.upper()},
            "MNS_ENDPOINT": cloud.cloud.base_url,
            "ALIBABA_CLOUD_ACCESS_KEY_ID": DEFAULT_ACCESS_KEY_ID,
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET": DEFAULT_ACCESS_KEY_SECRET,
            "ALIBABA_CLOUD_REGION_ID": cloud.cloud.region,
            "ALIBABA_CLOUD_ACCOUNT_ID": cloud.cloud.account_id,
        }
        self.account = Account(
            cloud.cloud.base_url, DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET
        )

    def run(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [sys.executable, str(CLI), *args],
            cwd=self.tmp,
            env=env or self.env,
            capture_output=True,
            text=True,
            timeout=240,
        )
        for stream in (result.stdout, result.stderr):
            assert SECRET not in stream
            assert DEFAULT_ACCESS_KEY_SECRET not in stream
            assert "Traceback" not in stream
        return result

    def file(self, name: str, text: str) -> str:
        (self.tmp / name).write_text(text, encoding="utf-8")
        return name

    def faults(self, rules: list[dict[str, Any]]) -> None:
        self.cloud.cloud.faults.set_rules(rules)

    def gateways(self) -> list[dict[str, Any]]:
        return self.cloud.cloud.backends.vpc.state()["customer_gateways"]

    def count(self, queue: str) -> int:
        q = self.cloud.cloud.backends.mns.get_queue(queue)
        return q["ActiveMessages"] + q["InactiveMessages"] + q["DelayMessages"]

    def calls(self, action: str) -> list[dict[str, Any]]:
        return [c for c in self.cloud.cloud.calls.snapshot() if c["action"] == action]

    def status(self) -> dict[str, Any]:
        result = self.run("status", "--json")
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)


@pytest.fixture
def cli(outage_stack, tmp_path) -> Cli:
    outage_stack.cloud.reset()  # empties every backend and deploys the template again
    return Cli(outage_stack, tmp_path)


def wait_for(condition: Callable[[], Any], what: str, within: float = 90) -> Any:
    deadline = time.monotonic() + within
    while not (value := condition()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)
    return value


def request(n: int, **extra: Any) -> dict[str, Any]:
    return {"RegionId": "cn-shanghai", "IpAddress": f"198.51.100.{n}", "Name": f"b-{n}", **extra}


def rows(stdout: str) -> list[list[str]]:
    """The result table's rows (after the dashed line), split into columns."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("---")) + 1
    table = []
    for line in lines[start:]:
        if not line.strip() or line[0].isdigit():
            break
        table.append(line.split(None, 3))
    return table


def test_send_json_lines_array_and_csv_gives_the_table_results_and_status_1(cli):
    jsonl = cli.file(
        "a.jsonl",
        json.dumps(request(1, AuthKey=SECRET))
        + "\n\n"
        + json.dumps(request(2, Asn=45104))  # valid JSON Schema, refused by the function
        + "\n",
    )
    array = cli.file("b.json", json.dumps([request(3), request(4, ClientToken="order-4")]))
    table = cli.file(
        "c.csv",
        "RegionId,IpAddress,Name,Asn,Tags\n"
        'cn-beijing,198.51.100.5,b-5,65005,"[{""Key"":""team"",""Value"":""net""}]"\n',
    )
    result = cli.run("send", jsonl, array, table, "--results", "out.jsonl", "--timeout", "90")
    assert result.returncode == 1, result.stdout + result.stderr
    table = rows(result.stdout)
    assert [r[:2] for r in table] == [
        ["a.jsonl:1", "created"],
        ["a.jsonl:3", "failed"],
        ["b.json:1", "created"],
        ["b.json:2", "created"],
        ["c.csv:2", "created"],
    ]
    assert table[1][2:] == ["InvalidAsn", "Asn 45104 is Alibaba Cloud's own ASN"]
    assert "4 created, 1 failed, 0 without an outcome" in result.stdout
    by_id = {g["CustomerGatewayId"]: g for g in cli.gateways()}
    assert len(by_id) == 4
    created_ids = [r[2] for r in rows(result.stdout) if r[1] == "created"]
    assert sorted(created_ids) == sorted(by_id)
    results = [json.loads(line) for line in (cli.tmp / "out.jsonl").read_text().splitlines()]
    assert [e["type"].rsplit(".", 1)[1] for e in results] == [
        "created",
        "failed",
        "created",
        "created",
        "created",
    ]
    assert [e["data"]["request"]["IpAddress"] for e in results] == [
        f"198.51.100.{n}" for n in range(1, 6)
    ]
    assert results[3]["subject"] == "order-4"  # its own token kept
    assert SECRET not in (cli.tmp / "out.jsonl").read_text()
    assert cli.status()["resultTopic"]["subscriptions"] == []  # the run's queue is gone
    pool = cli.status()["tokenQueue"]  # (the template's RetryPolicy: fleet-tokens)
    assert pool["name"] == "cgw-send-tokens"
    assert pool["tokens"] >= 1  # the calls drew on it; what a call holds comes back
    assert pool["tokens"] == pool["visible"] + pool["inFlight"] + pool["delayed"]
    human = cli.run("status")
    line = r"send tokens    cgw-send-tokens: \d+ token\(s\) in the fleet's pool"
    assert re.search(line, human.stdout), human.stdout
    other = cli.run("status", "--token-queue", "no-such-queue")
    assert other.returncode == 0, other.stderr
    assert "send tokens    no-such-queue: no such queue" in other.stdout


def test_a_file_with_a_bad_line_is_not_sent_at_all(cli):
    good = cli.file("good.jsonl", json.dumps(request(1)) + "\n")
    bad = cli.file(
        "bad.csv",
        "RegionId,IpAddress,AuthKey\ncn-shanghai,198.51.100.2,ok\ncn-shanghai,198.51.100,"
        + SECRET
        + " with space\n",
    )
    result = cli.run("send", good, bad)
    assert result.returncode == 2
    assert "bad.csv: line 3: IpAddress: " in result.stderr
    assert "bad.csv: line 3: AuthKey: " in result.stderr
    assert "nothing sent" in result.stderr
    assert cli.count(cli.outputs["RequestQueueName"]) == 0
    assert cli.calls("BatchSendMessage") == []


def test_sending_the_same_file_twice_makes_no_second_gateway(cli):
    branches = cli.file("branches.jsonl", "".join(json.dumps(request(n)) + "\n" for n in (1, 2)))
    first = cli.run("send", branches, "--timeout", "90")
    second = cli.run("send", branches, "--timeout", "90")
    assert (first.returncode, second.returncode) == (0, 0), first.stdout + second.stdout
    assert [r[2] for r in rows(first.stdout)] == [r[2] for r in rows(second.stdout)]
    assert len(cli.gateways()) == 2


def test_a_send_that_fails_part_of_the_way_says_so_and_sending_again_is_safe(cli):
    branches = cli.file("b.jsonl", "".join(json.dumps(request(n)) + "\n" for n in range(1, 21)))
    # One BatchSendMessage goes through, the next is throttled: 16 of 20 sent.
    cli.faults(
        [{"service": "mns", "action": "BatchSendMessage", "rate_limit_qps": 0.001, "burst": 1}]
    )
    first = cli.run("send", branches, "--no-wait")
    assert first.returncode == 1
    assert first.stderr.startswith("cgw.py send: queue cgw-requests: Throttling.User")
    assert first.stderr.rstrip().endswith("(16 of 20 sent before it)")
    cli.faults([])
    again = cli.run("send", branches, "--timeout", "90")
    assert again.returncode == 0, again.stdout
    assert "20 created, 0 failed" in again.stdout
    queue = cli.outputs["RequestQueueName"]
    wait_for(lambda: cli.count(queue) == 0, "the request queue empty")
    assert len(cli.gateways()) == 20  # the 16 sent twice were returned, not made again


def test_no_wait_sends_and_returns(cli):
    branches = cli.file("one.jsonl", json.dumps(request(9)) + "\n")
    result = cli.run("send", branches, "--no-wait", "--results", "sent.jsonl")
    assert result.returncode == 0
    (line,) = (cli.tmp / "sent.jsonl").read_text().splitlines()
    assert json.loads(line)["reason"] == "not followed (--no-wait)"
    assert "sent 1 request(s) to queue cgw-requests" in result.stdout
    wait_for(lambda: len(cli.gateways()) == 1, "the gateway")


def test_an_outage_goes_to_the_dead_letter_queue_and_redrive_recovers_it_exactly_once(cli):
    cli.faults([VPC_DOWN])
    branches = cli.file(
        "branches.jsonl",
        "".join(json.dumps(request(n, AuthKey=SECRET)) + "\n" for n in (1, 2, 3)),
    )
    sent = cli.run("send", branches, "--timeout", "3", "--results", "out.jsonl")
    assert sent.returncode == 1
    assert [r[1] for r in rows(sent.stdout)] == ["no", "no", "no"]  # "no outcome"
    missing = [json.loads(line) for line in (cli.tmp / "out.jsonl").read_text().splitlines()]
    assert [(m["request"], m["outcome"]) for m in missing] == [
        ("branches.jsonl:1", None),
        ("branches.jsonl:2", None),
        ("branches.jsonl:3", None),
    ]
    dlq = cli.outputs["DeadLetterQueueName"]
    wait_for(lambda: cli.count(dlq) == 3, "three dead letters")
    status = cli.status()
    assert status["deadLetterQueue"]["visible"] == 3
    assert status["deadLetterQueue"]["byRegion"] == {"cn-shanghai": 3}
    assert {d["messageId"] for d in status["deadLetterQueue"]["letters"]} == {
        m["messageId"] for m in missing
    }
    dry = cli.run("redrive", "--dry-run")
    assert dry.returncode == 0
    assert "198.51.100.2" in dry.stdout
    assert "would move; nothing changed" in dry.stdout
    assert cli.count(dlq) == 3

    cli.faults([])
    moved = cli.run("redrive")
    assert moved.returncode == 0, moved.stderr
    assert "moved 3 dead letter(s) (3 request(s))" in moved.stdout
    wait_for(lambda: len(cli.gateways()) == 3, "three gateways")
    assert cli.count(dlq) == 0
    again = cli.run("send", branches, "--timeout", "90")  # the same lines: the same gateways
    assert again.returncode == 0, again.stdout
    assert sorted(r[2] for r in rows(again.stdout)) == sorted(
        g["CustomerGatewayId"] for g in cli.gateways()
    )
    assert len(cli.gateways()) == 3


def test_redrive_stopped_between_send_and_delete_loses_nothing_and_duplicates_nothing(cli):
    cli.faults([VPC_DOWN])
    queue = cli.outputs["RequestQueueName"]
    dlq = cli.outputs["DeadLetterQueueName"]
    # Requests without a ClientToken, sent by another producer: redrive writes in the token the
    # function derived from each original message id.
    for n in (1, 2):
        cli.account.get_queue(queue).send_message(Message(json.dumps(request(n))))
    wait_for(lambda: cli.count(dlq) == 2, "two dead letters")
    cli.faults(
        [
            {
                "service": "mns",
                "action": "DeleteMessage",
                "error": {"code": "InternalError", "status": 500},
            }
        ]
    )

    stopped = cli.run("redrive", "--limit", "1")
    assert stopped.returncode == 1
    assert stopped.stderr.startswith(f"cgw.py redrive: queue {dlq}: InternalError")
    assert len(stopped.stderr.strip().splitlines()) == 1
    wait_for(lambda: len(cli.gateways()) == 1, "the request sent before the failed delete")

    cli.faults([])
    wait_for(lambda: cli.status()["deadLetterQueue"]["visible"] == 2, "the letter back")
    moved = cli.run("redrive")
    assert moved.returncode == 0, moved.stderr
    assert "moved 2 dead letter(s)" in moved.stdout
    # A message leaves the request queue only after its invocation returned: empty queues mean
    # every redriven copy has been handled.
    wait_for(lambda: cli.count(dlq) == 0 and cli.count(queue) == 0, "both queues empty")
    assert len(cli.gateways()) == 2  # the request sent twice was returned, not made again
    calls = cli.calls("CreateCustomerGateway")
    first_tries = {c["parameters"]["ClientToken"] for c in calls if c["fault"]}
    redriven = {c["parameters"]["ClientToken"] for c in calls if not c["fault"]}
    assert len(first_tries) == 2
    assert redriven == first_tries  # the function's derived tokens, kept through the redrive


def test_redrive_killed_between_send_and_delete_then_run_again(cli):
    """SIGKILL after the requests were sent and before the letter was deleted: the letter comes
    back when its visibility timeout ends, the second run sends it again, one gateway."""
    cli.faults([VPC_DOWN])
    cli.run("send", cli.file("one.jsonl", json.dumps(request(7)) + "\n"), "--no-wait")
    dlq = cli.outputs["DeadLetterQueueName"]
    wait_for(lambda: cli.count(dlq) == 1, "a dead letter")
    # Deletes hang, then fail: the process is killed while its delete is pending.
    cli.faults(
        [
            {"service": "mns", "action": "DeleteMessage", "latency_ms": 20000},
            {"service": "mns", "action": "DeleteMessage", "error": {"code": "InternalError"}},
        ]
    )
    sends_before = len(cli.calls("BatchSendMessage"))
    process = subprocess.Popen(
        [sys.executable, str(CLI), "redrive"],
        cwd=cli.tmp,
        env=cli.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: len(cli.calls("BatchSendMessage")) > sends_before, "the redrive's send")
    finally:
        process.kill()
        process.wait()
    wait_for(lambda: len(cli.gateways()) == 1, "the gateway of the sent request")
    cli.faults([])
    # The received letter is invisible for the queue's VisibilityTimeout (30 s), then back.
    wait_for(lambda: cli.status()["deadLetterQueue"]["visible"] == 1, "the letter back", 60)
    again = cli.run("redrive")
    assert again.returncode == 0, again.stderr
    assert "moved 1 dead letter(s)" in again.stdout
    queue = cli.outputs["RequestQueueName"]
    wait_for(lambda: cli.count(dlq) == 0 and cli.count(queue) == 0, "both queues empty")
    assert len(cli.gateways()) == 1


def test_a_hundred_branch_offices_in_one_command(cli):
    csv_path = str(ROOT / "events" / "cli" / "branches-100.csv")
    result = cli.run("send", csv_path, "--timeout", "200")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr
    assert "100 created, 0 failed, 0 without an outcome" in result.stdout
    assert len(cli.gateways()) == 100


def test_a_queue_left_by_a_killed_run_is_removed_by_the_next_run(cli):
    finished = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    name = runs.inbox_name(socket.gethostname(), int(finished.stdout), time.time() - 60)
    topic = cli.outputs["ResultTopicName"]
    cli.account.get_queue(name).create(QueueMeta())
    endpoint = f"acs:mns:{cli.cloud.cloud.region}:{cli.cloud.cloud.account_id}:queues/{name}"
    cli.account.get_topic(topic).get_subscription(name).subscribe(SubscriptionMeta(endpoint))
    result = cli.run("send", cli.file("one.jsonl", json.dumps(request(1)) + "\n"))
    assert result.returncode == 0
    assert f"removed 1 queue(s) left by killed runs: {name}" in result.stdout
    queues, _ = cli.account.list_queue(prefix=runs.PREFIX)
    assert queues == []
    assert cli.status()["resultTopic"]["subscriptions"] == []


def test_usage_errors_and_an_unreachable_endpoint_exit_2_with_one_line(cli):
    no_endpoint = {k: v for k, v in cli.env.items() if k != "MNS_ENDPOINT"}
    result = cli.run("status", env=no_endpoint)
    assert (result.returncode, result.stderr.strip()) == (
        2,
        "cgw.py status: no MNS endpoint: pass --endpoint URL or set MNS_ENDPOINT",
    )
    unreachable = cli.run("status", "--endpoint", "http://127.0.0.1:9")
    assert unreachable.returncode == 2
    assert unreachable.stderr.startswith("cgw.py status: queue cgw-requests: cannot reach")
    assert len(unreachable.stderr.strip().splitlines()) == 1
    not_a_url = cli.run("status", "--endpoint", "mns.example")
    assert not_a_url.returncode == 2
    assert not_a_url.stderr.startswith("cgw.py status: endpoint mns.example: InvalidHost")
    missing = cli.run("status", "--queue", "no-such-queue")
    assert missing.returncode == 1
    assert missing.stderr.startswith("cgw.py status: queue no-such-queue: QueueNotExist")
    assert cli.run("send").returncode == 2  # argparse: FILE is required
    assert cli.run("send", "absent.jsonl").returncode == 2
    good = cli.file("good.jsonl", json.dumps(request(1)) + "\n")
    unwritable = cli.run("send", good, "--results", "no-such-dir/out.jsonl")
    assert unwritable.returncode == 2
    assert unwritable.stderr.startswith("cgw.py send: --results no-such-dir/out.jsonl: cannot")
    assert cli.calls("BatchSendMessage") == []
