"""Trigger envelopes -> deliveries: one (kind, message id, body bytes) per provisioning request.

Pure: no clock, no network, no environment. `decode_event` never raises for any bytes: what it
cannot split still becomes a Delivery, and validation explains what is wrong with its body.
The detection rules are documented in docs/event-sources.md.
"""

from __future__ import annotations

import binascii
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

TriggerKind = Literal["mns-queue", "mns-topic", "direct"]
_Encode = Callable[[str], bytes]

_JSON_WHITESPACE = re.compile(r"[ \t\n\r]*")
_STRICT_BASE64 = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")
# strict=False: a raw control character inside an envelope string does not cost the batch.
_DECODER = json.JSONDecoder(strict=False)
# Element (level 2) -> CloudEvent data (1) -> messageBody (0): objects this close to the envelope
# are decoded member by member when too deep, so a deep body keeps its kind and message id.
_LENIENT_LEVELS = 2
_NESTING_TOKENS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.DOTALL)
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
    """Split one trigger event into deliveries, detecting the trigger from the envelope's keys.

    One bad message never takes its neighbours with it: an envelope that is not valid UTF-8 is
    read with surrogateescape (each body gets its own bytes back, and validation says which one
    is not UTF-8), and an element nested past the recursion limit is split off at the text level
    and read member by member, so it keeps its kind and message id.
    """
    if isinstance(event, str):
        event = event.encode("utf-8", "surrogatepass")
    elif isinstance(event, (bytearray, memoryview)):
        event = bytes(event)
    if not isinstance(event, bytes):
        raise EventFormatError(f"the event must be bytes, not {type(event).__name__}")
    try:
        text, encode = event.decode("utf-8"), _encode_text
    except UnicodeDecodeError:
        text, encode = event.decode("utf-8", "surrogateescape"), _encode_escaped_text
    try:
        stripped = text.strip(" \t\n\r")
        if stripped.startswith("["):
            return [_from_element(value, raw, encode) for value, raw in _split_array(stripped)]
        envelope, end = _lenient_decode(stripped, 0, _LENIENT_LEVELS)
        if end != len(stripped):
            raise ValueError(f"extra data after the event at offset {end}")
    except ValueError:
        # Not JSON: a raw STREAM body, perhaps base64 of a JSON request; else one bad body.
        return [_direct(_base64_json_object(event) or event)]
    if isinstance(envelope, dict):
        return [_from_object(envelope, event, encode)]
    return [_direct(event)]


def _encode_text(text: str) -> bytes:
    """Text from a valid UTF-8 event: lone surrogates came from JSON escapes and stay as such."""
    return text.encode("utf-8", "surrogatepass")


def _encode_escaped_text(text: str) -> bytes:
    """Text from an event read with surrogateescape: the original bytes again. (A JSON-escaped
    low surrogate in such an event comes back as a raw byte: that body is invalid either way.)"""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a high-surrogate escape ("\ud800") as well: cannot be restored
        return text.encode("utf-8", "surrogatepass")


class _Unparsed:
    """A JSON value nested too deep to decode: kept as its text, for validation to refuse."""

    __slots__ = ("raw",)

    def __init__(self, raw: str) -> None:
        self.raw = raw


def _skip_space(text: str, index: int) -> int:
    """Where the JSON whitespace starting at `index` ends."""
    match = _JSON_WHITESPACE.match(text, index)
    return index if match is None else match.end()  # the pattern also matches no whitespace


class _Members(dict[str, Any]):
    """An object decoded member by member because some member nests too deep; `raw` is its text."""

    raw = ""


def _split_array(text: str) -> list[tuple[Any, str]]:
    """The elements of a JSON array with each element's own text (raises ValueError if invalid)."""
    items: list[tuple[Any, str]] = []
    index = _skip_space(text, 1)
    if text.startswith("]", index):
        index += 1
    else:
        while True:
            value, end = _lenient_decode(text, index, _LENIENT_LEVELS)
            items.append((value, text[index:end]))
            index = _skip_space(text, end)
            if text.startswith(",", index):
                index = _skip_space(text, index + 1)
            elif text.startswith("]", index):
                index += 1
                break
            else:
                raise ValueError(f"expected ',' or ']' at offset {index}")
    if index != len(text):
        raise ValueError(f"extra data after the array at offset {index}")
    return items


