"""The whole path on localcloud: template.yml deployed, requests on the queue, the EventBridge
queue trigger pushing batches to FC instances (worker processes), outcomes on the result topic.

`Stack` starts `python -m localcloud --template template.yml` with the trigger's batch size and
window as template parameters; how many batches are pushed at once is the function's instance
limit (`--max-instances`: the template sets no maximumTasks, which FC ignores for an MNS source).
The function's code directory is a small wrapper (written to a temporary directory) around the
shipped package: its index.py builds the same `app.Instance`, optionally with another retry
policy in place of ours (the benchmarks pass bench/baselines.py's), and notes when each message's
processing starts and its outcome is published (a JSON line per event, appended to a timing
file). Nothing of the shipped code is changed.
"""

from __future__ import annotations

import base64
import json
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools.localcloud_process import LocalCloudProcess

ROOT = Path(__file__).resolve().parents[1]
FUNCTION_DIR = ROOT / "functions" / "create_customer_gateway"

REQUEST_QUEUE = "cgw-requests"
DEAD_LETTER_QUEUE = "cgw-requests-dlq"
RESULT_TOPIC = "cgw-outcomes"
INBOX = "cgw-bench-inbox"

WRAPPER_INDEX = '''"""Wrapper around the shipped function (tools/stack.py): the same app,
optionally another retry policy, and timing notes. Written by tools/stack.py."""
import importlib, json, os, random, signal, sys, threading, time

_here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(_here, "bench_config.json"), encoding="utf-8") as _f:
    _CONFIG = json.load(_f)
sys.path.insert(1, _CONFIG["root"])

from cgw_provisioner import app  # noqa: E402

_instance = None


def _note(kind, token):
    line = json.dumps([kind, token, time.time(), os.environ.get("FC_INSTANCE_ID")]) + "\\n"
    with open(_CONFIG["timing"], "a", encoding="utf-8") as out:
        out.write(line)


class _TimedValidator:
    def __init__(self, inner):
        self._inner = inner

    def validate(self, body):
        try:
            token = json.loads(body).get("ClientToken")
        except Exception:
            token = None
        if token:
            _note("start", token)
        return self._inner.validate(body)


class _TimedPublisher:
    def __init__(self, inner):
        self._inner = inner

    def publish(self, destination, event, tag, *args, **kwargs):
        answer = self._inner.publish(destination, event, tag, *args, **kwargs)
        _note("published", event["subject"])
        return answer


def initializer(context):
    global _instance
    from cgw_provisioner.validation import RequestValidator

    overrides = {"validator": _TimedValidator(RequestValidator())}
    if _CONFIG["policy"] != "ours":
        policies = importlib.import_module(_CONFIG["policies_module"])
        overrides["vpc_policy"] = policies.BASELINES[_CONFIG["policy"]]()
    _instance = app.Instance.build(context, **overrides)
    _instance.publisher = _TimedPublisher(_instance.publisher)


def _die(request_id):
    _note("killed", request_id)
    os.kill(os.getpid(), signal.SIGKILL)


def handler(event, context):
    if _instance is None:
        initializer(context)
    timer = None
    if random.random() < _CONFIG.get("kill_probability", 0):
        # killed mid-batch, as the platform kills a timed-out instance: no cleanup at all
        low, high = _CONFIG["kill_after_s"]
        timer = threading.Timer(random.uniform(low, high), _die, (context.request_id,))
        timer.daemon = True
        timer.start()
    try:
        return _instance.handle(event, context)
    finally:
        if timer is not None:
            timer.cancel()  # the invocation ended first: this instance lives on
'''


@dataclass
class Timing:
    starts: dict[str, float]
    published: dict[str, float]
    publish_count: dict[str, int]
    instances: set[str]
    kills: int = 0


