"""OpenAPI RPC signature V1: HMAC-SHA1 over the sorted, percent-encoded parameters.

    StringToSign = METHOD & %2F & percentEncode(k1=v1&k2=v2...)   (keys sorted, every
                   parameter but Signature, query and form body merged, blanks kept)
    Signature    = Base64(HMAC-SHA1(AccessKeySecret + "&", StringToSign))

percentEncode is RFC 3986 on UTF-8: `A-Z a-z 0-9 - _ . ~` stay, everything else is `%XY`
(space -> `%20`, `*` -> `%2A`, `/` -> `%2F`). On the wire aliyunsdkcore sends `%20` and the Tea
SDK sends `+` for a space; both decode to a space before re-encoding. aliyunsdkcore signs an
empty `SignatureType=`, so blank values are kept.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime
from urllib.parse import parse_qsl, quote

from localcloud.auth import (
    NonceCache,
    OpenApiAuthError,
    access_key_not_found,
    check_clock_skew,
    check_security_token,
    missing,
    parse_timestamp,
    signature_does_not_match,
)
from localcloud.credentials import Credential, CredentialStore

SIGNATURE_METHOD = "HMAC-SHA1"
SIGNATURE_VERSION = "1.0"
_REQUIRED = (
    "AccessKeyId",
    "Signature",
    "SignatureMethod",
    "SignatureVersion",
    "SignatureNonce",
    "Timestamp",
)


def parse_parameters(raw: str) -> dict[str, str]:
    """A query string or form body -> {name: value}: blanks kept, `+` and `%20` are spaces."""
    return dict(parse_qsl(raw, keep_blank_values=True, encoding="utf-8", errors="replace"))


def percent_encode(value: str) -> str:
    return quote(value, safe="~", encoding="utf-8")


def canonical_query(parameters: Mapping[str, str]) -> str:
    return "&".join(
        f"{percent_encode(k)}={percent_encode(parameters[k])}"
        for k in sorted(parameters)
        if k != "Signature"
    )


def string_to_sign(method: str, parameters: Mapping[str, str]) -> str:
    return f"{method.upper()}&%2F&{percent_encode(canonical_query(parameters))}"


def sign(secret: str, text: str) -> str:
    digest = hmac.new(f"{secret}&".encode(), text.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def verify(
    method: str,
    parameters: Mapping[str, str],
    credentials: CredentialStore,
    nonces: NonceCache,
    now: datetime,
) -> Credential:
    """Return the caller's credential or raise OpenApiAuthError with the gateway's code."""
    for name in _REQUIRED:
        if not parameters.get(name):
            raise missing(name)
    if parameters["SignatureMethod"] != SIGNATURE_METHOD:
        raise OpenApiAuthError(
            "InvalidSignatureMethod",
            400,
            f"Specified signature method is not valid. (expected {SIGNATURE_METHOD})",
        )
    if parameters["SignatureVersion"] != SIGNATURE_VERSION:
        raise OpenApiAuthError(
            "InvalidSignatureVersion",
            400,
            f"Specified signature version is not valid. (expected {SIGNATURE_VERSION})",
        )
    sent = parse_timestamp(parameters["Timestamp"])
    check_clock_skew(sent, now)
    credential = credentials.get(parameters["AccessKeyId"])
    if credential is None:
        raise access_key_not_found()
    text = string_to_sign(method, parameters)
    expected = sign(credential.access_key_secret, text)
    if not hmac.compare_digest(expected.encode(), parameters["Signature"].encode("utf-8")):
        raise signature_does_not_match(text)
    check_security_token(credential, parameters.get("SecurityToken"))
    nonces.use(credential.access_key_id, parameters["SignatureNonce"], sent)
    return credential
