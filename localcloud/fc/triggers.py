"""Trigger emulation: the EventBridge MNS queue trigger and the MNS topic trigger.

Both drive the function through `FcBackend.invoke` and MNS through the MNS backend's Python API
(`cloud.backends.mns`), never over HTTP.

`eventbridge` with eventSourceType MNS (docs/platform.md, "Queue trigger"), as EventBridge event
streaming runs it:
- one poller receives from the queue and fills a batch until `batchWindow.CountBasedWindow`
  messages or `TimeBasedWindow` seconds after the first one, whichever comes first;
- the batch is pushed as a JSON array of CloudEvents (`runOptions.mode: event-streaming`; one
  object per push in `event-driven` mode; only the `data` objects with `eventSchema: RawData`),
  `messageBody` Base64-decoded when `IsBase64Decode` is true (the default; a body that is not
  Base64 text is passed as is);
- while a push is in flight its messages stay invisible (visibility = function timeout + the next
  retry interval + a margin, renewed before each attempt), so the poller never hands them out
  twice; a failed push is retried by the trigger itself per `retryStrategy`: BACKOFF_RETRY = 3
  retries at random 10-20 s, EXPONENTIAL_DECAY_RETRY = 1, 2, 4 ... 512 s (176 retries),
  `MaximumRetryAttempts` / `MaximumEventAgeInSeconds` cap them; intervals are multiplied by
  `FcBackend.time_scale` (e.g. 0.01 locally);
- success (the function returned without error) deletes the messages; after the last retry,
  `errorsTolerance: ALL` sends each message to `deadLetterQueue` (when set; else drops it) and
  deletes it, `NONE` blocks the stream: the messages become visible again and polling stops;
- how many pushes are in flight at once: `maximumTasks` when the config sets it (FC documents it
  as effective for Kafka sources only, so template.yml leaves it out), else the function's
  instance limit (`--max-instances`): a push occupies one instance for as long as it runs.
A dead-lettered message is what EventBridge documents for an event stream's dead-letter queue,
"the raw event data": one MNS message per failed event, whose body is that event exactly as it
was pushed (the CloudEvent, or the `data` object with `eventSchema: RawData`), JSON text, no
attributes added (https://www.alibabacloud.com/help/en/eventbridge/user-guide/retry-and-dead-letter).
Why it failed is not in the letter; localcloud keeps it in the trigger's state instead
(`dead_letter_reasons`: reason -> count, and each push in `history`).

`mns_topic`: an in-process subscription (`add_listener`) whose payload is the FC topic event
(JSON or STREAM, docs/platform.md, "Topic trigger events"); each published message is pushed on
its own thread and a function error is retried per `notifyStrategy`.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import random
import re
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Protocol

from localcloud.fc.errors import FcError

if TYPE_CHECKING:
    from localcloud.fc.models import FcBackend, Trigger
    from localcloud.mns.models import ReceivedMessage

log = logging.getLogger("localcloud.fc.triggers")

MAX_RECEIVE = 16  # MNS BatchReceiveMessage limit
POLL_WAIT_S = 1.0  # long-poll slice: how quickly a stopped trigger notices
VISIBILITY_MARGIN_S = 30
EXPONENTIAL_RETRIES = 176
BACKOFF_RETRIES = 3
PUSH_HISTORY = 1000

_QUEUE_ARN = re.compile(
    r"acs:mns:(?P<region>[a-z0-9-]*):(?P<account>[0-9]*):/?queues/(?P<name>[A-Za-z0-9-]+)(?:/messages?)?"
)
_TOPIC_ARN = re.compile(
    r"acs:mns:(?P<region>[a-z0-9-]*):(?P<account>[0-9]*):/?topics/(?P<name>[A-Za-z0-9-]+)"
)


class RunningTrigger(Protocol):
    def stop(self) -> None: ...
    def state(self) -> dict[str, Any]: ...


def start(backend: FcBackend, trigger: Trigger) -> RunningTrigger:
    """Validate the trigger's configuration and start emulating it."""
    if trigger.type == "eventbridge":
        running: Any = QueueTrigger(backend, trigger, QueueTriggerConfig.parse(trigger.config))
    elif trigger.type == "mns_topic":
        running = TopicTrigger(backend, trigger)
    else:
        raise FcError(
            "InvalidArgument",
            400,
            f"localcloud emulates eventbridge (MNS queue) and mns_topic triggers, "
            f"not {trigger.type!r}",
        )
    running.start()
    return running


