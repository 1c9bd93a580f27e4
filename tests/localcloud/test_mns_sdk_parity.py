"""Every public operation of aliyun-mns-sdk 1.3.0 (Account, Queue, Topic, Subscription),
unmodified, over HTTP against localcloud, checked field by field against what the SDK parses.

Each test declares the SDK methods it drives (`@covers`); tests/localcloud/test_sdk_surface.py
fails when an SDK method is neither declared here nor listed in localcloud.mns.unsupported.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mns.account import Account, AccountMeta
from mns.message_property import (
    MessagePropertyValue,
    MessageSystemPropertyValue,
    SystemPropertyName,
)
from mns.mns_exception import MNSServerException
from mns.queue import Message, QueueMeta
from mns.subscription import SubscriptionMeta
from mns.topic import Base64TopicMessage, TopicMessage, TopicMeta

from localcloud.credentials import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET
from localcloud.mns.models import MessageProperties, MnsError
from tests.localcloud.sdk_coverage import covers

# GetQueueAttributes counts are "deprecated" in the SDK, but still parsed and still served.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
def account(localcloud) -> Account:
    return Account(localcloud.cloud.base_url, DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET)


@pytest.fixture
def mns(localcloud):
    return localcloud.cloud.backends.mns


def _error(call) -> MNSServerException:
    with pytest.raises(MNSServerException) as info:
        call()
    return info.value


def _calls(localcloud, action: str) -> list[dict]:
    return [c for c in localcloud.cloud.calls.snapshot() if c["action"] == action]


# --- queues -----------------------------------------------------------------------------------
@covers("Account.get_queue", "Queue.create", "Queue.set_attributes", "Queue.get_attributes")
def test_set_queue_attributes_changes_only_what_is_given(account, localcloud):
    queue = account.get_queue("orders")
    queue.create(QueueMeta(vis_timeout=45, delay_sec=2))
    before = queue.get_attributes()

    changed = QueueMeta()  # the SDK sends only the attributes that were set
    changed.set_visibilitytimeout(90)
    changed.set_polling_wait_seconds(5)
    changed.set_logging_enabled(True)
    queue.set_attributes(changed)

    after = queue.get_attributes()
    assert (after.visibility_timeout, after.polling_wait_seconds) == (90, 5)
    assert after.logging_enabled is True
    assert after.delay_seconds == 2  # not sent, so unchanged
    assert after.maximum_message_size == before.maximum_message_size
    assert after.create_time == before.create_time
    assert after.last_modify_time >= before.last_modify_time
    (call,) = _calls(localcloud, "SetQueueAttributes")
    assert call["status"] == 204


@covers("Account.get_queue", "Queue.set_attributes")
def test_set_queue_attributes_errors_as_mns(account):
    missing = _error(lambda: account.get_queue("nope").set_attributes(QueueMeta(vis_timeout=60)))
    assert missing.type == "QueueNotExist"
    assert missing.req_id  # the SDK reads it from the <Error> document
    account.get_queue("orders").create(QueueMeta())
    bad = _error(lambda: account.get_queue("orders").set_attributes(QueueMeta(vis_timeout=43201)))
    assert bad.type == "InvalidArgument"
    assert "VisibilityTimeout" in bad.message


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest().upper()


def _now_ms() -> int:
    return int(time.time() * 1000)


@covers("Queue.create", "Queue.get_attributes", "Queue.delete")
def test_queue_create_get_delete_field_by_field(account, localcloud):
    queue = account.get_queue("orders")
    t0 = int(time.time())
    url = queue.create(
        QueueMeta(
            vis_timeout=45,
            max_msg_size=2048,
            msg_ttl=3600,
            delay_sec=2,
            polling_wait_sec=3,
            logging_enabled=False,
        )
    )
    assert url == f"{localcloud.cloud.base_url}/queues/orders"
    meta = queue.get_attributes()
    assert meta.queue_name == "orders"
    assert (meta.visibility_timeout, meta.maximum_message_size) == (45, 2048)
    assert (meta.message_retention_period, meta.delay_seconds) == (3600, 2)
    assert (meta.polling_wait_seconds, meta.logging_enabled) == (3, False)
    assert t0 - 1 <= meta.create_time <= time.time() + 1  # seconds, not milliseconds
    assert meta.last_modify_time == meta.create_time
    assert (meta.active_messages, meta.inactive_messages, meta.delay_messages) == (0, 0, 0)

    queue.delete()
    assert _error(queue.get_attributes).type == "QueueNotExist"
    queue.delete()  # deleting a missing queue succeeds, as in MNS


@covers("Account.list_queue")
def test_list_queue_prefix_and_paging(account, mns):
    for name in ("a-1", "a-2", "a-3", "b-1"):
        mns.create_queue(name)
    urls, marker = account.list_queue("a-")
    assert [u.rsplit("/", 1)[1] for u in urls] == ["a-1", "a-2", "a-3"]
    assert marker == ""
    first, marker = account.list_queue("a-", ret_number=2)
    assert [u.rsplit("/", 1)[1] for u in first] == ["a-1", "a-2"]
    assert marker
    rest, marker = account.list_queue("a-", ret_number=2, marker=marker)
    assert [u.rsplit("/", 1)[1] for u in rest] == ["a-3"]
    assert marker == ""


@covers("Account.list_queue", "Account.list_topic", "Topic.list_subscription")
def test_list_page_size_above_1000_is_invalid_argument(account, mns):
    """The SDK only checks > 0; MNS allows 1 to 1000 per page."""
    mns.create_topic("t")
    for call in (
        lambda: account.list_queue(ret_number=1001),
        lambda: account.list_topic(ret_number=1001),
        lambda: account.get_topic("t").list_subscription(ret_number=1001),
    ):
        error = _error(call)
        assert error.type == "InvalidArgument"
        assert "x-mns-ret-number should between 1 and 1000" in error.message
    assert len(account.list_queue(ret_number=1000)[0]) == 0


@pytest.mark.parametrize("encoding", [True, False], ids=["base64", "raw"])
@covers(
    "Queue.set_encoding",
    "Queue.send_message",
    "Queue.peek_message",
    "Queue.receive_message",
    "Queue.change_message_visibility",
    "Queue.delete_message",
)
def test_message_life_cycle_field_by_field(account, encoding):
    queue = account.get_queue("orders")
    queue.create(QueueMeta(vis_timeout=30))
    queue.set_encoding(encoding)
    text = "héllo <world> & co"
    wire_body = base64.b64encode(text.encode()).decode() if encoding else text

    t0 = _now_ms()
    sent = queue.send_message(Message(text, priority=3))
    assert sent.message_body_md5 == _md5(wire_body)
    assert sent.message_id

    peeked = queue.peek_message()
    expected_body = text.encode() if encoding else text  # the SDK base64-decodes to bytes
    assert (peeked.message_id, peeked.message_body) == (sent.message_id, expected_body)
    assert peeked.message_body_md5 == sent.message_body_md5
    assert (peeked.dequeue_count, peeked.first_dequeue_time, peeked.priority) == (0, 0, 3)
    assert t0 - 5 <= peeked.enqueue_time <= _now_ms() + 5

    got = queue.receive_message(wait_seconds=1)
    now = _now_ms()
    assert (got.message_id, got.message_body, got.priority) == (sent.message_id, expected_body, 3)
    assert got.message_body_md5 == sent.message_body_md5
    assert got.dequeue_count == 1
    assert got.enqueue_time <= got.first_dequeue_time <= now + 5
    assert got.enqueue_time == peeked.enqueue_time
    assert now + 29_000 <= got.next_visible_time <= now + 31_000
    assert got.receipt_handle
    assert _error(lambda: queue.receive_message(wait_seconds=0)).type == "MessageNotExist"

    changed = queue.change_message_visibility(got.receipt_handle, 120)
    assert changed.receipt_handle
    assert changed.receipt_handle != got.receipt_handle
    # (ChangeMsgVisDecoder leaves NextVisibleTime as the element's text: the SDK's own quirk)
    assert _now_ms() + 119_000 <= int(changed.next_visible_time) <= _now_ms() + 121_000
    stale = _error(lambda: queue.delete_message(got.receipt_handle))
    assert stale.type == "MessageNotExist"
    queue.delete_message(changed.receipt_handle)
    assert queue.get_attributes().inactive_messages == 0


@pytest.mark.parametrize("encoding", [True, False], ids=["base64", "raw"])
@covers(
    "Queue.receive_message_with_str_body",
    "Queue.peek_message_with_str_body",
    "Queue.batch_peek_message_with_str_body",
    "Queue.batch_receive_message_with_str_body",
    "Queue.set_encoding",
)
def test_str_body_variants_decode_to_text(account, encoding):
    queue = account.get_queue("orders")
    queue.create(QueueMeta())
    queue.set_encoding(encoding)
    queue.send_message(Message("ünïcode one"))
    queue.send_message(Message("ünïcode two"))
    assert queue.peek_message_with_str_body().message_body == "ünïcode one"
    bodies = [m.message_body for m in queue.batch_peek_message_with_str_body(2)]
    assert bodies == ["ünïcode one", "ünïcode two"]
    assert queue.receive_message_with_str_body(0).message_body == "ünïcode one"
    (second,) = queue.batch_receive_message_with_str_body(5, 0)
    assert second.message_body == "ünïcode two"


@pytest.mark.parametrize("encoding", [True, False], ids=["base64", "raw"])
@covers(
    "Queue.batch_send_message",
    "Queue.batch_peek_message",
    "Queue.batch_receive_message",
    "Queue.batch_delete_message",
)
def test_batch_operations_field_by_field(account, encoding):
    queue = account.get_queue("orders")
    queue.create(QueueMeta(vis_timeout=60))
    queue.set_encoding(encoding)
    texts = [f"message {i}" for i in range(3)]
    sent = queue.batch_send_message([Message(t, priority=i + 1) for i, t in enumerate(texts)])
    wire = [base64.b64encode(t.encode()).decode() if encoding else t for t in texts]
    assert [m.message_body_md5 for m in sent] == [_md5(w) for w in wire]
    assert len({m.message_id for m in sent}) == 3

    expected = [t.encode() if encoding else t for t in texts]
    peeked = queue.batch_peek_message(16)
    assert [m.message_body for m in peeked] == expected  # priority order: 1, 2, 3
    assert [m.message_id for m in peeked] == [m.message_id for m in sent]
    assert all(m.dequeue_count == 0 for m in peeked)

    now = _now_ms()
    got = queue.batch_receive_message(16, wait_seconds=1)
    assert [m.message_body for m in got] == expected
    assert [m.priority for m in got] == [1, 2, 3]
    assert all(m.dequeue_count == 1 and m.receipt_handle for m in got)
    assert all(now + 59_000 <= m.next_visible_time <= _now_ms() + 61_000 for m in got)
    assert [m.message_body_md5 for m in got] == [m.message_body_md5 for m in sent]

    queue.batch_delete_message([m.receipt_handle for m in got])
    meta = queue.get_attributes()
    assert (meta.active_messages, meta.inactive_messages) == (0, 0)


@covers("Queue.batch_receive_message", "Queue.send_message")
def test_batch_receive_long_polls_until_a_message_arrives(account, localcloud):
    queue = account.get_queue("orders")
    queue.create(QueueMeta())
    other = Account(localcloud.cloud.base_url, DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET)
    # (an Account holds one HTTP connection: a second thread needs its own)
    sender = threading.Timer(0.3, lambda: other.get_queue("orders").send_message(Message("x")))
    started = time.monotonic()
    sender.start()
    try:
        got = queue.batch_receive_message(4, wait_seconds=5)
    finally:
        sender.join()
    assert [m.message_body for m in got] == [b"x"]
    assert time.monotonic() - started < 4  # answered on arrival, not at the end of the wait
    started = time.monotonic()
    assert _error(lambda: queue.batch_receive_message(4, wait_seconds=1)).type == (
        "MessageNotExist"
    )
    assert time.monotonic() - started >= 0.9  # an empty queue is held for the wait


@covers("Queue.batch_send_message", "Queue.batch_delete_message", "Queue.receive_message")
def test_batch_partial_failures_list_each_entry(account, mns):
    queue = account.get_queue("small")
    queue.create(QueueMeta(max_msg_size=1024))
    queue.set_encoding(False)
    error = _error(lambda: queue.batch_send_message([Message("ok"), Message("x" * 2000)]))
    assert error.type == "InvalidArgument"
    assert [e["ErrorCode"] for e in error.sub_errors if "ErrorCode" in e] == ["InvalidArgument"]
    assert sum("MessageId" in e for e in error.sub_errors) == 1  # the good one was stored
    got = queue.receive_message(0)
    assert got.message_body == "ok"

    deleted = _error(lambda: queue.batch_delete_message([got.receipt_handle, "1-bogus"]))
    assert deleted.type == "ReceiptHandleError"  # a handle MNS never issued
    assert [e["ReceiptHandle"] for e in deleted.sub_errors] == ["1-bogus"]
    assert mns.get_queue("small")["InactiveMessages"] == 0  # the valid handle was deleted


# --- topics and subscriptions -----------------------------------------------------------------
def _queue_endpoint(localcloud, queue: str) -> str:
    cloud = localcloud.cloud
    return f"acs:mns:{cloud.region}:{cloud.account_id}:queues/{queue}"


@covers(
    "Account.get_topic",
    "Topic.create",
    "Topic.get_attributes",
    "Topic.set_attributes",
    "Topic.delete",
)
def test_topic_create_set_get_delete_field_by_field(account, localcloud):
    topic = account.get_topic("events")
    t0 = int(time.time())
    url = topic.create(TopicMeta(maximum_message_size=2048, logging_enabled=False))
    assert url == f"{localcloud.cloud.base_url}/topics/events"
    meta = topic.get_attributes()
    assert (meta.topic_name, meta.maximum_message_size, meta.logging_enabled) == (
        "events",
        2048,
        False,
    )
    assert meta.message_count == 0
    assert meta.message_retention_period > 0
    assert t0 - 1 <= meta.create_time <= time.time() + 1
    assert meta.last_modify_time == meta.create_time

    topic.set_attributes(TopicMeta(maximum_message_size=4096, logging_enabled=True))
    changed = topic.get_attributes()
    assert (changed.maximum_message_size, changed.logging_enabled) == (4096, True)
    assert changed.create_time == meta.create_time

    topic.delete()
    assert _error(topic.get_attributes).type == "TopicNotExist"
    assert _error(lambda: topic.set_attributes(TopicMeta(logging_enabled=True))).type == (
        "TopicNotExist"
    )


@covers("Account.list_topic")
def test_list_topic_prefix_and_paging(account, mns):
    for name in ("t-1", "t-2", "t-3", "u-1"):
        mns.create_topic(name)
    urls, marker = account.list_topic("t-")
    assert [u.rsplit("/", 1)[1] for u in urls] == ["t-1", "t-2", "t-3"]
    assert marker == ""
    first, marker = account.list_topic(ret_number=3)
    rest, last = account.list_topic(ret_number=3, marker=marker)
    assert [u.rsplit("/", 1)[1] for u in first + rest] == ["t-1", "t-2", "t-3", "u-1"]
    assert last == ""


@covers(
    "Account.get_subscription",
    "Topic.get_subscription",
    "Subscription.subscribe",
    "Subscription.get_attributes",
    "Subscription.set_attributes",
    "Subscription.unsubscribe",
    "Topic.list_subscription",
)
def test_subscription_life_cycle_field_by_field(account, localcloud, mns):
    mns.create_topic("events")
    mns.create_queue("inbox")
    endpoint = _queue_endpoint(localcloud, "inbox")
    topic = account.get_topic("events")
    t0 = int(time.time())
    url = topic.get_subscription("sub-a").subscribe(
        SubscriptionMeta(endpoint, "BACKOFF_RETRY", "JSON", "billing")
    )
    assert url == f"{localcloud.cloud.base_url}/topics/events/subscriptions/sub-a"
    account.get_subscription("events", "sub-b").subscribe(SubscriptionMeta(endpoint))

    sub = account.get_subscription("events", "sub-a")
    meta = sub.get_attributes()
    assert (meta.topic_owner, meta.topic_name) == (localcloud.cloud.account_id, "events")
    assert (meta.subscription_name, meta.endpoint) == ("sub-a", endpoint)
    assert (meta.notify_strategy, meta.notify_content_format, meta.filter_tag) == (
        "BACKOFF_RETRY",
        "JSON",
        "billing",
    )
    assert t0 - 1 <= meta.create_time <= meta.last_modify_time <= time.time() + 1

    sub.set_attributes(SubscriptionMeta(notify_strategy="EXPONENTIAL_DECAY_RETRY"))
    changed = sub.get_attributes()
    assert changed.notify_strategy == "EXPONENTIAL_DECAY_RETRY"
    assert (changed.endpoint, changed.filter_tag) == (endpoint, "billing")  # not changeable

    urls, marker = topic.list_subscription()
    assert [u.rsplit("/", 1)[1] for u in urls] == ["sub-a", "sub-b"]
    assert marker == ""
    page, marker = topic.list_subscription("sub-", ret_number=1)
    assert ([u.rsplit("/", 1)[1] for u in page], marker) == (["sub-a"], "sub-b")

    sub.unsubscribe()
    assert _error(sub.get_attributes).type == "SubscriptionNotExist"
    assert [u.rsplit("/", 1)[1] for u in topic.list_subscription()[0]] == ["sub-b"]


@pytest.mark.parametrize("base64_message", [True, False], ids=["Base64TopicMessage", "raw"])
@covers("Topic.publish_message", "Queue.receive_message", "Queue.set_encoding")
def test_publish_with_and_without_tag_reaches_a_queue(account, localcloud, mns, base64_message):
    mns.create_topic("events")
    mns.create_queue("inbox")
    mns.create_queue("billing")
    topic = account.get_topic("events")
    subscribe = account.get_subscription
    subscribe("events", "all").subscribe(
        SubscriptionMeta(_queue_endpoint(localcloud, "inbox"), notify_content_format="SIMPLIFIED")
    )
    subscribe("events", "tagged").subscribe(
        SubscriptionMeta(
            _queue_endpoint(localcloud, "billing"),
            notify_content_format="JSON",
            filter_tag="billing",
        )
    )
    kind = Base64TopicMessage if base64_message else TopicMessage
    plain = topic.publish_message(kind("no tag"))
    tagged = topic.publish_message(kind("with tag", "billing"))
    as_sent = [
        base64.b64encode(t.encode()).decode() if base64_message else t
        for t in ("no tag", "with tag")
    ]
    assert [plain.message_body_md5, tagged.message_body_md5] == [_md5(b) for b in as_sent]
    assert plain.message_id != tagged.message_id
    assert account.get_topic("events").get_attributes().message_count == 2

    inbox = account.get_queue("inbox")
    inbox.set_encoding(base64_message)  # SIMPLIFIED: the published body, unchanged
    bodies = [inbox.receive_message(0).message_body for _ in range(2)]
    expected = [b"no tag", b"with tag"] if base64_message else ["no tag", "with tag"]
    assert bodies == expected

    billing = account.get_queue("billing")
    billing.set_encoding(False)
    notification = json.loads(billing.receive_message(0).message_body)
    assert notification["MessageId"] == tagged.message_id
    assert notification["Message"] == as_sent[1]
    assert notification["MessageMD5"] == tagged.message_body_md5
    assert (notification["MessageTag"], notification["SubscriptionName"]) == ("billing", "tagged")
    assert _error(lambda: billing.receive_message(0)).type == "MessageNotExist"  # untagged: none


# --- the account, client-side helpers, and what localcloud refuses ----------------------------
@covers("Account.get_attributes", "Account.set_attributes")
def test_account_attributes_logging_bucket(account, localcloud):
    assert account.get_attributes().logging_bucket == ""
    account.set_attributes(AccountMeta("my-log-bucket"))
    assert account.get_attributes().logging_bucket == "my-log-bucket"
    account.set_attributes(AccountMeta(""))  # an empty name turns logging off
    assert account.get_attributes().logging_bucket == ""
    assert [c["status"] for c in _calls(localcloud, "SetAccountAttributes")] == [204, 204]


def test_open_service_is_refused_with_mns_error_not_500(account, localcloud):
    """Account.open_service is listed in localcloud.mns.unsupported: MNS's own 400 answer."""
    error = _error(account.open_service)
    assert error.type == "InvalidRequestURL"
    assert "OpenService is not served by localcloud" in error.message
    assert error.req_id
    (call,) = _calls(localcloud, "OpenService")
    assert (call["status"], call["code"]) == (400, "InvalidRequestURL")


