"""MNS request authentication: `Authorization: MNS <AccessKeyId>:<Signature>`.

String to sign (HMAC-SHA1 keyed with the bare AccessKey secret, Base64):

    VERB \\n Content-MD5 \\n Content-Type \\n Date \\n CanonicalizedMNSHeaders CanonicalizedResource

- CanonicalizedMNSHeaders: every `x-mns-*` header, lowercase name, sorted, `name:value\\n`.
- CanonicalizedResource: the request URI exactly as sent (path and raw query).
- The STS token travels in `security-token`, added after signing (so it is not signed).
- aliyun-mns-sdk (Python) sends Content-MD5 as Base64 of the *hex* MD5; the documented form is
  Base64 of the raw digest. Both are accepted, anything else is `InvalidDegist` (sic).
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from localcloud.auth import (
    MAX_CLOCK_SKEW_S,
    AuthError,
    content_md5_matches,
    date_header_string_to_sign,
    hmac_base64,
    parse_http_date,
    utc_now,
)
from localcloud.credentials import Credential, CredentialStore

__all__ = [
    "MnsAuthError",
    "SignedRequest",
    "content_md5_matches",
    "sign",
    "string_to_sign",
    "utc_now",
    "verify",
]


class MnsAuthError(AuthError):
    """A request that fails MNS authentication."""


@dataclass(frozen=True)
class SignedRequest:
    """What the verifier needs from an HTTP request (header names case-insensitive)."""

    method: str
    resource: str  # path plus `?query`, as sent
    headers: Mapping[str, str]
    body: bytes


def string_to_sign(request: SignedRequest) -> str:
    return date_header_string_to_sign(request.method, request.headers, "x-mns-", request.resource)


def sign(secret: str, text: str) -> str:
    return hmac_base64(secret, text, "sha1")


def verify(request: SignedRequest, credentials: CredentialStore, now: datetime) -> Credential:
    """Return the caller's credential, or raise MnsAuthError with the code MNS would send."""
    headers = {k.lower(): v for k, v in request.headers.items()}
    authorization = headers.get("authorization")
    if not authorization:
        raise MnsAuthError("MissingAuthorizationHeader", 400, "Authorization header is required.")
    date = headers.get("date")
    if not date:
        raise MnsAuthError("MissingDateHeader", 400, "Date header is required.")
    scheme, _, rest = authorization.partition(" ")
    key_id, sep, signature = rest.strip().partition(":")
    if scheme != "MNS" or not sep or not key_id or not signature:
        raise MnsAuthError(
            "InvalidAuthorizationHeader", 400, "The Authorization header format is invalid."
        )
    sent = parse_http_date(date)
    if sent is None:
        raise MnsAuthError("InvalidDateHeader", 400, "The Date header format is invalid.")
    if abs((now - sent).total_seconds()) > MAX_CLOCK_SKEW_S:
        raise MnsAuthError("TimeExpired", 408, "The http request you sent is expired.")
    credential = credentials.get(key_id)
    if credential is None:
        raise MnsAuthError("InvalidAccessKeyId", 403, "The AccessKey Id you provided is not exist.")
    md5 = headers.get("content-md5")
    if md5 and not content_md5_matches(md5, request.body):
        raise MnsAuthError("InvalidDegist", 400, "The Content-MD5 you specified is invalid.")
    expected = sign(credential.access_key_secret, string_to_sign(request))
    if not hmac.compare_digest(expected.encode("ascii"), signature.encode("utf-8", "replace")):
        raise MnsAuthError(
            "SignatureDoesNotMatch",
            403,
            "The request signature we calculated does not match the signature you provided. "
            "Check your key and signing method.",
        )
    token = headers.get("security-token")
    if credential.security_token is None:
        if token:
            # As the OpenAPI gateway does: a permanent AccessKey takes no token.
            raise MnsAuthError(
                "InvalidSecurityToken",
                403,
                "The security token you provided is invalid (this AccessKey takes no "
                "security-token).",
            )
    else:
        if not token:
            # An STS AccessKeyId means nothing without its token.
            raise MnsAuthError(
                "InvalidAccessKeyId",
                403,
                "The AccessKey Id you provided is not exist (an STS AccessKeyId needs its "
                "security-token header).",
            )
        if not hmac.compare_digest(token.encode("utf-8"), credential.security_token.encode()):
            raise MnsAuthError(
                "InvalidSecurityToken", 403, "The security token you provided is invalid."
            )
    return credential
