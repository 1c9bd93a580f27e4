"""Function instances in worker processes, fed batches the way the MNS queue trigger feeds them.

Each worker process is one FC instance: it builds the function's `app.Instance` once (the
initializer; its own retry policy and limiter, as on FC), then takes batches of messages from a
shared queue and invokes the handler with the EventBridge event-streaming envelope (a JSON array
of CloudEvents). `workers` processes pulling from one queue is how many pushes run at once
(on localcloud: the function's instance limit; docs/deploying.md section 7). An invocation
that raises (TransientFailureError: some messages outlasted their budget) is redelivered whole,
as the trigger retries a failed push.

The function is the shipped code with two thin wrappers injected through Instance.build's
overrides, for measurement only: the validator notes when a message's processing starts, the
publisher notes when its outcome has been published.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import queue
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bench.localcloud_process import FUNCTION, SERVICE


@dataclass
class Message:
    message_id: str
    body: str
    client_token: str


@dataclass
class PoolResult:
    started: float  # wall clock (time.time) when the first batch was handed out
    finished: float  # when the last outcome was published
    starts: dict[str, float] = field(default_factory=dict)  # ClientToken -> first processing
    published: dict[str, float] = field(default_factory=dict)  # ClientToken -> outcome published
    outcomes: dict[str, list[str]] = field(default_factory=dict)  # ClientToken -> event ids
    invocations: int = 0
    redeliveries: int = 0
    errors: list[str] = field(default_factory=list)


def cloud_event(message: Message, index: int) -> dict[str, Any]:
    return {
        "id": message.message_id,
        "source": "MNS-cgw-queue-trigger",
        "specversion": "1.0",
        "type": "mns:Queue:SendMessage",
        "datacontenttype": "application/json;charset=utf-8",
        "subject": "acs:mns:cn-shanghai:1234567890123456:queues/cgw-requests",
        "time": "2026-11-25T08:00:00Z",
        "data": {
            "requestId": f"{index:024X}",
            "messageId": message.message_id,
            "messageBody": message.body,
        },
    }


def _context(env: dict[str, str], request_id: str) -> Any:
    from types import SimpleNamespace as NS

    return NS(
        request_id=request_id,
        region=env["BENCH_REGION"],
        account_id=env["BENCH_ACCOUNT"],
        credentials=NS(
            access_key_id=env["ALIBABA_CLOUD_ACCESS_KEY_ID"],
            access_key_secret=env["ALIBABA_CLOUD_ACCESS_KEY_SECRET"],
            security_token="",
        ),
        function=NS(name=FUNCTION, handler="index.handler", memory=512, timeout=60),
        service=NS(name=SERVICE, log_project="", log_store="", qualifier="LATEST", version_id=""),
        retry_count=0,
    )


class _TimedValidator:
    def __init__(self, validator: Any, starts: dict[str, float]) -> None:
        self._validator, self._starts = validator, starts

    def validate(self, body: bytes) -> Any:
        try:
            token = json.loads(body).get("ClientToken")
        except (ValueError, AttributeError):
            token = None
        if token:
            self._starts.setdefault(token, time.time())
        return self._validator.validate(body)


class _TimedPublisher:
    def __init__(self, publisher: Any, published: dict[str, float], ids: dict[str, list]) -> None:
        self._publisher, self._published, self._ids = publisher, published, ids

    def publish(
        self,
        destination: Any,
        event: Mapping[str, Any],
        tag: str,
        credentials: Any,
        *,
        timeout: float,
    ) -> str | None:
        answer: str | None = self._publisher.publish(
            destination, event, tag, credentials, timeout=timeout
        )
        self._published[event["subject"]] = time.time()
        self._ids.setdefault(event["subject"], []).append(event["id"])
        return answer


def _worker(
    name: str, policy: str, env: dict[str, str], tasks: mp.Queue, results: mp.Queue
) -> None:
    os.environ.clear()
    os.environ.update(env)
    import sys

    # the function's JSON log lines go to a file, not into the benchmark's output
    sys.stdout = open(env.get("BENCH_LOG", os.devnull), "a", buffering=1)  # noqa: SIM115
    import bench  # noqa: F401  (the function's directory on sys.path)
    from bench.baselines import BASELINES
    from cgw_provisioner import app
    from cgw_provisioner.validation import RequestValidator

    starts: dict[str, float] = {}
    published: dict[str, float] = {}
    ids: dict[str, list] = {}
    overrides: dict[str, Any] = {
        "validator": _TimedValidator(RequestValidator(), starts),
    }
    if policy != "ours":
        overrides["vpc_policy"] = BASELINES[policy]()
    trace = None
    if env.get("BENCH_TRACE"):
        from bench.trace import TracedPolicy
        from cgw_provisioner.retry import policy_named

        inner = overrides.get("vpc_policy") or policy_named(
            env.get("RETRY_POLICY", "share-limiter")
        )
        trace = overrides["vpc_policy"] = TracedPolicy(inner, name)
    instance = app.Instance.build(_context(env, f"{name}-init"), environ=env, **overrides)
    instance.publisher = _TimedPublisher(instance.publisher, published, ids)
    results.put(("ready", name, None))
    invocation = 0
    while True:
        task = tasks.get()
        if task is None:
            break
        batch_id, messages = task
        invocation += 1
        event = json.dumps([cloud_event(m, i) for i, m in enumerate(messages)]).encode()
        try:
            instance.handle(event, _context(env, f"{name}-{invocation}"))
            status = "ok"
        except Exception as error:  # the trigger sees a failed push and redelivers the batch
            status = f"{type(error).__name__}: {str(error)[:300]}"
            if not type(error).__name__.endswith("TransientFailureError"):
                status += "\n" + traceback.format_exc()[-1500:]
        results.put(("done", name, (batch_id, status, dict(starts), dict(published), dict(ids))))
        if trace is not None:
            trace.dump(env["BENCH_TRACE"])
        starts.clear()
        published.clear()
        ids.clear()


class FunctionPool:
    """`workers` warm function instances (processes) running one retry policy."""

    def __init__(self, env: dict[str, str], policy: str = "ours", workers: int = 4) -> None:
        context = mp.get_context("spawn")
        self._tasks: mp.Queue = context.Queue()
        self._results: mp.Queue = context.Queue()
        self._processes = [
            context.Process(
                target=_worker,
                args=(f"instance-{i}", policy, env, self._tasks, self._results),
                daemon=True,
            )
            for i in range(workers)
        ]

    def __enter__(self) -> FunctionPool:
        for process in self._processes:
            process.start()
        for _ in self._processes:
            kind, name, _ = self._results.get(timeout=120)
            assert kind == "ready", (kind, name)
        return self

    def __exit__(self, *exc: object) -> None:
        for _ in self._processes:
            self._tasks.put(None)
        for process in self._processes:
            process.join(10)
            if process.is_alive():
                process.kill()

    def run(self, batches: list[list[Message]], timeout: float = 900) -> PoolResult:
        """Hand out every batch (all queued at once, like a backlog), redeliver failed ones, and
        return when every batch has been handled successfully."""
        result = PoolResult(started=time.time(), finished=0.0)
        pending = dict(enumerate(batches))
        for batch_id, batch in pending.items():
            self._tasks.put((batch_id, batch))
        deadline = time.monotonic() + timeout
        while pending:
            try:
                _, _, payload = self._results.get(timeout=max(1, deadline - time.monotonic()))
            except queue.Empty:
                raise TimeoutError(f"{len(pending)} batches unfinished after {timeout} s") from None
            batch_id, status, starts, published, ids = payload
            result.invocations += 1
            for token, at in starts.items():
                result.starts.setdefault(token, at)
            result.published.update(published)
            for token, event_ids in ids.items():
                result.outcomes.setdefault(token, []).extend(event_ids)
            if status == "ok":
                pending.pop(batch_id, None)
            else:
                result.redeliveries += 1
                if "TransientFailureError" not in status:
                    result.errors.append(status)
                self._tasks.put((batch_id, pending[batch_id]))
        result.finished = max(result.published.values(), default=time.time())
        return result
