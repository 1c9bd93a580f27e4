"""How a published topic message looks once pushed to a subscriber.

Queue endpoints (MNS NotifyContentFormat, help.aliyun.com/document_detail/27482.html):
- SIMPLIFIED: the published body, unchanged;
- JSON: {"TopicOwner", "TopicName", "Subscriber", "SubscriptionName", "MessageId", "Message",
  "MessageMD5", "MessageTag" (only when tagged), "PublishTime" (a string of ms)};
- XML: <Notification xmlns="http://mns.aliyuncs.com/doc/v1/"> with the same elements. (The
  doc sample misspells xmlns as `xlmns` and closes PublishTime with `</MessagePublishTime>`;
  we render well-formed XML.)

FC `mns_topic` trigger events (docs/platform.md, "Topic trigger events"):
- JSON: attribute keys merged at top level, then TopicOwner, Message, Subscriber,
  PublishTime (an int of ms), SubscriptionName, MessageMD5, TopicName, MessageId;
- STREAM: the raw body, or {"body": ..., "attrs": {...}} when the message had attributes.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape

if TYPE_CHECKING:
    from localcloud.mns.topics import PublishedMessage

XMLNS = "http://mns.aliyuncs.com/doc/v1/"


def _common(message: PublishedMessage, subscription: str, owner: str) -> dict[str, str]:
    fields = {
        "TopicOwner": owner,
        "TopicName": message.topic,
        "Subscriber": owner,
        "SubscriptionName": subscription,
        "MessageId": message.message_id,
        "Message": message.body,
        "MessageMD5": message.body_md5,
    }
    if message.tag:
        fields["MessageTag"] = message.tag
    fields["PublishTime"] = str(message.publish_time)
    return fields


def queue_notification(
    message: PublishedMessage, subscription: str, owner: str, content_format: str
) -> str:
    """The body MNS puts into a subscribed queue."""
    if content_format == "SIMPLIFIED":
        return message.body
    fields = _common(message, subscription, owner)
    if content_format == "JSON":
        return json.dumps(fields, ensure_ascii=False, separators=(",", ":"))
    elements = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in fields.items())
    declaration = '<?xml version="1.0" encoding="utf-8"?>'
    return f'{declaration}<Notification xmlns="{XMLNS}">{elements}</Notification>'


def _merged_attributes(attributes: dict[str, str]) -> dict[str, Any]:
    """An attribute whose value is a JSON object contributes its keys (the `Extend`
    attribute in the FC sample); any other attribute contributes name: value."""
    merged: dict[str, Any] = {}
    for name, value in attributes.items():
        try:
            parsed = json.loads(value)
        except (TypeError, ValueError):
            parsed = None
        if isinstance(parsed, dict):
            merged.update(parsed)
        else:
            merged[name] = value
    return merged


def fc_trigger_payload(
    message: PublishedMessage, subscription: str, owner: str, content_format: str
) -> bytes:
    """The event bytes an FC function behind an `mns_topic` trigger receives."""
    if content_format == "STREAM":
        if not message.attributes:
            return message.body.encode("utf-8")
        stream = {"body": message.body, "attrs": message.attributes}
        return json.dumps(stream, ensure_ascii=False).encode("utf-8")
    event: dict[str, Any] = _merged_attributes(message.attributes)
    event.update(
        {
            "TopicOwner": owner,
            "Message": message.body,
            "Subscriber": owner,
            "PublishTime": message.publish_time,
            "SubscriptionName": subscription,
            "MessageMD5": message.body_md5,
            "TopicName": message.topic,
            "MessageId": message.message_id,
        }
    )
    return json.dumps(event, ensure_ascii=False).encode("utf-8")
