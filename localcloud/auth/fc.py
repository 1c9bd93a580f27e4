"""FC (2016-08-15) request authentication: `Authorization: FC <AccessKeyId>:<Signature>`.

String to sign (HMAC-SHA256 keyed with the AccessKey secret, Base64; fc2/auth.py, FC doc 53252):

    METHOD \\n Content-MD5 \\n Content-Type \\n Date \\n CanonicalizedFCHeaders
    CanonicalizedResource   (the last two concatenated)

- CanonicalizedFCHeaders: every `x-fc-*` header, lowercase name, sorted, `name:value\\n`.
- CanonicalizedResource: the unescaped path, no query (API calls, including invoke). HTTP-trigger
  proxy calls sign `path\\n` + the sorted `k=v` query lines; we accept that form too.
- An STS token travels in `x-fc-security-token` and is signed like every x-fc- header.
- `Date` more than 15 minutes away from our clock is refused.

Error codes follow the FC error-code table (help.aliyun.com/document_detail/52736.html).
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone

from localcloud.auth import (
    MAX_CLOCK_SKEW_S,
    AuthError,
    content_md5_matches,
    date_header_string_to_sign,
    hmac_base64,
    parse_http_date,
)
from localcloud.credentials import Credential, CredentialStore


class FcAuthError(AuthError):
    """A request that fails FC authentication."""


@dataclass(frozen=True)
class SignedRequest:
    """What the verifier needs from an HTTP request (header names case-insensitive)."""

    method: str
    path: str  # unescaped path, without the query
    headers: Mapping[str, str]
    query: Mapping[str, list[str]] = field(default_factory=dict)
    body: bytes = b""


def canonical_resource(path: str, query: Mapping[str, list[str]] | None = None) -> str:
    if query is None:
        return path
    lines: list[str] = []
    for key, values in query.items():
        if values:
            lines.extend(f"{key}={value}" for value in values)
        else:
            lines.append(key)
    return path + "\n" + "\n".join(sorted(lines))


def string_to_sign(
    method: str,
    path: str,
    headers: Mapping[str, str],
    query: Mapping[str, list[str]] | None = None,
) -> str:
    return date_header_string_to_sign(method, headers, "x-fc-", canonical_resource(path, query))


def sign(secret: str, text: str) -> str:
    return hmac_base64(secret, text, "sha256")


def authorization(access_key_id: str, secret: str, text: str) -> str:
    return f"FC {access_key_id}:{sign(secret, text)}"


def verify(
    store: CredentialStore, request: SignedRequest, now: datetime | None = None
) -> Credential:
    """The credential that signed `request`, or FcAuthError saying what is wrong."""
    headers = {k.lower(): v for k, v in request.headers.items()}
    auth = headers.get("authorization", "")
    if not auth:
        raise FcAuthError(
            "MissingRequiredHeader", 400, "required HTTP header Authorization was not specified"
        )
    if not headers.get("date"):
        raise FcAuthError(
            "MissingRequiredHeader", 400, "required HTTP header Date was not specified"
        )
    scheme, _, rest = auth.partition(" ")
    key_id, sep, signature = rest.strip().rpartition(":")
    if scheme != "FC" or not sep or not key_id or not signature:
        raise FcAuthError(
            "InvalidArgument", 400, "Authorization header must be 'FC <AccessKeyId>:<Signature>'"
        )
    _check_date(headers["date"], now)
    credential = store.get(key_id)
    if credential is None:
        raise FcAuthError("InvalidAccessKeyID", 403, f"invalid access key ID '{key_id}'")
    _check_token(credential, headers.get("x-fc-security-token", ""))
    md5 = headers.get("content-md5")
    if md5 and not content_md5_matches(md5, request.body):
        raise FcAuthError(
            "InvalidArgument", 400, "the Content-MD5 header does not match the request body"
        )
    candidates = [string_to_sign(request.method, request.path, request.headers)]
    if request.query:
        candidates.append(
            string_to_sign(request.method, request.path, request.headers, request.query)
        )
    given = signature.encode("utf-8", "replace")  # compare_digest refuses non-ASCII str
    for text in candidates:
        if hmac.compare_digest(sign(credential.access_key_secret, text).encode("ascii"), given):
            return credential
    raise FcAuthError(
        "SignatureNotMatch",
        403,
        "The request signature we calculated does not match the signature you provided. "
        "Check your access key and signing method",
    )


def _check_token(credential: Credential, token: str) -> None:
    """An STS key needs exactly its token; a permanent key takes none (as the OpenAPI
    gateway refuses it)."""
    expected = credential.security_token or ""
    if not hmac.compare_digest(token.encode("utf-8"), expected.encode("utf-8")):
        detail = (
            "the security token is missing or does not belong to this STS AccessKeyId"
            if expected
            else "this AccessKeyId is a permanent key and takes no security token"
        )
        raise FcAuthError("InvalidSecurityToken", 403, detail)


def _check_date(value: str, now: datetime | None) -> None:
    sent = parse_http_date(value)
    if sent is None:
        raise FcAuthError(
            "InvalidArgument", 400, f"Date header {value!r} is not an RFC 1123 GMT date"
        )
    now = now or datetime.now(timezone.utc)
    skew = abs((now - sent).total_seconds())
    if skew > MAX_CLOCK_SKEW_S:
        raise FcAuthError(
            "RequestTimeTooSkewed",
            403,
            f"the difference between the request time '{value}' and the current time is too "
            f"large ({int(skew)} s > {MAX_CLOCK_SKEW_S} s)",
        )
