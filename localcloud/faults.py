"""The fault rule engine behind PUT /_localcloud/faults.

Rules are evaluated in order for every API call:

- a rule matches when its `service` (and `action`, when given) match the call and its
  `probability` roll (default 1) succeeds;
- `latency_ms` rules add their delay and evaluation goes on;
- a `rate_limit_qps` rule keeps one token bucket per (service, action, account); it decides
  only when its bucket is empty (the call is throttled with `Throttling.User`, as the real
  gateway does, and carries `retry_after_ms`), otherwise evaluation goes on;
- the first matching `error` or `drop_response_after_commit` rule decides the answer.

Each service renders a decided error in its own wire format (JSON/XML for VPC, XML for MNS).
"""

from __future__ import annotations

import json
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any

_RULE_KEYS = {
    "service",
    "action",
    "probability",
    "error",
    "latency_ms",
    "rate_limit_qps",
    "burst",
    "drop_response_after_commit",
    "retry_after_ms",
    "retry_after_header",
}
# How a VPC throttle says when to come back (docs/localcloud.md, "Fault rules"): the header the
# current SDKs read, the TimeLeft form older SDKs read, or nothing at all.
RETRY_AFTER_HEADERS = ("x-acs-retry-after", "x-ratelimit-user-api", "x-ratelimit-user", "none")
_SERVICES = {"vpc", "mns", "fc"}

THROTTLING_USER = ("Throttling.User", 400, "Request was denied due to user flow control.")


class FaultRuleError(ValueError):
    """A fault rule that cannot be understood; the message names the rule and the field."""


@dataclass(frozen=True)
class FaultError:
    status: int
    code: str
    message: str
    retry_after_ms: int | None = None
    retry_after_header: str = RETRY_AFTER_HEADERS[0]


@dataclass
class Decision:
    latency_s: float = 0.0
    error: FaultError | None = None
    drop_response_after_commit: bool = False
    rule_index: int | None = None

    @property
    def label(self) -> str | None:
        if self.error is not None:
            return f"rule {self.rule_index}: {self.error.code}"
        if self.drop_response_after_commit:
            return f"rule {self.rule_index}: drop_response_after_commit"
        return None


@dataclass
class _Bucket:
    rate: float
    capacity: float
    tokens: float
    updated: float = field(default_factory=time.monotonic)

    def take(self, now: float) -> float | None:
        """Take a token; return None on success, else the seconds until one is available."""
        # `now` may predate a bucket created during the same decide() call: never refill
        # by a negative interval (that left a fresh bucket just under one token).
        elapsed = max(0.0, now - self.updated)
        self.tokens = min(self.capacity, self.tokens + elapsed * self.rate)
        self.updated = max(self.updated, now)
        if self.tokens >= 1:
            self.tokens -= 1
            return None
        return (1 - self.tokens) / self.rate


def validate_rules(rules: Any) -> list[dict[str, Any]]:
    if not isinstance(rules, list):
        raise FaultRuleError("faults must be a JSON list of rules")
    for i, rule in enumerate(rules):
        if not isinstance(rule, dict):
            raise FaultRuleError(f"rule {i}: must be an object")
        unknown = set(rule) - _RULE_KEYS
        if unknown:
            raise FaultRuleError(f"rule {i}: unknown field(s) {sorted(unknown)}")
        if rule.get("service") not in _SERVICES:
            raise FaultRuleError(f"rule {i}: service must be one of {sorted(_SERVICES)}")
        p = rule.get("probability", 1)
        if not isinstance(p, (int, float)) or not 0 <= p <= 1:
            raise FaultRuleError(f"rule {i}: probability must be a number in [0, 1]")
        effects = [k for k in ("error", "latency_ms", "rate_limit_qps") if k in rule]
        if rule.get("drop_response_after_commit"):
            effects.append("drop_response_after_commit")
        if len(effects) != 1:
            raise FaultRuleError(
                f"rule {i}: needs exactly one of error, latency_ms, rate_limit_qps, "
                f"drop_response_after_commit (got {effects or 'none'})"
            )
        if "error" in rule:
            err = rule["error"]
            if not isinstance(err, dict) or not isinstance(err.get("code"), str):
                raise FaultRuleError(f"rule {i}: error must be an object with a string code")
            if not isinstance(err.get("status", 400), int):
                raise FaultRuleError(f"rule {i}: error.status must be an integer")
        for key in ("latency_ms", "rate_limit_qps"):
            if key in rule and (not isinstance(rule[key], (int, float)) or rule[key] <= 0):
                raise FaultRuleError(f"rule {i}: {key} must be a positive number")
        if rule.get("retry_after_header", RETRY_AFTER_HEADERS[0]) not in RETRY_AFTER_HEADERS:
            raise FaultRuleError(
                f"rule {i}: retry_after_header must be one of {RETRY_AFTER_HEADERS}"
            )
    return rules


def _header(rule: dict[str, Any]) -> str:
    return str(rule.get("retry_after_header", RETRY_AFTER_HEADERS[0]))


class FaultEngine:
    def __init__(self, rules: list[dict[str, Any]] | None = None, seed: int | None = None) -> None:
        self._lock = threading.Lock()
        self._random = random.Random(seed)
        self._rules: list[dict[str, Any]] = []
        self._buckets: dict[tuple[int, str, str, str], _Bucket] = {}
        self.set_rules(rules or [])

    def set_rules(self, rules: Any) -> None:
        rules = validate_rules(rules)
        with self._lock:
            self._rules = [dict(r) for r in rules]
            self._buckets.clear()

    def rules(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(r) for r in self._rules]

    def load_file(self, path: str) -> None:
        with open(path, encoding="utf-8") as fh:
            self.set_rules(json.load(fh))

    def decide(self, service: str, action: str, account_id: str) -> Decision:
        decision = Decision()
        now = time.monotonic()
        with self._lock:
            for index, rule in enumerate(self._rules):
                if rule["service"] != service:
                    continue
                if rule.get("action") not in (None, action):
                    continue
                if self._random.random() >= rule.get("probability", 1):
                    continue
                if "latency_ms" in rule:
                    decision.latency_s += rule["latency_ms"] / 1000
                    continue
                if "rate_limit_qps" in rule:
                    wait = self._bucket(index, rule, service, action, account_id).take(now)
                    if wait is None:
                        continue
                    code, status, message = THROTTLING_USER
                    decision.error = FaultError(
                        status, code, message, max(1, round(wait * 1000)), _header(rule)
                    )
                    decision.rule_index = index
                    return decision
                decision.rule_index = index
                if rule.get("drop_response_after_commit"):
                    decision.drop_response_after_commit = True
                    return decision
                err = rule["error"]
                decision.error = FaultError(
                    int(err.get("status", 400)),
                    err["code"],
                    err.get("message", err["code"]),
                    err.get("retry_after_ms", rule.get("retry_after_ms")),
                    _header(rule),
                )
                return decision
        return decision

    def _bucket(
        self, index: int, rule: dict[str, Any], service: str, action: str, account: str
    ) -> _Bucket:
        key = (index, service, action, account)
        bucket = self._buckets.get(key)
        if bucket is None:
            rate = float(rule["rate_limit_qps"])
            capacity = float(rule.get("burst", max(1.0, rate)))
            bucket = self._buckets[key] = _Bucket(rate, capacity, capacity)
        return bucket
