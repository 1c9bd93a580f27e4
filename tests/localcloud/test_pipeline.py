"""localcloud/pipeline.py's contract, with a toy service (the real ones run on it in every other
test here): the order of the steps, what reaches the call log, and when a response is dropped."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request, Response

from localcloud import pipeline
from localcloud.calls import Call
from localcloud.core import Cloud, DropConnection, ServiceError
from localcloud.credentials import Credential
from localcloud.faults import FaultError

KEY = Credential("AK-toy", "toy-secret", allowed_actions=frozenset({"Echo", "Boom"}))


@dataclass
class ToyExchange(pipeline.Exchange):
    key: str = ""


class Toy:
    """`GET /<Action>` signed by the header `X-Key`; errors as JSON {"code": ...}."""

    service = "vpc"  # (the fault engine knows vpc, mns and fc)
    long_running: frozenset[str] = frozenset()

    def __init__(self, cloud: Cloud) -> None:
        self.cloud = cloud
        self.steps: list[str] = []
        self.committed: list[str] = []

    def read(self, request: Request) -> ToyExchange:
        action = request.path.strip("/") or None
        self.steps.append("read")
        return ToyExchange(
            request=request,
            request_id="req-1",
            action=action,
            call=Call("vpc", action or "Unknown", {"AuthKey": "secret-key", **request.args}),
            key=request.headers.get("X-Key", ""),
        )

    def authenticate(self, exchange: ToyExchange) -> Credential:
        self.steps.append("authenticate")
        credential = self.cloud.credentials.get(exchange.key)
        if credential is None:
            raise ServiceError("InvalidAccessKeyId.NotFound", 404, "no such key")
        return credential

    def resolve(self, exchange: ToyExchange, credential: Credential) -> pipeline.Handler:
        self.steps.append("resolve")
        action = exchange.action or ""
        if action not in ("Echo", "Boom", "Refuse"):
            raise ServiceError("InvalidApi.NotFound", 404, f"no action {action}")
        if not credential.allows(action):
            raise ServiceError("Forbidden", 403, "not allowed")

        def handle() -> Response:
            self.steps.append("handler")
            if action == "Boom":
                raise KeyError("a localcloud bug")
            self.committed.append(action)
            return Response(json.dumps(dict(exchange.request.args)), 200)

        return handle

    def fault_error(self, exchange: ToyExchange, fault: FaultError) -> ServiceError:
        return ServiceError(fault.code, fault.status, fault.message, fault.retry_after_ms)

    def internal_error(self, exchange: ToyExchange, exc: Exception) -> ServiceError:
        return ServiceError("InternalError", 500, "internal error")

    def render_error(self, exchange: ToyExchange, error: ServiceError) -> Response:
        return Response(json.dumps({"code": error.code}), error.status)

    def finish(self, exchange: ToyExchange, response: Response) -> None:
        response.headers["x-request-id"] = exchange.request_id


@pytest.fixture
def toy():
    cloud = Cloud()
    cloud.credentials.add(KEY)
    return Toy(cloud)


def _run(toy: Toy, path: str, key: str = KEY.access_key_id, **args: str) -> Response:
    environ = EnvironBuilder(path=path, query_string=args, headers={"X-Key": key}).get_environ()
    return pipeline.run(toy.cloud, toy, Request(environ))


def test_a_call_runs_every_step_in_order_and_is_recorded_without_secrets(toy):
    response = _run(toy, "/Echo", Name="n")
    assert (response.status_code, json.loads(response.get_data())) == (200, {"Name": "n"})
    assert response.headers["x-request-id"] == "req-1"
    assert toy.steps == ["read", "authenticate", "resolve", "handler"]
    [call] = toy.cloud.calls.snapshot()
    assert (call["action"], call["status"], call["code"]) == ("Echo", 200, None)
    assert call["access_key_id"] == KEY.access_key_id
    assert call["parameters"] == {"Name": "n"}  # AuthKey is never recorded


def test_a_bad_signature_stops_before_the_action_is_resolved(toy):
    response = _run(toy, "/Echo", key="nobody")
    assert (response.status_code, json.loads(response.get_data())) == (
        404,
        {"code": "InvalidAccessKeyId.NotFound"},
    )
    assert toy.steps == ["read", "authenticate"]
    [call] = toy.cloud.calls.snapshot()
    assert (call["status"], call["code"], call["access_key_id"]) == (
        404,
        "InvalidAccessKeyId.NotFound",
        None,
    )


def test_the_credentials_policy_refuses_before_faults_and_handler(toy):
    toy.cloud.faults.set_rules([{"service": "vpc", "latency_ms": 1}])
    response = _run(toy, "/Refuse")
    assert json.loads(response.get_data()) == {"code": "Forbidden"}
    [call] = toy.cloud.calls.snapshot()
    assert (call["code"], call["fault"]) == ("Forbidden", None)  # no fault rule was consulted


def test_a_fault_rule_error_is_rendered_by_the_service_and_names_its_rule(toy):
    toy.cloud.faults.set_rules(
        [{"service": "vpc", "action": "Echo", "error": {"code": "Throttling.User", "status": 400}}]
    )
    response = _run(toy, "/Echo")
    assert json.loads(response.get_data()) == {"code": "Throttling.User"}
    assert toy.committed == []
    [call] = toy.cloud.calls.snapshot()
    assert call["fault"] == "rule 0: Throttling.User"


def test_a_bug_is_answered_in_the_wire_format_and_recorded(toy):
    response = _run(toy, "/Boom")
    assert (response.status_code, json.loads(response.get_data())) == (
        500,
        {"code": "InternalError"},
    )
    assert response.headers["x-request-id"] == "req-1"
    [call] = toy.cloud.calls.snapshot()
    assert (call["status"], call["code"]) == (500, "InternalError")


def test_a_dropped_response_is_recorded_after_the_change_is_committed(toy):
    toy.cloud.faults.set_rules(
        [{"service": "vpc", "action": "Echo", "drop_response_after_commit": True}]
    )
    with pytest.raises(DropConnection):
        _run(toy, "/Echo")
    assert toy.committed == ["Echo"]
    [call] = toy.cloud.calls.snapshot()
    assert (call["status"], call["fault"]) == (200, "rule 0: drop_response_after_commit")
