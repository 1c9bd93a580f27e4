"""Outcome -> CloudEvent 1.0: one event per request, created or failed, with a deterministic id.

Pure: the caller gives the time and the source. AuthKey is masked in every echo of the request.
The event is described by schemas/provisioning-outcome.schema.json.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .events import Delivery
from .redaction import MASK, SECRET_REQUEST_FIELDS
from .validation import KNOWN_FIELDS, MAX_METADATA_BYTES, Rejection

CREATED = "vpc.customergateway.created"
FAILED = "vpc.customergateway.failed"
MAX_DETAILS = 50  # violations listed in error.details; error.message says how many there were
MAX_DETAIL_CHARS = 512  # per string in a detail
MAX_REQUEST_ECHO_BYTES = 16 * 1024  # a bigger request is echoed as null (MNS messages <= 64 KiB)
_TOKEN_CHARACTERS = frozenset(chr(code) for code in range(0x21, 0x7F))


@dataclass(frozen=True)
class OutcomeError:
    code: str
    message: str
    http_status: int | None
    retryable: bool
    details: tuple[Mapping[str, Any], ...] = ()  # e.g. violations {pointer, rule, message, code}


@dataclass(frozen=True)
class Outcome:
    delivery: Delivery
    client_token: str
    request_fields: Mapping[str, Any] | None  # as validated (or parsed, for a rejection)
    attempts: int  # CreateCustomerGateway calls in this invocation
    vpc_request_id: str | None = None
    # CustomerGatewayId, IpAddress, Name, Description, Asn, CreateTime
    customer_gateway: Mapping[str, Any] | None = None
    adopted: bool = False
    error: OutcomeError | None = None

    @property
    def created(self) -> bool:
        return self.customer_gateway is not None and self.error is None

    @property
    def metadata(self) -> dict[str, Any] | None:
        fields = self.request_fields
        metadata = fields.get("Metadata") if isinstance(fields, Mapping) else None
        return metadata if isinstance(metadata, dict) else None


def rejected(delivery: Delivery, rejection: Rejection) -> Outcome:
    """The outcome of a request that failed validation: no API call, not retryable."""
    error = OutcomeError(
        code=rejection.code,
        message=rejection.message,
        http_status=None,
        retryable=False,
        details=tuple(violation.as_dict() for violation in rejection.violations),
    )
    return Outcome(
        delivery=delivery,
        client_token=_own_token(rejection) or delivery.derived_client_token(),
        request_fields=rejection.fields,
        attempts=0,
        error=error,
    )


def _own_token(rejection: Rejection) -> str | None:
    """The request's ClientToken when it is itself valid, so callers can correlate."""
    token = rejection.fields.get("ClientToken") if rejection.fields is not None else None
    if not isinstance(token, str) or not 1 <= len(token) <= 64:
        return None
    if any(v.pointer == "/ClientToken" for v in rejection.violations):
        return None
    return token if set(token) <= _TOKEN_CHARACTERS else None


def event_id(client_token: str, event_type: str, discriminator: str) -> str:
    """A UUID-shaped id from sha256(token|type|gateway id or error code): same outcome, same id."""
    seed = f"{client_token}|{event_type}|{discriminator}".encode("utf-8", "surrogatepass")
    digest = hashlib.sha256(seed).hexdigest()
    return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"


def to_cloud_event(outcome: Outcome, *, source: str, time: str) -> dict[str, Any]:
    """The CloudEvent 1.0 for one outcome (type created or failed)."""
    data: dict[str, Any] = {
        "request": _request_echo(outcome.request_fields),
        "trigger": {"kind": outcome.delivery.kind, "messageId": outcome.delivery.message_id},
        "attempts": outcome.attempts,
        "vpcRequestId": outcome.vpc_request_id,
        "metadata": _metadata_echo(outcome.metadata),
    }
    if outcome.created:
        event_type = CREATED
        gateway = _json_safe(
            _masked(outcome.customer_gateway or {})
        )  # Describe* returns AuthKey too
        discriminator = str(gateway.get("CustomerGatewayId", ""))
        data["customerGateway"] = gateway
        data["adopted"] = bool(outcome.adopted)
    else:
        event_type = FAILED
        error = outcome.error or OutcomeError(
            code="InternalError",
            message="the outcome had neither a customer gateway nor an error",
            http_status=None,
            retryable=False,
        )
        discriminator = error.code
        data["error"] = _error_data(error)
    return {
        "specversion": "1.0",
        "id": event_id(outcome.client_token, event_type, discriminator),
        "source": source,
        "type": event_type,
        "subject": outcome.client_token,
        "time": time,
        "datacontenttype": "application/json",
        "data": data,
    }


