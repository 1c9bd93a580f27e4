"""Trigger envelopes -> deliveries: one (kind, message id, body bytes) per provisioning request.

Pure: no clock, no network, no environment. `decode_event` never raises for any bytes: what it
cannot split still becomes a Delivery, and validation explains what is wrong with its body.
The detection rules are documented in README.md, "Event sources".
"""

from __future__ import annotations

import binascii
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any, Literal

TriggerKind = Literal["mns-queue", "mns-topic", "direct"]

_JSON_WHITESPACE = re.compile(r"[ \t\n\r]*")
_STRICT_BASE64 = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")
_DECODER = json.JSONDecoder()
# Base64 text this long decodes to far more than a request may be (64 KiB): it is not decoded, and
# validation rejects the body for its size either way.
_MAX_BASE64_CHARS = 1024 * 1024
_MAX_MESSAGE_ID_CHARS = 128
_TOPIC_KEYS = ("TopicOwner", "TopicName")


@dataclass(frozen=True)
class Delivery:
    """One message as the trigger delivered it: which trigger, its id, and the request bytes."""

    kind: TriggerKind
    message_id: str
    body: bytes

    def derived_client_token(self) -> str:
        """A ClientToken for requests that bring none: the same delivered message, the same token.

        "cgw-" + 40 hex chars of sha256(kind|message_id|sha256(body)): 44 ASCII characters.
        """
        body_digest = hashlib.sha256(self.body).hexdigest()
        seed = f"{self.kind}|{self.message_id}|{body_digest}".encode("utf-8", "surrogatepass")
        return "cgw-" + hashlib.sha256(seed).hexdigest()[:40]


class EventFormatError(ValueError):
    """The event is not bytes at all (a wiring mistake); any bytes are decoded into deliveries."""


def decode_event(event: bytes) -> list[Delivery]:
    """Split one trigger event into deliveries, detecting the trigger from the envelope's keys."""
    if isinstance(event, str):
        event = event.encode("utf-8", "surrogatepass")
    elif isinstance(event, (bytearray, memoryview)):
        event = bytes(event)
    if not isinstance(event, bytes):
        raise EventFormatError(f"the event must be bytes, not {type(event).__name__}")
    try:
        text = event.decode("utf-8")
        stripped = text.strip(" \t\n\r")
        if stripped.startswith("["):
            return [_from_element(value, raw) for value, raw in _split_array(stripped)]
        envelope = json.loads(stripped)
    except (ValueError, RecursionError):
        # Not UTF-8 JSON: a raw STREAM body, perhaps base64 of a JSON request; else one bad body.
        return [_direct(_base64_json_object(event) or event)]
    if isinstance(envelope, dict):
        return [_from_object(envelope, event)]
    return [_direct(event)]


def _split_array(text: str) -> list[tuple[Any, str]]:
    """The elements of a JSON array with each element's own text (raises ValueError if invalid)."""
    items: list[tuple[Any, str]] = []
    index = _JSON_WHITESPACE.match(text, 1).end()
    if text.startswith("]", index):
        index += 1
    else:
        while True:
            value, end = _DECODER.raw_decode(text, index)
            items.append((value, text[index:end]))
            index = _JSON_WHITESPACE.match(text, end).end()
            if text.startswith(",", index):
                index = _JSON_WHITESPACE.match(text, index + 1).end()
            elif text.startswith("]", index):
                index += 1
                break
            else:
                raise ValueError(f"expected ',' or ']' at offset {index}")
    if index != len(text):
        raise ValueError(f"extra data after the array at offset {index}")
    return items


def _from_element(value: Any, raw: str) -> Delivery:
    if isinstance(value, dict):
        return _from_object(value, raw.encode("utf-8", "surrogatepass"))
    return _direct(raw.encode("utf-8", "surrogatepass"))


def _from_object(envelope: dict[str, Any], raw: bytes) -> Delivery:
    """Classify one JSON object by its distinguishing keys (README "Event sources")."""
    if "specversion" in envelope:  # a CloudEvent (EventBridge, event-driven or event-streaming)
        data = envelope.get("data")
        if isinstance(data, dict) and "messageBody" in data:
            body = _message_body(data["messageBody"])
            fallback_id = envelope.get("id")
            return _delivery("mns-queue", data.get("messageId", fallback_id), body)
        return _delivery("mns-queue", envelope.get("id"), _message_body(data))
    if "messageBody" in envelope:  # EventBridge RawData: the bare CloudEvent data
        body = _message_body(envelope["messageBody"])
        return _delivery("mns-queue", envelope.get("messageId"), body)
    if (
        "Message" in envelope
        and "MessageId" in envelope
        and any(k in envelope for k in _TOPIC_KEYS)
    ):
        body = _message_body(envelope["Message"])  # MNS topic trigger, JSON notify format
        return _delivery("mns-topic", envelope["MessageId"], body)
    if envelope.keys() == {"body", "attrs"}:  # MNS topic trigger, STREAM format with attributes
        return _delivery("mns-topic", None, _message_body(envelope["body"]))
    return _direct(raw)  # a request object (direct invocation or a STREAM body without attributes)


def _direct(body: bytes) -> Delivery:
    return _delivery("direct", None, body)


def _delivery(kind: TriggerKind, message_id: Any, body: bytes) -> Delivery:
    if isinstance(message_id, int) and not isinstance(message_id, bool):
        message_id = str(message_id)
    if not (
        isinstance(message_id, str)
        and 0 < len(message_id) <= _MAX_MESSAGE_ID_CHARS
        and message_id.isascii()
        and message_id.isprintable()
    ):
        message_id = "sha256:" + hashlib.sha256(body).hexdigest()
    return Delivery(kind=kind, message_id=message_id, body=body)


def _message_body(value: Any) -> bytes:
    """A message body as request bytes: strings as UTF-8 (base64 undone), JSON values re-encoded."""
    if isinstance(value, str):
        raw = value.encode("utf-8", "surrogatepass")
        return _base64_json_object(raw) or raw
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode(
            "utf-8", "surrogatepass"
        )
    except (ValueError, RecursionError):
        return b""


def _base64_json_object(raw: bytes) -> bytes | None:
    """The decoded bytes when `raw` is strict base64 (RFC 4648, padded, no whitespace) of a JSON
    object; None otherwise. A JSON object starts with '{', never a base64 character, so a plain
    JSON body is never mistaken for base64."""
    if not raw or len(raw) % 4 or len(raw) > _MAX_BASE64_CHARS:
        return None
    if not _STRICT_BASE64.fullmatch(raw.decode("ascii", "replace")):
        return None
    try:
        decoded = binascii.a2b_base64(raw)
        value = json.loads(decoded.decode("utf-8"))
    except (ValueError, RecursionError):
        return None
    return decoded if isinstance(value, dict) else None
