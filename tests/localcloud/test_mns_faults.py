"""Fault rules (PUT /_localcloud/faults) applied to MNS calls made with aliyun-mns-sdk."""

from __future__ import annotations

import time

import pytest
from mns.account import Account
from mns.mns_exception import MNSClientNetworkException, MNSServerException
from mns.queue import Message
from mns.topic import TopicMessage

from localcloud.credentials import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET


@pytest.fixture
def account(localcloud):
    backend = localcloud.cloud.backends.mns
    backend.create_queue("orders")
    backend.create_topic("events")
    endpoint = f"acs:mns:{localcloud.cloud.region}:{localcloud.cloud.account_id}:queues/orders"
    backend.subscribe("events", "to-orders", endpoint, notify_content_format="SIMPLIFIED")
    return Account(localcloud.cloud.base_url, DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET)


def _visible(localcloud) -> int:
    return localcloud.cloud.backends.mns.state()["queues"]["orders"]["visible"]


def test_error_rule_fails_publish_without_delivering(account, localcloud):
    localcloud.cloud.faults.set_rules(
        [
            {
                "service": "mns",
                "action": "PublishMessage",
                "error": {"code": "InternalError", "status": 500, "message": "Interal error."},
            }
        ]
    )
    with pytest.raises(MNSServerException) as info:
        account.get_topic("events").publish_message(TopicMessage("lost"))
    assert (info.value.type, info.value.message) == ("InternalError", "Interal error.")
    assert _visible(localcloud) == 0
    call = localcloud.cloud.calls.snapshot()[-1]
    assert (call["action"], call["status"], call["code"]) == (
        "PublishMessage",
        500,
        "InternalError",
    )
    assert call["fault"] == "rule 0: InternalError"
    account.get_queue("orders").send_message(Message("other actions unaffected"))


def test_latency_rule_delays_but_succeeds(account, localcloud):
    localcloud.cloud.faults.set_rules(
        [{"service": "mns", "action": "SendMessage", "latency_ms": 300}]
    )
    started = time.monotonic()
    account.get_queue("orders").send_message(Message("slow"))
    assert time.monotonic() - started >= 0.3
    assert _visible(localcloud) == 1


def test_rate_limit_rule_throttles(account, localcloud):
    localcloud.cloud.faults.set_rules(
        [{"service": "mns", "action": "SendMessage", "rate_limit_qps": 0.5, "burst": 1}]
    )
    queue = account.get_queue("orders")
    queue.send_message(Message("first"))
    with pytest.raises(MNSServerException) as info:
        queue.send_message(Message("second"))
    assert info.value.type == "Throttling.User"
    assert _visible(localcloud) == 1


def test_failed_receive_leaves_the_message_visible(account, localcloud):
    queue = account.get_queue("orders")
    queue.send_message(Message("keep"))
    localcloud.cloud.faults.set_rules(
        [
            {
                "service": "mns",
                "action": "ReceiveMessage",
                "error": {"code": "InternalError", "status": 500},
            }
        ]
    )
    with pytest.raises(MNSServerException):
        queue.receive_message(0)
    assert _visible(localcloud) == 1


def test_drop_after_commit_sends_twice_because_the_sdk_resends_once(account, localcloud):
    """The response is lost after the message is stored. aliyun-mns-sdk re-sends a request
    once when the connection closes without a status line (mns_http.py, BadStatusLine), so
    with the rule still active both attempts commit and the SDK finally raises."""
    localcloud.cloud.faults.set_rules(
        [{"service": "mns", "action": "SendMessage", "drop_response_after_commit": True}]
    )
    with pytest.raises(MNSClientNetworkException) as info:
        account.get_queue("orders").send_message(Message("committed"))
    assert info.value.type == "NetWorkException"
    assert _visible(localcloud) == 2
    sends = [c for c in localcloud.cloud.calls.snapshot() if c["action"] == "SendMessage"]
    assert [c["fault"] for c in sends] == ["rule 0: drop_response_after_commit"] * 2


def test_drop_after_commit_on_publish_still_delivers(account, localcloud):
    localcloud.cloud.faults.set_rules(
        [
            {
                "service": "mns",
                "action": "PublishMessage",
                "drop_response_after_commit": True,
                "probability": 1,
            }
        ]
    )
    with pytest.raises(MNSClientNetworkException):
        account.get_topic("events").publish_message(TopicMessage("published anyway"))
    localcloud.cloud.faults.set_rules([])
    queue = account.get_queue("orders")
    queue.set_encoding(False)
    assert queue.receive_message_with_str_body(0).message_body == "published anyway"


def test_unexpected_backend_failure_is_an_mns_internal_error(account, localcloud, monkeypatch):
    def broken(name):
        raise RuntimeError("bug")

    monkeypatch.setattr(localcloud.cloud.backends.mns, "get_queue", broken)
    with pytest.raises(MNSServerException) as info:
        account.get_queue("orders").get_attributes()
    assert (info.value.type, info.value.message) == ("InternalError", "Interal error.")
