"""The in-process MNS API other localcloud parts use (FC trigger emulation): MnsBackend."""

from __future__ import annotations

import threading
import time

import pytest

from localcloud.mns.models import MnsBackend, MnsError
from tests.waiting import wait_for


@pytest.fixture
def backend():
    backend = MnsBackend("cn-shanghai", "1234567890123456")
    yield backend
    backend.close()


def _in_thread(target):
    result: dict = {}

    def run():
        try:
            result["value"] = target()
        except MnsError as exc:
            result["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    return thread, result


def _blocked(backend):
    """Wait until a receiver is blocked in its long poll (not just started)."""
    wait_for(lambda: backend.waiting() == 1, 10, "the receiver to block")


def test_receive_blocks_until_a_send_wakes_it(backend):
    backend.create_queue("q")
    thread, result = _in_thread(lambda: backend.receive_messages("q", 1, wait_seconds=30.0))
    _blocked(backend)
    sent = backend.send_message("q", "payload")
    thread.join(15)  # woke on the send, well before the end of its 30 s wait
    assert not thread.is_alive()
    [got] = result["value"]
    assert (got.message_id, got.body, got.dequeue_count) == (sent.message_id, "payload", 1)


def test_receive_times_out_empty(backend):
    backend.create_queue("q")
    assert backend.receive_messages("q", 1, wait_seconds=0.1) == []


def test_short_visibility_timeout_redelivers_and_old_handle_is_stale(backend):
    backend.create_queue("q")
    backend.send_message("q", "retry me")
    [first] = backend.receive_messages("q", visibility_timeout=0.2)
    assert backend.receive_messages("q") == []
    [second] = backend.receive_messages("q", wait_seconds=2.0, visibility_timeout=30)
    assert second.message_id == first.message_id
    assert second.dequeue_count == 2
    with pytest.raises(MnsError) as info:
        backend.delete_message("q", first.receipt_handle)
    assert (info.value.code, info.value.status) == ("MessageNotExist", 404)
    assert backend.delete_message("q", second.receipt_handle) == second.message_id
    assert backend.get_queue("q")["InactiveMessages"] == 0


def test_change_visibility_zero_releases_to_a_waiting_receiver(backend):
    backend.create_queue("q")
    backend.send_message("q", "nack me")
    [got] = backend.receive_messages("q")
    thread, result = _in_thread(lambda: backend.receive_messages("q", wait_seconds=30.0))
    _blocked(backend)
    backend.change_visibility("q", got.receipt_handle, 0)
    thread.join(15)
    assert not thread.is_alive()
    assert result["value"][0].message_id == got.message_id


def test_deleting_the_queue_wakes_waiters_with_queue_not_exist(backend):
    backend.create_queue("q")
    thread, result = _in_thread(lambda: backend.receive_messages("q", wait_seconds=30.0))
    _blocked(backend)
    backend.delete_queue("q")
    thread.join(15)
    assert not thread.is_alive()
    assert result["error"].code == "QueueNotExist"


def test_errors_carry_wire_codes(backend):
    with pytest.raises(MnsError) as info:
        backend.send_message("missing", "x")
    assert (info.value.code, info.value.status) == ("QueueNotExist", 404)
    backend.create_queue("q", MaximumMessageSize=1024)
    with pytest.raises(MnsError) as info:
        backend.send_message("q", "x" * 1025)
    assert info.value.code == "InvalidArgument"
    with pytest.raises(MnsError) as info:
        backend.receive_messages("q", max_count=17)
    assert info.value.code == "InvalidArgument"
    with pytest.raises(MnsError) as info:
        backend.create_queue("bad name!")
    assert "bad name!" in info.value.message


def test_publish_fans_out_to_queue_and_dead_letter_style_send(backend):
    backend.create_queue("q")
    backend.create_queue("dlq")
    backend.create_topic("t")
    backend.subscribe(
        "t",
        "s",
        "acs:mns:cn-shanghai:1234567890123456:queues/q",
        notify_content_format="SIMPLIFIED",
    )
    message_id = backend.publish_message("t", "fan out")
    [got] = backend.receive_messages("q")
    assert got.body == "fan out"
    assert message_id
    backend.send_message("dlq", got.body)
    backend.delete_message("q", got.receipt_handle)
    assert backend.state()["queues"]["dlq"]["visible"] == 1


def test_failing_listener_keeps_receiving(backend):
    backend.create_topic("t")
    seen: list[bytes] = []
    done = threading.Event()

    def callback(payload, message):
        seen.append(payload)
        if len(seen) == 1:
            raise RuntimeError("handler failed")
        done.set()

    backend.add_listener("t", "fc", callback, notify_content_format="STREAM")
    backend.publish_message("t", "one")
    backend.publish_message("t", "two")
    assert done.wait(5)
    assert seen == [b"one", b"two"]


def test_listener_needs_topic_and_unique_name(backend):
    with pytest.raises(MnsError) as info:
        backend.add_listener("nope", "fc", lambda p, m: None)
    assert info.value.code == "TopicNotExist"
    backend.create_topic("t")
    backend.add_listener("t", "fc", lambda p, m: None)
    with pytest.raises(MnsError) as info:
        backend.add_listener("t", "fc", lambda p, m: None)
    assert info.value.code == "SubscriptionAlreadyExist"
    assert backend.state()["topics"]["t"]["subscriptions"]["fc"]["in_process"] is True
    backend.remove_listener("t", "fc")
    assert backend.state()["topics"]["t"]["subscriptions"] == {}


def test_state_counts_and_reset(backend):
    backend.create_queue("q")
    backend.send_message("q", "a")
    backend.send_message("q", "b", delay_seconds=60)
    backend.send_message("q", "c")
    backend.receive_messages("q")
    assert backend.state()["queues"]["q"] | {"attributes": None} == {
        "attributes": None,
        "visible": 1,
        "in_flight": 1,
        "delayed": 1,
    }
    backend.reset()
    assert backend.state() == {"queues": {}, "topics": {}}


def test_retention_period_expires_messages(backend, monkeypatch):
    backend.create_queue("q", MessageRetentionPeriod=60)
    backend.send_message("q", "old")
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 61)
    assert backend.state()["queues"]["q"]["visible"] == 0
