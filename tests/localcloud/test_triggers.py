"""The EventBridge MNS queue trigger and the MNS topic trigger, driving toy functions.

Messages go in through aliyun-mns-sdk (which Base64-encodes queue bodies by default) or the MNS
backend; the toy function appends what it received to a file, so the assertions are about what
the function really got.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import fc2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mns.account import Account
from mns.queue import Message
from mns.topic import TopicMessage

from localcloud.credentials import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET
from localcloud.fc.models import FcError
from localcloud.fc.triggers import QueueTriggerConfig
from tests.waiting import wait_for

TOY = """
import json, os, time

def handler(event, context):
    with open(os.environ["RECORD"], "a") as fh:
        fh.write(json.dumps({
            "retry": context.retry_count,
            "instance": os.environ["FC_INSTANCE_ID"],
            "event": event.decode("utf-8"),
        }) + "\\n")
    if b"poison" in event or os.environ.get("ALWAYS_FAIL"):
        raise RuntimeError("cannot handle this batch")
    time.sleep(float(os.environ.get("SLEEP", "0")))
    return "ok"
"""

REGION, ACCOUNT = "cn-shanghai", "1234567890123456"


def queue_trigger_config(**run: Any) -> dict[str, Any]:
    base64_decode = run.pop("IsBase64Decode", True)
    schema = run.pop("eventSchema", "CloudEvents")
    run_options = {
        "mode": "event-streaming",
        "maximumTasks": 1,
        "errorsTolerance": "ALL",
        "retryStrategy": {"PushRetryStrategy": "BACKOFF_RETRY"},
        "deadLetterQueue": {"Arn": f"acs:mns:{REGION}:{ACCOUNT}:/queues/dlq"},
        "batchWindow": {"CountBasedWindow": 10, "TimeBasedWindow": 0},
    }
    run_options.update(run)
    return {
        "triggerEnable": True,
        "asyncInvocationType": False,
        "eventRuleFilterPattern": "{}",
        "eventSourceConfig": {
            "eventSourceType": "MNS",
            "eventSourceParameters": {
                "sourceMNSParameters": {
                    "RegionId": REGION,
                    "QueueName": "req",
                    "IsBase64Decode": base64_decode,
                }
            },
        },
        "eventSinkConfig": {"deliveryOption": {"mode": "event-streaming", "eventSchema": schema}},
        "runOptions": run_options,
    }


class Toy:
    """A deployed toy function with its record file, and the MNS side of the test."""

    def __init__(self, localcloud, tmp_path: Path) -> None:
        self.cloud = localcloud
        self.fc = localcloud.cloud.backends.fc
        self.mns = localcloud.cloud.backends.mns
        self.record = tmp_path / "record.jsonl"
        (tmp_path / "index.py").write_text(TOY)
        self.code = tmp_path
        self.mns.create_queue("req")
        self.mns.create_queue("dlq")
        self.fc.create_service("svc")
        self.account = Account(
            localcloud.cloud.base_url, DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET
        )

    def deploy(self, **env: str) -> None:
        self.fc.create_function(
            "svc",
            "fn",
            handler="index.handler",
            runtime="python3.10",
            code_dir=str(self.code),
            timeout=10,
            environment={"RECORD": str(self.record), **env},
        )

    def invocations(self) -> list[dict[str, Any]]:
        if not self.record.exists():
            return []
        lines = self.record.read_text().splitlines()
        return [json.loads(line) for line in lines]

    def events(self, index: int) -> Any:
        return json.loads(self.invocations()[index]["event"])

    def queue_counts(self, name: str) -> tuple[int, int]:
        q = self.mns.get_queue(name)
        return q["ActiveMessages"], q["InactiveMessages"]

    def send(self, *bodies: str) -> None:
        queue = self.account.get_queue("req")
        for body in bodies:
            queue.send_message(Message(body))


@pytest.fixture
def toy(localcloud, tmp_path):
    fc = localcloud.cloud.backends.fc
    fc.time_scale = 0.01
    yield Toy(localcloud, tmp_path)
    fc.time_scale = 1.0


def test_batch_fills_up_to_the_count_window(toy):
    toy.deploy()
    toy.fc.create_trigger(
        "svc",
        "fn",
        "q",
        "eventbridge",
        queue_trigger_config(batchWindow={"CountBasedWindow": 3, "TimeBasedWindow": 15}),
    )
    toy.send(*[json.dumps({"n": i}) for i in range(6)])
    wait_for(lambda: len(toy.invocations()) == 2, what="two pushes")
    sizes = [len(toy.events(i)) for i in range(2)]
    assert sizes == [3, 3]
    bodies = sorted(
        json.loads(e["data"]["messageBody"])["n"] for i in range(2) for e in toy.events(i)
    )
    assert bodies == list(range(6))
    wait_for(lambda: toy.queue_counts("req") == (0, 0), what="messages deleted")


def test_time_window_closes_a_partial_batch(toy):
    toy.deploy()
    toy.fc.create_trigger(
        "svc",
        "fn",
        "q",
        "eventbridge",
        queue_trigger_config(batchWindow={"CountBasedWindow": 100, "TimeBasedWindow": 1}),
    )
    toy.send("a", "b", "c")
    wait_for(lambda: toy.invocations(), what="one push")
    assert [e["data"]["messageBody"] for e in toy.events(0)] == ["a", "b", "c"]


def test_cloud_event_shape_and_base64_decoding(toy):
    toy.deploy()
    toy.fc.create_trigger("svc", "fn", "q", "eventbridge", queue_trigger_config())
    toy.send('{"IpAddress": "203.0.113.1"}')
    wait_for(lambda: toy.invocations(), what="one push")
    events = toy.events(0)
    assert isinstance(events, list)
    assert len(events) == 1
    event = events[0]
    assert event["type"] == "mns:Queue:SendMessage"
    assert event["specversion"] == "1.0"
    assert event["subject"] == f"acs:mns:{REGION}:{ACCOUNT}:queues/req"
    assert event["source"] == event["aliyuneventbusname"] == "MNS-fn-q"
    assert event["aliyunregionid"] == REGION
    assert event["aliyunaccountid"] == ACCOUNT
    assert event["id"] == event["data"]["messageId"]
    assert event["time"].endswith("Z")
    assert event["data"]["messageBody"] == '{"IpAddress": "203.0.113.1"}'


def test_base64_body_is_kept_when_decoding_is_off(toy):
    toy.deploy()
    toy.fc.create_trigger(
        "svc", "fn", "q", "eventbridge", queue_trigger_config(IsBase64Decode=False)
    )
    toy.send("hello")
    wait_for(lambda: toy.invocations(), what="one push")
    body = toy.events(0)[0]["data"]["messageBody"]
    assert body == base64.b64encode(b"hello").decode()


def test_raw_data_schema_and_event_driven_mode(toy):
    toy.deploy()
    toy.fc.create_trigger(
        "svc",
        "fn",
        "q",
        "eventbridge",
        queue_trigger_config(mode="event-driven", eventSchema="RawData"),
    )
    toy.send("one", "two")
    wait_for(lambda: len(toy.invocations()) == 2, what="two single pushes")
    bodies = sorted(toy.events(i)["messageBody"] for i in range(2))
    assert bodies == ["one", "two"]
    assert set(toy.events(0)) == {"requestId", "messageId", "messageBody"}


def test_failing_push_is_retried_then_dead_lettered_as_pushed(toy):
    toy.deploy(ALWAYS_FAIL="1")
    toy.fc.create_trigger("svc", "fn", "q", "eventbridge", queue_trigger_config())
    toy.send("doomed")
    wait_for(lambda: toy.queue_counts("dlq")[0] == 1, what="a dead letter")
    assert [i["retry"] for i in toy.invocations()] == [0, 1, 2, 3]  # first push + 3 retries
    dead = json.loads(toy.mns.receive_messages("dlq")[0].body)
    assert dead == toy.events(0)[0]  # the event exactly as pushed, nothing added
    assert dead["data"]["messageBody"] == "doomed"
    assert toy.queue_counts("req") == (0, 0)
    state = toy.fc.running_trigger("svc", "fn", "q").state()
    assert (state["failed_pushes"], state["dead_lettered"]) == (4, 1)
    assert state["dead_letter_reasons"] == {"RuntimeError: cannot handle this batch": 1}


def test_poison_batch_goes_whole_to_the_dead_letter_queue_and_later_batches_flow(toy):
    toy.deploy()
    toy.fc.create_trigger(
        "svc",
        "fn",
        "q",
        "eventbridge",
        queue_trigger_config(
            batchWindow={"CountBasedWindow": 2, "TimeBasedWindow": 2},
            retryStrategy={"PushRetryStrategy": "BACKOFF_RETRY", "MaximumRetryAttempts": 1},
        ),
    )
    toy.send("poison", "innocent")
    wait_for(lambda: toy.queue_counts("dlq")[0] == 2, what="the batch dead-lettered")
    toy.send("later")
    wait_for(lambda: any("later" in i["event"] for i in toy.invocations()), what="later batch")
    assert sum(1 for i in toy.invocations() if "poison" in i["event"]) == 2


def test_errors_tolerance_none_blocks_the_stream_and_keeps_the_message(toy):
    toy.deploy(ALWAYS_FAIL="1")
    toy.fc.create_trigger(
        "svc",
        "fn",
        "q",
        "eventbridge",
        queue_trigger_config(
            errorsTolerance="NONE",
            retryStrategy={"PushRetryStrategy": "BACKOFF_RETRY", "MaximumRetryAttempts": 1},
        ),
    )
    toy.send("stuck")
    running = toy.fc.running_trigger("svc", "fn", "q")
    wait_for(lambda: running.state()["blocked"], what="the stream to block")
    assert toy.queue_counts("req") == (1, 0)
    assert toy.queue_counts("dlq") == (0, 0)


def test_maximum_tasks_pushes_batches_concurrently_on_separate_instances(toy):
    toy.deploy(SLEEP="1.5")
    toy.fc.create_trigger(
        "svc",
        "fn",
        "q",
        "eventbridge",
        queue_trigger_config(
            maximumTasks=2, batchWindow={"CountBasedWindow": 1, "TimeBasedWindow": 0}
        ),
    )
    toy.send("x", "y")
    wait_for(lambda: len(toy.invocations()) == 2, what="two pushes")
    assert len({i["instance"] for i in toy.invocations()}) == 2
    wait_for(lambda: toy.queue_counts("req") == (0, 0), what="both deleted")
    assert len(toy.invocations()) == 2  # no message was handed out twice


def test_without_maximum_tasks_the_instance_limit_bounds_pushes_in_flight(toy):
    """An MNS source ignores maximumTasks on FC (template.yml leaves it out): locally the
    function's instance limit bounds how many pushes run at once."""
    toy.fc.default_max_instances = 2
    toy.deploy(SLEEP="1.5")
    config = queue_trigger_config(batchWindow={"CountBasedWindow": 1, "TimeBasedWindow": 0})
    del config["runOptions"]["maximumTasks"]
    toy.fc.create_trigger("svc", "fn", "q", "eventbridge", config)
    toy.send("x", "y", "z")
    wait_for(lambda: len(toy.invocations()) == 2, what="two pushes at once")
    assert len({i["instance"] for i in toy.invocations()}) == 2
    wait_for(lambda: toy.queue_counts("req") == (0, 0), what="all three deleted")
    assert len(toy.invocations()) == 3
    assert len({i["instance"] for i in toy.invocations()}) == 2  # the third waited for one


