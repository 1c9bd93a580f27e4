"""`make soak`: the reliability suite. The whole path with every fault at once, then the books.

    python tools/soak.py [-n 1000] [--seed 7] [--kill-every 4] [--timeout 900]

Path: request queue -> EventBridge queue trigger (batches of 10, 4 pushes at once) -> FC
instances (worker processes) -> VPC CreateCustomerGateway -> result topic -> subscribed queue,
all on localcloud with template.yml deployed (tools/stack.py). Faults, all at once:
- CreateCustomerGateway: 30% Throttling.User, 5% InternalError (500), 3% responses lost after
  the gateway was created (the connection closes without an answer);
- MNS PublishMessage: 5% InternalError (the outcome is not published);
- 10% of the requests are sent twice (as two messages); 2% are poison (not JSON, or rejected
  by validation for a specific field);
- an FC instance is killed (SIGKILL) every `--kill-every` seconds while work is in flight, as
  the platform kills a timed-out instance mid-batch.
Half of the valid requests carry their own ClientToken; the others rely on the token derived from
the message, so a request sent twice is only kept single by adoption (AlreadyExist).

Checks (each violation is printed; exit status 1 if there is any):
- every valid request: exactly one gateway for its IP, and a `created` outcome for each of its
  messages, all naming that gateway;
- every invalid request: a `failed` outcome with its specific error code;
- every request has an outcome; a message without one must be in the dead-letter queue (the
  queue is listed with the trigger's reasons); outcomes repeat only as exact copies (same event
  id) of one another;
- nothing is left in the request queue.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tools.browser import open_page  # noqa: E402
from tools.stack import REQUEST_QUEUE, Stack  # noqa: E402

POISON = [
    # (body, expected error.code)
    (b"this is not JSON", "InvalidMessage"),
    (b'{"RegionId": "cn-shanghai", "IpAddress": "10.0.0.1", "Asn": 45104}', "InvalidAsn"),
    (b'{"RegionId": "cn-shanghai", "IpAddress": "127.0.0.1"}', "InvalidIpAddress.WrongFormat"),
    (b'{"RegionId": "cn-shanghai", "IPAddress": "10.0.0.2"}', "MissingIpAddress"),
    (b'{"RegionId": "cn-shanghai", "IpAddress": "10.0.0.3", "Name": "x"}', "InvalidName"),
    (b"\xff\xfe not UTF-8", "InvalidMessage"),
]


def fault_rules() -> list[dict[str, Any]]:
    create = {"service": "vpc", "action": "CreateCustomerGateway"}
    return [
        {**create, "probability": 0.30, "error": {"status": 400, "code": "Throttling.User",
                                                  "message": "Request was denied due to user "
                                                  "flow control."}},
        {**create, "probability": 0.05 / 0.70, "error": {"status": 500, "code": "InternalError",
                                                         "message": "The request processing "
                                                         "has failed due to some unknown error."}},
        {**create, "probability": 0.03 / 0.65, "drop_response_after_commit": True},
        {"service": "mns", "action": "PublishMessage", "probability": 0.05,
         "error": {"status": 500, "code": "InternalError", "message": "internal error"}},
    ]  # fmt: skip


@dataclass
class Request:
    index: int
    body: bytes
    valid: bool
    expected_code: str | None = None
    ip: str | None = None
    message_ids: list[str] = field(default_factory=list)


def build_requests(n: int, rng: random.Random) -> list[Request]:
    requests = []
    for i in range(n):
        if rng.random() < 0.02:
            body, code = POISON[i % len(POISON)]
            requests.append(Request(i, body, False, code))
            continue
        ip = f"198.{51 + i // 65536}.{i // 256 % 256}.{i % 256}"
        fields: dict[str, Any] = {"RegionId": "cn-shanghai", "IpAddress": ip, "Name": f"soak-{i}"}
        if i % 2 == 0:
            fields["ClientToken"] = f"soak-{i}-{rng.getrandbits(32):08x}"
        if i % 3 == 0:
            fields["AuthKey"] = f"soak-secret-{i}"
        requests.append(Request(i, json.dumps(fields).encode(), True, ip=ip))
    return requests


class Progress:
    """A line on stderr every few seconds while waiting."""

    def __init__(self, every: float = 5.0) -> None:
        self.every, self.last = every, 0.0

    def __call__(self, done: int, total: int) -> None:
        if time.monotonic() - self.last >= self.every or done == total:
            self.last = time.monotonic()
            print(f"  messages with an outcome: {done}/{total}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--requests", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--kill-share", type=float, default=0.1, help="invocations killed mid-batch (0.1)"
    )
    parser.add_argument(
        "--timeout", type=float, help="give up waiting after this many seconds (120 + 1.5 N)"
    )
    parser.add_argument(
        "--function-timeout", type=int, default=60, help="FunctionTimeout (template default 60)"
    )
    parser.add_argument(
        "--console",
        action="store_true",
        help="keep localcloud's console open in a headless chromium for the whole run",
    )
    args = parser.parse_args(argv)
    if args.timeout is None:
        args.timeout = 120 + 1.5 * args.requests
    rng = random.Random(args.seed)
    requests = build_requests(args.requests, rng)
    sends = [r for r in requests for _ in range(2 if rng.random() < 0.10 else 1)]
    rng.shuffle(sends)

    print(f"soak: {len(requests)} requests ({len(sends)} messages) through the whole path")
    started = time.monotonic()
    progress = Progress()
    with (
        Stack(
            function_timeout_s=args.function_timeout,
            kill_probability=args.kill_share,
            extra_args=("--fault-seed", str(args.seed)),
        ) as stack,
        contextlib.ExitStack() as watching,
    ):
        if args.console:
            url = f"{stack.cloud.info['admin']}/console/"
            watching.enter_context(open_page(url))
            print(f"console open in a headless chromium: {url}", file=sys.stderr)
        stack.cloud.faults(fault_rules())
        ids = stack.send([r.body for r in sends])
        for request, message_id in zip(sends, ids, strict=True):
            request.message_ids.append(message_id)
        outcomes: list[dict[str, Any]] = []
        dead: list[dict[str, Any]] = []
        expected = {m for r in requests for m in r.message_ids}
        seen: set[str] = set()
        while time.monotonic() - started < args.timeout:
            outcomes += stack.drain_inbox()
            dead += [json.loads(body) for body in stack.dead_letters()]
            seen = {o["event"]["data"]["trigger"]["messageId"] for o in outcomes}
            seen |= {d.get("data", {}).get("messageId") for d in dead}
            progress(len(expected & seen), len(expected))
            left = stack.queue_counts(REQUEST_QUEUE)
            if expected <= seen and not any(left.values()):
                break
            time.sleep(1)
        time.sleep(2)  # late repeats of outcomes still arrive
        outcomes += stack.drain_inbox()
        dead += [json.loads(body) for body in stack.dead_letters()]
        state = stack.cloud.state()
        calls = stack.cloud.calls("CreateCustomerGateway")
        publishes = stack.cloud.calls("PublishMessage")
        left = stack.queue_counts(REQUEST_QUEUE)
        invocations = stack.invocations()
        log_text = stack.function_log.read_text(encoding="utf-8", errors="replace")
        kills = stack.timing().kills
    wall = time.monotonic() - started
    violations = check(requests, outcomes, dead, state, left, log_text)
    report(requests, sends, outcomes, dead, state, calls, publishes, invocations, kills, wall)
    if violations:
        print(f"\n{len(violations)} violation(s):")
        for line in violations[:50]:
            print(f"  - {line}")
        return 1
    print("\nno violation: every request has exactly one result, nothing lost, nothing doubled")
    return 0


def _gateways(state: dict[str, Any]) -> list[dict[str, Any]]:
    return state["vpc"]["customer_gateways"]


def check(requests, outcomes, dead, state, left, log_text) -> list[str]:
    violations: list[str] = []
    by_message: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for outcome in outcomes:
        by_message[outcome["event"]["data"]["trigger"]["messageId"]].append(outcome)
    dead_ids = {d.get("data", {}).get("messageId") for d in dead}
    per_ip = Counter(g["IpAddress"] for g in _gateways(state))
    gateway_of_ip = {g["IpAddress"]: g["CustomerGatewayId"] for g in _gateways(state)}
    for request in requests:
        for message_id in request.message_ids:
            got = by_message.get(message_id, [])
            if not got:
                if message_id not in dead_ids:
                    violations.append(f"request {request.index} message {message_id}: no outcome")
                continue
            ids = {o["event"]["id"] for o in got}
            if len(ids) > 1:
                violations.append(
                    f"request {request.index} message {message_id}: {len(ids)} different "
                    f"outcome events {sorted(ids)}"
                )
            event = got[0]["event"]
            if request.valid:
                if event["type"] != "vpc.customergateway.created":
                    code = event["data"].get("error", {}).get("code")
                    violations.append(f"request {request.index}: {event['type']} ({code})")
                elif event["data"]["customerGateway"]["CustomerGatewayId"] != gateway_of_ip.get(
                    request.ip
                ):
                    violations.append(f"request {request.index}: outcome names another gateway")
            else:
                code = event["data"].get("error", {}).get("code")
                if event["type"] != "vpc.customergateway.failed" or code != request.expected_code:
                    violations.append(
                        f"invalid request {request.index}: {event['type']} {code}, expected "
                        f"failed {request.expected_code}"
                    )
        if not any(by_message.get(m) for m in request.message_ids):
            where = "dead-lettered" if all(m in dead_ids for m in request.message_ids) else "lost"
            violations.append(f"request {request.index}: no outcome at all ({where})")
        if request.valid and per_ip.get(request.ip, 0) != 1:
            violations.append(f"request {request.index}: {per_ip.get(request.ip, 0)} gateways")
    if any(left.values()):
        violations.append(f"request queue not empty: {left}")
    for secret in ("soak-secret-", "localcloud-secret-do-not-use"):
        if secret in log_text:
            violations.append(f"a secret ({secret}...) appears in the function's log")
        if any(secret in json.dumps(o["event"]) for o in outcomes):
            violations.append(f"a secret ({secret}...) appears in an outcome event")
    return violations


def report(requests, sends, outcomes, dead, state, calls, publishes, invocations, kills, wall):
    valid = [r for r in requests if r.valid]
    created = {o["event"]["id"] for o in outcomes if o["event"]["type"].endswith("created")}
    failed = {o["event"]["id"] for o in outcomes if o["event"]["type"].endswith("failed")}
    event_ids = Counter(o["event"]["id"] for o in outcomes)
    adopted = sum(
        1
        for o in outcomes
        if o["event"]["type"].endswith("created") and o["event"]["data"]["adopted"]
    )
    tokens = {c["parameters"].get("ClientToken") for c in calls}
    replays = sum(1 for c in calls if c.get("status") == 200 and c.get("created") is False)
    codes = Counter(c.get("code") or "OK" for c in calls)
    trigger = next(iter(state["fc"]["triggers"].values()), {})
    print("\nfigures")
    rows = [
        ("requests", len(requests)),
        ("  valid / invalid", f"{len(valid)} / {len(requests) - len(valid)}"),
        ("messages sent (10% twice)", len(sends)),
        ("gateways", len(_gateways(state))),
        ("created outcomes (distinct)", len(created)),
        ("  of which adopted (AlreadyExist)", adopted),
        ("failed outcomes (distinct)", len(failed)),
        ("outcome deliveries", len(outcomes)),
        ("  exact repeats (same event id)", sum(n - 1 for n in event_ids.values())),
        ("duplicates suppressed", f"{replays} ClientToken replays + {adopted} adoptions"),
        ("CreateCustomerGateway calls", len(calls)),
        ("  answers", ", ".join(f"{k} {v}" for k, v in codes.most_common())),
        ("  retries", len(calls) - len(tokens)),
        ("PublishMessage calls", len(publishes)),
        ("invocations", invocations),
        ("trigger pushes", trigger.get("pushes")),
        ("  failed, so redelivered", trigger.get("failed_pushes")),
        ("instances killed mid-batch", kills),
        ("dead-lettered", len(dead)),
        ("wall time", f"{wall:.1f} s"),
    ]
    for name, value in rows:
        print(f"  {name:<36} {value}")
    if dead:
        print("\ndead-letter queue")
        reasons: Counter[str] = Counter()
        for reason, count in (trigger.get("dead_letter_reasons") or {}).items():
            reasons[reason[:120]] += count  # the letters carry no reason (EventBridge's shape)
        for reason, count in reasons.most_common():
            print(f"  {count} x {reason}")


if __name__ == "__main__":
    raise SystemExit(main())
