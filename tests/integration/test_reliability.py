"""Acceptance: duplicates, lost responses, throttling, the deadline and publishing failures.

Nothing is lost and nothing is created twice: a message that cannot be finished makes the
invocation fail (TransientFailureError naming it) so the trigger redelivers it, and the
ClientToken makes the redelivery safe.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter

import pytest

from cgw_provisioner.app import TransientFailureError
from localcloud.faults import FaultEngine
from tests.waiting import wait_for

REQUEST = {"RegionId": "cn-shanghai", "IpAddress": "203.0.113.50", "Name": "dup-gw"}


def _queue_event(requests):
    """An EventBridge MNS queue batch (event-streaming), one element per request."""
    return json.dumps(
        [
            {
                "id": f"EV{i:030d}",
                "source": "MNS-create-customer-gateway-queue-trigger",
                "specversion": "1.0",
                "type": "mns:Queue:SendMessage",
                "subject": "acs:mns:cn-shanghai:1234567890123456:queues/cgw-requests",
                "data": {
                    "requestId": f"R{i}",
                    "messageId": f"MSG{i:029d}",
                    "messageBody": json.dumps(request),
                },
            }
            for i, request in enumerate(requests)
        ]
    ).encode()


def _batch(n, prefix="198.18.0"):
    return [{"RegionId": "cn-shanghai", "IpAddress": f"{prefix}.{i + 1}"} for i in range(n)]


def _seeded_faults(monkeypatch, cloud, rolls):
    """A fault engine whose first probability rolls are `rolls` (True = the fault fires)."""
    for seed in range(100_000):
        rng = random.Random(seed)
        if all((rng.random() < 0.5) == fire for fire in rolls):
            monkeypatch.setattr(cloud.server.cloud, "faults", FaultEngine(seed=seed))
            return
    raise AssertionError("no seed found")


def test_same_message_three_times_in_sequence(cloud):
    events = [cloud.invoke(REQUEST) for _ in range(3)]
    assert len(cloud.gateways()) == 1
    assert [e["data"]["adopted"] for e in events] == [False] * 3
    assert len({e["id"] for e in events}) == 1
    assert [o.event["id"] for o in cloud.outcomes()] == [events[0]["id"]] * 3


def test_same_message_three_times_concurrently(cloud):
    event = _queue_event([REQUEST])
    results, errors = [], []

    def deliver():
        try:
            results.append(cloud.invoke(event))
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=deliver) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(cloud.gateways()) == 1
    ids = {o.event["id"] for o in cloud.outcomes()}
    assert len(ids) == 1
    assert {r["outcomes"][0]["eventId"] for r in results} == ids
    # all three sent the same ClientToken
    tokens = {c["parameters"]["ClientToken"] for c in cloud.calls("CreateCustomerGateway")}
    assert len(tokens) == 1


def test_lost_response_still_one_gateway_and_a_created_outcome(cloud, monkeypatch):
    """The first CreateCustomerGateway commits but its answer never arrives (SDK.HttpError):
    the retry with the same ClientToken gets the same gateway."""
    _seeded_faults(monkeypatch, cloud, [True, False])
    cloud.faults(
        [
            {
                "service": "vpc",
                "action": "CreateCustomerGateway",
                "probability": 0.5,
                "drop_response_after_commit": True,
            }
        ]
    )
    event = cloud.invoke(REQUEST)
    assert event["type"] == "vpc.customergateway.created"
    assert event["data"]["attempts"] == 2
    assert event["data"]["adopted"] is False  # the retry's token found it, not its address
    assert len(cloud.gateways()) == 1
    calls = cloud.calls("CreateCustomerGateway")
    assert [c["created"] for c in calls] == [True, False]
    assert calls[0]["parameters"]["ClientToken"] == calls[1]["parameters"]["ClientToken"]
    assert [o.event for o in cloud.outcomes()] == [event]


def test_responses_lost_every_time_hand_the_message_back(cloud, monkeypatch):
    monkeypatch.setenv("MAX_ATTEMPTS", "3")
    cloud.faults(
        [{"service": "vpc", "action": "CreateCustomerGateway", "drop_response_after_commit": True}]
    )
    with pytest.raises(TransientFailureError, match=r"SDK\.HttpError.*attempts, 3"):
        cloud.invoke(REQUEST)
    assert cloud.outcomes() == []
    cloud.faults([])
    event = cloud.invoke(REQUEST)  # the redelivery
    assert event["type"] == "vpc.customergateway.created"
    assert event["data"]["adopted"] is False
    assert len(cloud.gateways()) == 1
    calls = cloud.calls("CreateCustomerGateway")
    assert len(calls) == 4
    assert len({c["parameters"]["ClientToken"] for c in calls}) == 1
    assert [c["created"] for c in calls] == [True, False, False, False]


THROTTLING_RULES = [
    {
        "service": "vpc",
        "action": "CreateCustomerGateway",
        "probability": 0.5,
        "error": {
            "code": "Throttling.User",
            "status": 400,
            "message": "Request was denied due to user flow control.",
        },
    },
    {"service": "vpc", "action": "CreateCustomerGateway", "rate_limit_qps": 5},
]


def test_throttling_and_a_rate_limit_every_request_still_created(cloud, monkeypatch, capsys):
    """50% Throttling.User plus a 5 QPS limit on CreateCustomerGateway, a batch of 6: the first
    delivery creates every request, each within its attempt budget, with backoff in the log.
    The budget (20) makes running out a 1-in-a-million event (0.5**20), so it is not tolerated
    here; random throttles are not a rate, the limiter settles at its floor (1 call/s), hence
    the timeout. The fault engine is seeded: which calls the 50% rule throttles is replayed."""
    monkeypatch.setenv("MAX_ATTEMPTS", "20")
    monkeypatch.setattr(cloud.server.cloud, "faults", FaultEngine(seed=1515))
    cloud.faults(THROTTLING_RULES)
    requests = _batch(6)
    summary = cloud.invoke(_queue_event(requests), timeout=60)
    assert (summary["total"], summary["created"], summary["adopted"]) == (6, 6, 0)
    outcomes = cloud.outcomes()
    assert [o.tag for o in outcomes] == ["created"] * 6
    assert {o.event["id"] for o in outcomes} == {o["eventId"] for o in summary["outcomes"]}
    assert len(cloud.gateways()) == 6
    assert all(1 <= o.event["data"]["attempts"] <= 20 for o in outcomes)
    calls = cloud.calls("CreateCustomerGateway")
    # Each request kept its token: one token per request, and its last call created it.
    per_token = Counter(c["parameters"]["ClientToken"] for c in calls)
    assert len(per_token) == 6
    assert sum(o.event["data"]["attempts"] for o in outcomes) == len(calls)
    assert sum(1 for c in calls if c["created"]) == 6
    # The 50% rule fired exactly where the seeded engine says (rolls do not depend on time).
    replay = FaultEngine(THROTTLING_RULES, seed=1515)
    expected = [replay.decide("vpc", "CreateCustomerGateway", "a").label for _ in calls]
    fired = [c for c in calls if (c["fault"] or "").startswith("rule 0")]
    assert len(fired) == sum(1 for label in expected if (label or "").startswith("rule 0")) > 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    backoffs = [line for line in lines if line["event"] == "backoff"]
    assert len(backoffs) == len(calls) - 6  # every throttled call was backed off, once
    assert {"attempt", "code", "delay_s", "client_token", "message_id"} <= set(backoffs[0])
    assert {b["code"] for b in backoffs} == {"Throttling.User"}


def test_deadline_hands_unfinished_items_back_and_a_redelivery_completes_them(cloud, monkeypatch):
    """1 QPS and a 6 s function timeout with a 3 s margin: a batch of 6 cannot finish. Every
    item is either published or named in TransientFailureError (none lost, none both), the
    invocation returns within its timeout and no call starts after it; the redelivery
    finishes the rest. (The 3 s margin is slack for a loaded machine, not a measurement.)"""
    monkeypatch.setenv("DEADLINE_MARGIN_SECONDS", "3")
    timeout = 6
    cloud.faults(
        [{"service": "vpc", "action": "CreateCustomerGateway", "rate_limit_qps": 1, "burst": 1}]
    )
    requests = _batch(6, "198.18.1")
    event = _queue_event(requests)
    all_ids = {f"MSG{i:029d}" for i in range(6)}
    started = time.time()
    with pytest.raises(TransientFailureError) as raised:
        cloud.invoke(event, timeout=timeout)
    assert time.time() - started < timeout
    unfinished = raised.value.items
    assert all(token.startswith("cgw-") for _, token, _ in unfinished)
    for message_id, _, _ in unfinished:
        assert message_id in str(raised.value)
    assert all(call["time"] <= started + timeout for call in cloud.calls())
    first = cloud.outcomes()
    assert all(o.tag == "created" for o in first)
    published = [o.event["data"]["trigger"]["messageId"] for o in first]
    handed_back = [message_id for message_id, _, _ in unfinished]
    assert len(published) >= 1
    assert len(handed_back) >= 1
    assert sorted(published + handed_back) == sorted(all_ids)  # a partition: none lost or twice

    cloud.faults([])
    summary = cloud.invoke(event, timeout=30)  # the trigger redelivers the batch
    assert (summary["created"], summary["adopted"]) == (6, 0)
    assert len(cloud.gateways()) == 6
    again = cloud.outcomes()
    assert sorted(o.event["data"]["trigger"]["messageId"] for o in again) == sorted(all_ids)
    assert {o.event["id"] for o in first} <= {o.event["id"] for o in again}


@pytest.mark.parametrize(
    ("fault", "code"),
    [
        ({"error": {"code": "InternalError", "status": 500}}, "InternalError"),
        ({"error": {"code": "AccessDenied", "status": 403}}, "AccessDenied"),
        ({"latency_ms": 3000}, None),
    ],
    ids=["InternalError", "AccessDenied", "timeout"],
)
def test_publishing_failure_fails_the_invocation_and_a_redelivery_publishes(
    cloud, monkeypatch, capsys, fault, code
):
    monkeypatch.setenv("MAX_ATTEMPTS", "3")
    monkeypatch.setenv("API_TIMEOUT_SECONDS", "1")
    cloud.faults([{"service": "mns", "action": "PublishMessage", **fault}])
    with pytest.raises(TransientFailureError, match="outcome not published"):
        cloud.invoke(REQUEST, timeout=8)
    assert len(cloud.gateways()) == 1
    cloud.faults([])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    [summary] = [line for line in lines if line["event"] == "invocation summary"]
    tries = summary["publish_attempts"]
    assert tries >= 1
    [event_id] = {line["event_id"] for line in lines if "event_id" in line}
    if code is not None:  # refused: nothing landed
        assert [c["code"] for c in cloud.calls("PublishMessage")] == [code] * tries
        assert cloud.outcomes() == []
    else:  # timed out on the client, committed later by MNS: every try lands, same event id
        wait_for(lambda: len(cloud.calls("PublishMessage")) == tries, 30, "the slow publishes")
        assert [o.event["id"] for o in cloud.outcomes()] == [event_id] * tries
    event = cloud.invoke(REQUEST)
    assert event["type"] == "vpc.customergateway.created"
    assert event["id"] == event_id
    assert event["data"]["adopted"] is False
    assert len(cloud.gateways()) == 1
    assert [o.event["id"] for o in cloud.outcomes()] == [event_id]


def test_one_bad_publish_does_not_stop_the_others(cloud, monkeypatch):
    """Created outcomes go to a topic that does not exist; failed ones publish fine."""
    monkeypatch.setenv("SUCCESS_DESTINATION", "acs:mns:::/topics/missing-topic")
    event = _queue_event([REQUEST, {"RegionId": "cn-shanghai"}])
    with pytest.raises(TransientFailureError) as raised:
        cloud.invoke(event)
    [(message_id, _, reason)] = raised.value.items
    assert message_id == "MSG" + "0" * 29
    assert "TopicNotExist" in reason
    [published] = cloud.outcomes()
    assert published.event["data"]["error"]["code"] == "MissingIpAddress"


def test_concurrent_invocations_share_one_lazily_built_instance(cloud):
    """No initializer configured: eight invocations at once build the instance once."""
    from cgw_provisioner import app

    app.reset()
    built = []
    original = app.Instance.build.__func__

    def counting_build(cls, *args, **kwargs):
        built.append(1)
        return original(cls, *args, **kwargs)

    app.Instance.build = classmethod(counting_build)
    try:
        requests = _batch(8, "198.18.2")
        results = [None] * 8

        def invoke(i):
            results[i] = cloud.invoke(requests[i])

        threads = [threading.Thread(target=invoke, args=(i,)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        app.Instance.build = classmethod(original)
    assert built == [1]
    assert all(r["type"] == "vpc.customergateway.created" for r in results)
    assert len(cloud.gateways()) == 8


def test_rotated_sts_credentials_rebuild_the_clients(cloud, monkeypatch):
    from localcloud.credentials import DEFAULT_ACCESS_KEY_ID
    from tests.conftest import STS_KEY

    from .conftest import FcCredentials

    first = cloud.invoke(_batch(1, "198.18.3")[0])
    sts = FcCredentials(STS_KEY.access_key_id, STS_KEY.access_key_secret, STS_KEY.security_token)
    second = cloud.invoke(_batch(2, "198.18.3")[1], credentials=sts)
    assert first["type"] == second["type"] == "vpc.customergateway.created"
    keys = [c["access_key_id"] for c in cloud.calls("CreateCustomerGateway")]
    assert keys == [DEFAULT_ACCESS_KEY_ID, STS_KEY.access_key_id]


def test_credentials_from_the_environment_when_the_context_has_none(cloud, monkeypatch):
    from localcloud.credentials import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET

    from .conftest import FcCredentials

    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", DEFAULT_ACCESS_KEY_ID)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", DEFAULT_ACCESS_KEY_SECRET)
    event = cloud.invoke(REQUEST, credentials=FcCredentials("", "", ""))
    assert event["type"] == "vpc.customergateway.created"