def test_trigger_is_created_with_fc2_over_http(toy, localcloud):
    toy.deploy()
    client = fc2.Client(
        endpoint=localcloud.cloud.base_url,
        accessKeyID=DEFAULT_ACCESS_KEY_ID,
        accessKeySecret=DEFAULT_ACCESS_KEY_SECRET,
    )
    created = client.create_trigger(
        "svc", "fn", "q", "eventbridge", queue_trigger_config(), "", ""
    ).data
    assert created["triggerType"] == "eventbridge"
    assert created["sourceArn"] == f"acs:eventbridge:{REGION}:{ACCOUNT}:eventstreaming/svc-fn-q"
    assert (
        client.get_trigger("svc", "fn", "q").data["triggerConfig"]["runOptions"]["errorsTolerance"]
        == "ALL"
    )
    toy.send("via-api")
    wait_for(lambda: toy.invocations(), what="one push")
    with pytest.raises(fc2.FcError) as caught:
        client.create_trigger("svc", "fn", "q", "eventbridge", queue_trigger_config(), "", "")
    assert (caught.value.status_code, caught.value.err_code) == (409, "TriggerAlreadyExists")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda c: c["eventSourceConfig"].update(eventSourceType="Kafka"),
            "eventSourceType must be MNS",
        ),
        (
            lambda c: c["runOptions"].update(deadLetterQueue={"Arn": "acs:mq:x"}),
            "deadLetterQueue.Arn",
        ),
        (lambda c: c["runOptions"]["batchWindow"].update(TimeBasedWindow=99), "TimeBasedWindow"),
        (
            lambda c: c["eventSourceConfig"]["eventSourceParameters"]["sourceMNSParameters"].update(
                QueueName="missing"
            ),
            "'missing'",
        ),
    ],
)
def test_bad_trigger_config_names_the_field(toy, change, message):
    toy.deploy()
    config = queue_trigger_config()
    change(config)
    with pytest.raises(FcError, match=message) as caught:
        toy.fc.create_trigger("svc", "fn", "q", "eventbridge", config)
    assert caught.value.code == "InvalidArgument"


