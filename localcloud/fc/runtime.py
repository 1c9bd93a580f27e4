"""Function instances as worker processes, and the per-function pool that reuses them.

One instance = one `python -u worker.py CODE_DIR` process serving one invocation at a time
(FC 2.0 Python: instance concurrency 1). The pool reuses warm instances, starts a new one when
all are busy (up to `max_instances`, then callers wait), runs the initializer once per instance
before its first invocation, and kills an instance that times out, crashes or fails its
initializer, as the platform does: the next invocation gets a fresh instance.

Instance output (print, logging) arrives on the log pipe; every line goes to the `LogSink`
and, while an invocation runs, into that invocation's log (for `X-Fc-Log-Type: Tail`).
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from localcloud.fc.activity import ActivityLog, batch_size

log = logging.getLogger("localcloud.fc")

WORKER = Path(__file__).with_name("worker.py")
ERROR_TYPE = "UnhandledInvocationError"
# After the reply, how long to wait for the instance's "FC Invoke End" log line.
_LOG_DRAIN_S = 1.0
# Environment passed through to instances besides the function's own variables.
_PASSTHROUGH_ENV = ("PATH", "LANG", "LC_ALL", "TZ", "SYSTEMROOT", "TMPDIR", "HOME")


@dataclass(frozen=True)
class InstanceSpec:
    """What an instance needs to start and to run one function."""

    function: str
    code_dir: str
    handler: str
    initializer: str | None
    timeout: float
    initialization_timeout: float
    environment: dict[str, str]


@dataclass
class InvocationResult:
    request_id: str
    body: bytes
    error_type: str | None = None  # X-Fc-Error-Type when the function failed
    log_lines: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return self.error_type is not None

    @property
    def error(self) -> dict[str, Any] | None:
        if not self.failed:
            return None
        try:
            return json.loads(self.body)
        except ValueError:
            return {"errorMessage": self.body.decode("utf-8", "replace")}


LogSink = Callable[[str, str, str], None]  # (function, instance id, line)


class InstanceGoneError(Exception):
    """The instance process timed out or ended before it answered."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _error_body(error: dict[str, Any]) -> bytes:
    return json.dumps(error, indent=4, sort_keys=True).encode("utf-8")


class Instance:
    """One worker process. Not thread-safe: the pool hands it to one caller at a time."""

    def __init__(self, spec: InstanceSpec, instance_id: str, sink: LogSink) -> None:
        self.spec = spec
        self.id = instance_id
        self.initialized = spec.initializer is None
        self.invocations = 0
        self._sink = sink
        self._replies: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._capture: list[str] | None = None
        self._end_marker: str | None = None
        self._marker_seen = threading.Event()
        self._lock = threading.Lock()
        env = {k: os.environ[k] for k in _PASSTHROUGH_ENV if k in os.environ}
        env.update(spec.environment)
        env["FC_INSTANCE_ID"] = instance_id
        self.process = subprocess.Popen(
            [sys.executable, "-u", str(WORKER), spec.code_dir],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=spec.code_dir,
        )
        threading.Thread(
            target=self._read_replies, name=f"fc-{instance_id}-out", daemon=True
        ).start()
        threading.Thread(target=self._read_logs, name=f"fc-{instance_id}-log", daemon=True).start()

    # -- pipes -----------------------------------------------------------------------------
    def _read_replies(self) -> None:
        assert self.process.stdout is not None
        with self.process.stdout as pipe:
            for raw in pipe:
                try:
                    self._replies.put(json.loads(raw))
                except ValueError:
                    log.warning("instance %s: unreadable reply %r", self.id, raw[:200])
        self._replies.put(None)  # the process ended

    def _read_logs(self) -> None:
        assert self.process.stderr is not None
        with self.process.stderr as pipe:
            self._forward_logs(pipe)
        self._marker_seen.set()

    def _forward_logs(self, pipe: Any) -> None:
        for raw in pipe:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self._sink(self.spec.function, self.id, line)
            with self._lock:
                if self._capture is not None:
                    self._capture.append(line)
                if self._end_marker and line.startswith(self._end_marker):
                    self._marker_seen.set()

    # -- calls -----------------------------------------------------------------------------
    def call(
        self, kind: str, handler: str, event: bytes, context: dict[str, Any], timeout: float
    ) -> tuple[dict[str, Any], list[str]]:
        """Send one request; the reply and the log lines it printed. InstanceGoneError if the
        instance does not answer within `timeout` (it is killed) or dies first."""
        phase = "Invoke" if kind == "invoke" else "Initialize"
        capture: list[str] = []
        with self._lock:
            self._capture = capture
            self._end_marker = f"FC {phase} End RequestId: {context['request_id']}"
            self._marker_seen.clear()
        message = {
            "kind": kind,
            "handler": handler,
            "event": base64.b64encode(event).decode("ascii"),
            "context": context,
        }
        started = time.monotonic()
        try:
            assert self.process.stdin is not None
            self.process.stdin.write((json.dumps(message) + "\n").encode("utf-8"))
            self.process.stdin.flush()
        except (BrokenPipeError, OSError):
            self.kill()
            raise InstanceGoneError(self._exited_message(started)) from None
        try:
            reply = self._replies.get(timeout=timeout)
        except queue.Empty:
            memory = self.max_memory_mb()
            self.kill()
            what = "Function" if kind == "invoke" else "Function initialization"
            raise InstanceGoneError(
                f"{what} timed out after {_seconds(timeout)} seconds "
                f"(maxMemoryUsage: {memory:.2f}MB)"
            ) from None
        if reply is None:
            self.kill()
            raise InstanceGoneError(self._exited_message(started))
        self._marker_seen.wait(_LOG_DRAIN_S)
        with self._lock:
            self._capture = None
            self._end_marker = None
        return reply, capture

    def _exited_message(self, started: float) -> str:
        duration_ms = int((time.monotonic() - started) * 1000)
        return (
            "Process exited unexpectedly before completing request "
            f"(duration: {duration_ms}ms, maxMemoryUsage: {self.max_memory_mb():.2f}MB)"
        )

    def max_memory_mb(self) -> float:
        """Peak resident memory of the process (Linux /proc), 0 when unknown."""
        try:
            status = Path(f"/proc/{self.process.pid}/status").read_text()
        except OSError:
            return 0.0
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return 0.0

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        """End the process. The reader threads see EOF and close their own pipes (closing
        them here would race with a read in progress)."""
        if self.process.poll() is None:
            self.process.kill()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            log.warning("instance %s did not exit after SIGKILL", self.id)
        if self.process.stdin is not None:
            with contextlib.suppress(OSError):
                self.process.stdin.close()


