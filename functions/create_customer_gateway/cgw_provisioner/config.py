"""Environment variables -> a typed, frozen Config, parsed once per instance.

Every problem is reported at once in a ConfigError naming the variable and the rule.
`SETTINGS` lists what is read, with its default (None: required); the template test checks
that template.yml sets every required one. docs/configuration.md documents each.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from .arns import Destination, DestinationArnError, parse_destination_arn

RETRY_POLICIES = ("share-limiter", "full-jitter", "fixed", "fleet-tokens")
# Deprecated names, still accepted: `adaptive` was the share limiter's first name (the benchmarks
# use that word for botocore's adaptive mode).
RETRY_POLICY_ALIASES = {"adaptive": "share-limiter"}

SETTINGS: tuple[tuple[str, str | None], ...] = (
    ("SUCCESS_DESTINATION", None),
    ("FAILURE_DESTINATION", None),
    ("VPC_ENDPOINT", ""),
    ("MNS_ENDPOINT", ""),
    ("FC_ENDPOINT", ""),
    ("MAX_ATTEMPTS", "8"),
    ("BATCH_CONCURRENCY", "10"),
    ("ADOPT_EXISTING", "true"),
    ("LOG_LEVEL", "INFO"),
    ("DEADLINE_MARGIN_SECONDS", "3"),
    ("API_TIMEOUT_SECONDS", "10"),
    ("RETRY_POLICY", "share-limiter"),
    ("TOKEN_QUEUE", ""),
)
REQUIRED = tuple(name for name, default in SETTINGS if default is None)

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_HOST = re.compile(r"[A-Za-z0-9.-]+(?::[0-9]{1,5})?|\[[0-9A-Fa-f:.]+\](?::[0-9]{1,5})?")


class ConfigError(ValueError):
    """One or more environment variables are missing or invalid (each line names one)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid configuration: " + "; ".join(problems))
        self.problems = tuple(problems)


@dataclass(frozen=True)
class Endpoint:
    """Where an SDK sends requests: scheme and host[:port]."""

    scheme: str  # "http" or "https"
    host: str  # host or host:port

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}"


@dataclass(frozen=True)
class Config:
    success_destination: Destination
    failure_destination: Destination
    vpc_endpoint: Endpoint | None  # None: the real regional endpoint
    mns_endpoint: Endpoint | None  # None: https://{account}.mns.{region}.aliyuncs.com
    fc_endpoint: Endpoint | None  # None: https://{account}.{region}.fc.aliyuncs.com
    max_attempts: int = 8
    batch_concurrency: int = 10
    adopt_existing: bool = True
    log_level: str = "INFO"
    deadline_margin_seconds: float = 3.0
    api_timeout_seconds: float = 10.0
    retry_policy: str = "share-limiter"
    token_queue: Destination | None = None  # RETRY_POLICY=fleet-tokens: the pool's queue


def parse_endpoint(value: str) -> Endpoint:
    """`http://host:port`, `https://host` or a bare `host[:port]` (meaning https)."""
    text = value.strip()
    scheme = "https"
    match = re.fullmatch(r"(?i)(https?)://(.*)", text)
    if match:
        scheme, text = match[1].lower(), match[2]
    text = text.rstrip("/")
    if not _HOST.fullmatch(text):
        raise ValueError(
            "must be a URL such as http://127.0.0.1:8080 or a bare host such as "
            f"vpc.cn-shanghai.aliyuncs.com (no path), got {value[:200]!r}"
        )
    return Endpoint(scheme, text)