@pytest.mark.parametrize("content_format", ["JSON", "STREAM"])
def test_topic_trigger_delivers_json_and_stream(toy, content_format):
    toy.deploy()
    toy.mns.create_topic("topic")
    toy.fc.create_trigger(
        "svc",
        "fn",
        "t",
        "mns_topic",
        {"notifyContentFormat": content_format, "notifyStrategy": "BACKOFF_RETRY"},
        source_arn=f"acs:mns:{REGION}:{ACCOUNT}:/topics/topic",
    )
    toy.account.get_topic("topic").publish_message(TopicMessage("published body"))
    wait_for(lambda: toy.invocations(), what="the topic push")
    event = toy.invocations()[0]["event"]
    if content_format == "STREAM":
        assert event == "published body"
    else:
        parsed = json.loads(event)
        assert (parsed["Message"], parsed["TopicName"]) == ("published body", "topic")
        assert isinstance(parsed["PublishTime"], int)


def test_topic_trigger_retries_a_failing_function(toy):
    toy.deploy(ALWAYS_FAIL="1")
    toy.mns.create_topic("topic")
    toy.fc.create_trigger(
        "svc",
        "fn",
        "t",
        "mns_topic",
        {"notifyContentFormat": "STREAM"},
        source_arn=f"acs:mns:{REGION}:{ACCOUNT}:/topics/topic",
    )
    toy.mns.publish_message("topic", "fails")
    running = toy.fc.running_trigger("svc", "fn", "t")
    wait_for(lambda: running.state()["given_up"] == 1, what="retries to end")
    assert [i["retry"] for i in toy.invocations()] == [0, 1, 2, 3]


