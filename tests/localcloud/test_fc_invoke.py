"""FC InvokeFunction through the real fc2.Client against toy functions in temporary dirs."""

from __future__ import annotations

import base64
import json
import threading
from pathlib import Path

import fc2
import pytest

from localcloud.credentials import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET

TOY = """
import json, logging, os, sys, time, datetime, decimal

CALLS = 0

def initializer(context):
    global CALLS
    CALLS += 1

def counter(event, context):
    global CALLS
    CALLS += 1
    return str(CALLS)

def echo(event, context):
    return event

def text(event, context):
    return "caf\\u00e9"

def structured(event, context):
    return {"b": [1, 2], "a": decimal.Decimal("1.5"), "when": datetime.date(2026, 1, 2)}

def nothing(event, context):
    return None

def unserializable(event, context):
    return {"x": object()}

def describe(event, context):
    return {
        "event_type": type(event).__name__,
        "request_id": context.request_id,
        "requestId": context.requestId,
        "credentials": [context.credentials.access_key_id,
                        context.credentials.security_token != ""],
        "function": [context.function.name, context.function.handler,
                     context.function.memory, context.function.timeout],
        "service": [context.service.name, context.service.log_project, context.service.log_store,
                    context.service.qualifier],
        "region": context.region,
        "account_id": context.account_id,
        "retry_count": context.retry_count,
        "logger": context.getLogger().name,
        "to_json_keys": sorted(json.loads(context.to_json())),
        "env": {k: os.environ.get(k) for k in ("FC_FUNCTION_NAME", "FC_REGION", "MY_SETTING")},
        "instance": os.environ.get("FC_INSTANCE_ID"),
    }

def boom(event, context):
    raise ValueError("bad request: " + event.decode())

def slow(event, context):
    time.sleep(float(event or b"30"))
    return os.environ["FC_INSTANCE_ID"]

def crash(event, context):
    sys.exit(3)

def chatty(event, context):
    print("printed line")
    logging.getLogger().info("logged line %s", event.decode())
    return "ok"

def record(event, context):
    with open(event.decode(), "a") as fh:
        fh.write(str(context.retry_count) + "\\n")
    raise RuntimeError("always fails")

def touch(event, context):
    with open(event.decode(), "w") as fh:
        fh.write(context.request_id)
"""

BAD_INIT = """
def initializer(context):
    raise RuntimeError("init failed")

def handler(event, context):
    return "never"
"""


@pytest.fixture
def fc(localcloud):
    backend = localcloud.cloud.backends.fc
    backend.time_scale = 0.01
    yield backend
    backend.time_scale = 1.0


@pytest.fixture
def code(tmp_path) -> Path:
    (tmp_path / "index.py").write_text(TOY)
    return tmp_path


@pytest.fixture
def client(localcloud) -> fc2.Client:
    return fc2.Client(
        endpoint=localcloud.cloud.base_url,
        accessKeyID=DEFAULT_ACCESS_KEY_ID,
        accessKeySecret=DEFAULT_ACCESS_KEY_SECRET,
    )


def deploy(fc, code: Path, name: str, handler: str | None = None, **props):
    if "svc" not in fc.state()["services"]:
        fc.create_service("svc", log_project="proj", log_store="store")
    fc.create_function(
        "svc",
        name,
        handler=handler or f"index.{name}",
        runtime="python3.10",
        code_dir=str(code),
        **props,
    )


def test_return_values_become_the_body_as_fc_serialises_them(fc, code, client):
    for name in ("echo", "text", "structured", "nothing", "unserializable"):
        deploy(fc, code, name)
    assert client.invoke_function("svc", "echo", b"\x00\xffbinary").data == b"\x00\xffbinary"
    assert client.invoke_function("svc", "text").data == "café".encode()
    body = client.invoke_function("svc", "structured").data
    assert (
        body
        == json.dumps(
            {"b": [1, 2], "a": 1.5, "when": "2026-01-02"}, indent=4, sort_keys=True
        ).encode()
    )
    assert client.invoke_function("svc", "nothing").data == b"null"
    with pytest.raises(fc2.FcError) as caught:
        client.invoke_function("svc", "unserializable")
    assert json.loads(caught.value.message)["errorType"] == "TypeError"


