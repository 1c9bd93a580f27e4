"""Request authentication, one module per signature scheme.

- `rpc_v1`: OpenAPI RPC signature V1 (HMAC-SHA1 over the sorted parameters; aliyunsdkcore,
  and the Tea SDK with `signature_algorithm='v2'`).
- `acs3`: OpenAPI V3 `ACS3-HMAC-SHA256` (the Tea SDK's default).
- `mns`: the MNS `Authorization: MNS id:sig` scheme.
- `fc`: the FC `Authorization: FC id:sig` scheme.

What the schemes share lives here: the base error (a `localcloud.core.ServiceError`); for the
OpenAPI schemes timestamp parsing, the nonce replay cache and the STS token check; for the two
Date-header schemes (MNS, FC) their common string to sign, HMAC-Base64 and Date parsing.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import heapq
import hmac
import threading
import time
from collections.abc import Mapping
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

from localcloud.core import ServiceError
from localcloud.credentials import Credential

MAX_CLOCK_SKEW_S = 15 * 60

_TIMESTAMP_FORMATS = ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S.%fZ")


class AuthError(ServiceError):
    """A request refused before any action runs; each service renders it in its wire format."""

    def __init__(self, code: str, status: int, message: str) -> None:
        super().__init__(code, status, message)


class OpenApiAuthError(AuthError):
    """A request refused by the OpenAPI gateway (VPC: RPC V1 and ACS3)."""


def date_header_string_to_sign(
    method: str, headers: Mapping[str, str], header_prefix: str, resource: str
) -> str:
    """MNS and FC: `METHOD\\nContent-MD5\\nContent-Type\\nDate\\n` + canonical headers + resource.

    Canonical headers: every header whose lowercase name starts with `header_prefix`, sorted by
    that name, each `name:value\\n`.
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    canonical = "".join(
        f"{name}:{lowered[name]}\n" for name in sorted(lowered) if name.startswith(header_prefix)
    )
    return "\n".join(
        [
            method.upper(),
            lowered.get("content-md5", ""),
            lowered.get("content-type", ""),
            lowered.get("date", ""),
            canonical + resource,
        ]
    )


def hmac_base64(secret: str, text: str, digestmod: str) -> str:
    digest = hmac.new(secret.encode("utf-8"), text.encode("utf-8"), digestmod).digest()
    return base64.b64encode(digest).decode("ascii")


def content_md5_matches(header: str, body: bytes) -> bool:
    """True when `header` is Base64 of the body's raw MD5 digest (RFC 1864), or of its hex
    string (aliyun-mns-sdk sends that form)."""
    try:
        decoded = base64.b64decode(header.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    md5 = hashlib.md5(body)
    return decoded in (md5.digest(), md5.hexdigest().encode("ascii"))


def parse_http_date(value: str) -> datetime | None:
    """An RFC 1123 `Date` header as an aware UTC datetime, or None when it is not one."""
    try:
        sent = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if sent is None or sent.tzinfo is None:
        return None
    return sent.astimezone(timezone.utc)


def missing(name: str) -> OpenApiAuthError:
    return OpenApiAuthError(f"Missing{name}", 400, f"{name} is mandatory for this action.")


def access_key_not_found() -> OpenApiAuthError:
    return OpenApiAuthError(
        "InvalidAccessKeyId.NotFound", 404, "Specified access key is not found."
    )


def signature_does_not_match(string_to_sign: str, extra: str = "") -> OpenApiAuthError:
    """The gateway's message; aliyunsdkcore compares the text after the first ':' with its own
    string to sign, so nothing may follow it for V1 (`extra` is for V3 only)."""
    return OpenApiAuthError(
        "SignatureDoesNotMatch",
        400,
        "Specified signature is not matched with our calculation. server string to sign is:"
        + string_to_sign
        + extra,
    )


def incomplete_signature(detail: str) -> OpenApiAuthError:
    return OpenApiAuthError(
        "IncompleteSignature",
        400,
        f"The request signature does not conform to Aliyun standards. {detail}",
    )


def parse_timestamp(value: str) -> datetime:
    """`yyyy-MM-ddTHH:mm:ssZ` (milliseconds allowed), UTC; else InvalidTimeStamp.Format."""
    for fmt in _TIMESTAMP_FORMATS:
        try:
            return datetime.strptime(value, fmt).replace(tzinfo=timezone.utc)
        except ValueError:
            continue
    raise OpenApiAuthError(
        "InvalidTimeStamp.Format",
        400,
        f"Specified time stamp or date value is not well formatted. (got {value[:64]!r}, "
        "expected yyyy-MM-ddTHH:mm:ssZ in UTC)",
    )


def check_clock_skew(sent: datetime, now: datetime) -> None:
    if abs((now - sent).total_seconds()) > MAX_CLOCK_SKEW_S:
        raise OpenApiAuthError(
            "InvalidTimeStamp.Expired",
            400,
            "Specified time stamp or date value is expired. (more than 15 minutes from the "
            f"server time {now.strftime('%Y-%m-%dT%H:%M:%SZ')})",
        )


def check_security_token(credential: Credential, token: str | None) -> None:
    """A key configured with an STS token needs exactly that token; other keys take none.

    Missing token: `MissingSecurityToken` (the POP gateway's answer for an STS key without its
    token). A wrong token, or one sent with a permanent key:
    `InvalidSecurityToken.MismatchWithAccessKey` 400 (code from the SDK error lists; the status
    is our choice, the real one is not documented).
    """
    expected = credential.security_token
    if expected is None:
        if token:
            raise OpenApiAuthError(
                "InvalidSecurityToken.MismatchWithAccessKey",
                400,
                "Specified SecurityToken mismatch with the AccessKey (this AccessKey takes no "
                "SecurityToken).",
            )
        return
    if not token:
        raise missing("SecurityToken")
    if not hmac.compare_digest(token.encode("utf-8"), expected.encode("utf-8")):
        raise OpenApiAuthError(
            "InvalidSecurityToken.MismatchWithAccessKey",
            400,
            "Specified SecurityToken mismatch with the AccessKey.",
        )


class NonceCache:
    """Signature nonces seen per AccessKeyId, each kept until its request's timestamp is older
    than the clock-skew window (after that the timestamp check refuses a replay anyway)."""

    def __init__(self, window_s: float = MAX_CLOCK_SKEW_S) -> None:
        self._window_s = window_s
        self._lock = threading.Lock()
        self._seen: set[tuple[str, str]] = set()
        self._expiry: list[tuple[float, tuple[str, str]]] = []

    def use(self, access_key_id: str, nonce: str, sent: datetime) -> None:
        """Record the nonce, or raise SignatureNonceUsed when it was seen in the window."""
        key = (access_key_id, nonce)
        now = time.time()
        with self._lock:
            while self._expiry and self._expiry[0][0] < now:
                self._seen.discard(heapq.heappop(self._expiry)[1])
            if key in self._seen:
                raise OpenApiAuthError(
                    "SignatureNonceUsed", 400, "Specified signature nonce was used already."
                )
            self._seen.add(key)
            expires = max(now, sent.timestamp()) + self._window_s
            heapq.heappush(self._expiry, (expires, key))

    def __len__(self) -> int:
        with self._lock:
            return len(self._seen)


def utc_now() -> datetime:
    return datetime.now(timezone.utc)