def _lenient_decode(text: str, index: int, levels: int) -> tuple[Any, int]:
    """The JSON value at `index` and where it ends. A value too deep for the decoder is, for
    `levels` levels of objects, decoded member by member (_Members); below that, or if it is an
    array, it stays text (_Unparsed). Raises ValueError for text that is not JSON."""
    try:
        return _DECODER.raw_decode(text, index)
    except RecursionError:
        pass
    if levels <= 0 or not text.startswith("{", index):
        end = _skip_nested(text, index)
        return _Unparsed(text[index:end]), end
    members = _Members()
    position = _skip_space(text, index + 1)
    if not text.startswith("}", position):
        while True:
            key, position = _DECODER.raw_decode(text, position)
            if not isinstance(key, str):
                raise ValueError(f"expected a member name at offset {position}")
            position = _skip_space(text, position)
            if not text.startswith(":", position):
                raise ValueError(f"expected ':' at offset {position}")
            position = _skip_space(text, position + 1)
            members[key], position = _lenient_decode(text, position, levels - 1)
            position = _skip_space(text, position)
            if text.startswith(",", position):
                position = _skip_space(text, position + 1)
            elif not text.startswith("}", position):
                raise ValueError(f"expected ',' or '}}' at offset {position}")
            else:
                break
    members.raw = text[index : position + 1]
    return members, position + 1


def _skip_nested(text: str, index: int) -> int:
    """The end of the array or object at `index`, found by counting brackets outside strings
    (no recursion, so any depth). Raises ValueError if it is not one or never closes."""
    if not text.startswith(("[", "{"), index):
        raise ValueError(f"expected a JSON value at offset {index}")
    depth = 0
    for token in _NESTING_TOKENS.finditer(text, index):
        mark = token.group()
        if mark in "[{":
            depth += 1
        elif mark in "]}":
            depth -= 1
            if depth == 0:
                return token.end()
    raise ValueError(f"the value at offset {index} never closes")


def _from_element(value: Any, raw: str, encode: _Encode) -> Delivery:
    if isinstance(value, dict):
        return _from_object(value, encode(raw), encode)
    return _direct(encode(raw))


def _from_object(envelope: dict[str, Any], raw: bytes, encode: _Encode) -> Delivery:
    """Classify one JSON object by its distinguishing keys (docs/event-sources.md)."""
    if "specversion" in envelope:  # a CloudEvent (EventBridge, event-driven or event-streaming)
        data = envelope.get("data")
        if isinstance(data, dict) and "messageBody" in data:
            body = _message_body(data["messageBody"], encode)
            fallback_id = envelope.get("id")
            return _delivery("mns-queue", data.get("messageId", fallback_id), body)
        return _delivery("mns-queue", envelope.get("id"), _message_body(data, encode))
    if "messageBody" in envelope:  # EventBridge RawData: the bare CloudEvent data
        body = _message_body(envelope["messageBody"], encode)
        return _delivery("mns-queue", envelope.get("messageId"), body)
    if (
        "Message" in envelope
        and "MessageId" in envelope
        and any(k in envelope for k in _TOPIC_KEYS)
    ):
        body = _message_body(envelope["Message"], encode)  # MNS topic trigger, JSON notify format
        return _delivery("mns-topic", envelope["MessageId"], body)
    if envelope.keys() == {"body", "attrs"}:  # MNS topic trigger, STREAM format with attributes
        return _delivery("mns-topic", None, _message_body(envelope["body"], encode))
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


def _message_body(value: Any, encode: _Encode) -> bytes:
    """A message body as request bytes: strings as UTF-8 (base64 undone), JSON values re-encoded
    (a value too deep to decode keeps its own text)."""
    if isinstance(value, str):
        raw = encode(value)
        return _base64_json_object(raw) or raw
    if isinstance(value, (_Unparsed, _Members)):
        return encode(value.raw)
    try:
        return encode(json.dumps(value, ensure_ascii=False, separators=(",", ":")))
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
