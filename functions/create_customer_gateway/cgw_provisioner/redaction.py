"""Secrets out of text: the one place that knows what a secret looks like.

Used by the log processor (every log line) and by provisioning (API error messages that become
outcome events). Pure: no clock, no network, no environment.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any

MASK = "******"
# The request's fields whose values are secrets (never echoed in an outcome or an error message).
SECRET_REQUEST_FIELDS = frozenset({"AuthKey"})

# Keys whose values are secrets wherever they appear (log fields, dict payloads).
SECRET_KEYS = frozenset(
    {
        "access_key_secret",
        "accesskeysecret",
        "secret",
        "security_token",
        "securitytoken",
        "security-token",
        "x-acs-security-token",
        "x-fc-security-token",
        "authkey",
        "auth_key",
        "signature",
        "authorization",
        "password",
    }
)
# `Name=value` pairs in URLs, query strings and messages (a requests ConnectionError quotes the
# whole signed URL, SecurityToken and AuthKey included; SignatureDoesNotMatch quotes the
# string to sign).
_SECRET_PAIRS = re.compile(
    r"(?i)((?:^|[?&\s,;(\"'])(?:Signature|SecurityToken|AuthKey|AccessKeySecret)"
    r"(?:=|%3D|\"?\s*:\s*\"?))([^&\s\"',;)]*)"
)
_AUTHORIZATION = re.compile(r"(?i)\b((?:ACS3-HMAC-SHA256|MNS|FC|acs)\s+[^:\s]+:)[A-Za-z0-9+/=]+")
_MIN_SECRET_CHARS = 6  # shorter values would mask ordinary words


class SecretRegistry:
    """The secret values this instance knows (credentials): masked wherever they show up."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: frozenset[str] = frozenset()

    def add(self, *values: str | None) -> None:
        fresh = {v for v in values if isinstance(v, str) and len(v) >= _MIN_SECRET_CHARS}
        if fresh - self._values:
            with self._lock:
                # keep the latest few rotations only: STS tokens rotate, the set stays small
                self._values = frozenset(list(self._values | fresh)[-16:])

    @property
    def values(self) -> frozenset[str]:
        return self._values


SECRETS = SecretRegistry()


def redact_text(text: str, extra: Iterable[str] = ()) -> str:
    """`text` with every known secret value, `extra` value and secret-looking pair masked."""
    if not text:
        return text
    for value in (*SECRETS.values, *extra):
        if value and len(value) >= _MIN_SECRET_CHARS and value in text:
            text = text.replace(value, MASK)
    text = _SECRET_PAIRS.sub(lambda m: m.group(1) + MASK, text)
    return _AUTHORIZATION.sub(lambda m: m.group(1) + MASK, text)


def redact(value: Any, extra: Iterable[str] = ()) -> Any:
    """A copy of a JSON-like value with secret keys masked and secret values removed from text."""
    extra = tuple(extra)
    if isinstance(value, str):
        return redact_text(value, extra)
    if isinstance(value, Mapping):
        return {
            key: (
                MASK
                if isinstance(key, str) and key.lower() in SECRET_KEYS and item not in (None, "")
                else redact(item, extra)
            )
            for key, item in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [redact(item, extra) for item in value]
    return value
