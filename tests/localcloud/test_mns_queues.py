"""MNS queues through aliyun-mns-sdk 1.3.0, unmodified, over HTTP against localcloud."""

from __future__ import annotations

import base64
import threading

import pytest
from mns.account import Account
from mns.mns_exception import MNSServerException
from mns.queue import Message, QueueMeta

from localcloud.credentials import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET
from tests.waiting import wait_for

# GetQueueAttributes counts are "deprecated" in the SDK, but still parsed and still served.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
def account(localcloud):
    return Account(localcloud.cloud.base_url, DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET)


def _queue(account, name="orders", **meta):
    queue = account.get_queue(name)
    queue_meta = QueueMeta()
    for key, value in meta.items():
        getattr(queue_meta, f"set_{key}")(value)
    queue.create(queue_meta)
    return queue


def _error(call) -> MNSServerException:
    with pytest.raises(MNSServerException) as info:
        call()
    return info.value


def test_create_queue_returns_location_and_attributes(account, localcloud):
    queue = account.get_queue("orders")
    meta = QueueMeta(
        vis_timeout=45,
        max_msg_size=2048,
        msg_ttl=3600,
        delay_sec=2,
        polling_wait_sec=3,
        logging_enabled=True,
    )
    url = queue.create(meta)
    assert url == f"{localcloud.cloud.base_url}/queues/orders"
    attrs = queue.get_attributes()
    assert attrs.queue_name == "orders"
    assert (attrs.visibility_timeout, attrs.maximum_message_size) == (45, 2048)
    assert (attrs.message_retention_period, attrs.delay_seconds) == (3600, 2)
    assert attrs.polling_wait_seconds == 3
    assert attrs.logging_enabled is True
    assert attrs.create_time > 0


def test_set_queue_attributes_changes_only_what_it_names(account, localcloud):
    queue = account.get_queue("orders")
    queue.create(QueueMeta(vis_timeout=30, max_msg_size=2048))
    queue.set_attributes(QueueMeta(vis_timeout=90))
    attrs = queue.get_attributes()
    assert (attrs.visibility_timeout, attrs.maximum_message_size) == (90, 2048)
    [call] = localcloud.cloud.calls.snapshot()[-2:-1]  # the SetQueueAttributes call
    assert (call["action"], call["status"]) == ("SetQueueAttributes", 204)


def test_create_queue_is_idempotent_but_conflicts_on_different_attributes(account, localcloud):
    queue = account.get_queue("orders")
    queue.create(QueueMeta(vis_timeout=30))
    queue.create(QueueMeta(vis_timeout=30))  # same attributes: accepted
    queue.create(QueueMeta())  # no attributes given: nothing to differ
    error = _error(lambda: queue.create(QueueMeta(vis_timeout=60)))
    assert error.type == "QueueAlreadyExist"
    assert localcloud.cloud.backends.mns.get_queue("orders")["VisibilityTimeout"] == 30


def test_queue_attribute_out_of_range_is_invalid_argument(account):
    error = _error(lambda: account.get_queue("q").create(QueueMeta(max_msg_size=100)))
    assert error.type == "InvalidArgument"
    assert "MaximumMessageSize" in error.message


def test_missing_queue_is_queue_not_exist(account):
    assert _error(lambda: account.get_queue("nope").get_attributes()).type == "QueueNotExist"
    assert _error(lambda: account.get_queue("nope").send_message(Message("x"))).type == (
        "QueueNotExist"
    )


def test_delete_queue(account, localcloud):
    queue = _queue(account)
    queue.delete()
    assert "orders" not in localcloud.cloud.backends.mns.state()["queues"]
    assert _error(queue.get_attributes).type == "QueueNotExist"


def test_send_receive_delete_round_trip_keeps_body_as_sent(account, localcloud):
    queue = _queue(account)
    sent = queue.send_message(Message("héllo wörld <&>"))
    # The SDK Base64-encodes by default; localcloud stores the <MessageBody> text unchanged.
    stored = localcloud.cloud.backends.mns.peek_messages("orders")[0]
    assert stored.body == base64.b64encode("héllo wörld <&>".encode()).decode()
    assert sent.message_body_md5 == stored.body_md5

    got = queue.receive_message(1)
    assert got.message_body == "héllo wörld <&>".encode()
    assert got.message_id == sent.message_id
    assert got.dequeue_count == 1
    assert got.first_dequeue_time >= got.enqueue_time > 0
    assert got.next_visible_time > got.first_dequeue_time
    assert got.priority == 8
    queue.delete_message(got.receipt_handle)
    assert _error(lambda: queue.receive_message(0)).type == "MessageNotExist"


