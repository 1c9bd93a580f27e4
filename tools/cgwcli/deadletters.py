"""What a dead-letter queue message holds, and the request to send back (pure).

EventBridge event streams put "the raw event data" of a push that failed after every retry into
the dead-letter queue (docs/operating.md, "Dead letters"). For an MNS source with the CloudEvents
schema that is the CloudEvent of each failed message: `id` and `data.messageId` are the original
message id and `data.messageBody` the original body (Base64-decoded when the source decodes it).
This parser accepts, so that a change of shape never strands a request:
- one CloudEvent object, or a JSON array of them (a whole batch);
- the RawData form ({"messageId", "messageBody"} without the CloudEvent envelope);
- any of these as Base64 text;
- anything else is taken as the original request body itself.
The letter does not say why the push failed (EventBridge adds nothing to the event): the reason
is in the function's log for the failed invocations.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from .tokens import delivery_token, request_bytes


@dataclass(frozen=True)
class DeadRequest:
    message_id: str | None  # the original request message's id, when known
    body: str  # the original request body, as the function read it (text)
    sent: str | None = None  # when the original message was sent (the CloudEvent's time)

    def request(self) -> dict[str, Any] | None:
        try:
            value = json.loads(request_bytes(self.body))
        except (ValueError, RecursionError):
            return None
        return value if isinstance(value, dict) else None

    def redrive_body(self) -> str:
        """The body to send back: the request with the ClientToken it was first tried with
        (its own, else the one the function derived from the original message id)."""
        request = self.request()
        if request is None:
            return self.body
        if "ClientToken" in request or self.message_id is None:
            return json.dumps(request, ensure_ascii=False, separators=(",", ":"))
        token = delivery_token(self.message_id, request_bytes(self.body))
        return json.dumps(
            {**request, "ClientToken": token}, ensure_ascii=False, separators=(",", ":")
        )

    def summary(self) -> dict[str, Any]:
        """Message id, when it was sent, region, IP, name and token: never the AuthKey."""
        request = self.request() or {}
        return {
            "messageId": self.message_id,
            "sent": self.sent,
            "RegionId": _text(request.get("RegionId")),
            "IpAddress": _text(request.get("IpAddress")),
            "Name": _text(request.get("Name")),
            "ClientToken": _text(request.get("ClientToken")),
        }


def parse(body: str) -> list[DeadRequest]:
    """The original request(s) in one dead-letter message body."""
    value = _json(body)
    if value is None:
        decoded = _base64_text(body)
        value = _json(decoded) if decoded is not None else None
    if isinstance(value, list) and value and all(_is_event(v) for v in value):
        return [_from_event(v) for v in value]
    if _is_event(value):
        return [_from_event(value)]
    return [DeadRequest(None, body)]


def _is_event(value: Any) -> bool:
    if not isinstance(value, dict):
        return False
    data = value.get("data") if "specversion" in value else value
    return isinstance(data, dict) and isinstance(data.get("messageBody"), str)


def _from_event(event: dict[str, Any]) -> DeadRequest:
    data = event["data"] if "specversion" in event else event
    message_id = data.get("messageId") or event.get("id")
    sent = event.get("time")
    return DeadRequest(
        message_id if isinstance(message_id, str) and message_id else None,
        data["messageBody"],
        sent if isinstance(sent, str) else None,
    )


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


def _base64_text(text: str) -> str | None:
    try:
        return base64.b64decode(text.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None if value is None else str(value)