@covers(
    "Account.set_debug",
    "Account.set_log_level",
    "Account.close_log",
    "Account.get_client",
    "Account.set_client",
    "Queue.set_debug",
    "Topic.set_debug",
    "Subscription.set_debug",
    "Account.list_queue",
    "Queue.get_attributes",
    "Topic.get_attributes",
    "Subscription.get_attributes",
)
def test_client_side_helpers_work_against_localcloud(localcloud, mns, capsys):
    """Methods that send nothing themselves: debug printing (each operation's internal call
    of debuginfo, see sdk_coverage.INTERNAL) shows localcloud's request id,
    logging goes to the given logger, set_client re-points the Account."""
    records: list[logging.LogRecord] = []
    logger = logging.getLogger("test-mns-parity")
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logger.addHandler(handler)
    try:
        account = Account(
            "http://127.0.0.1:9", DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET, logger=logger
        )
        account.set_client(
            localcloud.cloud.base_url, DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET, ""
        )
        assert account.get_client().host == localcloud.cloud.base_url.removeprefix("http://")
        account.set_log_level(logging.INFO)
        account.list_queue()
        assert any("ListQueue RequestId:" in r.getMessage() for r in records)
        account.close_log()
        count = len(records)
        account.list_queue()
        assert len(records) == count  # closed: nothing more logged
    finally:
        logger.removeHandler(handler)

    mns.create_queue("q")
    mns.create_topic("t")
    mns.subscribe("t", "s", _queue_endpoint(localcloud, "q"))
    account.set_debug(True)
    capsys.readouterr()
    for thing in (
        account.get_queue("q"),
        account.get_topic("t"),
        account.get_subscription("t", "s"),
    ):
        thing.set_debug(True)
        thing.get_attributes()
    account.set_attributes(AccountMeta("b"))
    printed = capsys.readouterr().out
    assert printed.count("RequestId: ") == 4
    assert all(
        len(line.split(": ", 1)[1]) == 24 for line in printed.splitlines() if "RequestId" in line
    )