def event_source(region: str, account_id: str, service: str, function: str) -> str:
    """The function's ARN, used as the CloudEvent source."""
    return f"acs:fc:{region}:{account_id}:services/{service}/functions/{function}"


def _error_data(error: OutcomeError) -> dict[str, Any]:
    details = [_bounded(_json_safe(dict(detail))) for detail in error.details[:MAX_DETAILS]]
    message = error.message
    if len(error.details) > MAX_DETAILS:
        message += f" ({len(error.details)} violations, the first {MAX_DETAILS} listed)"
    return {
        "code": error.code,
        "message": _utf8_safe(message),  # it may quote a field name with a lone surrogate
        "httpStatus": error.http_status,
        "retryable": bool(error.retryable),
        "details": details,
    }


def _bounded(detail: dict[str, Any]) -> dict[str, Any]:
    """A detail whose strings (a pointer to a 60 KiB key, say) cannot swell the event."""
    return {
        key: value[:MAX_DETAIL_CHARS] if isinstance(value, str) else value
        for key, value in detail.items()
    }


def _request_echo(fields: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The request with secrets masked; null when there was no JSON object or it is too big.
    Unknown fields keep their names but not their values: one may be a misspelt AuthKey."""
    if not isinstance(fields, Mapping):
        return None
    safe, size = _safe_and_size(_masked(fields))
    if size > MAX_REQUEST_ECHO_BYTES:
        return None
    return {key: (value if key in KNOWN_FIELDS else MASK) for key, value in safe.items()}


def _masked(fields: Mapping[str, Any]) -> dict[str, Any]:
    return {key: (MASK if key in SECRET_REQUEST_FIELDS else value) for key, value in fields.items()}


def _metadata_echo(metadata: dict[str, Any] | None) -> dict[str, Any] | None:
    if metadata is None:
        return None
    safe, size = _safe_and_size(metadata, _COMPACT_JSON)
    return safe if size <= MAX_METADATA_BYTES else None


# Built once: json.dumps with options builds an encoder per call.
_JSON = json.JSONEncoder(ensure_ascii=False)
_COMPACT_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def _safe_and_size(value: Any, encoder: json.JSONEncoder = _JSON) -> tuple[Any, int]:
    """What _json_safe gives and the size of its JSON in UTF-8. A value that the encoder
    writes and UTF-8 encodes as it is (a parsed request always, unless a lone surrogate came
    from a JSON escape) is its own safe form: one encoding, no copy (the core's hot path)."""
    try:
        return value, len(encoder.encode(value).encode("utf-8"))
    except (UnicodeEncodeError, TypeError, ValueError, RecursionError):
        safe = _json_safe(value)
        return safe, len(encoder.encode(safe).encode("utf-8"))


def _json_safe(value: Any) -> Any:
    """A plain-JSON copy that any encoder can write as UTF-8 (a lone surrogate becomes '?').

    Plain JSON values (dict with str keys, list, str, int, float, bool, None: what the validator
    and the VPC adapter hand over) are copied directly; anything else goes through a JSON round
    trip with str() for what JSON cannot hold, which is what this copy is the same as."""
    try:
        return _plain_copy(value)
    except (_NotPlainJsonError, RecursionError):
        text = json.dumps(value, ensure_ascii=False, default=str)
        return json.loads(text.encode("utf-8", "replace").decode("utf-8"))


class _NotPlainJsonError(Exception):
    """A value _plain_copy leaves to the JSON round trip (a tuple, a subclass, a non-str key)."""


def _plain_copy(value: Any) -> Any:
    kind = type(value)
    if kind is str:
        return value if value.isascii() else _utf8_safe(value)
    if kind is dict:
        copy = {}
        for key, member in value.items():
            if type(key) is not str:
                raise _NotPlainJsonError
            copy[key if key.isascii() else _utf8_safe(key)] = _plain_copy(member)
        return copy
    if kind is list:
        return [_plain_copy(member) for member in value]
    if kind is int or kind is float or kind is bool or value is None:
        return value
    raise _NotPlainJsonError


def _utf8_safe(text: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")
    return text
