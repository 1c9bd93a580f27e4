"""MNS topics: subscriptions and the in-process listeners FC topic triggers use."""

from __future__ import annotations

import logging
import queue as queue_module
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("localcloud.mns")

TOPIC_ATTRIBUTES: dict[str, tuple[int, int, int]] = {
    "MaximumMessageSize": (65536, 1024, 65536),
}
TOPIC_RETENTION_S = 86400  # fixed for topics; GetTopicAttributes reports it
MAX_TAG_LENGTH = 16
NOTIFY_CONTENT_FORMATS = ("XML", "JSON", "SIMPLIFIED")
LISTENER_FORMATS = ("JSON", "STREAM")
NOTIFY_STRATEGIES = ("BACKOFF_RETRY", "EXPONENTIAL_DECAY_RETRY")
RECENT_MESSAGES = 500


@dataclass(frozen=True)
class PublishedMessage:
    """A message published to a topic, as listeners receive it."""

    topic: str
    message_id: str
    body: str
    body_md5: str
    tag: str | None
    attributes: dict[str, str]
    publish_time: int  # ms


@dataclass
class Subscription:
    name: str
    endpoint: str
    filter_tag: str | None = None
    notify_content_format: str = "XML"
    notify_strategy: str = "BACKOFF_RETRY"
    create_time: int = field(default_factory=lambda: int(time.time()))
    last_modify_time: int = field(default_factory=lambda: int(time.time()))
    listener: ListenerThread | None = (
        None  # set for in-process push subscribers (FC topic triggers)
    )

    def accepts(self, tag: str | None) -> bool:
        return not self.filter_tag or self.filter_tag == tag


@dataclass
class Topic:
    name: str
    attributes: dict[str, Any]
    create_time: int = field(default_factory=lambda: int(time.time()))
    last_modify_time: int = field(default_factory=lambda: int(time.time()))
    message_count: int = 0
    subscriptions: dict[str, Subscription] = field(default_factory=dict)
    # The last messages published, newest last (the console's outcome feed).
    recent: deque[PublishedMessage] = field(default_factory=lambda: deque(maxlen=RECENT_MESSAGES))
    tag_counts: Counter[str] = field(default_factory=Counter)  # messages published, by tag


Listener = Callable[[bytes, PublishedMessage], None]


class ListenerThread:
    """Delivers payloads to one in-process callback, in order, on its own daemon thread."""

    def __init__(self, name: str, callback: Listener) -> None:
        self.name = name
        self._callback = callback
        self._inbox: queue_module.SimpleQueue[tuple[bytes, PublishedMessage] | None] = (
            queue_module.SimpleQueue()
        )
        self._thread = threading.Thread(target=self._run, name=f"mns-listener-{name}", daemon=True)
        self._thread.start()

    def push(self, payload: bytes, message: PublishedMessage) -> None:
        self._inbox.put((payload, message))

    def close(self) -> None:
        self._inbox.put(None)

    def _run(self) -> None:
        while True:
            item = self._inbox.get()
            if item is None:
                return
            try:
                self._callback(*item)
            except Exception:  # a failing subscriber must not stop later deliveries
                log.exception("MNS listener %s raised", self.name)


def close_listeners(topic: Topic) -> None:
    for sub in topic.subscriptions.values():
        if sub.listener is not None:
            sub.listener.close()