# --- message properties (aliyun-mns-sdk 1.3.0 sends and parses them) ------------------------
def _with_properties(text: str) -> Message:
    message = Message(text)
    message.add_user_property("order", MessagePropertyValue.create_string("A-17 ünï"))
    message.add_user_property("amount", MessagePropertyValue.create_number("12.5"))
    message.add_user_property("urgent", MessagePropertyValue.create_boolean(True))
    message.add_user_property("blob", MessagePropertyValue.create_binary(b"\x00\xff raw"))
    message.add_system_property(
        SystemPropertyName.TRACEPARENT,
        MessageSystemPropertyValue.create_string("00-0af7651916cd43dd8448eb211c80319c-01"),
    )
    return message


def _as_plain(message) -> tuple[dict, dict]:
    user = {
        name: (value.get_data_type(), value.get_raw_value())
        for name, value in message.get_user_properties().items()
    }
    system = {
        name: (value.get_data_type(), value.get_raw_value())
        for name, value in message.get_system_properties().items()
    }
    return user, system


_EXPECTED_PROPERTIES = (
    {
        "order": ("STRING", "A-17 ünï"),
        "amount": ("NUMBER", "12.5"),
        "urgent": ("BOOLEAN", "true"),
        "blob": ("BINARY", b"\x00\xff raw"),
    },
    {"traceparent": ("STRING", "00-0af7651916cd43dd8448eb211c80319c-01")},
)


