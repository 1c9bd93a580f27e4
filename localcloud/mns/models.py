"""MNS state and rules: the backend behind the wire API and the in-process API.

One lock (inside a Condition) guards the whole backend; long-polling receivers wait on the
Condition and every send (and delete of a queue) wakes them, so a receive returns as soon as
a message is available. Times are wall-clock: seconds for queue/topic metadata (CreateTime),
milliseconds for message times (EnqueueTime, NextVisibleTime...), as MNS returns them.

`MnsBackend` is also the in-process API other localcloud parts use (the FC trigger
emulation): create_queue, send_message, receive_messages, delete_message, change_visibility,
publish_message, add_listener... Errors raise `MnsError` with the code and HTTP status the
wire would carry. Queue mechanics live in queues.py, topic mechanics in topics.py.
"""

from __future__ import annotations

import itertools
import logging
import secrets
import threading
import time
from typing import Any

from localcloud.mns import notifications
from localcloud.mns.errors import (
    MnsError,
    check_range,
    invalid_argument,
    message_not_exist,
    queue_not_exist,
    topic_not_exist,
)
from localcloud.mns.queues import (
    DEFAULT_PRIORITY,
    MAX_BATCH,
    MAX_WAIT_SECONDS,
    NO_PROPERTIES,
    PRIORITY_RANGE,
    QUEUE_ATTRIBUTES,
    MessageProperties,
    Queue,
    ReceivedMessage,
    SentMessage,
    _StoredMessage,
    body_md5,
    decode_receipt_handle,
    encode_receipt_handle,
    queue_attributes,
)
from localcloud.mns.topics import (
    LISTENER_FORMATS,
    MAX_TAG_LENGTH,
    NOTIFY_CONTENT_FORMATS,
    NOTIFY_STRATEGIES,
    TOPIC_ATTRIBUTES,
    TOPIC_RETENTION_S,
    Listener,
    ListenerThread,
    PublishedMessage,
    Subscription,
    Topic,
    close_listeners,
)

__all__ = [
    "DEFAULT_PRIORITY",
    "MAX_BATCH",
    "Listener",
    "MessageProperties",
    "MnsBackend",
    "MnsError",
    "PublishedMessage",
    "ReceivedMessage",
    "SentMessage",
    "decode_receipt_handle",
    "encode_receipt_handle",
    "message_not_exist",
]

log = logging.getLogger("localcloud.mns")


def _now_ms() -> int:
    return int(time.time() * 1000)