_json_scalars = st.none() | st.booleans() | st.integers(-5, 20000) | st.text(max_size=12)
_json_values = st.recursive(
    _json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


@settings(deadline=None, max_examples=300)
@given(
    path=st.sampled_from(
        [
            ("eventSourceConfig", "eventSourceType"),
            ("eventSourceConfig", "eventSourceParameters", "sourceMNSParameters", "QueueName"),
            ("eventSourceConfig", "eventSourceParameters", "sourceMNSParameters", "IsBase64Decode"),
            ("eventSinkConfig", "deliveryOption", "eventSchema"),
            ("runOptions", "mode"),
            ("runOptions", "maximumTasks"),
            ("runOptions", "errorsTolerance"),
            ("runOptions", "retryStrategy", "PushRetryStrategy"),
            ("runOptions", "retryStrategy", "MaximumRetryAttempts"),
            ("runOptions", "retryStrategy", "MaximumEventAgeInSeconds"),
            ("runOptions", "deadLetterQueue", "Arn"),
            ("runOptions", "deadLetterQueue"),
            ("runOptions", "batchWindow"),
            ("eventSinkConfig",),
            ("eventSourceConfig", "eventSourceParameters"),
            ("runOptions", "batchWindow", "CountBasedWindow"),
            ("runOptions", "batchWindow", "TimeBasedWindow"),
        ]
    ),
    value=_json_values,
)
def test_trigger_config_parser_accepts_or_names_the_field(path, value):
    """Any value anywhere: a parsed config within the documented ranges, or InvalidArgument
    naming the field - never another exception."""
    config = queue_trigger_config()
    node = config
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    try:
        parsed = QueueTriggerConfig.parse(config)
    except FcError as exc:
        error = exc
    else:
        error = None
    if error is not None:
        assert (error.code, error.message[:15]) == ("InvalidArgument", "triggerConfig: ")
        return
    assert 1 <= parsed.batch_count <= 10000
    assert 0 <= parsed.batch_seconds <= 15
    assert parsed.maximum_tasks >= 1
    assert parsed.errors_tolerance in ("ALL", "NONE")
    assert parsed.mode in ("event-streaming", "event-driven")


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1, 2]",
        json.dumps(
            {"triggerName": "q", "triggerType": "eventbridge", "triggerConfig": [1]}
        ).encode(),
    ],
)
def test_malformed_create_trigger_bodies_are_invalid_argument_json(toy, localcloud, body):
    import email.utils

    import requests

    from localcloud.auth.fc import authorization, string_to_sign

    path = "/2016-08-15/services/svc/functions/fn/triggers"
    toy.deploy()
    headers = {"date": email.utils.formatdate(usegmt=True), "content-type": "application/json"}
    headers["authorization"] = authorization(
        DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET, string_to_sign("POST", path, headers)
    )
    response = requests.post(
        localcloud.cloud.base_url + path, data=body, headers=headers, timeout=10
    )
    assert response.status_code == 400
    assert response.json()["ErrorCode"] == "InvalidArgument"
    assert response.headers["X-Fc-Request-Id"]
