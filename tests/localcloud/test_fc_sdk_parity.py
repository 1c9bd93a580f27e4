"""The FC operations fc2.Client offers, over HTTP against localcloud.

Served operations (invoke sync and async, services, functions, triggers) are checked field by
field; every operation in localcloud.fc.unsupported is called once and must get FC's own
400 PathNotSupported answer, parsed by fc2 as an FcError (never a 500, never a hang).
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import fc2
import pytest
import websocket

from localcloud.credentials import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET
from localcloud.fc.unsupported import UNSUPPORTED
from tests.localcloud.sdk_coverage import covers
from tests.localcloud.test_triggers import wait_for

CODE = """
import os

def handler(event, context):
    with open(os.environ["RECORD"], "ab") as fh:
        fh.write(event + b"\\n")
    print("handled", len(event))
    if event == b"fail":
        raise ValueError("asked to fail")
    return b"got:" + event
"""


@pytest.fixture
def client(localcloud) -> fc2.Client:
    return fc2.Client(
        endpoint=localcloud.cloud.base_url,
        accessKeyID=DEFAULT_ACCESS_KEY_ID,
        accessKeySecret=DEFAULT_ACCESS_KEY_SECRET,
    )


@pytest.fixture
def record(localcloud, tmp_path) -> Path:
    """A deployed svc/fn whose handler appends each event to the returned file."""
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "index.py").write_text(CODE)
    out = tmp_path / "record.txt"
    fc = localcloud.cloud.backends.fc
    fc.create_service("svc", description="parity", log_project="proj", log_store="store")
    fc.create_function(
        "svc",
        "fn",
        handler="index.handler",
        runtime="python3.10",
        code_dir=str(tmp_path / "code"),
        memory=256,
        timeout=10,
        environment={"RECORD": str(out)},
    )
    return out


def _lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines() if path.exists() else []


@covers("fc2.Client.invoke_function")
def test_invoke_sync_returns_the_body_headers_and_log_tail(client, record):
    response = client.invoke_function("svc", "fn", b"ping", headers={"X-Fc-Log-Type": "Tail"})
    assert response.data == b"got:ping"
    assert response.headers["X-Fc-Request-Id"]
    assert "X-Fc-Error-Type" not in response.headers
    tail = base64.b64decode(response.headers["X-Fc-Log-Result"]).decode()
    assert "handled 4" in tail
    assert _lines(record) == [b"ping"]
    latest = client.invoke_function("svc", "fn", b"again", qualifier="LATEST")
    assert latest.data == b"got:again"


@covers("fc2.Client.invoke_function")
def test_invoke_sync_function_error_is_unhandled_invocation_error(client, record):
    with pytest.raises(fc2.FcError) as caught:
        client.invoke_function("svc", "fn", b"fail")
    error = json.loads(caught.value.message)
    assert (error["errorType"], error["errorMessage"]) == ("ValueError", "asked to fail")
    assert caught.value.request_id


@covers("fc2.Client.invoke_function")
def test_invoke_async_answers_202_then_runs(client, record):
    response = client.invoke_function(
        "svc", "fn", b"later", headers={"X-Fc-Invocation-Type": "Async"}
    )
    assert response.data == b""
    assert response.headers["X-Fc-Request-Id"]
    assert wait_for(lambda: _lines(record), 10, "the record file") == [b"later"]


@covers("fc2.Client.invoke_function")
def test_invoke_missing_function_and_bad_qualifier(client, record):
    with pytest.raises(fc2.FcError) as caught:
        client.invoke_function("svc", "nope", b"")
    assert (caught.value.status_code, caught.value.err_code) == (404, "FunctionNotFound")
    with pytest.raises(fc2.FcError) as caught:
        client.invoke_function("svc", "fn", b"", qualifier="1")
    assert (caught.value.status_code, caught.value.err_code) == (404, "VersionNotFound")


@covers("fc2.Client.get_service", "fc2.Client.get_function")
def test_get_service_and_function_field_by_field(client, record):
    service = client.get_service("svc").data
    assert service["serviceName"] == "svc"
    assert service["description"] == "parity"
    assert service["logConfig"] == {"project": "proj", "logstore": "store"}
    assert service["createdTime"].endswith("Z")
    function = client.get_function("svc", "fn").data
    assert (function["functionName"], function["handler"]) == ("fn", "index.handler")
    assert (function["runtime"], function["memorySize"], function["timeout"]) == (
        "python3.10",
        256,
        10,
    )
    assert function["environmentVariables"] == {"RECORD": str(record)}
    with pytest.raises(fc2.FcError) as caught:
        client.get_service("nope")
    assert (caught.value.status_code, caught.value.err_code) == (404, "ServiceNotFound")


@covers(
    "fc2.Client.create_trigger",
    "fc2.Client.get_trigger",
    "fc2.Client.update_trigger",
    "fc2.Client.delete_trigger",
)
def test_trigger_life_cycle_delivers_topic_messages(client, record, localcloud):
    cloud = localcloud.cloud
    mns = cloud.backends.mns
    mns.create_topic("events")
    arn = f"acs:mns:{cloud.region}:{cloud.account_id}:/topics/events"
    role = f"acs:ram::{cloud.account_id}:role/fc-invoke"
    created = client.create_trigger(
        "svc", "fn", "topic", "mns_topic", {"notifyContentFormat": "STREAM"}, arn, role
    ).data
    assert (created["triggerName"], created["triggerType"]) == ("topic", "mns_topic")
    assert (created["sourceArn"], created["invocationRole"]) == (arn, role)
    assert created["triggerConfig"] == {"notifyContentFormat": "STREAM"}

    mns.publish_message("events", "hello")
    assert wait_for(lambda: _lines(record), 10, "the record file") == [b"hello"]

    got = client.get_trigger("svc", "fn", "topic").data
    assert got == created
    updated = client.update_trigger("svc", "fn", "topic", description="changed").data
    assert updated["description"] == "changed"
    assert client.get_trigger("svc", "fn", "topic").data["description"] == "changed"

    client.delete_trigger("svc", "fn", "topic")
    with pytest.raises(fc2.FcError) as caught:
        client.get_trigger("svc", "fn", "topic")
    assert (caught.value.status_code, caught.value.err_code) == (404, "TriggerNotFound")


# --- what localcloud refuses -------------------------------------------------------------------
_ARN = "acs:fc:cn-shanghai:1234567890123456:services/svc"
_CALLS: dict[str, Callable[[fc2.Client], Any]] = {
    "create_service": lambda c: c.create_service("svc2"),
    "update_service": lambda c: c.update_service("svc", description="x"),
    "delete_service": lambda c: c.delete_service("svc"),
    "list_services": lambda c: c.list_services(),
    "create_function": lambda c: c.create_function(
        "svc", "fn2", "python3.10", "index.handler", codeOSSBucket="b", codeOSSObject="o"
    ),
    "update_function": lambda c: c.update_function("svc", "fn", description="x"),
    "delete_function": lambda c: c.delete_function("svc", "fn"),
    "list_functions": lambda c: c.list_functions("svc"),
    "get_function_code": lambda c: c.get_function_code("svc", "fn"),
    "list_triggers": lambda c: c.list_triggers("svc", "fn"),
    "publish_version": lambda c: c.publish_version("svc"),
    "list_versions": lambda c: c.list_versions("svc"),
    "delete_version": lambda c: c.delete_version("svc", "1"),
    "create_alias": lambda c: c.create_alias("svc", "prod", "1"),
    "update_alias": lambda c: c.update_alias("svc", "prod", "1"),
    "get_alias": lambda c: c.get_alias("svc", "prod"),
    "delete_alias": lambda c: c.delete_alias("svc", "prod"),
    "list_aliases": lambda c: c.list_aliases("svc"),
    "create_custom_domain": lambda c: c.create_custom_domain("example.com"),
    "update_custom_domain": lambda c: c.update_custom_domain("example.com"),
    "get_custom_domain": lambda c: c.get_custom_domain("example.com"),
    "delete_custom_domain": lambda c: c.delete_custom_domain("example.com"),
    "list_custom_domains": lambda c: c.list_custom_domains(),
    "put_provision_config": lambda c: c.put_provision_config("svc", "prod", "fn", 1),
    "get_provision_config": lambda c: c.get_provision_config("svc", "prod", "fn"),
    "list_provision_configs": lambda c: c.list_provision_configs("svc", "prod"),
    "put_on_demand_config": lambda c: c.put_on_demand_config("svc", "prod", "fn", 1),
    "get_on_demand_config": lambda c: c.get_on_demand_config("svc", "prod", "fn"),
    "delete_on_demand_config": lambda c: c.delete_on_demand_config("svc", "prod", "fn"),
    "list_on_demand_config": lambda c: c.list_on_demand_config(),
    "list_reserved_capacities": lambda c: c.list_reserved_capacities(),
    "put_function_async_invoke_config": lambda c: c.put_function_async_invoke_config(
        "svc", "LATEST", "fn", {"maxAsyncRetryAttempts": 1}
    ),
    "get_function_async_invoke_config": lambda c: c.get_function_async_invoke_config(
        "svc", "LATEST", "fn"
    ),
    "delete_function_async_invoke_config": lambda c: c.delete_function_async_invoke_config(
        "svc", "LATEST", "fn"
    ),
    "list_function_async_invoke_configs": lambda c: c.list_function_async_invoke_configs(
        "svc", "fn"
    ),
    "get_account_settings": lambda c: c.get_account_settings(),
    "get_resource_tags": lambda c: c.get_resource_tags(_ARN),
    "tag_resource": lambda c: c.tag_resource(_ARN, {"k": "v"}),
    "untag_resource": lambda c: c.untag_resource(_ARN, ["k"]),
    "list_instances": lambda c: c.list_instances("svc", "LATEST", "fn"),
}


def test_every_unsupported_operation_has_a_call_here():
    handled_elsewhere = {"do_http_request", "instance_exec", "websocket"}
    assert set(_CALLS) | handled_elsewhere == set(UNSUPPORTED)


@pytest.mark.parametrize("method", sorted(_CALLS))
def test_unsupported_operation_gets_path_not_supported(client, record, localcloud, method):
    with pytest.raises(fc2.FcError) as caught:
        _CALLS[method](client)
    error = caught.value
    assert (error.status_code, error.err_code) == (400, "PathNotSupported")
    assert "is not supported" in json.loads(error.message)["ErrorMessage"]
    assert error.request_id
    (call,) = localcloud.cloud.calls.snapshot()
    assert (call["status"], call["code"]) == (400, "PathNotSupported")


def test_http_trigger_request_gets_path_not_supported(client, record):
    response = client.do_http_request("GET", "svc", "fn", "/hello")
    assert response.status_code == 400
    assert response.json()["ErrorCode"] == "PathNotSupported"


def test_instance_exec_websocket_handshake_is_refused(client, record):
    errors: list[Exception] = []
    session = client.instance_exec(
        "svc",
        "LATEST",
        "fn",
        "i-1",
        {"command": ["ls"]},
        {"on_error": lambda _, e: errors.append(e)},
    )
    runner = threading.Thread(target=session.ws.run_forever, daemon=True)
    runner.start()
    runner.join(10)
    assert not runner.is_alive()
    (error,) = errors
    assert isinstance(error, websocket.WebSocketBadStatusException)
    assert error.status_code == 400