class MnsBackend:
    """All MNS state of one localcloud (one account, one region)."""

    def __init__(self, region: str, account_id: str) -> None:
        self.region = region
        self.account_id = account_id
        self._cond = threading.Condition(threading.RLock())
        self._queues: dict[str, Queue] = {}
        self._topics: dict[str, Topic] = {}
        self._seq = itertools.count(1)
        self._node = secrets.token_hex(8).upper()
        self._account: dict[str, str] = {"LoggingBucket": ""}
        self._interrupts = 0  # bumped by interrupt(): long polls waiting then return empty
        self._waiting = 0  # receivers blocked in a long poll now (waiting(): tests wait on it)

    # -- life cycle ------------------------------------------------------------------------
    def reset(self) -> None:
        with self._cond:
            for topic in self._topics.values():
                close_listeners(topic)
            self._queues.clear()
            self._topics.clear()
            self._account = {"LoggingBucket": ""}
            self._cond.notify_all()

    def waiting(self) -> int:
        """How many receivers are blocked in a long poll right now."""
        with self._cond:
            return self._waiting

    def interrupt(self) -> None:
        """End every long poll now (a localcloud reset: its requests belong to the last test)."""
        with self._cond:
            self._interrupts += 1
            self._cond.notify_all()

    def close(self) -> None:
        self.reset()

    def state(self) -> dict[str, Any]:
        now = time.time()
        with self._cond:
            for q in self._queues.values():
                q.expire(now)
            return {
                "queues": {
                    name: {"attributes": dict(q.attributes), **q.counts(now)}
                    for name, q in sorted(self._queues.items())
                },
                "topics": {
                    name: {
                        "attributes": dict(t.attributes),
                        "message_count": t.message_count,
                        "subscriptions": {
                            s.name: {
                                "endpoint": s.endpoint,
                                "filter_tag": s.filter_tag,
                                "notify_content_format": s.notify_content_format,
                                "notify_strategy": s.notify_strategy,
                                "in_process": s.listener is not None,
                            }
                            for s in t.subscriptions.values()
                        },
                    }
                    for name, t in sorted(self._topics.items())
                },
            }

    # -- account ---------------------------------------------------------------------------
    def get_account_attributes(self) -> dict[str, str]:
        with self._cond:
            return dict(self._account)

    def set_account_attributes(self, **attributes: str) -> None:
        """Only LoggingBucket is settable (an empty name turns logging off); it is stored,
        no log is written anywhere."""
        unknown = set(attributes) - set(self._account)
        if unknown:
            raise invalid_argument(f"Unknown account attribute(s): {', '.join(sorted(unknown))}.")
        with self._cond:
            self._account.update(attributes)

    # -- queues ----------------------------------------------------------------------------
    def create_queue(self, name: str, **attributes: Any) -> bool:
        """Create a queue; True if created, False if an identical one exists.

        As MNS: an existing queue whose attributes match every attribute given is left alone
        (HTTP 204); one that differs in any given attribute is QueueAlreadyExist (409).
        """
        _check_name(name, "queue")
        values, given = queue_attributes(attributes)
        with self._cond:
            existing = self._queues.get(name)
            if existing is not None:
                if any(existing.attributes[k] != values[k] for k in given):
                    raise MnsError(
                        "QueueAlreadyExist",
                        409,
                        f"The queue you want to create is already exist. ({name}: "
                        "same name, different attributes)",
                    )
                return False
            self._queues[name] = Queue(name, values)
            return True

    def set_queue_attributes(self, name: str, **attributes: Any) -> None:
        with self._cond:
            q = self._queue(name)
            values, _ = queue_attributes({**q.attributes, **attributes})
            q.attributes = values
            q.last_modify_time = int(time.time())

    def get_queue(self, name: str) -> dict[str, Any]:
        """Attributes plus counts (ActiveMessages, InactiveMessages, DelayMessages...)."""
        now = time.time()
        with self._cond:
            q = self._queue(name)
            q.expire(now)
            counts = q.counts(now)
            return {
                "QueueName": q.name,
                **q.attributes,
                "CreateTime": q.create_time,
                "LastModifyTime": q.last_modify_time,
                "ActiveMessages": counts["visible"],
                "InactiveMessages": counts["in_flight"],
                "DelayMessages": counts["delayed"],
            }

    def list_queues(self, prefix: str = "") -> list[str]:
        with self._cond:
            return sorted(n for n in self._queues if n.startswith(prefix))

    def delete_queue(self, name: str) -> None:
        """Deleting a queue that does not exist succeeds, as in MNS."""
        with self._cond:
            self._queues.pop(name, None)
            self._cond.notify_all()

    def send_message(
        self,
        queue: str,
        body: str,
        delay_seconds: float | None = None,
        priority: int = DEFAULT_PRIORITY,
        properties: MessageProperties = NO_PROPERTIES,
    ) -> SentMessage:
        """Store `body` exactly as given (the SDK sends it Base64-encoded by default)."""
        return self.send_messages(queue, [(body, delay_seconds, priority, properties)])[0]

    def send_messages(
        self,
        queue: str,
        entries: list[tuple[str, float | None, int]]
        | list[tuple[str, float | None, int, MessageProperties]],
    ) -> list[SentMessage]:
        """Send several messages at once; all are validated before any is stored.
        An entry is (body, delay_seconds, priority[, properties])."""
        with self._cond:
            q = self._queue(queue)
            for body, delay, priority, *properties in entries:
                self._validate_message(q, body, delay, priority)
                for p in properties:
                    p.check()
            sent = [self._store(q, *entry) for entry in entries]
            self._cond.notify_all()
            return sent

    def receive_messages(
        self,
        queue: str,
        max_count: int = 1,
        wait_seconds: float | None = 0.0,
        visibility_timeout: float | None = None,
    ) -> list[ReceivedMessage]:
        """Up to `max_count` visible messages, blocking up to `wait_seconds` for the first.

        `wait_seconds=None` uses the queue's PollingWaitSeconds. Returns [] when nothing
        arrived in time (the wire layer turns that into MessageNotExist).
        """
        if not 1 <= max_count <= MAX_BATCH:
            raise invalid_argument(f"numOfMessages should between 1 and {MAX_BATCH}.")
        with self._cond:
            q = self._queue(queue)
            if wait_seconds is None:
                wait_seconds = q.attributes["PollingWaitSeconds"]
            if not 0 <= wait_seconds <= MAX_WAIT_SECONDS:
                raise invalid_argument(
                    f"The value of Element waitseconds should between 0 and {MAX_WAIT_SECONDS} "
                    f"seconds. (got {wait_seconds})"
                )
            deadline = time.monotonic() + wait_seconds
            interrupts = self._interrupts
            while True:
                now = time.time()
                q.expire(now)
                timeout = visibility_timeout
                if timeout is None:
                    timeout = q.attributes["VisibilityTimeout"]
                got = q.take(now, max_count, timeout)
                if got:
                    return got
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return []
                next_at = q.next_visible_at(now)
                if next_at is not None:
                    remaining = min(remaining, max(next_at - now, 0.001))
                self._waiting += 1
                try:
                    self._cond.wait(remaining)
                finally:
                    self._waiting -= 1
                if self._interrupts != interrupts:
                    return []
                q = self._queue(queue)  # QueueNotExist if it was deleted while we waited

    def delete_message(self, queue: str, receipt_handle: str) -> str:
        """Delete by receipt handle; returns the message id. Stale handle: MessageNotExist."""
        with self._cond:
            q = self._queue(queue)
            m = q.in_flight(receipt_handle, time.time())
            del q.messages[m.message_id]
            return m.message_id

    def delete_messages(self, queue: str, receipt_handles: list[str]) -> list[tuple[str, MnsError]]:
        """Batch delete; returns the (handle, error) pairs that failed."""
        failed = []
        with self._cond:
            self._queue(queue)
            for handle in receipt_handles:
                try:
                    self.delete_message(queue, handle)
                except MnsError as exc:
                    failed.append((handle, exc))
        return failed

    def change_visibility(self, queue: str, receipt_handle: str, seconds: float) -> ReceivedMessage:
        """New visibility timeout from now; returns the message with its NEW receipt handle
        (the old one goes stale, as in MNS). seconds=0 makes it visible again at once."""
        if not 0 <= seconds <= QUEUE_ATTRIBUTES["VisibilityTimeout"][2]:
            raise invalid_argument(
                f"The value of Element VisibilityTimeout should between 0 and 43200 seconds. "
                f"(got {seconds})"
            )
        with self._cond:
            changed = self._queue(queue).change_visibility(receipt_handle, seconds, time.time())
            self._cond.notify_all()
            return changed

    def peek_messages(self, queue: str, max_count: int = 1) -> list[ReceivedMessage]:
        """Visible messages without changing them (receipt handles are empty)."""
        now = time.time()
        with self._cond:
            q = self._queue(queue)
            q.expire(now)
            ready = sorted(
                (m for m in q.messages.values() if m.visible_at <= now),
                key=lambda m: (m.priority, m.seq),
            )[:max_count]
            return [
                ReceivedMessage(
                    m.message_id,
                    "",
                    m.body,
                    m.body_md5,
                    m.enqueue_time,
                    m.first_dequeue_time,
                    int(m.visible_at * 1000),
                    m.dequeue_count,
                    m.priority,
                    m.properties,
                )
                for m in ready
            ]

    # -- topics ----------------------------------------------------------------------------
    def create_topic(self, name: str, **attributes: Any) -> bool:
        """True if created, False if an identical topic exists (TopicAlreadyExist if not)."""
        _check_name(name, "topic")
        unknown = set(attributes) - set(TOPIC_ATTRIBUTES) - {"LoggingEnabled"}
        if unknown:
            raise invalid_argument(f"Unknown topic attribute(s): {', '.join(sorted(unknown))}.")
        values: dict[str, Any] = {}
        for key, (default, low, high) in TOPIC_ATTRIBUTES.items():
            values[key] = attributes.get(key, default)
            check_range(key, values[key], low, high, "bytes")
        values["LoggingEnabled"] = bool(attributes.get("LoggingEnabled", False))
        with self._cond:
            existing = self._topics.get(name)
            if existing is not None:
                if any(existing.attributes[k] != values[k] for k in attributes):
                    raise MnsError(
                        "TopicAlreadyExist",
                        409,
                        f"The topic you want to create is already exist. ({name})",
                    )
                return False
            self._topics[name] = Topic(name, values)
            return True

    def set_topic_attributes(self, name: str, **attributes: Any) -> None:
        with self._cond:
            t = self._topic(name)
            for key, value in attributes.items():
                if key in TOPIC_ATTRIBUTES:
                    check_range(key, value, *TOPIC_ATTRIBUTES[key][1:], "bytes")
                elif key != "LoggingEnabled":
                    raise invalid_argument(f"Unknown topic attribute {key}.")
            t.attributes.update(attributes)
            t.last_modify_time = int(time.time())

    def set_subscription_strategy(self, topic: str, name: str, notify_strategy: str) -> None:
        """SetSubscriptionAttributes: MNS lets only NotifyStrategy change."""
        self._check_strategy(notify_strategy)
        with self._cond:
            sub = self.get_subscription(topic, name)
            sub.notify_strategy = notify_strategy
            sub.last_modify_time = int(time.time())

    def get_topic(self, name: str) -> dict[str, Any]:
        with self._cond:
            t = self._topic(name)
            return {
                "TopicName": t.name,
                **t.attributes,
                "MessageRetentionPeriod": TOPIC_RETENTION_S,
                "MessageCount": t.message_count,
                "CreateTime": t.create_time,
                "LastModifyTime": t.last_modify_time,
            }

    def list_topics(self, prefix: str = "") -> list[str]:
        with self._cond:
            return sorted(n for n in self._topics if n.startswith(prefix))

    def delete_topic(self, name: str) -> None:
        """Deletes its subscriptions (and in-process listeners) too; a missing topic is fine."""
        with self._cond:
            topic = self._topics.pop(name, None)
            if topic is not None:
                close_listeners(topic)

    def subscribe(
        self,
        topic: str,
        name: str,
        endpoint: str,
        filter_tag: str | None = None,
        notify_content_format: str = "XML",
        notify_strategy: str = "BACKOFF_RETRY",
    ) -> bool:
        """Subscribe an endpoint; queue endpoints are `acs:mns:{region}:{account}:queues/{q}`.

        True if created, False if an identical subscription exists (SubscriptionAlreadyExist
        if it differs). Other endpoints (http...) are stored but nothing is pushed to them.
        """
        _check_name(name, "subscription")
        if not endpoint:
            raise invalid_argument("The Element Endpoint is required for Subscribe.")
        if notify_content_format not in NOTIFY_CONTENT_FORMATS:
            raise invalid_argument(
                f"NotifyContentFormat must be one of {', '.join(NOTIFY_CONTENT_FORMATS)} "
                f"(got {notify_content_format!r})."
            )
        self._check_strategy(notify_strategy)
        self._check_filter_tag(filter_tag)
        if endpoint.startswith("acs:mns:"):
            self._queue_of_endpoint(endpoint)  # validates the form
        elif not endpoint.startswith(("http://", "https://", "mail:", "sms:")):
            raise invalid_argument(f"Endpoint {endpoint!r} is not a supported endpoint.")
        wanted = Subscription(
            name, endpoint, filter_tag or None, notify_content_format, notify_strategy
        )
        return self._add_subscription(topic, wanted)

    def unsubscribe(self, topic: str, name: str) -> None:
        with self._cond:
            sub = self._topic(topic).subscriptions.pop(name, None)
            if sub is not None and sub.listener is not None:
                sub.listener.close()

    def get_subscription(self, topic: str, name: str) -> Subscription:
        with self._cond:
            sub = self._topic(topic).subscriptions.get(name)
            if sub is None:
                raise MnsError(
                    "SubscriptionNotExist",
                    404,
                    f"The subscription you provided does not exist. ({name})",
                )
            return sub

    def list_subscriptions(self, topic: str, prefix: str = "") -> list[str]:
        with self._cond:
            return sorted(n for n in self._topic(topic).subscriptions if n.startswith(prefix))

    def add_listener(
        self,
        topic: str,
        name: str,
        callback: Listener,
        filter_tag: str | None = None,
        notify_content_format: str = "JSON",
        notify_strategy: str = "BACKOFF_RETRY",
    ) -> None:
        """Register an in-process push subscriber (the FC `mns_topic` trigger).

        On every publish that passes `filter_tag`, `callback(payload: bytes, message:
        PublishedMessage)` runs on the listener's own thread, in publish order. The payload is
        the FC topic-trigger event: JSON (TopicOwner, Message, Subscriber, PublishTime (int
        ms), SubscriptionName, MessageMD5, TopicName, MessageId, attribute keys merged) or
        STREAM (the raw body, or {"body", "attrs"} when the message had attributes).
        Exceptions from the callback are logged; retries (NotifyStrategy) are the caller's.
        """
        if notify_content_format not in LISTENER_FORMATS:
            raise invalid_argument(
                f"notifyContentFormat must be JSON or STREAM (got {notify_content_format!r})."
            )
        self._check_strategy(notify_strategy)
        self._check_filter_tag(filter_tag)
        sub = Subscription(
            name,
            f"localcloud:listener/{name}",
            filter_tag or None,
            notify_content_format,
            notify_strategy,
        )
        with self._cond:
            self._topic(topic)
            if name in self._topic(topic).subscriptions:
                raise MnsError(
                    "SubscriptionAlreadyExist", 409, f"The subscription already exists. ({name})"
                )
            sub.listener = ListenerThread(name, callback)
            self._topic(topic).subscriptions[name] = sub

    def remove_listener(self, topic: str, name: str) -> None:
        self.unsubscribe(topic, name)

    def publish_message(
        self,
        topic: str,
        body: str,
        tag: str | None = None,
        attributes: dict[str, str] | None = None,
    ) -> str:
        """Publish; deliver at once to subscribed queues and listeners. Returns MessageId."""
        return self.publish(topic, body, tag, attributes).message_id

    def publish(
        self,
        topic: str,
        body: str,
        tag: str | None = None,
        attributes: dict[str, str] | None = None,
    ) -> PublishedMessage:
        if not body:
            raise invalid_argument("The Element MessageBody is required and must not be empty.")
        if tag is not None and len(tag) > MAX_TAG_LENGTH:
            raise invalid_argument(
                f"The length of MessageTag should be between 1 and {MAX_TAG_LENGTH}."
            )
        with self._cond:
            t = self._topic(topic)
            size = len(body.encode("utf-8"))
            if size > t.attributes["MaximumMessageSize"]:
                raise invalid_argument(
                    f"The length of MessageBody ({size} bytes) should between 1 and "
                    f"{t.attributes['MaximumMessageSize']} bytes."
                )
            message = PublishedMessage(
                topic=topic,
                message_id=self._message_id(),
                body=body,
                body_md5=body_md5(body),
                tag=tag or None,
                attributes=dict(attributes or {}),
                publish_time=_now_ms(),
            )
            t.message_count += 1
            t.recent.append(message)
            t.tag_counts[message.tag or ""] += 1
            for sub in list(t.subscriptions.values()):
                if sub.accepts(message.tag):
                    self._deliver(sub, message)
            self._cond.notify_all()
            return message

    def overview(self, peek: int = 20) -> dict[str, Any]:
        """Queues with their counts, oldest message age and first messages, and topics with
        their last published messages: raw data the console renders (it masks secrets)."""
        now = time.time()
        with self._cond:
            queues = {}
            for name, q in sorted(self._queues.items()):
                q.expire(now)
                queues[name] = {
                    **q.counts(now),
                    "oldest_age_s": q.oldest_age(now),
                    "messages": [
                        {
                            "message_id": m.message_id,
                            "body": m.body,
                            "dequeue_count": m.dequeue_count,
                            "enqueue_time": m.enqueue_time,
                        }
                        for m in q.first_messages(peek)
                    ],
                }
            topics = {
                name: {
                    "message_count": t.message_count,
                    "tag_counts": dict(t.tag_counts),
                    "subscriptions": sorted(t.subscriptions),
                    "recent": [
                        {
                            "message_id": m.message_id,
                            "body": m.body,
                            "tag": m.tag,
                            "publish_time": m.publish_time,
                        }
                        for m in t.recent
                    ],
                }
                for name, t in sorted(self._topics.items())
            }
        return {"queues": queues, "topics": topics}

    # -- internals -------------------------------------------------------------------------
    def _deliver(self, sub: Subscription, message: PublishedMessage) -> None:
        owner = self.account_id
        if sub.listener is not None:
            payload = notifications.fc_trigger_payload(
                message, sub.name, owner, sub.notify_content_format
            )
            sub.listener.push(payload, message)
            return
        if not sub.endpoint.startswith("acs:mns:"):
            return  # http/mail/sms endpoints: stored, not pushed (no network here)
        target = self._queues.get(self._queue_of_endpoint(sub.endpoint))
        if target is None:
            log.warning("subscription %s: queue endpoint %s does not exist", sub.name, sub.endpoint)
            return
        body = notifications.queue_notification(message, sub.name, owner, sub.notify_content_format)
        self._store(target, body, None, DEFAULT_PRIORITY)

    def _queue_of_endpoint(self, endpoint: str) -> str:
        prefix = f"acs:mns:{self.region}:{self.account_id}:"
        rest = endpoint[len(prefix) :] if endpoint.startswith(prefix) else ""
        rest = rest.removeprefix("/")
        if not rest.startswith("queues/") or not rest[len("queues/") :]:
            raise invalid_argument(
                f"Queue endpoint must be acs:mns:{self.region}:{self.account_id}:queues/<name> "
                f"(got {endpoint!r})."
            )
        return rest[len("queues/") :]

    def _add_subscription(self, topic: str, wanted: Subscription) -> bool:
        with self._cond:
            t = self._topic(topic)
            existing = t.subscriptions.get(wanted.name)
            if existing is not None:
                same = (
                    existing.endpoint,
                    existing.filter_tag,
                    existing.notify_content_format,
                    existing.notify_strategy,
                ) == (
                    wanted.endpoint,
                    wanted.filter_tag,
                    wanted.notify_content_format,
                    wanted.notify_strategy,
                )
                if not same or existing.listener is not None:
                    raise MnsError(
                        "SubscriptionAlreadyExist",
                        409,
                        f"The subscription you want to create is already exist. ({wanted.name})",
                    )
                return False
            t.subscriptions[wanted.name] = wanted
            return True

    def _validate_message(self, q: Queue, body: str, delay: float | None, priority: int) -> None:
        size = len(body.encode("utf-8"))
        if not 1 <= size <= q.attributes["MaximumMessageSize"]:
            raise invalid_argument(
                f"The length of MessageBody ({size} bytes) should between 1 and "
                f"{q.attributes['MaximumMessageSize']} bytes."
            )
        if delay is not None:
            check_range("DelaySeconds", delay, 0, QUEUE_ATTRIBUTES["DelaySeconds"][2], "seconds")
        check_range("Priority", priority, *PRIORITY_RANGE, "")

    def _store(
        self,
        q: Queue,
        body: str,
        delay: float | None,
        priority: int,
        properties: MessageProperties = NO_PROPERTIES,
    ) -> SentMessage:
        now = time.time()
        delay = q.attributes["DelaySeconds"] if delay is None else delay
        m = _StoredMessage(
            message_id=self._message_id(),
            body=body,
            body_md5=body_md5(body),
            priority=priority,
            enqueue_time=int(now * 1000),
            visible_at=now + delay,
            seq=next(self._seq),
            properties=properties,
        )
        q.messages[m.message_id] = m
        return SentMessage(m.message_id, m.body_md5)

    def _message_id(self) -> str:
        # Shaped like MNS ids: D273CD6A89564E54-1-15180395A19-20000xxxx
        return f"{self._node}-1-{_now_ms():X}-{next(self._seq):09d}"

    def _queue(self, name: str) -> Queue:
        q = self._queues.get(name)
        if q is None:
            raise queue_not_exist(name)
        return q

    def _topic(self, name: str) -> Topic:
        t = self._topics.get(name)
        if t is None:
            raise topic_not_exist(name)
        return t

    @staticmethod
    def _check_strategy(strategy: str) -> None:
        if strategy not in NOTIFY_STRATEGIES:
            raise invalid_argument(
                f"NotifyStrategy must be one of {', '.join(NOTIFY_STRATEGIES)} (got {strategy!r})."
            )

    @staticmethod
    def _check_filter_tag(tag: str | None) -> None:
        if tag is not None and len(tag) > MAX_TAG_LENGTH:
            raise invalid_argument(f"FilterTag must be at most {MAX_TAG_LENGTH} characters.")


def _check_name(name: str, kind: str) -> None:
    """MNS names: letters, digits and hyphens, starting with a letter or digit, <= 120 (queue)
    / 255 (topic, subscription) characters."""
    limit = 120 if kind == "queue" else 255
    ok = (
        0 < len(name) <= limit
        and name[0].isascii()
        and name[0].isalnum()
        and all(c.isascii() and (c.isalnum() or c == "-") for c in name)
    )
    if not ok:
        raise invalid_argument(
            f"The {kind} name {name!r} is invalid: use 1-{limit} letters, digits or hyphens, "
            "starting with a letter or digit."
        )