def load(environ: Mapping[str, str]) -> Config:
    """Parse the environment; raises ConfigError listing every problem."""
    problems: list[str] = []
    values = {name: environ.get(name, default) for name, default in SETTINGS}

    def destination(name: str) -> Destination | None:
        raw = values[name]
        if raw is None or not raw.strip():
            problems.append(f"{name} is required: the ARN outcome events are published to")
            return None
        try:
            return parse_destination_arn(raw)
        except DestinationArnError as error:
            problems.append(f"{name}: {error}")
            return None

    def queue_arn(name: str, required: bool) -> Destination | None:
        raw = (values[name] or "").strip()
        if not raw:
            if required:
                problems.append(
                    f"{name} is required with RETRY_POLICY=fleet-tokens: the ARN "
                    "of the MNS queue that holds the fleet's send tokens"
                )
            return None
        try:
            queue = parse_destination_arn(raw)
        except DestinationArnError as error:
            problems.append(f"{name}: {error}")
            return None
        if queue.kind != "mns-queue":
            problems.append(f"{name} must be an MNS queue ARN (acs:mns:...:/queues/...)")
            return None
        return queue

    def endpoint(name: str) -> Endpoint | None:
        raw = (values[name] or "").strip()
        if not raw:
            return None
        try:
            return parse_endpoint(raw)
        except ValueError as error:
            problems.append(f"{name} {error}")
            return None

    def integer(name: str, low: int, high: int) -> int:
        raw = (values[name] or "").strip()
        try:
            number = int(raw)
        except ValueError:
            number = None
        if number is None or not low <= number <= high:
            problems.append(f"{name} must be an integer from {low} to {high}, got {raw[:40]!r}")
            return low
        return number

    def seconds(name: str, low: float, high: float) -> float:
        raw = (values[name] or "").strip()
        try:
            number = float(raw)
        except ValueError:
            number = None
        if number is None or not low <= number <= high:
            rule = f"must be a number of seconds from {low:g} to {high:g}"
            problems.append(f"{name} {rule}, got {raw[:40]!r}")
            return low
        return number

    def flag(name: str) -> bool:
        raw = (values[name] or "").strip().lower()
        if raw in _TRUE:
            return True
        if raw in _FALSE:
            return False
        problems.append(f"{name} must be true or false (1/0, yes/no, on/off), got {raw[:40]!r}")
        return True

    def choice(
        name: str, options: tuple[str, ...], aliases: Mapping[str, str] | None = None
    ) -> str:
        raw = (values[name] or "").strip()
        normalized = raw.upper() if name == "LOG_LEVEL" else raw.lower()
        normalized = (aliases or {}).get(normalized, normalized)
        if normalized not in options:
            problems.append(f"{name} must be one of {', '.join(options)}, got {raw[:40]!r}")
            return options[0]
        return normalized

    # Every value is read before any problem is raised, so that the error lists them all.
    success = destination("SUCCESS_DESTINATION")
    failure = destination("FAILURE_DESTINATION")
    endpoints = [endpoint(name) for name in ("VPC_ENDPOINT", "MNS_ENDPOINT", "FC_ENDPOINT")]
    max_attempts = integer("MAX_ATTEMPTS", 1, 100)
    batch_concurrency = integer("BATCH_CONCURRENCY", 1, 64)
    adopt_existing = flag("ADOPT_EXISTING")
    log_level = choice("LOG_LEVEL", ("INFO", "DEBUG", "WARNING", "ERROR", "CRITICAL"))
    deadline_margin = seconds("DEADLINE_MARGIN_SECONDS", 0.0, 600.0)
    api_timeout = seconds("API_TIMEOUT_SECONDS", 0.5, 120.0)
    retry_policy = choice("RETRY_POLICY", RETRY_POLICIES, RETRY_POLICY_ALIASES)
    token_queue = queue_arn("TOKEN_QUEUE", required=retry_policy == "fleet-tokens")
    if problems or success is None or failure is None:
        raise ConfigError(problems)
    return Config(
        success_destination=success,
        failure_destination=failure,
        vpc_endpoint=endpoints[0],
        mns_endpoint=endpoints[1],
        fc_endpoint=endpoints[2],
        max_attempts=max_attempts,
        batch_concurrency=batch_concurrency,
        adopt_existing=adopt_existing,
        log_level=log_level,
        deadline_margin_seconds=deadline_margin,
        api_timeout_seconds=api_timeout,
        retry_policy=retry_policy,
        token_queue=token_queue,
    )
