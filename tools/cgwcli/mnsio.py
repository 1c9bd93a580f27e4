"""Every MNS call of the command line, through aliyun-mns-sdk (the edge of the package).

Errors of the service or the network become a CliError: one line naming the queue or topic,
never a traceback. `unreachable` is set when the endpoint could not be reached (exit status 2).
"""

from __future__ import annotations

import contextlib
import json
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from mns.account import Account
from mns.mns_exception import MNSClientNetworkException, MNSExceptionBase
from mns.queue import Message, QueueMeta
from mns.subscription import SubscriptionMeta

from . import runs

BATCH = 16  # MNS BatchSendMessage / BatchReceiveMessage / BatchPeekMessage limit


class CliError(Exception):
    def __init__(self, message: str, unreachable: bool = False) -> None:
        super().__init__(message)
        self.unreachable = unreachable


@contextlib.contextmanager
def about(what: str) -> Iterator[None]:
    """Turn an SDK error into a CliError that names `what` (e.g. "queue cgw-requests")."""
    try:
        yield
    except MNSClientNetworkException as exc:
        raise CliError(
            f"{what}: cannot reach the MNS endpoint ({_one_line(exc.message)})", True
        ) from None
    except MNSExceptionBase as exc:
        request = f" (request id {exc.req_id})" if getattr(exc, "req_id", None) else ""
        raise CliError(f"{what}: {exc.type}: {_one_line(exc.message)}{request}") from None
    except OSError as exc:
        raise CliError(
            f"{what}: cannot reach the MNS endpoint ({_one_line(str(exc))})", True
        ) from None


def _one_line(text: Any) -> str:
    return " ".join(str(text).split())[:300]


def no_message(exc: MNSExceptionBase) -> bool:
    return getattr(exc, "type", "") == "MessageNotExist"


@dataclass
class Mns:
    account: Account

    @classmethod
    def connect(cls, endpoint: str, key_id: str, secret: str, token: str = "") -> Mns:
        try:
            return cls(Account(endpoint, key_id, secret, token))
        except MNSExceptionBase as exc:  # e.g. InvalidHost: not an http(s) URL
            raise CliError(
                f"endpoint {endpoint}: {exc.type}: {_one_line(exc.message)}", True
            ) from None

    # -- queues ---------------------------------------------------------------------------
    def send(self, queue: str, bodies: list[str]) -> list[str]:
        """Send bodies (Base64-encoded, the SDK default, as a workflow does); their message ids."""
        ids: list[str] = []
        q = self.account.get_queue(queue)
        try:
            with about(f"queue {queue}"):
                for start in range(0, len(bodies), BATCH):
                    batch = [Message(b) for b in bodies[start : start + BATCH]]
                    ids.extend(m.message_id for m in q.batch_send_message(batch))
        except CliError as exc:
            if not ids:
                raise
            raise CliError(f"{exc} ({len(ids)} of {len(bodies)} sent before it)") from None
        return ids

    def counts(self, queue: str) -> dict[str, int]:
        """Visible, in-flight and delayed messages (GetQueueAttributes; the SDK marks these
        attributes deprecated, the API still returns them)."""
        with about(f"queue {queue}"), warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            meta = self.account.get_queue(queue).get_attributes()
            return {
                "visible": int(meta.active_messages),
                "inFlight": int(meta.inactive_messages),
                "delayed": int(meta.delay_messages),
            }

    def peek(self, queue: str, count: int = BATCH) -> list[Any]:
        q = self.account.get_queue(queue)
        q.set_encoding(False)
        with about(f"queue {queue}"):
            try:
                return q.batch_peek_message(count)
            except MNSExceptionBase as exc:
                if no_message(exc):
                    return []
                raise

    def receive(self, queue: str, count: int, wait: int) -> list[Any]:
        q = self.account.get_queue(queue)
        q.set_encoding(False)
        with about(f"queue {queue}"):
            try:
                return q.batch_receive_message(min(count, BATCH), wait_seconds=wait)
            except MNSExceptionBase as exc:
                if no_message(exc):
                    return []
                raise

    def delete(self, queue: str, receipt_handle: str) -> None:
        with about(f"queue {queue}"):
            self.account.get_queue(queue).delete_message(receipt_handle)

    def release(self, queue: str, receipt_handle: str) -> None:
        """Make a received message visible again soon (best effort)."""
        with contextlib.suppress(MNSExceptionBase, OSError):
            self.account.get_queue(queue).change_message_visibility(receipt_handle, 1)

    # -- topics ---------------------------------------------------------------------------
    def subscriptions(self, topic: str) -> list[dict[str, Any]]:
        t = self.account.get_topic(topic)
        found = []
        with about(f"topic {topic}"):
            urls, marker = t.list_subscription()
            while True:
                for url in urls:
                    name = url.rstrip("/").rsplit("/", 1)[-1]
                    meta = t.get_subscription(name).get_attributes()
                    found.append(
                        {
                            "name": name,
                            "endpoint": meta.endpoint,
                            "notifyContentFormat": meta.notify_content_format,
                            "filterTag": meta.filter_tag or None,
                        }
                    )
                if not marker:
                    return found
                urls, marker = t.list_subscription(marker=marker)

    def topic_attributes(self, topic: str) -> Any:
        with about(f"topic {topic}"):
            return self.account.get_topic(topic).get_attributes()


class Inbox:
    """A queue of this run, subscribed to the result topic (SIMPLIFIED: the event JSON as is)."""

    def __init__(self, mns: Mns, topic: str, name: str, region: str, account_id: str) -> None:
        self.mns = mns
        self.topic = topic
        self.name = name
        self.endpoint = f"acs:mns:{region}:{account_id}:queues/{name}"

    def open(self) -> None:
        with about(f"queue {self.name}"):
            self.mns.account.get_queue(self.name).create(QueueMeta())
        with about(f"topic {self.topic}"):
            subscription = self.mns.account.get_topic(self.topic).get_subscription(self.name)
            subscription.subscribe(
                SubscriptionMeta(self.endpoint, notify_content_format="SIMPLIFIED")
            )

    def events(self, wait: int) -> list[Any]:
        found = []
        messages = self.mns.receive(self.name, BATCH, wait)
        for message in messages:
            self.mns.delete(self.name, message.receipt_handle)
            try:
                found.append(json.loads(message.message_body))
            except ValueError:
                continue
        return found

    def close(self) -> None:
        remove(self.mns, self.topic, self.name)


def remove(mns: Mns, topic: str, name: str) -> None:
    """Unsubscribe and delete one run's queue (what is already gone is fine)."""
    with contextlib.suppress(MNSExceptionBase, OSError):
        mns.account.get_topic(topic).get_subscription(name).unsubscribe()
    with contextlib.suppress(MNSExceptionBase, OSError):
        mns.account.get_queue(name).delete()


def remove_leftovers(mns: Mns, topic: str, hostname: str, running: Any, own: str) -> list[str]:
    """Remove the queues and subscriptions of killed runs; their names."""
    names: set[str] = set()
    with about(f"topic {topic}"):
        urls, _ = mns.account.get_topic(topic).list_subscription(prefix=runs.PREFIX)
    names.update(u.rstrip("/").rsplit("/", 1)[-1] for u in urls)
    with about("queues"):
        urls, _ = mns.account.list_queue(prefix=runs.PREFIX)
    names.update(u.rstrip("/").rsplit("/", 1)[-1] for u in urls)
    gone = sorted(n for n in names if runs.is_leftover(n, hostname, time.time(), running, own))
    for name in gone:
        remove(mns, topic, name)
    return gone