class Stack:
    def __init__(
        self,
        *,
        policy: str = "ours",
        policies_module: str | None = None,
        batch_size: int = 10,
        batch_window_s: float = 1,
        max_instances: int = 4,
        time_scale: float = 0.01,
        function_timeout_s: int = 60,
        extra_parameters: dict[str, str] | None = None,
        extra_args: tuple[str, ...] = (),
        kill_probability: float = 0.0,
        kill_after_s: tuple[float, float] = (0.05, 2.0),
    ) -> None:
        """`policy`: "ours", or a key of `policies_module`'s BASELINES (e.g. bench.baselines).
        `kill_probability`: share of invocations whose instance is SIGKILLed after a random
        delay in `kill_after_s` unless the invocation has ended by then (killed mid-batch)."""
        if policy != "ours" and not policies_module:
            raise ValueError(f"policy {policy!r} needs the policies_module that defines it")
        self._dir = tempfile.TemporaryDirectory(prefix="localcloud-stack-")
        work = Path(self._dir.name)
        self.code_dir = work / "code"
        self.code_dir.mkdir()
        self.timing_path = work / "timing.jsonl"
        self.function_log = work / "function.log"
        (self.code_dir / "cgw_provisioner").symlink_to(FUNCTION_DIR / "cgw_provisioner")
        (self.code_dir / "schemas").symlink_to(ROOT / "schemas")
        (self.code_dir / "index.py").write_text(WRAPPER_INDEX, encoding="utf-8")
        (self.code_dir / "bench_config.json").write_text(
            json.dumps(
                {
                    "root": str(ROOT),
                    "policy": policy,
                    "policies_module": policies_module,
                    "timing": str(self.timing_path),
                    "kill_probability": kill_probability,
                    "kill_after_s": list(kill_after_s),
                }
            )
        )
        parameters = {
            "TriggerBatchSize": str(batch_size),
            "TriggerBatchWindowSeconds": str(batch_window_s),
            "FunctionTimeout": str(function_timeout_s),
            **(extra_parameters or {}),
        }
        args = [
            "--quota",
            "1000000",
            "--template",
            str(ROOT / "template.yml"),
            "--code-uri",
            str(self.code_dir),
            "--max-instances",
            str(max_instances),
            "--trigger-time-scale",
            str(time_scale),
            "--function-log",
            str(self.function_log),
            *extra_args,
        ]
        for name, value in parameters.items():
            args += ["--parameter", f"{name}={value}"]
        self.cloud = LocalCloudProcess(*args, timeout=30)

    def __enter__(self) -> Stack:
        self.cloud.__enter__()
        self._subscribe_inbox()
        return self

    def __exit__(self, *exc: object) -> None:
        self.cloud.__exit__(*exc)
        self._dir.cleanup()

    # -- queues ----------------------------------------------------------------------------------
    def _subscribe_inbox(self) -> None:
        from mns.queue import QueueMeta
        from mns.subscription import SubscriptionMeta

        account = self.cloud.mns()
        account.get_queue(INBOX).create(QueueMeta())
        info = self.cloud.info
        endpoint = f"acs:mns:{info['region']}:{info['account_id']}:queues/{INBOX}"
        subscription = account.get_topic(RESULT_TOPIC).get_subscription(INBOX)
        subscription.subscribe(SubscriptionMeta(endpoint, notify_content_format="JSON"))

    def send(self, bodies: list[str | bytes]) -> list[str]:
        """Send each body to the request queue (Base64, as a workflow's SDK does); message ids."""
        from mns.queue import Message

        queue = self.cloud.mns().get_queue(REQUEST_QUEUE)
        queue.set_encoding(False)  # encoded here, so that raw bytes can be sent too
        ids: list[str] = []
        for start in range(0, len(bodies), 16):
            chunk = bodies[start : start + 16]
            messages = [
                Message(base64.b64encode(b if isinstance(b, bytes) else b.encode()).decode())
                for b in chunk
            ]
            ids += [m.message_id for m in queue.batch_send_message(messages)]
        return ids

    def drain_inbox(self) -> list[dict[str, Any]]:
        """Every outcome notification received so far: {tag, event, message_id} each."""
        from mns.mns_exception import MNSServerException

        inbox = self.cloud.mns().get_queue(INBOX)
        inbox.set_encoding(False)
        found: list[dict[str, Any]] = []
        while True:
            try:
                batch = inbox.batch_receive_message(16, wait_seconds=0)
            except MNSServerException as error:
                if error.type == "MessageNotExist":
                    return found
                raise
            inbox.batch_delete_message([m.receipt_handle for m in batch])
            for message in batch:
                note = json.loads(message.message_body)
                found.append({"tag": note.get("MessageTag"), "event": json.loads(note["Message"])})

    def queue_counts(self, name: str) -> dict[str, int]:
        queue = self.cloud.state()["mns"]["queues"].get(name, {})
        return {k: queue.get(k, 0) for k in ("visible", "in_flight", "delayed")}

    def dead_letters(self) -> list[str]:
        """Bodies in the dead-letter queue (removed)."""
        from mns.mns_exception import MNSServerException

        queue = self.cloud.mns().get_queue(DEAD_LETTER_QUEUE)
        queue.set_encoding(False)
        bodies: list[str] = []
        while True:
            try:
                batch = queue.batch_receive_message(16, wait_seconds=0)
            except MNSServerException as error:
                if error.type in ("MessageNotExist", "QueueNotExist"):
                    return bodies
                raise
            queue.batch_delete_message([m.receipt_handle for m in batch])
            bodies += [m.message_body for m in batch]

    def timing(self) -> Timing:
        starts: dict[str, float] = {}
        published: dict[str, float] = {}
        counts: dict[str, int] = {}
        instances: set[str] = set()
        kills = 0
        if self.timing_path.exists():
            for line in self.timing_path.read_text(encoding="utf-8").splitlines():
                try:
                    kind, token, at, instance = json.loads(line)
                except ValueError:
                    continue  # a line cut by a killed instance
                instances.add(instance)
                if kind == "start":
                    starts.setdefault(token, at)
                elif kind == "killed":
                    kills += 1
                else:
                    published[token] = max(published.get(token, 0), at)
                    counts[token] = counts.get(token, 0) + 1
        return Timing(starts, published, counts, instances, kills)

    def invocations(self) -> int:
        """Invocations the instances started (FC's "FC Invoke Start" log lines)."""
        if not self.function_log.exists():
            return 0
        text = self.function_log.read_text(encoding="utf-8", errors="replace")
        return text.count("FC Invoke Start RequestId")

    def wait_published(self, tokens: set[str], timeout: float, progress=None) -> float:
        """Wait until every token has a published outcome; returns the time it took."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            done = tokens & set(self.timing().published)
            if progress is not None:
                progress(len(done), len(tokens))
            if len(done) == len(tokens):
                break
            time.sleep(0.5)
        return time.monotonic() - started