def test_raw_bodies_round_trip_without_encoding(account):
    queue = _queue(account)
    queue.set_encoding(False)
    body = '{"requestId": "r-1", "note": "a & b < c\\r\\n"}'
    queue.send_message(Message(body))
    assert queue.receive_message_with_str_body(0).message_body == body


def test_empty_queue_after_wait_is_message_not_exist(account):
    queue = _queue(account)
    error = _error(lambda: queue.receive_message(1))
    assert error.type == "MessageNotExist"
    assert error.message == "Message not exist."


def test_long_poll_returns_as_soon_as_a_message_is_sent(account, localcloud):
    queue = _queue(account)
    result = {}

    def receive():
        receiver = Account(
            localcloud.cloud.base_url, DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET
        ).get_queue("orders")
        result["message"] = receiver.receive_message(20)

    thread = threading.Thread(target=receive)
    thread.start()
    backend = localcloud.cloud.backends.mns
    wait_for(lambda: backend.waiting() == 1, 10, "the receiver to block in its long poll")
    sent = queue.send_message(Message("wake up"))
    thread.join(timeout=15)  # woke on the send, well before the end of its 20 s wait
    assert not thread.is_alive()
    assert result["message"].message_id == sent.message_id


def test_wait_seconds_above_30_is_invalid_argument(account):
    queue = _queue(account)
    assert _error(lambda: queue.receive_message(31)).type == "InvalidArgument"


def test_visibility_timeout_redelivers_and_stale_handle_is_rejected(account):
    queue = _queue(account, visibilitytimeout=1)
    queue.send_message(Message("again"))
    first = queue.receive_message(0)
    with pytest.raises(MNSServerException):
        queue.receive_message(0)  # in flight: invisible
    second = queue.receive_message(5)  # a long poll: returns once the 1 s timeout has passed
    assert second.message_id == first.message_id
    assert second.dequeue_count == 2
    assert second.first_dequeue_time == first.first_dequeue_time
    assert second.receipt_handle != first.receipt_handle
    # As MNS: a handle from an earlier delivery no longer names the message.
    assert _error(lambda: queue.delete_message(first.receipt_handle)).type == "MessageNotExist"
    queue.delete_message(second.receipt_handle)


def test_expired_handle_cannot_delete(account):
    queue = _queue(account, visibilitytimeout=1)
    queue.send_message(Message("slow consumer"))
    got = queue.receive_message(0)
    wait_for(lambda: queue.get_attributes().active_messages == 1, 10, "the timeout to pass")
    assert _error(lambda: queue.delete_message(got.receipt_handle)).type == "MessageNotExist"


def test_garbage_receipt_handle_is_receipt_handle_error(account):
    queue = _queue(account)
    assert _error(lambda: queue.delete_message("not-a-handle")).type == "ReceiptHandleError"


def test_change_visibility_returns_a_new_handle(account):
    queue = _queue(account, visibilitytimeout=30)
    queue.send_message(Message("extend me"))
    got = queue.receive_message(0)
    changed = queue.change_message_visibility(got.receipt_handle, 1)
    assert changed.receipt_handle != got.receipt_handle
    assert _error(lambda: queue.delete_message(got.receipt_handle)).type == "MessageNotExist"
    again = queue.receive_message(5)  # a long poll: visible again after the shortened timeout
    assert again.message_id == got.message_id
    queue.delete_message(again.receipt_handle)


def test_delay_seconds_and_counts(account):
    queue = _queue(account)
    queue.send_message(Message("now-1"))
    queue.send_message(Message("now-2"))
    queue.send_message(Message("later", delay_seconds=60))
    queue.receive_message(0)
    attrs = queue.get_attributes()
    assert (attrs.active_messages, attrs.inactive_messages, attrs.delay_messages) == (1, 1, 1)


def test_queue_default_delay_applies(account):
    queue = _queue(account, delay_seconds=1)
    queue.send_message(Message("delayed by the queue"))
    assert _error(lambda: queue.receive_message(0)).type == "MessageNotExist"
    assert queue.receive_message(3).message_body == b"delayed by the queue"


def test_priority_orders_delivery(account):
    queue = _queue(account)
    queue.send_message(Message("low", priority=12))
    queue.send_message(Message("high", priority=1))
    assert queue.receive_message(0).message_body == b"high"
    assert queue.receive_message(0).message_body == b"low"


@pytest.mark.parametrize(
    ("message", "field"),
    [
        (Message("x", delay_seconds=604801), "DelaySeconds"),
        (Message("x", priority=17), "Priority"),
        (Message("x" * 800), "MessageBody"),  # 1068 Base64 bytes > 1024
    ],
)
def test_invalid_message_is_invalid_argument(account, message, field):
    queue = _queue(account, maximum_message_size=1024)
    error = _error(lambda: queue.send_message(message))
    assert error.type == "InvalidArgument"
    assert field in error.message


