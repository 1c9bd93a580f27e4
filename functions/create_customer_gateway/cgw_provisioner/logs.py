"""Structured logs: JSON, one object per line on stdout, secrets scrubbed by a processor.

`configure(level)` runs once per instance; `get_logger()` is cheap. Below the configured level a
log call is a no-op method (structlog's filtering bound logger), so DEBUG lines cost nothing when
disabled. Loggers are bound explicitly (request id, message id, ClientToken, region, IP) and
passed down, so worker threads need no context variables.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import MutableMapping
from typing import Any, Protocol

import structlog

from .redaction import SECRET_KEYS, redact

LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40, "CRITICAL": 50}

_configure_lock = threading.Lock()
_configured_level: int | None = None


class Log(Protocol):
    """What the code asks of a logger: structlog's bound logger (tests pass their own)."""

    def bind(self, **values: Any) -> Log: ...
    def debug(self, event: str, **values: Any) -> Any: ...
    def info(self, event: str, **values: Any) -> Any: ...
    def warning(self, event: str, **values: Any) -> Any: ...
    def error(self, event: str, **values: Any) -> Any: ...
    def exception(self, event: str, **values: Any) -> Any: ...


class _StdoutLogger:
    """Writes one line to the current sys.stdout (looked up per call, so test capture works)."""

    _lock = threading.Lock()

    def msg(self, message: str) -> None:
        with self._lock:
            stream = sys.stdout
            stream.write(message + "\n")
            stream.flush()

    log = debug = info = warning = warn = error = critical = exception = fatal = msg


def _stdout_logger_factory(*_args: Any) -> _StdoutLogger:
    return _StdoutLogger()


def scrub_secrets(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> dict[str, Any]:
    """Processor: mask secret keys and any known secret value or secret-looking pair."""
    for key in list(event_dict):
        if key.lower() in SECRET_KEYS:
            event_dict[key] = "******"
    scrubbed: dict[str, Any] = redact(event_dict)
    return scrubbed


def configure(level: str = "INFO") -> None:
    """Configure structlog once per instance (a later call with another level reconfigures)."""
    global _configured_level
    numeric = LEVELS.get(str(level).upper(), logging.INFO)
    with _configure_lock:
        if _configured_level == numeric:
            return
        structlog.configure(
            processors=[
                structlog.processors.add_log_level,
                structlog.processors.TimeStamper(fmt="iso", utc=True, key="time"),
                structlog.processors.format_exc_info,
                scrub_secrets,
                structlog.processors.JSONRenderer(ensure_ascii=False, default=str),
            ],
            wrapper_class=structlog.make_filtering_bound_logger(numeric),
            logger_factory=_stdout_logger_factory,
            cache_logger_on_first_use=False,
        )
        _configured_level = numeric
    quiet_sdk_loggers()


def get_logger(**bound: Any) -> Log:
    logger: Log = structlog.get_logger("cgw-provisioner").bind(**bound)
    return logger


def quiet_sdk_loggers() -> None:
    """The SDKs log through stdlib logging in their own plain formats, and aliyunsdkcore's error
    lines quote server messages (SignatureDoesNotMatch quotes the string to sign, which holds the
    STS token). Our own JSON lines carry the same facts, scrubbed; theirs are dropped."""
    for name in ("aliyunsdkcore", "aliyunsdkcore.http.http_response", "mns"):
        sdk_logger = logging.getLogger(name)
        sdk_logger.propagate = False
        sdk_logger.handlers = [logging.NullHandler()]
        sdk_logger.setLevel(logging.CRITICAL + 1)
