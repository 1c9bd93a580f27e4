"""The function's credentials: FC's STS credentials from the context, else the environment."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .redaction import SECRETS


class MissingCredentialsError(RuntimeError):
    """Neither context.credentials nor ALIBABA_CLOUD_ACCESS_KEY_ID/SECRET are set."""


@dataclass(frozen=True)
class Credentials:
    access_key_id: str
    access_key_secret: str = field(repr=False)
    security_token: str | None = field(default=None, repr=False)


def from_context(context: Any, environ: Mapping[str, str]) -> Credentials:
    """context.credentials (STS: id, secret, token), else ALIBABA_CLOUD_ACCESS_KEY_ID/SECRET/
    SECURITY_TOKEN. Every secret found is registered for redaction."""
    given = getattr(context, "credentials", None)
    key_id = _attribute(given, "access_key_id", "accessKeyId")
    secret = _attribute(given, "access_key_secret", "accessKeySecret")
    token = _attribute(given, "security_token", "securityToken")
    if not (key_id and secret):
        key_id = environ.get("ALIBABA_CLOUD_ACCESS_KEY_ID", "")
        secret = environ.get("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "")
        token = environ.get("ALIBABA_CLOUD_SECURITY_TOKEN", "")
    if not (key_id and secret):
        raise MissingCredentialsError(
            "no credentials: context.credentials is empty (does the service have a role?) and "
            "ALIBABA_CLOUD_ACCESS_KEY_ID / ALIBABA_CLOUD_ACCESS_KEY_SECRET are not set"
        )
    SECRETS.add(secret, token)
    return Credentials(key_id, secret, token or None)


def _attribute(holder: Any, *names: str) -> str:
    for name in names:
        value = getattr(holder, name, None)
        if isinstance(value, str) and value:
            return value
    return ""