def test_batch_send_receive_delete(account, localcloud):
    queue = _queue(account)
    sent = queue.batch_send_message([Message(f"m{i}") for i in range(5)])
    assert len({m.message_id for m in sent}) == 5
    got = queue.batch_receive_message(16, 1)
    assert sorted(m.message_body for m in got) == [f"m{i}".encode() for i in range(5)]
    queue.batch_delete_message([m.receipt_handle for m in got])
    state = localcloud.cloud.backends.mns.state()["queues"]["orders"]
    assert (state["visible"], state["in_flight"], state["delayed"]) == (0, 0, 0)


def test_batch_receive_honours_count(account):
    queue = _queue(account)
    queue.batch_send_message([Message(f"m{i}") for i in range(4)])
    assert len(queue.batch_receive_message(3, 0)) == 3
    assert len(queue.batch_receive_message(3, 0)) == 1


def test_batch_send_partial_failure_reports_each_entry(account, localcloud):
    queue = _queue(account)
    error = _error(lambda: queue.batch_send_message([Message("ok"), Message("bad", priority=99)]))
    assert error.type == "InvalidArgument"
    assert [sorted(entry) for entry in error.sub_errors] == [
        ["MessageBodyMD5", "MessageId"],
        ["ErrorCode", "ErrorMessage"],
    ]
    assert localcloud.cloud.backends.mns.state()["queues"]["orders"]["visible"] == 1


def test_batch_delete_reports_stale_handles(account):
    queue = _queue(account)
    queue.batch_send_message([Message("a"), Message("b")])
    got = queue.batch_receive_message(2, 0)
    queue.delete_message(got[0].receipt_handle)
    error = _error(lambda: queue.batch_delete_message([m.receipt_handle for m in got]))
    assert error.type == "MessageNotExist"
    assert [e["ReceiptHandle"] for e in error.sub_errors] == [got[0].receipt_handle]


def test_calls_are_logged_without_secrets(account, localcloud):
    queue = _queue(account)
    sent = queue.send_message(Message("logged"))
    calls = [c for c in localcloud.cloud.calls.snapshot() if c["service"] == "mns"]
    assert [c["action"] for c in calls] == ["CreateQueue", "SendMessage"]
    assert calls[1]["parameters"]["QueueName"] == "orders"
    assert calls[1]["parameters"]["MessageId"] == sent.message_id
    assert calls[1]["access_key_id"] == DEFAULT_ACCESS_KEY_ID
    assert DEFAULT_ACCESS_KEY_SECRET not in repr(calls)


def test_concurrent_senders_and_receivers_get_every_message_once(localcloud):
    base = localcloud.cloud.base_url
    Account(base, DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET).get_queue("work").create(
        QueueMeta(vis_timeout=30)
    )
    senders, per_sender, receivers = 4, 20, 3
    total = senders * per_sender
    sent_ids: list[str] = []
    received: list[str] = []
    lock = threading.Lock()
    done = threading.Event()
    errors: list[BaseException] = []

    def send(n: int) -> None:
        queue = Account(base, DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET).get_queue("work")
        for i in range(per_sender):
            msg = queue.send_message(Message(f"{n}-{i}"))
            with lock:
                sent_ids.append(msg.message_id)

    def receive() -> None:
        queue = Account(base, DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET).get_queue("work")
        try:
            while not done.is_set():
                try:
                    batch = queue.batch_receive_message(5, 1)
                except MNSServerException as exc:
                    if exc.type != "MessageNotExist":
                        raise
                    continue
                queue.batch_delete_message([m.receipt_handle for m in batch])
                with lock:
                    received.extend(m.message_id for m in batch)
                    if len(received) >= total:
                        done.set()
        except BaseException as exc:  # surfaced in the main thread
            errors.append(exc)
            done.set()

    threads = [threading.Thread(target=receive) for _ in range(receivers)]
    threads += [threading.Thread(target=send, args=(n,)) for n in range(senders)]
    for thread in threads:
        thread.start()
    done.wait(timeout=60)
    done.set()
    for thread in threads:
        thread.join(timeout=10)
    assert not errors
    assert len(received) == total
    assert sorted(received) == sorted(sent_ids)
    assert localcloud.cloud.backends.mns.get_queue("work")["ActiveMessages"] == 0


def test_list_queues_with_prefix(account, localcloud):
    for name in ("orders-a", "orders-b", "other"):
        _queue(account, name)
    urls, _marker = account.list_queue(prefix="orders")
    assert urls == [
        f"{localcloud.cloud.base_url}/queues/orders-a",
        f"{localcloud.cloud.base_url}/queues/orders-b",
    ]