@pytest.mark.parametrize("encoding", [True, False], ids=["base64", "raw"])
@covers(
    "Queue.send_message",
    "Queue.batch_send_message",
    "Queue.peek_message",
    "Queue.batch_peek_message",
    "Queue.receive_message",
    "Queue.batch_receive_message",
)
def test_user_and_system_properties_come_back_as_sent(account, encoding):
    queue = account.get_queue("orders")
    queue.create(QueueMeta())
    queue.set_encoding(encoding)
    queue.send_message(_with_properties("one"))
    queue.batch_send_message([_with_properties("two"), Message("three, no properties")])

    assert _as_plain(queue.peek_message()) == _EXPECTED_PROPERTIES
    peeked = queue.batch_peek_message(3)
    assert [_as_plain(m) for m in peeked] == [_EXPECTED_PROPERTIES] * 2 + [({}, {})]
    assert _as_plain(queue.receive_message(0)) == _EXPECTED_PROPERTIES
    got = queue.batch_receive_message(3, 0)
    assert [_as_plain(m) for m in got] == [_EXPECTED_PROPERTIES, ({}, {})]


_PROPERTY_VALUE = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=20
)


@settings(max_examples=25, deadline=None)
@given(
    st.dictionaries(
        st.text(alphabet="abcdefghijklmnopqrstuvwxyz_-0123456789", min_size=1, max_size=12),
        _PROPERTY_VALUE,
        max_size=4,
    )
)
def test_any_string_properties_round_trip(localcloud_server, values):
    """The parser and renderer keep any (XML-legal, non-empty) text: the SDK drops an empty
    <Value/> itself, so empty values are outside what it can carry."""
    cloud = localcloud_server.cloud
    cloud.reset()  # per example (the session's server: hypothesis runs many in one test)
    account = Account(cloud.base_url, DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET)
    queue = account.get_queue("props")
    queue.create(QueueMeta())
    message = Message("body")
    for name, value in values.items():
        message.add_user_property(name, MessagePropertyValue.create_string(value))
    queue.send_message(message)
    user, system = _as_plain(queue.receive_message(0))
    assert user == {name: ("STRING", value) for name, value in values.items()}
    assert system == {}


@pytest.mark.parametrize(
    ("properties", "rule"),
    [
        (MessageProperties(user=(("a", "1", "FLOAT"),)), "Type 'FLOAT'"),
        (MessageProperties(user=(("", "1", "STRING"),)), "needs a Name"),
        (MessageProperties(system=(("traceparent", "x", "NUMBER"),)), "SystemProperties"),
        (MessageProperties(user=(("a", "1", "STRING"), ("a", "2", "STRING"))), "twice"),
    ],
)
def test_invalid_properties_are_invalid_argument_naming_the_rule(mns, properties, rule):
    mns.create_queue("q")
    with pytest.raises(MnsError) as caught:
        mns.send_message("q", "body", properties=properties)
    assert (caught.value.code, caught.value.status) == ("InvalidArgument", 400)
    assert rule in caught.value.message
    assert mns.get_queue("q")["ActiveMessages"] == 0
