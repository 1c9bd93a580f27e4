"""MNS topics through aliyun-mns-sdk 1.3.0: publish, subscriptions to queues, FilterTag and
every NotifyContentFormat, plus the in-process listeners FC topic triggers use."""

from __future__ import annotations

import hashlib
import json
import threading
from xml.etree import ElementTree

import pytest
from mns.account import Account
from mns.mns_exception import MNSServerException
from mns.queue import QueueMeta
from mns.subscription import SubscriptionMeta
from mns.topic import TopicMessage, TopicMeta

from localcloud.credentials import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET

NS = "{http://mns.aliyuncs.com/doc/v1/}"


@pytest.fixture
def account(localcloud):
    return Account(localcloud.cloud.base_url, DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET)


@pytest.fixture
def backend(localcloud):
    return localcloud.cloud.backends.mns


def _endpoint(localcloud, queue: str) -> str:
    return f"acs:mns:{localcloud.cloud.region}:{localcloud.cloud.account_id}:queues/{queue}"


def _subscribed_queue(account, localcloud, topic, name, fmt="SIMPLIFIED", filter_tag=""):
    """A queue (raw bodies, no Base64) subscribed to `topic` as subscription `name`."""
    queue = account.get_queue(f"q-{name}")
    queue.create(QueueMeta())
    queue.set_encoding(False)
    meta = SubscriptionMeta(
        _endpoint(localcloud, f"q-{name}"), notify_content_format=fmt, filter_tag=filter_tag
    )
    topic.get_subscription(name).subscribe(meta)
    return queue


def _drain(queue) -> list[str]:
    bodies = []
    while True:
        try:
            message = queue.receive_message_with_str_body(0)
        except MNSServerException as exc:
            if exc.type != "MessageNotExist":
                raise
            return bodies
        queue.delete_message(message.receipt_handle)
        bodies.append(message.message_body)


def test_create_get_delete_topic(account, localcloud):
    topic = account.get_topic("events")
    assert topic.create(TopicMeta(maximum_message_size=4096)) == (
        f"{localcloud.cloud.base_url}/topics/events"
    )
    topic.create(TopicMeta(maximum_message_size=4096))  # identical: accepted
    with pytest.raises(MNSServerException) as info:
        topic.create(TopicMeta(maximum_message_size=8192))
    assert info.value.type == "TopicAlreadyExist"
    attrs = topic.get_attributes()
    assert (attrs.topic_name, attrs.maximum_message_size, attrs.message_count) == (
        "events",
        4096,
        0,
    )
    topic.delete()
    with pytest.raises(MNSServerException) as info:
        topic.get_attributes()
    assert info.value.type == "TopicNotExist"


def test_publish_returns_id_and_md5(account):
    topic = account.get_topic("events")
    topic.create(TopicMeta())
    result = topic.publish_message(TopicMessage('{"outcome": "created"}', "cgw"))
    assert result.message_id
    assert result.message_body_md5 == hashlib.md5(b'{"outcome": "created"}').hexdigest().upper()
    assert topic.get_attributes().message_count == 1


def test_publish_to_missing_topic_is_topic_not_exist(account):
    with pytest.raises(MNSServerException) as info:
        account.get_topic("nope").publish_message(TopicMessage("x"))
    assert info.value.type == "TopicNotExist"


def test_publish_delivers_to_subscribed_queue_simplified(account, localcloud):
    topic = account.get_topic("events")
    topic.create(TopicMeta())
    queue = _subscribed_queue(account, localcloud, topic, "raw", "SIMPLIFIED")
    topic.publish_message(TopicMessage("just the body", "t"))
    assert _drain(queue) == ["just the body"]


def test_filter_tag_limits_delivery(account, localcloud):
    topic = account.get_topic("events")
    topic.create(TopicMeta())
    filtered = _subscribed_queue(account, localcloud, topic, "only-a", filter_tag="a")
    everything = _subscribed_queue(account, localcloud, topic, "all")
    topic.publish_message(TopicMessage("tagged a", "a"))
    topic.publish_message(TopicMessage("tagged b", "b"))
    topic.publish_message(TopicMessage("untagged"))
    assert _drain(filtered) == ["tagged a"]
    assert sorted(_drain(everything)) == ["tagged a", "tagged b", "untagged"]


def test_json_notification_format(account, localcloud):
    topic = account.get_topic("events")
    topic.create(TopicMeta())
    queue = _subscribed_queue(account, localcloud, topic, "as-json", "JSON")
    published = topic.publish_message(TopicMessage('{"k": "v"}', "cgw"))
    [body] = _drain(queue)
    note = json.loads(body)
    assert note == {
        "TopicOwner": localcloud.cloud.account_id,
        "TopicName": "events",
        "Subscriber": localcloud.cloud.account_id,
        "SubscriptionName": "as-json",
        "MessageId": published.message_id,
        "Message": '{"k": "v"}',
        "MessageMD5": published.message_body_md5,
        "MessageTag": "cgw",
        "PublishTime": note["PublishTime"],
    }
    assert note["PublishTime"].isdigit()


def test_xml_notification_format(account, localcloud):
    topic = account.get_topic("events")
    topic.create(TopicMeta())
    queue = _subscribed_queue(account, localcloud, topic, "as-xml", "XML")
    published = topic.publish_message(TopicMessage("a < b & c"))
    [body] = _drain(queue)
    root = ElementTree.fromstring(body)
    assert root.tag == f"{NS}Notification"
    fields = {child.tag.removeprefix(NS): child.text for child in root}
    assert fields["Message"] == "a < b & c"
    assert fields["MessageId"] == published.message_id
    assert fields["MessageMD5"] == published.message_body_md5
    assert fields["SubscriptionName"] == "as-xml"
    assert "MessageTag" not in fields  # untagged message
    assert fields["PublishTime"].isdigit()