def test_context_carries_fc_attributes(fc, code, client, localcloud):
    deploy(fc, code, "describe", memory=512, timeout=30, environment={"MY_SETTING": "on"})
    response = client.invoke_function("svc", "describe", b"{}", qualifier="LATEST")
    seen = json.loads(response.data)
    assert seen["event_type"] == "bytes"
    assert seen["request_id"] == seen["requestId"] == response.headers["X-Fc-Request-Id"]
    role = fc.role_credential
    assert seen["credentials"] == [role.access_key_id, True]
    assert localcloud.cloud.credentials.get(role.access_key_id) == role
    assert seen["function"] == ["describe", "index.describe", 512, 30]
    assert seen["service"] == ["svc", "proj", "store", "LATEST"]
    assert seen["region"] == localcloud.cloud.region
    assert seen["account_id"] == localcloud.cloud.account_id
    assert seen["retry_count"] == 0
    assert seen["logger"] == "root"
    assert seen["to_json_keys"] == [
        "accountId",
        "credentials",
        "function",
        "region",
        "requestId",
        "retryCount",
        "service",
    ]
    assert seen["env"] == {
        "FC_FUNCTION_NAME": "describe",
        "FC_REGION": "cn-shanghai",
        "MY_SETTING": "on",
    }


def test_initializer_runs_once_per_instance_and_instances_are_reused(fc, code, client):
    deploy(fc, code, "counter", initializer="index.initializer")
    assert client.invoke_function("svc", "counter").data == b"2"
    assert client.invoke_function("svc", "counter").data == b"3"
    assert fc.state()["functions"]["svc/counter"]["started"] == 1


def test_failing_initializer_fails_the_invocation_and_is_retried_on_a_new_instance(
    fc, tmp_path, client
):
    (tmp_path / "index.py").write_text(BAD_INIT)
    deploy(fc, tmp_path, "handler", initializer="index.initializer")
    for _ in range(2):
        with pytest.raises(fc2.FcError) as caught:
            client.invoke_function("svc", "handler")
        error = json.loads(caught.value.message)
        assert (error["errorType"], error["errorMessage"]) == ("RuntimeError", "init failed")
    assert fc.state()["functions"]["svc/handler"]["started"] == 2


def test_function_error_is_http_200_with_error_type_header(fc, code, client, localcloud):
    deploy(fc, code, "boom")
    with pytest.raises(fc2.FcError) as caught:
        client.invoke_function("svc", "boom", b"r1")
    error = caught.value
    assert (error.status_code, error.err_code) == (200, "")
    body = json.loads(error.message)
    assert body["errorType"] == "ValueError"
    assert body["errorMessage"] == "bad request: r1"
    frame = body["stackTrace"][-1]
    assert frame[0].endswith('index.py"')
    assert frame[2] == "in boom"
    assert body["RequestId"] == error.request_id
    call = localcloud.cloud.calls.snapshot()[-1]
    assert (call["service"], call["action"], call["status"], call["code"]) == (
        "fc",
        "InvokeFunction",
        200,
        "UnhandledInvocationError",
    )


def test_timeout_kills_the_instance_and_the_next_call_gets_a_fresh_one(fc, code, client):
    deploy(fc, code, "slow", timeout=1)
    with pytest.raises(fc2.FcError) as caught:
        client.invoke_function("svc", "slow", b"30")
    assert json.loads(caught.value.message)["errorMessage"].startswith(
        "Function timed out after 1 seconds (maxMemoryUsage: "
    )
    assert client.invoke_function("svc", "slow", b"0").data.endswith(b"-2")


def test_process_exit_is_reported_as_unexpected_exit(fc, code, client):
    deploy(fc, code, "crash")
    with pytest.raises(fc2.FcError) as caught:
        client.invoke_function("svc", "crash")
    assert json.loads(caught.value.message)["errorMessage"].startswith(
        "Process exited unexpectedly before completing request"
    )


def test_load_errors_name_the_missing_module_or_handler(fc, code, client):
    deploy(fc, code, "nomodule", handler="missing.handler")
    deploy(fc, code, "nohandler", handler="index.absent")
    expected = {"nomodule": "ImportModuleError", "nohandler": "HandlerNotFound"}
    for name, error_type in expected.items():
        with pytest.raises(fc2.FcError) as caught:
            client.invoke_function("svc", name)
        assert json.loads(caught.value.message)["errorType"] == error_type


def test_unknown_service_and_function_are_404_json(fc, code, client):
    deploy(fc, code, "echo")
    for service, function, code_ in (
        ("nope", "echo", "ServiceNotFound"),
        ("svc", "nope", "FunctionNotFound"),
    ):
        with pytest.raises(fc2.FcError) as caught:
            client.invoke_function(service, function)
        assert (caught.value.status_code, caught.value.err_code) == (404, code_)
        assert caught.value.request_id not in ("", "unknown")


