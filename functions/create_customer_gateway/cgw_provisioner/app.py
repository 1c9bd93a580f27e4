"""One invocation: decode -> validate -> provision (bounded concurrency) -> publish -> summary.

The per-instance state (config, compiled validator, retry policies and their limiters, client
caches) lives in one `Instance`, built once (by the initializer, or lazily under a lock by the
first invocation) and shared by concurrent invocations. Each message is handled on its own: a
bad one never affects another. A message whose transient failure outlasts the budget, or whose
outcome could not be published, is handed back: after every other outcome is published the
invocation raises TransientFailureError naming it, and the trigger redelivers it.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from . import config as config_module
from . import logs
from .arns import Destination
from .concurrency import StartGate, concurrency_for, earliest_start_for
from .config import Config
from .credentials import Credentials, from_context
from .events import Delivery, decode_event
from .outcomes import Outcome, event_source, rejected, to_cloud_event
from .provisioning import Provisioner, VpcPort
from .retry import (
    ApiCallError,
    AttemptLog,
    Deadline,
    RetryBudgetExhaustedError,
    RetryPolicy,
    call_with_retries,
    policy_named,
)
from .validation import Rejection, RequestValidator

if TYPE_CHECKING:
    from .logs import Log

PUBLISH_SAFETY_SECONDS = 0.5  # publishing stops this long before FC's timeout


class TransientFailureError(Exception):
    """Some messages could not be finished in this invocation (a transient cause outlasted the
    retry budget, or the outcome could not be published): the trigger must redeliver them.
    `items` holds (message id, ClientToken, reason) for each."""

    def __init__(self, items: list[tuple[str, str, str]], total: int) -> None:
        listed = "; ".join(f"{m} (ClientToken {t}): {r}" for m, t, r in items[:50])
        more = f"; and {len(items) - 50} more" if len(items) > 50 else ""
        super().__init__(f"{len(items)} of {total} message(s) must be redelivered: {listed}{more}")
        self.items = items


@dataclass
class ItemResult:
    delivery: Delivery
    client_token: str
    outcome: Outcome | None = None
    event: dict[str, Any] | None = None
    unfinished: str | None = None  # why the message must be redelivered
    attempts: int = 0
    publish_attempts: int = 0
    duration_s: float = 0.0

    def finished(self) -> tuple[Outcome, dict[str, Any]]:
        """The outcome and its event (an item that is not unfinished has both)."""
        if self.outcome is None or self.event is None:
            raise RuntimeError(f"message {self.delivery.message_id} has no outcome yet")
        return self.outcome, self.event


class OutcomePublisher(Protocol):
    """destinations.Publisher, or a fake with the same publish()."""

    def publish(
        self,
        destination: Destination,
        event: Mapping[str, Any],
        tag: str,
        credentials: Credentials,
        *,
        timeout: float,
    ) -> str | None: ...


def _vpc_clients(config: Config) -> Callable[[Credentials, str], VpcPort]:
    """The VPC port for (credentials, region): one client cache per region, built on demand."""
    from .vpc import VpcClients

    pool = max(10, 2 * config.batch_concurrency)
    caches: dict[str, VpcClients] = {}
    cache_lock = threading.Lock()

    def vpc_for(credentials: Credentials, region: str) -> VpcPort:
        with cache_lock:
            clients = caches.get(region)
            if clients is None:
                clients = caches[region] = VpcClients(region, config.vpc_endpoint, pool)
        return clients.for_credentials(credentials)

    return vpc_for


def _vpc_policy(config: Config) -> RetryPolicy:
    """The policy RETRY_POLICY names; fleet-tokens over its MNS queue (imported only then)."""
    if config.retry_policy != "fleet-tokens" or config.token_queue is None:
        return policy_named(config.retry_policy)
    from .fleet_tokens import FleetTokenPolicy
    from .token_queue import MnsTokenQueue

    def alone(reason: str) -> None:
        logs.get_logger().warning("token queue unavailable: pacing alone", reason=reason)

    return FleetTokenPolicy(
        MnsTokenQueue(config.token_queue, config.mns_endpoint), on_degrade=alone
    )


def _publish_policy_name(config: Config) -> str:
    """Publishing paces with the share limiter under fleet-tokens: tokens are for the VPC API."""
    return "share-limiter" if config.retry_policy == "fleet-tokens" else config.retry_policy


@dataclass
class Instance:
    """What one FC instance keeps between invocations. Thread-safe."""

    config: Config
    validator: RequestValidator
    vpc_policy: RetryPolicy
    publish_policy: RetryPolicy
    vpc_for: Callable[[Credentials, str], VpcPort]
    publisher: OutcomePublisher
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)
    clock: Callable[[], float] = time.monotonic

    @classmethod
    def build(
        cls,
        context: Any,
        environ: Mapping[str, str] | None = None,
        *,
        config: Config | None = None,
        validator: RequestValidator | None = None,
        vpc_policy: RetryPolicy | None = None,
        publish_policy: RetryPolicy | None = None,
        vpc_for: Callable[[Credentials, str], VpcPort] | None = None,
        publisher: OutcomePublisher | None = None,
    ) -> Instance:
        """Config from the environment, the compiled validator, the policies and the adapters;
        each may be given instead (the adapters are imported here: a test with fakes passes
        vpc_for and publisher and never loads the SDKs)."""
        environ = os.environ if environ is None else environ
        config = config or config_module.load(environ)
        logs.configure(config.log_level)
        if vpc_for is None:
            vpc_for = _vpc_clients(config)
        if publisher is None:
            from .destinations import Publisher, import_fc_sdk

            publisher = Publisher(config.mns_endpoint, config.fc_endpoint)
            if "fc" in (config.success_destination.kind, config.failure_destination.kind):
                import_fc_sdk()  # in the initializer, not mid-invocation
        return cls(
            config=config,
            validator=validator or RequestValidator(),
            vpc_policy=vpc_policy or _vpc_policy(config),
            publish_policy=publish_policy or policy_named(_publish_policy_name(config)),
            vpc_for=vpc_for,
            publisher=publisher,
            environ=environ,
        )

    # -- one invocation --------------------------------------------------------------------
    def handle(self, event: bytes, context: Any) -> Any:
        started = self.clock()
        timeout = float(context.function.timeout)
        margin = min(self.config.deadline_margin_seconds, timeout / 2)
        provision_deadline = Deadline(started + timeout - margin, self.clock)
        publish_deadline = Deadline(started + timeout - PUBLISH_SAFETY_SECONDS, self.clock)
        log = logs.get_logger(fc_request_id=getattr(context, "request_id", None))
        deliveries = decode_event(event)
        credentials = from_context(context, self.environ)
        region, account = str(context.region), str(context.account_id)
        prepare = getattr(self.vpc_policy, "prepare", None)  # (fleet-tokens: the pool's queue
        if prepare is not None:  # needs the invocation's credentials, region and account)
            prepare(credentials, region, account)
        source = event_source(region, account, context.service.name, context.function.name)
        destinations = (
            self.config.success_destination.resolved(region, account),
            self.config.failure_destination.resolved(region, account),
        )
        provisioner = Provisioner(
            self.vpc_for(credentials, region),
            self.vpc_policy,
            max_attempts=self.config.max_attempts,
            adopt_existing=self.config.adopt_existing,
            call_timeout=self.config.api_timeout_seconds,
        )

        workers = max(1, min(self.config.batch_concurrency, len(deliveries)))
        gate = StartGate(
            concurrency_for(self.vpc_policy, workers),
            earliest_start=earliest_start_for(self.vpc_policy),
            messages=len(deliveries),
        )
        watch = getattr(self.vpc_policy, "watch", None)  # (fleet-tokens: fetches tokens
        unwatch = watch(gate) if watch is not None else None  # ahead for the gate's waiters)

        def run(delivery: Delivery) -> ItemResult:
            gate.enter(provision_deadline.at)
            try:
                return self._item(
                    delivery,
                    provisioner,
                    provision_deadline,
                    publish_deadline,
                    credentials,
                    source,
                    destinations,
                    log,
                )
            finally:
                gate.leave()

        try:
            if workers == 1:
                results = [run(delivery) for delivery in deliveries]
            else:
                from concurrent.futures import ThreadPoolExecutor  # only batches need it

                with ThreadPoolExecutor(workers, thread_name_prefix="cgw-item") as pool:
                    results = list(pool.map(run, deliveries))
        finally:
            if unwatch is not None:
                unwatch()
        finish = getattr(self.vpc_policy, "finish", None)  # (fleet-tokens: held tokens back
        if finish is not None:  # before FC freezes the instance; waiting for them only when
            finish(all(d.kind == "mns-queue" for d in deliveries))  # the caller is the queue)
        return self._finish(event, deliveries, results, started, log)

    def _item(
        self,
        delivery: Delivery,
        provisioner: Provisioner,
        provision_deadline: Deadline,
        publish_deadline: Deadline,
        credentials: Credentials,
        source: str,
        destinations: tuple[Destination, Destination],
        log: Log,
    ) -> ItemResult:
        began = self.clock()
        item_log = log.bind(message_id=delivery.message_id, trigger=delivery.kind)
        result = ItemResult(delivery, delivery.derived_client_token())
        try:
            verdict = self.validator.validate(delivery.body)
            if isinstance(verdict, Rejection):
                outcome = rejected(delivery, verdict)
                item_log = item_log.bind(client_token=outcome.client_token)
                item_log.info(
                    "request rejected", code=verdict.code, violations=len(verdict.violations)
                )
            else:
                result.client_token = verdict.client_token or result.client_token
                item_log = item_log.bind(
                    client_token=result.client_token,
                    region=verdict.region_id,
                    ip=verdict.ip_address,
                )
                try:
                    outcome = provisioner.provision(verdict, delivery, provision_deadline, item_log)
                except RetryBudgetExhaustedError as exhausted:
                    result.attempts = exhausted.attempts
                    result.unfinished = (
                        f"{exhausted.last_error.code} outlasted the retry budget "
                        f"({exhausted.reason}, {exhausted.attempts} attempt(s))"
                    )
                    item_log.warning(
                        "handed back for redelivery",
                        reason=result.unfinished,
                        code=exhausted.last_error.code,
                    )
                    return result
            result.outcome, result.client_token = outcome, outcome.client_token
            result.attempts = outcome.attempts
            result.event = to_cloud_event(outcome, source=source, time=_now())
            self._publish(result, credentials, destinations, publish_deadline, item_log)
        except Exception as error:  # a bug must not cost the other messages: hand this one back
            item_log.exception("unexpected error; handed back for redelivery")
            result.unfinished = f"unexpected {type(error).__name__}"
        finally:
            result.duration_s = self.clock() - began
        return result

    def _publish(
        self,
        result: ItemResult,
        credentials: Credentials,
        destinations: tuple[Destination, Destination],
        deadline: Deadline,
        log: Log,
    ) -> None:
        outcome, event = result.finished()
        created = outcome.created
        destination = destinations[0] if created else destinations[1]
        tag = "created" if created else "failed"
        publish_log = log.bind(destination=str(destination), event_id=event["id"])
        record = AttemptLog()
        try:
            call_with_retries(
                lambda timeout: self.publisher.publish(
                    destination, event, tag, credentials, timeout=timeout
                ),
                policy=self.publish_policy,
                deadline=deadline,
                max_attempts=self.config.max_attempts,
                call_timeout=self.config.api_timeout_seconds,
                log=publish_log,
                action="Publish",
                record=record,
            )
            publish_log.info("outcome published", type=event["type"], attempts=record.attempts)
        except RetryBudgetExhaustedError as exhausted:
            result.unfinished = (
                f"outcome not published: {exhausted.last_error.code} ({exhausted.reason})"
            )
            publish_log.error(
                "outcome not published", code=exhausted.last_error.code, reason=exhausted.reason
            )
        except ApiCallError as error:
            result.unfinished = f"outcome not published: {error.code}"
            publish_log.error(
                "outcome not published", code=error.code, http_status=error.http_status
            )
        result.publish_attempts = record.attempts

    def _finish(
        self,
        event: bytes,
        deliveries: list[Delivery],
        results: list[ItemResult],
        started: float,
        log: Log,
    ) -> Any:
        unfinished = [r for r in results if r.unfinished]
        finished = [r for r in results if not r.unfinished]
        created = [r for r in finished if r.finished()[0].created]
        summary: dict[str, Any] = {
            "total": len(results),
            "created": len(created),
            "adopted": sum(1 for r in created if r.finished()[0].adopted),
            "failed": len(finished) - len(created),
            "redelivery": len(unfinished),
            "outcomes": [
                {
                    "messageId": r.delivery.message_id,
                    "clientToken": r.client_token,
                    "eventId": r.finished()[1]["id"],
                    "type": r.finished()[1]["type"],
                }
                for r in finished
            ],
        }
        log.info(
            "invocation summary",
            total=summary["total"],
            created=summary["created"],
            adopted=summary["adopted"],
            failed=summary["failed"],
            redelivery=summary["redelivery"],
            attempts=sum(r.attempts for r in results),
            publish_attempts=sum(r.publish_attempts for r in results),
            duration_ms=round((self.clock() - started) * 1000, 1),
            max_item_ms=round(max((r.duration_s for r in results), default=0) * 1000, 1),
        )
        if unfinished:
            raise TransientFailureError(
                [(r.delivery.message_id, r.client_token, r.unfinished or "") for r in unfinished],
                len(results),
            )
        if _is_single_request(event, deliveries):
            return results[0].finished()[1]
        return summary


def _is_single_request(event: bytes, deliveries: list[Delivery]) -> bool:
    """A direct invocation with one request object (not an array, not a trigger envelope)."""
    if len(deliveries) != 1 or deliveries[0].kind != "direct":
        return False
    raw = event.encode() if isinstance(event, str) else bytes(event)
    return not raw.lstrip().startswith(b"[")


def _now() -> str:
    """UTC, RFC 3339 with milliseconds (time, not datetime: one import less at cold start)."""
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z"


# -- the instance, built once -----------------------------------------------------------------
_instance: Instance | None = None
_instance_lock = threading.Lock()


def initialize(context: Any) -> Instance:
    """Build the instance's state once (FC's initializer, or the first invocation)."""
    global _instance
    if _instance is None:
        with _instance_lock:
            if _instance is None:
                _instance = Instance.build(context)
    return _instance


def handle(event: bytes, context: Any) -> Any:
    return initialize(context).handle(event, context)


def reset() -> None:
    """Forget the instance (tests change the environment between cases)."""
    global _instance
    with _instance_lock:
        _instance = None
