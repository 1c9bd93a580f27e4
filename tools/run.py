"""`make run`: the whole job on localcloud, as it runs on Alibaba Cloud.

    python tools/run.py [--requests events/requests] [--timeout 120] [--time-scale 0.01]

1. starts localcloud with template.yml (`python -m localcloud --template template.yml`): the
   request queue, the dead-letter queue, the result topic, the function and its queue trigger;
2. subscribes an inbox queue to the result topic (MNS Subscribe, as a consumer would);
3. sends every file of events/requests/ to the request queue with aliyun-mns-sdk (Base64 body,
   as a workflow would);
4. waits for one outcome event per request on the inbox (progress on stderr) and prints a table;
5. stops localcloud. Exit 0 when every request got its outcome; 1 otherwise, naming what is
   missing (and whether it went to the dead-letter queue).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from localcloud.credentials import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET  # noqa: E402
from tools.localcloud_process import LocalCloudProcess, drop_proxies  # noqa: E402

TEMPLATE = ROOT / "template.yml"
REQUESTS = ROOT / "events" / "requests"
FUNCTION_LOG = ROOT / "build" / "run-function.log"
INBOX = "cgw-run-inbox"

drop_proxies()


def localcloud_args(
    template: Path = TEMPLATE,
    time_scale: float = 0.01,
    function_log: Path | None = FUNCTION_LOG,
    extra_args: Sequence[str] = (),
) -> list[str]:
    """`python -m localcloud` arguments: the template deployed, trigger delays scaled."""
    if function_log:
        function_log.parent.mkdir(parents=True, exist_ok=True)
    return [
        "--template",
        str(template),
        "--trigger-time-scale",
        str(time_scale),
        *(["--function-log", str(function_log)] if function_log else []),
        *extra_args,
    ]


@dataclass
class Request:
    label: str
    body: str
    message_id: str = ""
    outcome: dict[str, Any] | None = None


def load_requests(directory: Path) -> list[Request]:
    files = sorted(p for p in directory.iterdir() if p.is_file() and not p.name.startswith("."))
    if not files:
        raise SystemExit(f"no request files in {directory}")
    return [Request(p.name, p.read_text(encoding="utf-8")) for p in files]


def _account(info: dict[str, Any]):
    from mns.account import Account

    return Account(info["mns"], DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET)


def subscribe_inbox(info: dict[str, Any], topic: str):
    """An inbox queue subscribed to the result topic (SIMPLIFIED: the event JSON as is)."""
    from mns.queue import QueueMeta
    from mns.subscription import SubscriptionMeta

    account = _account(info)
    inbox = account.get_queue(INBOX)
    inbox.create(QueueMeta())
    inbox.set_encoding(False)  # notifications are not Base64
    endpoint = f"acs:mns:{info['region']}:{info['account_id']}:queues/{INBOX}"
    subscription = account.get_topic(topic).get_subscription(f"{INBOX}-subscription")
    subscription.subscribe(SubscriptionMeta(endpoint, notify_content_format="SIMPLIFIED"))
    return inbox


def send_requests(info: dict[str, Any], queue_name: str, requests: list[Request]) -> None:
    from mns.queue import Message

    queue = _account(info).get_queue(queue_name)  # Base64-encodes bodies, the SDK default
    for request in requests:
        request.message_id = queue.send_message(Message(request.body)).message_id


def collect_outcomes(inbox, requests: list[Request], timeout: float, progress=None) -> None:
    """Receive outcome events until each request has one (matched by the trigger's message
    id) or `timeout` passes."""
    from mns.mns_exception import MNSExceptionBase

    by_id = {r.message_id: r for r in requests}
    started = time.monotonic()
    while any(r.outcome is None for r in requests) and time.monotonic() - started < timeout:
        try:
            messages = inbox.batch_receive_message(16, wait_seconds=1)
        except MNSExceptionBase as exc:
            if getattr(exc, "type", "") != "MessageNotExist":
                raise
            messages = []
        for message in messages:
            inbox.delete_message(message.receipt_handle)
            try:
                event = json.loads(message.message_body)
            except ValueError:
                continue
            message_id = ((event.get("data") or {}).get("trigger") or {}).get("messageId")
            request = by_id.get(message_id) if isinstance(message_id, str) else None
            if request is not None and request.outcome is None:
                request.outcome = event
        if progress:
            done = sum(r.outcome is not None for r in requests)
            progress(done, len(requests), time.monotonic() - started)


def outcome_row(request: Request) -> tuple[str, str, str, str, str]:
    event = request.outcome
    if event is None:
        return (request.label, "MISSING", "-", "-", "-")
    data = event.get("data") or {}
    if event.get("type", "").endswith(".created"):
        gateway = (data.get("customerGateway") or {}).get("CustomerGatewayId", "?")
        return (
            request.label,
            "created",
            gateway,
            str(data.get("attempts", "")),
            "yes" if data.get("adopted") else "no",
        )
    error = data.get("error") or {}
    return (request.label, "failed", error.get("code", "?"), str(data.get("attempts", "")), "-")


def table(rows: list[tuple[str, ...]]) -> str:
    header = ("request", "outcome", "gateway id / error code", "attempts", "adopted")
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True))
        for row in [header, *rows]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def dead_letters(info: dict[str, Any], queue_name: str) -> list[dict[str, Any]]:
    """The dead-lettered events (peeked, left in place)."""
    from mns.mns_exception import MNSExceptionBase

    queue = _account(info).get_queue(queue_name)
    queue.set_encoding(False)
    try:
        return [json.loads(m.message_body) for m in queue.batch_peek_message(16)]
    except MNSExceptionBase:
        return []
    except ValueError:
        return []


_last_progress: list[int] = []


def _progress(done: int, total: int, elapsed: float) -> None:
    """One updating line on a terminal; a line per change (and every 10 s) otherwise."""
    if sys.stderr.isatty():
        sys.stderr.write(f"\r  waiting for outcomes: {done}/{total} ({elapsed:4.0f} s)")
    elif not _last_progress or _last_progress[-1] != done or int(elapsed) % 10 == 0:
        sys.stderr.write(f"  waiting for outcomes: {done}/{total} ({elapsed:4.0f} s)\n")
    _last_progress.append(done)
    sys.stderr.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--template", type=Path, default=TEMPLATE)
    parser.add_argument("--requests", type=Path, default=REQUESTS)
    parser.add_argument("--timeout", type=float, default=120, help="seconds to wait (120)")
    parser.add_argument(
        "--time-scale",
        type=float,
        default=0.01,
        help="trigger retry intervals x this factor (default 0.01: 10-20 s become 0.1-0.2 s)",
    )
    parser.add_argument(
        "--console",
        action="store_true",
        help="after the samples, print the console's URL and keep localcloud running (Ctrl-C)",
    )
    parser.add_argument("--port", type=int, default=0, help="localcloud's port (default: any)")
    args = parser.parse_args(argv)
    requests = load_requests(args.requests)
    print(f"starting localcloud with {args.template.name} ...", file=sys.stderr)
    extra = ["--port", str(args.port)] if args.port else []
    with LocalCloudProcess(
        *localcloud_args(args.template, args.time_scale, extra_args=extra)
    ) as cloud:
        info = cloud.info
        outputs = info["deployment"]["outputs"]
        queue, topic = outputs["RequestQueueName"], outputs["ResultTopicName"]
        inbox = subscribe_inbox(info, topic)
        if args.console:
            print(f"console: {info['admin']}/console/", file=sys.stderr)
        print(
            f"localcloud at {info['mns']}: sending {len(requests)} requests to queue {queue}, "
            f"outcomes from topic {topic} (function log: {FUNCTION_LOG.relative_to(ROOT)})",
            file=sys.stderr,
        )
        send_requests(info, queue, requests)
        collect_outcomes(inbox, requests, args.timeout, _progress)
        sys.stderr.write("\n")
        dlq = dead_letters(info, outputs.get("DeadLetterQueueName", ""))
        status = report(requests, dlq, args.timeout)
        if args.console:
            hold(info)
    return status


def report(requests: list[Request], dlq: list[dict[str, Any]], timeout: float) -> int:
    """Print the outcomes table; 0 when every request got its outcome, else 1."""
    print(table([outcome_row(r) for r in requests]))
    missing = [r for r in requests if r.outcome is None]
    if not missing:
        print(f"\nall {len(requests)} requests got their outcome")
        return 0
    dead = {(e.get("data") or {}).get("messageId") for e in dlq}
    print(f"\n{len(missing)} of {len(requests)} requests got no outcome within {timeout:g} s:")
    for r in missing:
        where = "in the dead-letter queue" if r.message_id in dead else "no outcome event"
        print(f"  {r.label} (message {r.message_id}): {where}")
    print(f"see the function log: {FUNCTION_LOG}")
    return 1


def hold(info: dict[str, Any]) -> None:
    """Keep localcloud up for the console until Ctrl-C (or SIGTERM)."""
    print(
        f"\nconsole: {info['admin']}/console/ (MNS endpoint {info['mns']}, queue "
        f"{info['deployment']['outputs']['RequestQueueName']}); Ctrl-C stops localcloud",
        flush=True,
    )
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        print("stopping localcloud", file=sys.stderr)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
