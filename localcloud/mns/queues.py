"""MNS queues: stored messages, visibility, receipt handles.

A receipt handle names one delivery of one message: it encodes the message id and a
generation that every delivery (and ChangeMessageVisibility) bumps, so a handle from an earlier
delivery no longer matches (MessageNotExist), while a string we never issued is
ReceiptHandleError. Not thread-safe by itself: MnsBackend's lock guards every Queue.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any

from localcloud.mns.errors import MnsError, check_range, invalid_argument, message_not_exist

# name: (default, low, high) -- ranges from the CreateQueue API reference.
QUEUE_ATTRIBUTES: dict[str, tuple[int, int, int]] = {
    "DelaySeconds": (0, 0, 604800),
    "MaximumMessageSize": (65536, 1024, 65536),
    "MessageRetentionPeriod": (345600, 60, 604800),
    "VisibilityTimeout": (30, 1, 43200),
    "PollingWaitSeconds": (0, 0, 30),
}
MAX_WAIT_SECONDS = 30
MAX_BATCH = 16
PRIORITY_RANGE = (1, 16)
DEFAULT_PRIORITY = 8

_HANDLE_PREFIX = "1-"


def body_md5(body: str) -> str:
    return hashlib.md5(body.encode("utf-8")).hexdigest().upper()


def _attribute_unit(name: str) -> str:
    return "bytes" if name == "MaximumMessageSize" else "seconds"


def queue_attributes(given: dict[str, Any]) -> tuple[dict[str, Any], set[str]]:
    """Validate CreateQueue attributes; return (all attributes with defaults, names given)."""
    unknown = set(given) - set(QUEUE_ATTRIBUTES) - {"LoggingEnabled"}
    if unknown:
        raise invalid_argument(f"Unknown queue attribute(s): {', '.join(sorted(unknown))}.")
    values: dict[str, Any] = {}
    for name, (default, low, high) in QUEUE_ATTRIBUTES.items():
        value = given.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise invalid_argument(
                f"The value of Element {name} must be an integer (got {value!r})."
            )
        check_range(name, value, low, high, _attribute_unit(name))
        values[name] = value
    values["LoggingEnabled"] = bool(given.get("LoggingEnabled", False))
    return values, set(given)


Property = tuple[str, str, str]  # (Name, Value, Type), as <PropertyValue> carries them
USER_PROPERTY_TYPES = ("STRING", "NUMBER", "BOOLEAN", "BINARY")
SYSTEM_PROPERTY_TYPES = ("STRING",)


@dataclass(frozen=True)
class MessageProperties:
    """A queue message's UserProperties and SystemProperties (aliyun-mns-sdk 1.3.0 sends and
    parses both), stored and returned unchanged; BINARY values stay Base64 text."""

    user: tuple[Property, ...] = ()
    system: tuple[Property, ...] = ()

    def check(self) -> None:
        for kind, items, types in (
            ("UserProperties", self.user, USER_PROPERTY_TYPES),
            ("SystemProperties", self.system, SYSTEM_PROPERTY_TYPES),
        ):
            names = [name for name, _, _ in items]
            for name, _, type_ in items:
                if not name:
                    raise invalid_argument(f"{kind}: every property needs a Name.")
                if type_ not in types:
                    raise invalid_argument(
                        f"{kind}: property {name!r} has Type {type_!r}; use one of "
                        f"{', '.join(types)}."
                    )
            if len(set(names)) != len(names):
                raise invalid_argument(f"{kind}: a property name appears twice.")


NO_PROPERTIES = MessageProperties()


@dataclass
class _StoredMessage:
    message_id: str
    body: str
    body_md5: str
    priority: int
    enqueue_time: int  # ms
    visible_at: float  # s (time.time()); in the future while delayed or in flight
    seq: int
    dequeue_count: int = 0
    first_dequeue_time: int = 0  # ms; 0 until first received
    generation: int = 0  # bumped at each delivery/visibility change: old handles go stale
    properties: MessageProperties = NO_PROPERTIES


@dataclass(frozen=True)
class SentMessage:
    message_id: str
    body_md5: str


@dataclass(frozen=True)
class ReceivedMessage:
    """A delivered message as ReceiveMessage returns it (times in ms since the epoch)."""

    message_id: str
    receipt_handle: str
    body: str
    body_md5: str
    enqueue_time: int
    first_dequeue_time: int
    next_visible_time: int
    dequeue_count: int
    priority: int
    properties: MessageProperties = NO_PROPERTIES


def encode_receipt_handle(message_id: str, generation: int) -> str:
    """Opaque, URL-safe handle (the SDK puts it in the query string without escaping)."""
    raw = f"{message_id}|{generation}|{secrets.token_hex(4)}".encode()
    return _HANDLE_PREFIX + base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_receipt_handle(handle: str) -> tuple[str, int]:
    """(message_id, generation), or ReceiptHandleError for a handle we never issued."""
    error = MnsError("ReceiptHandleError", 400, "The receipt handle you provide is not valid.")
    if not handle.startswith(_HANDLE_PREFIX):
        raise error
    token = handle[len(_HANDLE_PREFIX) :]
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode("utf-8")
        message_id, generation, _nonce = raw.rsplit("|", 2)
        return message_id, int(generation)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise error from None


class Queue:
    """One queue; not thread-safe by itself (the backend's lock guards it)."""

    def __init__(self, name: str, attributes: dict[str, Any]) -> None:
        self.name = name
        self.attributes = attributes
        self.create_time = self.last_modify_time = int(time.time())
        self.messages: dict[str, _StoredMessage] = {}

    def expire(self, now: float) -> None:
        ttl_ms = self.attributes["MessageRetentionPeriod"] * 1000
        cutoff = now * 1000 - ttl_ms
        for message_id in [m.message_id for m in self.messages.values() if m.enqueue_time < cutoff]:
            del self.messages[message_id]

    def counts(self, now: float) -> dict[str, int]:
        visible = in_flight = delayed = 0
        for m in self.messages.values():
            if m.visible_at <= now:
                visible += 1
            elif m.dequeue_count:
                in_flight += 1
            else:
                delayed += 1
        return {"visible": visible, "in_flight": in_flight, "delayed": delayed}

    def oldest_age(self, now: float) -> float | None:
        """Seconds since the oldest message still stored was sent, None when empty."""
        if not self.messages:
            return None
        return max(0.0, now - min(m.enqueue_time for m in self.messages.values()) / 1000)

    def first_messages(self, count: int) -> list[_StoredMessage]:
        """The `count` messages sent first, visible or not (for the console's peek)."""
        return sorted(self.messages.values(), key=lambda m: m.seq)[:count]

    def next_visible_at(self, now: float) -> float | None:
        future = [m.visible_at for m in self.messages.values() if m.visible_at > now]
        return min(future) if future else None

    def take(self, now: float, count: int, visibility_timeout: float) -> list[ReceivedMessage]:
        ready = sorted(
            (m for m in self.messages.values() if m.visible_at <= now),
            key=lambda m: (m.priority, m.seq),
        )[:count]
        out = []
        now_ms = int(now * 1000)
        for m in ready:
            m.dequeue_count += 1
            m.first_dequeue_time = m.first_dequeue_time or now_ms
            m.visible_at = now + visibility_timeout
            m.generation += 1
            out.append(self._delivered(m))
        return out

    def _delivered(self, m: _StoredMessage) -> ReceivedMessage:
        return ReceivedMessage(
            message_id=m.message_id,
            receipt_handle=encode_receipt_handle(m.message_id, m.generation),
            body=m.body,
            body_md5=m.body_md5,
            enqueue_time=m.enqueue_time,
            first_dequeue_time=m.first_dequeue_time,
            next_visible_time=int(m.visible_at * 1000),
            dequeue_count=m.dequeue_count,
            priority=m.priority,
            properties=m.properties,
        )

    def in_flight(self, receipt_handle: str, now: float) -> _StoredMessage:
        """The message a current handle names; MessageNotExist once it was redelivered,
        deleted, or its visibility timeout ran out (the handle expired)."""
        message_id, generation = decode_receipt_handle(receipt_handle)
        m = self.messages.get(message_id)
        if m is None or m.generation != generation or m.visible_at <= now:
            raise message_not_exist()
        return m

    def change_visibility(self, receipt_handle: str, seconds: float, now: float) -> ReceivedMessage:
        m = self.in_flight(receipt_handle, now)
        m.visible_at = now + seconds
        m.generation += 1
        return self._delivered(m)
