"""OpenAPI V3 signature `ACS3-HMAC-SHA256` (the Tea SDK's default).

    CanonicalRequest = METHOD \\n CanonicalURI \\n CanonicalQuery \\n CanonicalHeaders \\n
                       SignedHeaders \\n x-acs-content-sha256
    StringToSign     = "ACS3-HMAC-SHA256\\n" + hex(SHA256(CanonicalRequest))
    Authorization    = ACS3-HMAC-SHA256 Credential=<id>,SignedHeaders=<a;b>,Signature=<hex>
                       with Signature = hex(HMAC-SHA256(AccessKeySecret, StringToSign))

The server recomputes the canonical request from the headers the request itself lists in
SignedHeaders (the Tea SDK signs every header it sets, `accept` and `user-agent` included), and
insists that `host`, `content-type` (when there is one) and every `x-acs-*` header are among
them. CanonicalQuery: names sorted, names and values RFC 3986 encoded (`quote(v, safe='~')`);
the SDK does not encode names, which is the same for every RPC parameter name.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

from localcloud.auth import (
    NonceCache,
    OpenApiAuthError,
    access_key_not_found,
    check_clock_skew,
    check_security_token,
    incomplete_signature,
    parse_timestamp,
    signature_does_not_match,
)
from localcloud.credentials import Credential, CredentialStore

ALGORITHM = "ACS3-HMAC-SHA256"
_MUST_SIGN_PREFIX = "x-acs-"


@dataclass(frozen=True)
class SignedRequest:
    method: str
    path: str  # decoded path, e.g. "/"
    query: Mapping[str, str]  # decoded query parameters
    headers: Mapping[str, list[str]]  # lowercase name -> every value sent
    body: bytes


@dataclass(frozen=True)
class Authorization:
    access_key_id: str
    signed_headers: tuple[str, ...]
    signature: str


def is_acs3(authorization: str | None) -> bool:
    return bool(authorization) and str(authorization).split(" ", 1)[0].startswith("ACS3-")


def parse_authorization(value: str) -> Authorization:
    algorithm, _, rest = value.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise OpenApiAuthError(
            "InvalidSignatureMethod",
            400,
            f"Specified signature method is not valid. (got {algorithm[:32]!r}, supported: "
            f"{ALGORITHM})",
        )
    fields: dict[str, str] = {}
    for part in rest.split(","):
        name, sep, val = part.strip().partition("=")
        if sep:
            fields[name] = val
    absent = [n for n in ("Credential", "SignedHeaders", "Signature") if not fields.get(n)]
    if absent:
        raise incomplete_signature(
            f"The Authorization header lacks {', '.join(absent)} (expected "
            f"'{ALGORITHM} Credential=<AccessKeyId>,SignedHeaders=<a;b>,Signature=<hex>')."
        )
    signed = tuple(fields["SignedHeaders"].split(";"))
    return Authorization(fields["Credential"], signed, fields["Signature"])


def canonical_query(query: Mapping[str, str]) -> str:
    return "&".join(f"{quote(k, safe='~')}={quote(query[k], safe='~')}" for k in sorted(query))


def canonical_request(request: SignedRequest, signed_headers: tuple[str, ...]) -> str:
    headers = "".join(
        f"{name}:{','.join(sorted(v.strip() for v in request.headers.get(name, [])))}\n"
        for name in signed_headers
    )
    return "\n".join(
        [
            request.method.upper(),
            quote(request.path or "/", safe="/~"),
            canonical_query(request.query),
            headers,
            ";".join(signed_headers),
            _header(request, "x-acs-content-sha256"),
        ]
    )


def string_to_sign(canonical: str) -> str:
    return f"{ALGORITHM}\n{hashlib.sha256(canonical.encode('utf-8')).hexdigest()}"


def sign(secret: str, text: str) -> str:
    return hmac.new(secret.encode("utf-8"), text.encode("utf-8"), hashlib.sha256).hexdigest()


def verify(
    request: SignedRequest, credentials: CredentialStore, nonces: NonceCache, now: datetime
) -> Credential:
    """Return the caller's credential or raise OpenApiAuthError with the gateway's code."""
    auth = parse_authorization(_header(request, "authorization"))
    for name in ("x-acs-date", "x-acs-signature-nonce", "x-acs-content-sha256"):
        if not _header(request, name):
            raise incomplete_signature(f"The {name} header is required.")
    _check_signed_headers(request, auth.signed_headers)
    body_hash = hashlib.sha256(request.body).hexdigest()
    if _header(request, "x-acs-content-sha256").lower() != body_hash:
        raise incomplete_signature(
            f"x-acs-content-sha256 is not the SHA-256 of the body (body hash {body_hash})."
        )
    sent = parse_timestamp(_header(request, "x-acs-date"))
    check_clock_skew(sent, now)
    credential = credentials.get(auth.access_key_id)
    if credential is None:
        raise access_key_not_found()
    key_header = _header(request, "x-acs-accesskey-id")
    if key_header and key_header != auth.access_key_id:
        raise incomplete_signature("x-acs-accesskey-id differs from the Credential.")
    canonical = canonical_request(request, auth.signed_headers)
    text = string_to_sign(canonical)
    expected = sign(credential.access_key_secret, text)
    if not hmac.compare_digest(expected.encode(), auth.signature.lower().encode("utf-8")):
        raise signature_does_not_match(text, f"\nserver canonical request is:\n{canonical}")
    token = _header(request, "x-acs-security-token") or request.query.get("SecurityToken")
    check_security_token(credential, token or None)
    nonces.use(credential.access_key_id, _header(request, "x-acs-signature-nonce"), sent)
    return credential


def _check_signed_headers(request: SignedRequest, signed: tuple[str, ...]) -> None:
    if list(signed) != sorted(set(signed)) or any(n != n.lower() or not n for n in signed):
        raise incomplete_signature(
            "SignedHeaders must be the lowercase header names, sorted, separated by ';'."
        )
    absent = [n for n in signed if n not in request.headers]
    if absent:
        raise incomplete_signature(f"SignedHeaders lists headers not sent: {';'.join(absent)}.")
    must = {"host"} | {
        n for n in request.headers if n.startswith(_MUST_SIGN_PREFIX) or n == "content-type"
    }
    unsigned = sorted(must - set(signed))
    if unsigned:
        raise incomplete_signature(f"These headers must be signed: {';'.join(unsigned)}.")


def _header(request: SignedRequest, name: str) -> str:
    values = request.headers.get(name)
    return values[0] if values else ""