def test_unsubscribe_stops_delivery(account, localcloud):
    topic = account.get_topic("events")
    topic.create(TopicMeta())
    queue = _subscribed_queue(account, localcloud, topic, "leaving")
    topic.get_subscription("leaving").unsubscribe()
    topic.publish_message(TopicMessage("nobody listens"))
    assert _drain(queue) == []


def test_subscription_attributes_and_conflict(account, localcloud):
    topic = account.get_topic("events")
    topic.create(TopicMeta())
    _subscribed_queue(account, localcloud, topic, "sub", "JSON", filter_tag="x")
    attrs = topic.get_subscription("sub").get_attributes()
    assert attrs.endpoint == _endpoint(localcloud, "q-sub")
    assert (attrs.notify_content_format, attrs.filter_tag) == ("JSON", "x")
    assert attrs.notify_strategy == "BACKOFF_RETRY"
    other = SubscriptionMeta(_endpoint(localcloud, "q-sub"), notify_content_format="XML")
    with pytest.raises(MNSServerException) as info:
        topic.get_subscription("sub").subscribe(other)
    assert info.value.type == "SubscriptionAlreadyExist"


def test_bad_queue_endpoint_is_invalid_argument(account):
    topic = account.get_topic("events")
    topic.create(TopicMeta())
    with pytest.raises(MNSServerException) as info:
        topic.get_subscription("s").subscribe(SubscriptionMeta("acs:mns:elsewhere:1:queues/q"))
    assert info.value.type == "InvalidArgument"


def _listen(backend, topic, fmt, filter_tag=None):
    received: list[tuple[bytes, object]] = []
    arrived = threading.Event()

    def callback(payload, message):
        received.append((payload, message))
        arrived.set()

    backend.add_listener(topic, f"fc-{fmt.lower()}", callback, filter_tag, fmt)
    return received, arrived


def test_listener_gets_fc_json_event_for_sdk_publish(account, backend, localcloud):
    topic = account.get_topic("events")
    topic.create(TopicMeta())
    received, arrived = _listen(backend, "events", "JSON")
    published = topic.publish_message(TopicMessage("hello topic", "cgw"))
    assert arrived.wait(5)
    payload, message = received[0]
    assert json.loads(payload) == {
        "TopicOwner": localcloud.cloud.account_id,
        "Message": "hello topic",
        "Subscriber": localcloud.cloud.account_id,
        "PublishTime": message.publish_time,
        "SubscriptionName": "fc-json",
        "MessageMD5": published.message_body_md5,
        "TopicName": "events",
        "MessageId": published.message_id,
    }
    assert isinstance(json.loads(payload)["PublishTime"], int)
    assert message.tag == "cgw"


def test_listener_json_merges_attributes(backend):
    backend.create_topic("events")
    received, arrived = _listen(backend, "events", "JSON")
    backend.publish_message(
        "events", "hello", attributes={"Extend": '{"key": "value"}', "plain": "p"}
    )
    assert arrived.wait(5)
    event = json.loads(received[0][0])
    assert (event["key"], event["plain"], event["Message"]) == ("value", "p", "hello")


def test_listener_stream_is_raw_body_or_body_and_attrs(backend):
    backend.create_topic("events")
    received, arrived = _listen(backend, "events", "STREAM")
    backend.publish_message("events", "raw bytes")
    assert arrived.wait(5)
    assert received[0][0] == b"raw bytes"
    arrived.clear()
    backend.publish_message("events", "with attrs", attributes={"Extend": '{"k":"v"}'})
    assert arrived.wait(5)
    assert json.loads(received[1][0]) == {"body": "with attrs", "attrs": {"Extend": '{"k":"v"}'}}


def test_listener_filter_tag(backend):
    backend.create_topic("events")
    received, arrived = _listen(backend, "events", "STREAM", filter_tag="go")
    backend.publish_message("events", "skip me", tag="stop")
    backend.publish_message("events", "take me", tag="go")
    assert arrived.wait(5)
    assert [p for p, _ in received] == [b"take me"]


def test_set_topic_and_subscription_attributes(account, localcloud):
    topic = account.get_topic("events")
    topic.create(TopicMeta())
    topic.set_attributes(TopicMeta(maximum_message_size=2048))
    assert topic.get_attributes().maximum_message_size == 2048
    _subscribed_queue(account, localcloud, topic, "sub")
    subscription = topic.get_subscription("sub")
    subscription.set_attributes(SubscriptionMeta(notify_strategy="EXPONENTIAL_DECAY_RETRY"))
    assert subscription.get_attributes().notify_strategy == "EXPONENTIAL_DECAY_RETRY"
    actions = {c["action"] for c in localcloud.cloud.calls.snapshot()}
    assert {"SetTopicAttributes", "SetSubscriptionAttributes"} <= actions


def test_list_topics_and_subscriptions(account, localcloud):
    topic = account.get_topic("events")
    topic.create(TopicMeta())
    account.get_topic("other").create(TopicMeta())
    _subscribed_queue(account, localcloud, topic, "s1")
    urls, _marker = account.list_topic(prefix="ev")
    assert urls == [f"{localcloud.cloud.base_url}/topics/events"]
    subscriptions, _marker = topic.list_subscription()
    assert subscriptions == [f"{localcloud.cloud.base_url}/topics/events/subscriptions/s1"]