def test_logs_are_captured_and_tail_is_returned(fc, code, client):
    deploy(fc, code, "chatty")
    response = client.invoke_function("svc", "chatty", b"x1", headers={"x-fc-log-type": "Tail"})
    tail = base64.b64decode(response.headers["X-Fc-Log-Result"]).decode()
    request_id = response.headers["X-Fc-Request-Id"]
    assert f"FC Invoke Start RequestId: {request_id}" in tail
    assert "printed line" in tail
    assert f"{request_id} [INFO] logged line x1" in tail
    assert "printed line" in fc.logs("chatty")


def test_async_returns_202_and_runs_in_the_background(fc, code, client, tmp_path):
    deploy(fc, code, "touch")
    marker = tmp_path / "touched"
    response = client.invoke_function(
        "svc", "touch", str(marker).encode(), headers={"x-fc-invocation-type": "Async"}
    )
    assert response.data == b""
    assert fc.wait_async(30)
    assert marker.read_text() == response.headers["X-Fc-Request-Id"]


def test_async_function_error_is_retried_three_times(fc, code, client, tmp_path):
    deploy(fc, code, "record")
    attempts = tmp_path / "attempts"
    client.invoke_function(
        "svc", "record", str(attempts).encode(), headers={"x-fc-invocation-type": "Async"}
    )
    assert fc.wait_async(30)
    assert attempts.read_text().split() == ["0", "1", "2", "3"]


def test_instances_scale_out_up_to_the_limit(fc, code, client):
    deploy(fc, code, "slow", max_instances=2, timeout=30)
    results: list[bytes] = []
    threads = [
        threading.Thread(
            target=lambda: results.append(client.invoke_function("svc", "slow", b"1").data)
        )
        for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(results) == 3
    assert len(set(results)) == 2  # the third call waited for a warm instance
    assert fc.state()["functions"]["svc/slow"]["started"] == 2


def test_fault_rules_apply_to_invoke(fc, code, client, localcloud):
    deploy(fc, code, "echo")
    localcloud.cloud.faults.set_rules(
        [
            {
                "service": "fc",
                "action": "InvokeFunction",
                "error": {"status": 503, "code": "ResourceThrottled", "message": "busy"},
            }
        ]
    )
    with pytest.raises(fc2.FcError) as caught:
        client.invoke_function("svc", "echo", b"x")
    assert (caught.value.status_code, caught.value.err_code) == (503, "ResourceThrottled")
    localcloud.cloud.faults.set_rules(
        [{"service": "fc", "action": "InvokeFunction", "rate_limit_qps": 0.001, "burst": 1}]
    )
    assert client.invoke_function("svc", "echo", b"first").data == b"first"
    with pytest.raises(fc2.FcError) as caught:
        client.invoke_function("svc", "echo", b"second")
    assert (caught.value.status_code, caught.value.err_code) == (429, "ResourceExhausted")
    assert localcloud.cloud.calls.snapshot()[-1]["fault"].startswith("rule 0")


def test_get_function_returns_its_configuration(fc, code, client):
    deploy(fc, code, "echo", initializer="index.initializer", timeout=20, memory=256)
    data = client.get_function("svc", "echo").data
    assert (data["functionName"], data["runtime"], data["handler"], data["initializer"]) == (
        "echo",
        "python3.10",
        "index.echo",
        "index.initializer",
    )
    assert (data["timeout"], data["memorySize"]) == (20, 256)


def test_invalid_runtime_is_refused(fc, code):
    from localcloud.fc.models import FcError

    fc.create_service("svc")
    with pytest.raises(FcError, match="not a valid FC runtime") as caught:
        fc.create_function(
            "svc", "echo", handler="index.echo", runtime="python3.99", code_dir=str(code)
        )
    assert (caught.value.status, caught.value.code) == (400, "InvalidArgument")


def test_only_the_latest_qualifier_exists(fc, code, client):
    deploy(fc, code, "echo")
    assert client.invoke_function("svc", "echo", b"q", qualifier="LATEST").data == b"q"
    for qualifier, error in (("prod", "AliasNotFound"), ("3", "VersionNotFound")):
        with pytest.raises(fc2.FcError) as caught:
            client.invoke_function("svc", "echo", b"q", qualifier=qualifier)
        assert (caught.value.status_code, caught.value.err_code) == (404, error)
