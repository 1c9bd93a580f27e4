"""cgw.py: send provisioning requests, follow their outcomes, see the queues, redrive dead letters.

    python tools/cgw.py send FILE... [--results OUT.jsonl] [--timeout S] [--no-wait]
    python tools/cgw.py status [--json]
    python tools/cgw.py redrive [--dry-run] [--limit N]

Common options: --endpoint URL (default $MNS_ENDPOINT), --queue, --dead-letter-queue, --topic
(default template.yml's parameter defaults). Credentials: ALIBABA_CLOUD_ACCESS_KEY_ID,
ALIBABA_CLOUD_ACCESS_KEY_SECRET, ALIBABA_CLOUD_SECURITY_TOKEN (STS). Works the same against
Alibaba Cloud and localcloud: every call is aliyun-mns-sdk. See docs/operating.md.
Exit status: 0 done; 1 a request failed, got no outcome in time, or a service call failed;
2 usage error or unreachable endpoint.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any, TextIO

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tools.cgwcli import deadletters, defaults, inputs, mnsio, outcomes, runs  # noqa: E402

TEMPLATE = ROOT / "template.yml"
REQUEST_SCHEMA = ROOT / "schemas" / "provisioning-request.schema.json"
USAGE, FAILED, OK = 2, 1, 0


class UsageError(Exception):
    pass


# -- arguments -------------------------------------------------------------------------------
def parser() -> argparse.ArgumentParser:
    names = defaults.names(TEMPLATE.read_text(encoding="utf-8") if TEMPLATE.exists() else None)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--endpoint", default=os.environ.get("MNS_ENDPOINT"), help="MNS endpoint")
    common.add_argument("--queue", default=names["queue"], help="request queue")
    common.add_argument("--dead-letter-queue", default=names["dead_letter_queue"])
    common.add_argument("--topic", default=names["topic"], help="result topic")
    common.add_argument(
        "--token-queue", default=names["token_queue"], help="send tokens (RetryPolicy fleet-tokens)"
    )
    common.add_argument("--verbose", action="store_true", help="more detail (never secrets)")
    top = argparse.ArgumentParser(prog="cgw.py", description=__doc__.split("\n\n")[0])
    sub = top.add_subparsers(dest="command", required=True)

    send = sub.add_parser("send", parents=[common], help="send requests, follow their outcomes")
    send.add_argument("files", nargs="+", metavar="FILE", help="JSON lines, JSON array or CSV")
    send.add_argument("--results", metavar="OUT.jsonl", help="one JSON object per request")
    send.add_argument("--timeout", type=float, default=300.0, help="seconds to wait (300)")
    send.add_argument("--no-wait", action="store_true", help="send only")
    send.add_argument(
        "--region",
        default=os.environ.get("ALIBABA_CLOUD_REGION_ID"),
        help="region of the queues (default: from the endpoint host)",
    )
    send.add_argument(
        "--account-id",
        default=os.environ.get("ALIBABA_CLOUD_ACCOUNT_ID"),
        help="account id owning the queues (default: from the endpoint host)",
    )

    status = sub.add_parser("status", parents=[common], help="queues, tokens and topic at a glance")
    status.add_argument("--json", action="store_true", help="machine-readable output")

    redrive = sub.add_parser("redrive", parents=[common], help="dead letters back to the queue")
    redrive.add_argument("--dry-run", action="store_true", help="list, change nothing")
    redrive.add_argument("--limit", type=int, default=None, help="move at most N dead letters")
    return top


def connect(args: argparse.Namespace) -> mnsio.Mns:
    if not args.endpoint:
        raise UsageError("no MNS endpoint: pass --endpoint URL or set MNS_ENDPOINT")
    key_id = os.environ.get("ALIBABA_CLOUD_ACCESS_KEY_ID", "")
    secret = os.environ.get("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "")
    if not key_id or not secret:
        raise UsageError(
            "no credentials: set ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET"
            " (and ALIBABA_CLOUD_SECURITY_TOKEN for STS)"
        )
    token = os.environ.get("ALIBABA_CLOUD_SECURITY_TOKEN", "")
    return mnsio.Mns.connect(args.endpoint, key_id, secret, token)


# -- send ------------------------------------------------------------------------------------
def read_requests(files: list[str]) -> list[inputs.Request]:
    texts = []
    for name in files:
        try:
            texts.append((name, Path(name).read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"{name}: cannot read ({exc.__class__.__name__}: {exc})") from None
    schema = json.loads(REQUEST_SCHEMA.read_text(encoding="utf-8"))
    return inputs.parse_files(texts, inputs.validator(schema))


def identity(args: argparse.Namespace) -> tuple[str, str]:
    region, account_id = defaults.endpoint_identity(args.endpoint)
    region, account_id = args.region or region, args.account_id or account_id
    if not region or not account_id:
        raise UsageError(
            "cannot tell the region and account id from the endpoint: pass --region and "
            "--account-id (needed to subscribe a queue to the result topic), or --no-wait"
        )
    return region, account_id


def send(args: argparse.Namespace, out: TextIO) -> int:
    try:
        requests = read_requests(args.files)
    except inputs.InputError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        print(f"nothing sent: {len(exc.problems)} problem(s)", file=sys.stderr)
        return USAGE
    if args.results:
        try:  # before anything is sent: a results file that cannot be written is a usage error
            Path(args.results).write_text("", encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"--results {args.results}: cannot write ({exc.strerror})") from None
    mns = connect(args)
    tracker = outcomes.Tracker.of(requests)
    inbox = None
    if not args.no_wait:
        region, account_id = identity(args)
        hostname, started = socket.gethostname(), time.time()
        name = runs.inbox_name(hostname, os.getpid(), started)
        gone = mnsio.remove_leftovers(mns, args.topic, hostname, _running, name)
        if gone:
            print(f"removed {len(gone)} queue(s) left by killed runs: {', '.join(gone)}", file=out)
        inbox = mnsio.Inbox(mns, args.topic, name, region, account_id)
    try:
        if inbox is not None:
            inbox.open()
        bodies = [json.dumps(r.fields, ensure_ascii=False) for r in requests]
        ids = mns.send(args.queue, bodies)
        for item, message_id in zip(tracker.items, ids, strict=True):
            tracker.sent(item, message_id)
        print(f"sent {len(ids)} request(s) to queue {args.queue}", file=out)
        if args.verbose:
            for item in tracker.items:
                print(f"  {item.request.label}  {item.message_id}  {item.token}", file=out)
        if inbox is None:
            write_results(args.results, tracker, "not followed (--no-wait)")
            return OK
        follow(tracker, inbox, args.timeout, out)
    finally:
        if inbox is not None:
            inbox.close()
    print(outcomes.table(tracker.items), file=out)
    write_results(args.results, tracker, f"no outcome within {args.timeout:g} s")
    counts = tracker.counts()
    print(
        f"{counts['created']} created, {counts['failed']} failed, "
        f"{counts['waiting']} without an outcome",
        file=out,
    )
    return outcomes.exit_status(tracker)


def write_results(path: str | None, tracker: outcomes.Tracker, reason: str) -> None:
    if path:
        lines = [outcomes.result_line(i, reason) for i in tracker.items]
        Path(path).write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def follow(tracker: outcomes.Tracker, inbox: mnsio.Inbox, timeout: float, out: TextIO) -> None:
    """Receive outcome events until every request has one or `timeout` passes."""
    tty = out.isatty()
    deadline = time.monotonic() + timeout
    shown: dict[str, int] | None = None
    while not tracker.done() and time.monotonic() < deadline:
        wait = max(1, min(5, int(deadline - time.monotonic())))
        for event in inbox.events(wait):
            tracker.accept(event)
        counts = tracker.counts()
        if tty:
            print("\r" + outcomes.bar(counts), end="", file=out, flush=True)
        elif counts != shown:
            print(
                f"created {counts['created']}, failed {counts['failed']}, "
                f"waiting {counts['waiting']}",
                file=out,
                flush=True,
            )
        shown = counts
    if tty:
        print(file=out)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# -- status ----------------------------------------------------------------------------------
def queue_state(mns: mnsio.Mns, queue: str, now: float) -> dict[str, Any]:
    counts = mns.counts(queue)
    head = mns.peek(queue, 1)
    oldest = (now - head[0].enqueue_time / 1000) if head else None
    return {
        "name": queue,
        **counts,
        "oldestVisibleAgeSeconds": None if oldest is None else round(max(0.0, oldest), 1),
    }


def token_pool(mns: mnsio.Mns, queue: str) -> dict[str, Any]:
    """The fleet's send tokens (docs/retries.md, "Fleet tokens"): every message is one, free
    (visible), taken by an instance (in flight) or on its way back (delayed)."""
    try:
        counts = mns.counts(queue)
    except mnsio.CliError as exc:
        if "QueueNotExist" not in str(exc):
            raise
        return {"name": queue, "tokens": None}
    return {"name": queue, "tokens": sum(counts.values()), **counts}


def status(args: argparse.Namespace, out: TextIO) -> int:
    mns = connect(args)
    now = time.time()
    report: dict[str, Any] = {
        "requestQueue": queue_state(mns, args.queue, now),
        "deadLetterQueue": queue_state(mns, args.dead_letter_queue, now),
    }
    peeked = mns.peek(args.dead_letter_queue)
    letters = [d for m in peeked for d in deadletters.parse(m.message_body)]
    report["deadLetterQueue"]["peeked"] = len(peeked)
    # EventBridge writes no reason into a letter (docs/operating.md): they are counted by region,
    # the usual unit of an outage, and listed; the reason is in the function's log.
    report["deadLetterQueue"]["byRegion"] = dict(
        Counter(d.summary()["RegionId"] or "-" for d in letters).most_common()
    )
    report["deadLetterQueue"]["letters"] = [d.summary() for d in letters]
    report["tokenQueue"] = token_pool(mns, args.token_queue)
    mns.topic_attributes(args.topic)
    report["resultTopic"] = {"name": args.topic, "subscriptions": mns.subscriptions(args.topic)}
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False), file=out)
        return OK
    for key, title in (("requestQueue", "request queue"), ("deadLetterQueue", "dead letters")):
        q = report[key]
        age = q["oldestVisibleAgeSeconds"]
        print(
            f"{title:14} {q['name']}: {q['visible']} visible, {q['inFlight']} in flight, "
            f"{q['delayed']} delayed; oldest visible {'-' if age is None else f'{age:g} s'}",
            file=out,
        )
    dead = report["deadLetterQueue"]
    if dead["letters"]:
        regions = ", ".join(f"{r} {n}" for r, n in dead["byRegion"].items())
        print(f"  the first {dead['peeked']} dead letter(s) peeked, by region: {regions}", file=out)
        for letter in dead["letters"]:
            print("  " + _letter_line(letter), file=out)
    tokens = report["tokenQueue"]
    if tokens["tokens"] is None:
        line = "no such queue (RetryPolicy share-limiter needs none)"
    else:
        line = (
            f"{tokens['tokens']} token(s) in the fleet's pool: {tokens['visible']} free, "
            f"{tokens['inFlight']} taken, {tokens['delayed']} delayed"
        )
    print(f"send tokens    {tokens['name']}: {line}", file=out)
    topic = report["resultTopic"]
    print(
        f"result topic   {topic['name']}: {len(topic['subscriptions'])} subscription(s)", file=out
    )
    for s in topic["subscriptions"]:
        print(f"  {s['name']} -> {s['endpoint']} ({s['notifyContentFormat']})", file=out)
    return OK


# -- redrive ---------------------------------------------------------------------------------
def redrive(args: argparse.Namespace, out: TextIO) -> int:
    if args.limit is not None and args.limit < 1:
        raise UsageError("--limit must be at least 1")
    mns = connect(args)
    dlq, queue = args.dead_letter_queue, args.queue
    if args.dry_run:
        peeked = mns.peek(dlq)[: args.limit]
        for message in peeked:
            for letter in deadletters.parse(message.message_body):
                print(_letter_line(letter.summary()), file=out)
        shown = f"the first {len(peeked)}" if len(peeked) else "no"
        print(
            f"dry run: {shown} dead letter(s) of queue {dlq} would move; nothing changed", file=out
        )
        return OK
    moved = requests = 0
    remaining = args.limit
    while remaining is None or remaining > 0:
        batch = mns.receive(dlq, mnsio.BATCH if remaining is None else remaining, wait=1)
        if not batch:
            break
        for message in batch:
            requests_in_letter = deadletters.parse(message.message_body)
            bodies = [d.redrive_body() for d in requests_in_letter]
            try:
                mns.send(queue, bodies)
                mns.delete(dlq, message.receipt_handle)
            except mnsio.CliError:
                mns.release(dlq, message.receipt_handle)
                print(f"moved {moved} dead letter(s) ({requests} request(s)) before:", file=out)
                raise
            moved += 1
            requests += len(bodies)
            if args.verbose:
                originals = ", ".join(d.message_id or "(no id)" for d in requests_in_letter)
                print(f"  moved the request(s) of message(s) {originals}", file=out)
        if remaining is not None:
            remaining -= len(batch)
    print(
        f"moved {moved} dead letter(s) ({requests} request(s)) from queue {dlq} to queue {queue}",
        file=out,
    )
    return OK


def _letter_line(s: dict[str, Any]) -> str:
    """One dead request: message id, sent, region, IP, name (never the AuthKey)."""
    keys = ("messageId", "sent", "RegionId", "IpAddress", "Name")
    return "  ".join(str(s.get(k) or "-") for k in keys)


COMMANDS = {"send": send, "status": status, "redrive": redrive}


def main(argv: list[str] | None = None, out: TextIO = sys.stdout) -> int:
    args = parser().parse_args(argv)  # argparse exits with 2 on a usage error
    try:
        return COMMANDS[args.command](args, out)
    except UsageError as exc:
        print(f"cgw.py {args.command}: {exc}", file=sys.stderr)
        return USAGE
    except mnsio.CliError as exc:
        print(f"cgw.py {args.command}: {exc}", file=sys.stderr)
        return USAGE if exc.unreachable else FAILED
    except KeyboardInterrupt:
        print(f"cgw.py {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