def _iso_ms(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def retry_intervals(strategy: str, maximum: int | None) -> list[float]:
    """The waits before each retry (seconds, unscaled) for an EventBridge/MNS retry strategy."""
    if strategy == "EXPONENTIAL_DECAY_RETRY":
        waits = [float(min(2**i, 512)) for i in range(EXPONENTIAL_RETRIES)]
    else:
        waits = [random.uniform(10, 20) for _ in range(BACKOFF_RETRIES)]
    if maximum is not None:
        waits = waits[: max(0, maximum)]
    return waits


# -- EventBridge MNS queue trigger -------------------------------------------------------------
@dataclass(frozen=True)
class QueueTriggerConfig:
    queue: str
    region: str | None
    base64_decode: bool
    mode: str  # event-streaming | event-driven
    schema: str  # CloudEvents | RawData
    batch_count: int
    batch_seconds: float
    maximum_tasks: int | None  # None: bounded by the function's instance limit
    errors_tolerance: str  # ALL | NONE
    retry_strategy: str
    maximum_retry_attempts: int | None
    maximum_event_age_s: float | None
    dead_letter_queue: str | None
    asynchronous: bool
    enabled: bool

    @classmethod
    def parse(cls, config: dict[str, Any]) -> QueueTriggerConfig:
        """From the FC triggerConfig (camelCase outside, PascalCase inside the structs)."""

        def bad(message: str) -> FcError:
            return FcError("InvalidArgument", 400, f"triggerConfig: {message}")

        def section(parent: Any, *path: str) -> dict[str, Any]:
            node = parent
            for depth, key in enumerate(path):
                node = node.get(key) if isinstance(node, dict) else None
                if node is None:
                    return {}
                if not isinstance(node, dict):
                    raise bad(f"{'.'.join(path[: depth + 1])} must be an object, got {node!r}")
            return node

        if not isinstance(config, dict):
            raise bad(f"must be an object, got {config!r}")
        source = section(config, "eventSourceConfig")
        if source.get("eventSourceType") != "MNS":
            raise bad(
                "eventSourceConfig.eventSourceType must be MNS (the MNS queue trigger), "
                f"got {source.get('eventSourceType')!r}"
            )
        mns = section(source, "eventSourceParameters", "sourceMNSParameters")
        queue = mns.get("QueueName")
        if not isinstance(queue, str) or not queue:
            raise bad(
                "eventSourceConfig.eventSourceParameters.sourceMNSParameters.QueueName is required"
            )
        delivery = section(config, "eventSinkConfig", "deliveryOption")
        run = section(config, "runOptions")
        mode = run.get("mode") or delivery.get("mode") or "event-streaming"
        if mode not in ("event-streaming", "event-driven"):
            raise bad(f"runOptions.mode must be event-streaming or event-driven, got {mode!r}")
        schema = delivery.get("eventSchema") or "CloudEvents"
        if schema not in ("CloudEvents", "RawData"):
            raise bad(
                "eventSinkConfig.deliveryOption.eventSchema must be CloudEvents or RawData, "
                f"got {schema!r}"
            )
        window = section(run, "batchWindow")
        count = _integer(
            window.get("CountBasedWindow", 1),
            "runOptions.batchWindow.CountBasedWindow",
            1,
            10000,
            bad,
        )
        seconds = _number(
            window.get("TimeBasedWindow", 0), "runOptions.batchWindow.TimeBasedWindow", 0, 15, bad
        )
        if mode == "event-driven":
            count, seconds = 1, 0.0
        tasks = None
        if "maximumTasks" in run:
            tasks = _integer(run["maximumTasks"], "runOptions.maximumTasks", 1, 1000, bad)
        tolerance = run.get("errorsTolerance") or "NONE"
        if tolerance not in ("ALL", "NONE"):
            raise bad(f"runOptions.errorsTolerance must be ALL or NONE, got {tolerance!r}")
        retry = section(run, "retryStrategy")
        strategy = retry.get("PushRetryStrategy") or "BACKOFF_RETRY"
        if strategy not in ("BACKOFF_RETRY", "EXPONENTIAL_DECAY_RETRY"):
            raise bad(
                "runOptions.retryStrategy.PushRetryStrategy must be BACKOFF_RETRY or "
                f"EXPONENTIAL_DECAY_RETRY, got {strategy!r}"
            )
        attempts = retry.get("MaximumRetryAttempts")
        if attempts is not None:
            attempts = _integer(
                attempts,
                "runOptions.retryStrategy.MaximumRetryAttempts",
                0,
                EXPONENTIAL_RETRIES,
                bad,
            )
        age = retry.get("MaximumEventAgeInSeconds")
        if age is not None:
            age = _number(age, "runOptions.retryStrategy.MaximumEventAgeInSeconds", 0, 86400, bad)
        dlq = None
        arn = section(run, "deadLetterQueue").get("Arn") or ""
        if arn:
            match = _QUEUE_ARN.fullmatch(arn) if isinstance(arn, str) else None
            if not match:
                raise bad(
                    "runOptions.deadLetterQueue.Arn must be an MNS queue ARN "
                    f"acs:mns:{{region}}:{{account}}:/queues/{{name}} locally, got {arn!r}"
                )
            dlq = match["name"]
        region = mns.get("RegionId")
        if region is not None and not isinstance(region, str):
            raise bad(f"sourceMNSParameters.RegionId must be a region id, got {region!r}")
        return cls(
            queue=queue,
            region=region,
            base64_decode=_flag(mns.get("IsBase64Decode", True), "IsBase64Decode", bad),
            mode=mode,
            schema=schema,
            batch_count=count,
            batch_seconds=seconds,
            maximum_tasks=tasks,
            errors_tolerance=tolerance,
            retry_strategy=strategy,
            maximum_retry_attempts=attempts,
            maximum_event_age_s=age,
            dead_letter_queue=dlq,
            asynchronous=_flag(
                config.get("asyncInvocationType", False), "asyncInvocationType", bad
            ),
            enabled=_flag(config.get("triggerEnable", True), "triggerEnable", bad),
        )


def _flag(value: Any, name: str, bad) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise bad(f"{name} must be true or false, got {value!r}")


def _integer(value: Any, name: str, low: int, high: int, bad) -> int:
    """An integer (or its decimal string: ROS parameters arrive as strings) in [low, high]."""
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        raise bad(f"{name} must be an integer from {low} to {high}, got {value!r}") from None
    whole = not isinstance(value, float) or value.is_integer()
    if not low <= number <= high or isinstance(value, bool) or not whole:
        raise bad(f"{name} must be an integer from {low} to {high}, got {value!r}")
    return number


def _number(value: Any, name: str, low: float, high: float, bad) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise bad(f"{name} must be a number from {low:g} to {high:g}, got {value!r}") from None
    if not low <= number <= high or isinstance(value, bool):
        raise bad(f"{name} must be a number from {low:g} to {high:g}, got {value!r}")
    return number


@dataclass
class _Held:
    """A message of an in-flight batch, with its current receipt handle."""

    message: ReceivedMessage
    handle: str
    event: dict[str, Any]


class QueueTrigger:
    def __init__(self, backend: FcBackend, trigger: Trigger, config: QueueTriggerConfig) -> None:
        self.backend = backend
        self.trigger = trigger
        self.config = config
        self.mns = backend.cloud.backends.mns
        cloud = backend.cloud
        if config.region and config.region != cloud.region:
            raise FcError(
                "InvalidArgument",
                400,
                f"triggerConfig: the queue's RegionId {config.region!r} must be the function's "
                f"region {cloud.region!r}",
            )
        for queue in filter(None, (config.queue, config.dead_letter_queue)):
            try:
                self.mns.get_queue(queue)
            except Exception as exc:
                raise FcError(
                    "InvalidArgument", 400, f"triggerConfig: MNS queue {queue!r}: {exc}"
                ) from None
        self.source = f"MNS-{trigger.function}-{trigger.name}"
        self._stop = threading.Event()
        tasks = config.maximum_tasks
        if tasks is None:
            tasks = backend.get_function(trigger.service, trigger.function).max_instances
        self._slots = threading.BoundedSemaphore(tasks)
        self._lock = threading.Lock()
        self._in_flight = 0
        self.blocked = False
        self.stats = {
            "pushes": 0,
            "failed_pushes": 0,
            "delivered": 0,
            "dead_lettered": 0,
            "dropped": 0,
        }
        self.history: deque[dict[str, Any]] = deque(maxlen=PUSH_HISTORY)
        self.dead_letter_reasons: dict[str, int] = {}  # not in the letters (EventBridge's shape)
        self._thread = threading.Thread(
            target=self._poll, name=f"eventbridge-{trigger.name}", daemon=True
        )

    # -- life cycle ------------------------------------------------------------------------
    def start(self) -> None:
        if self.config.enabled:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(POLL_WAIT_S * 3)

    def state(self) -> dict[str, Any]:
        with self._lock:
            return {
                "queue": self.config.queue,
                "settings": {
                    "batch_count": self.config.batch_count,
                    "batch_seconds": self.config.batch_seconds,
                    "retry_strategy": self.config.retry_strategy,
                    "maximum_retry_attempts": self.config.maximum_retry_attempts,
                    "errors_tolerance": self.config.errors_tolerance,
                    "dead_letter_queue": self.config.dead_letter_queue,
                },
                "in_flight_pushes": self._in_flight,
                "blocked": self.blocked,
                **self.stats,
                "dead_letter_reasons": dict(self.dead_letter_reasons),
            }

    # -- polling ---------------------------------------------------------------------------
    def _visibility(self, next_wait: float = 0.0) -> float:
        function = self.backend.get_function(self.trigger.service, self.trigger.function)
        return min(
            43200.0,
            function.timeout + function.initialization_timeout + next_wait + VISIBILITY_MARGIN_S,
        )

    def _poll(self) -> None:
        while not self._stop.is_set():
            if not self._slots.acquire(timeout=POLL_WAIT_S):
                continue
            try:
                batch = self._collect()
            except Exception as exc:  # queue deleted (reset), function removed...
                self._slots.release()
                log.debug("trigger %s: poll failed: %s", self.trigger.name, exc)
                self._stop.wait(0.2)
                continue
            if not batch:
                self._slots.release()
                continue
            with self._lock:
                self._in_flight += 1
            threading.Thread(
                target=self._push_and_release,
                args=(batch,),
                name=f"push-{self.trigger.name}",
                daemon=True,
            ).start()

    def _collect(self) -> list[_Held]:
        cfg = self.config
        visibility = self._visibility(self._first_wait())
        held: list[_Held] = []
        deadline: float | None = None
        while len(held) < cfg.batch_count and not self._stop.is_set():
            if deadline is None:
                wait = POLL_WAIT_S
            else:
                wait = deadline - time.monotonic()
                if wait <= 0:
                    break
                wait = min(wait, POLL_WAIT_S)
            got = self.mns.receive_messages(
                cfg.queue,
                max_count=min(MAX_RECEIVE, cfg.batch_count - len(held)),
                wait_seconds=wait,
                visibility_timeout=visibility,
            )
            held.extend(_Held(m, m.receipt_handle, self._cloud_event(m)) for m in got)
            if held and deadline is None:
                if cfg.batch_seconds <= 0:
                    break
                deadline = time.monotonic() + cfg.batch_seconds
            if not held:
                break  # nothing arrived within one poll slice: check for stop, then poll again
        return held

    def _first_wait(self) -> float:
        waits = retry_intervals(self.config.retry_strategy, self.config.maximum_retry_attempts)
        return (waits[0] if waits else 0.0) * self.backend.time_scale

    # -- events ----------------------------------------------------------------------------
    def _cloud_event(self, message: ReceivedMessage) -> dict[str, Any]:
        cloud = self.backend.cloud
        body = message.body
        if self.config.base64_decode:
            body = _base64_text(body)
        data = {
            "requestId": uuid.uuid4().hex.upper()[:24],
            "messageId": message.message_id,
            "messageBody": body,
        }
        if self.config.schema == "RawData":
            return data
        return {
            "id": message.message_id,
            "source": self.source,
            "specversion": "1.0",
            "type": "mns:Queue:SendMessage",
            "datacontenttype": "application/json; charset=utf-8",
            "subject": f"acs:mns:{cloud.region}:{cloud.account_id}:queues/{self.config.queue}",
            "time": _iso_ms(message.enqueue_time / 1000),
            "aliyunaccountid": cloud.account_id,
            "aliyunpublishtime": _iso_ms(time.time()),
            "aliyunoriginalaccountid": cloud.account_id,
            "aliyuneventbusname": self.source,
            "aliyunregionid": cloud.region,
            "aliyunpublishaddr": "127.0.0.1",
            "data": data,
        }

    def payload(self, held: list[_Held]) -> bytes:
        events = [h.event for h in held]
        document: Any = events[0] if self.config.mode == "event-driven" else events
        return json.dumps(document, ensure_ascii=False).encode("utf-8")

    # -- pushing ---------------------------------------------------------------------------
    def _push_and_release(self, held: list[_Held]) -> None:
        try:
            self._push(held)
        except Exception:
            log.exception(
                "trigger %s: push crashed; messages reappear after their visibility",
                self.trigger.name,
            )
        finally:
            with self._lock:
                self._in_flight -= 1
            self._slots.release()

    def _push(self, held: list[_Held]) -> None:
        cfg = self.config
        waits = retry_intervals(cfg.retry_strategy, cfg.maximum_retry_attempts)
        payload = self.payload(held)
        first_enqueued = min(h.message.enqueue_time for h in held) / 1000
        attempt = 0
        while True:
            ok, reason = self._invoke(payload, attempt)
            self._record(held, attempt, ok, reason)
            if ok:
                self._delete(held)
                with self._lock:
                    self.stats["delivered"] += len(held)
                return
            too_old = (
                cfg.maximum_event_age_s is not None
                and time.time() - first_enqueued > cfg.maximum_event_age_s
            )
            if attempt >= len(waits) or too_old or self._stop.is_set():
                break
            wait = waits[attempt] * self.backend.time_scale
            next_wait = (
                waits[attempt + 1] * self.backend.time_scale if attempt + 1 < len(waits) else 0.0
            )
            self._renew(held, wait + self._visibility(next_wait))
            if self._stop.wait(wait):
                return  # stopped: the messages reappear when their visibility ends
            attempt += 1
        self._give_up(held, reason, attempt + 1)

    def _invoke(self, payload: bytes, attempt: int) -> tuple[bool, str]:
        trigger = self.trigger
        try:
            if self.config.asynchronous:
                self.backend.invoke_async(
                    trigger.service, trigger.function, payload, qualifier=trigger.qualifier or None
                )
                return True, ""
            result = self.backend.invoke(
                trigger.service,
                trigger.function,
                payload,
                qualifier=trigger.qualifier or None,
                retry_count=attempt,
            )
        except (FcError, RuntimeError) as exc:
            return False, f"{getattr(exc, 'code', type(exc).__name__)}: {exc}"
        if result.failed:
            error = result.error or {}
            kind = error.get("errorType", result.error_type)
            return False, f"{kind}: {error.get('errorMessage', '')}"
        return True, ""

    def _record(self, held: list[_Held], attempt: int, ok: bool, reason: str) -> None:
        with self._lock:
            self.stats["pushes"] += 1
            if not ok:
                self.stats["failed_pushes"] += 1
            self.history.append(
                {
                    "time": time.time(),
                    "attempt": attempt,
                    "ok": ok,
                    "reason": reason,
                    "message_ids": [h.message.message_id for h in held],
                }
            )

    def _renew(self, held: list[_Held], seconds: float) -> None:
        for h in held:
            try:
                h.handle = self.mns.change_visibility(
                    self.config.queue, h.handle, min(seconds, 43200)
                ).receipt_handle
            except Exception as exc:
                log.warning(
                    "trigger %s: cannot keep message %s invisible: %s",
                    self.trigger.name,
                    h.message.message_id,
                    exc,
                )

    def _delete(self, held: list[_Held]) -> None:
        failed = self.mns.delete_messages(self.config.queue, [h.handle for h in held])
        for handle, error in failed:
            log.warning("trigger %s: delete %s failed: %s", self.trigger.name, handle[:24], error)

    def _give_up(self, held: list[_Held], reason: str, attempts: int) -> None:
        cfg = self.config
        if cfg.errors_tolerance == "NONE":
            self._renew(held, 0)
            with self._lock:
                self.blocked = True
            self._stop.set()
            log.error(
                "trigger %s: push failed after %d attempts (%s); errorsTolerance NONE: "
                "the stream is blocked",
                self.trigger.name,
                attempts,
                reason,
            )
            return
        if cfg.dead_letter_queue:
            for h in held:
                letter = json.dumps(h.event, ensure_ascii=False)
                self.mns.send_message(cfg.dead_letter_queue, letter)
            with self._lock:
                self.stats["dead_lettered"] += len(held)
                key = reason[:2000]
                self.dead_letter_reasons[key] = self.dead_letter_reasons.get(key, 0) + len(held)
        else:
            with self._lock:
                self.stats["dropped"] += len(held)
        self._delete(held)
        log.warning(
            "trigger %s: %d message(s) %s after %d attempts: %s",
            self.trigger.name,
            len(held),
            "dead-lettered" if cfg.dead_letter_queue else "dropped",
            attempts,
            reason,
        )


def _base64_text(body: str) -> str:
    """EventBridge's IsBase64Decode: the decoded text, or the body unchanged if it is not
    Base64 of UTF-8 text."""
    try:
        return base64.b64decode(body, validate=True).decode("utf-8")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return body


# -- MNS topic trigger -------------------------------------------------------------------------
class TopicTrigger:
    def __init__(self, backend: FcBackend, trigger: Trigger) -> None:
        self.backend = backend
        self.trigger = trigger
        self.mns = backend.cloud.backends.mns
        match = _TOPIC_ARN.fullmatch(trigger.source_arn or "")
        if not match:
            raise FcError(
                "InvalidArgument",
                400,
                "sourceArn of an mns_topic trigger must be "
                "acs:mns:{region}:{account}:/topics/{name}, "
                f"got {trigger.source_arn!r}",
            )
        self.topic = match["name"]
        config = trigger.config
        self.content_format = (
            config.get("notifyContentFormat") or config.get("NotifyContentFormat") or "STREAM"
        )
        self.strategy = (
            config.get("notifyStrategy") or config.get("NotifyStrategy") or "BACKOFF_RETRY"
        )
        self.filter_tag = config.get("filterTag") or config.get("FilterTag") or None
        self.subscription = f"fc-{trigger.service}-{trigger.function}-{trigger.name}"
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.stats = {"deliveries": 0, "failed_pushes": 0, "succeeded": 0, "given_up": 0}

    def start(self) -> None:
        try:
            self.mns.add_listener(
                self.topic,
                self.subscription,
                self._on_message,
                self.filter_tag,
                self.content_format,
                self.strategy,
            )
        except Exception as exc:
            raise FcError("InvalidArgument", 400, f"mns_topic trigger: {exc}") from None

    def stop(self) -> None:
        self._stop.set()
        try:
            self.mns.remove_listener(self.topic, self.subscription)
        except Exception as exc:  # the topic is gone already (reset)
            log.debug("trigger %s: %s", self.trigger.name, exc)

    def state(self) -> dict[str, Any]:
        with self._lock:
            return {"topic": self.topic, "notify_content_format": self.content_format, **self.stats}

    def _on_message(self, payload: bytes, message: Any) -> None:
        threading.Thread(
            target=self._deliver, args=(payload,), name=f"mns-push-{self.trigger.name}", daemon=True
        ).start()

    def _deliver(self, payload: bytes) -> None:
        waits = retry_intervals(self.strategy, None)
        with self._lock:
            self.stats["deliveries"] += 1
        for attempt in range(len(waits) + 1):
            try:
                result = self.backend.invoke(
                    self.trigger.service,
                    self.trigger.function,
                    payload,
                    qualifier=self.trigger.qualifier or None,
                    retry_count=attempt,
                )
                ok = not result.failed
            except (FcError, RuntimeError):
                ok = False
            if ok:
                with self._lock:
                    self.stats["succeeded"] += 1
                return
            with self._lock:
                self.stats["failed_pushes"] += 1
            if attempt >= len(waits) or self._stop.wait(waits[attempt] * self.backend.time_scale):
                break
        with self._lock:
            self.stats["given_up"] += 1