def _error_message(result: InvocationResult) -> str:
    error = result.error
    if isinstance(error, dict) and isinstance(error.get("errorMessage"), str):
        return error["errorMessage"]
    return "function error"


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


class InstancePool:
    """The instances of one function: warm reuse, scale out up to `max_instances`."""

    def __init__(self, spec: InstanceSpec, max_instances: int, sink: LogSink) -> None:
        if max_instances < 1:
            raise ValueError("max_instances must be at least 1")
        self.spec = spec
        self.max_instances = max_instances
        self._sink = sink
        self._idle: list[Instance] = []
        self._count = 0
        self._started = 0
        self._cond = threading.Condition()
        self._closed = False
        self.activity = ActivityLog()

    def invoke(self, event: bytes, context: dict[str, Any]) -> InvocationResult:
        """Run the handler on a warm or new instance; the function's answer or its error."""
        instance = self._acquire()
        cold = instance.invocations == 0
        started = time.monotonic()
        self.activity.busy(instance.id, True)
        result = self._run(instance, event, context)
        self.activity.invoked(
            instance.id,
            cold=cold,
            size=batch_size(event),
            seconds=time.monotonic() - started,
            error=_error_message(result) if result.failed else None,
        )
        return result

    def _run(self, instance: Instance, event: bytes, context: dict[str, Any]) -> InvocationResult:
        request_id = context["request_id"]
        healthy = False
        lines: list[str] = []
        try:
            if not instance.initialized:
                init_started = time.monotonic()
                reply, lines = instance.call(
                    "initialize",
                    self.spec.initializer or "",
                    b"",
                    context,
                    self.spec.initialization_timeout,
                )
                if not reply["ok"]:
                    instance.kill()
                    return InvocationResult(
                        request_id, _error_body(reply["error"]), ERROR_TYPE, lines
                    )
                instance.initialized = True
                self.activity.initialized(instance.id, time.monotonic() - init_started)
            reply, invoke_lines = instance.call(
                "invoke", self.spec.handler, event, context, self.spec.timeout
            )
            lines += invoke_lines
            instance.invocations += 1
            healthy = True
            if reply["ok"]:
                return InvocationResult(request_id, base64.b64decode(reply["body"]), None, lines)
            return InvocationResult(request_id, _error_body(reply["error"]), ERROR_TYPE, lines)
        except InstanceGoneError as exc:
            return InvocationResult(
                request_id, _error_body({"errorMessage": exc.message}), ERROR_TYPE, lines
            )
        finally:
            self._release(instance, healthy and instance.alive)

    def _acquire(self) -> Instance:
        with self._cond:
            while True:
                if self._closed:
                    raise RuntimeError(f"function {self.spec.function} was removed")
                while self._idle:
                    instance = self._idle.pop()
                    if instance.alive:
                        return instance
                    self._count -= 1
                    self.activity.ended(instance.id)
                if self._count < self.max_instances:
                    self._count += 1
                    self._started += 1
                    instance_id = f"{self.spec.function}-{os.getpid()}-{self._started}"
                    break
                self._cond.wait()
        try:
            instance = Instance(self.spec, instance_id, self._sink)
        except Exception:
            with self._cond:
                self._count -= 1
                self._cond.notify()
            raise
        self.activity.started(instance_id)
        return instance

    def _release(self, instance: Instance, healthy: bool) -> None:
        with self._cond:
            if healthy and not self._closed:
                self._idle.append(instance)
                self.activity.busy(instance.id, False)
            else:
                self._count -= 1
                instance.kill()
                self.activity.ended(instance.id)
            self._cond.notify()

    def state(self) -> dict[str, Any]:
        with self._cond:
            return {
                "instances": self._count,
                "idle": len(self._idle),
                "started": self._started,
                "max_instances": self.max_instances,
            }

    def close(self) -> None:
        with self._cond:
            self._closed = True
            idle, self._idle = self._idle, []
            self._count -= len(idle)
            self._cond.notify_all()
        for instance in idle:
            instance.kill()
            self.activity.ended(instance.id)
