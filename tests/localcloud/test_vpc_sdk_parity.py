"""Every VPC action localcloud serves, through aliyunsdkcore (aliyunsdkvpc request classes) and
the Tea SDK (alibabacloud_vpc20160428, ACS3 and V1 signatures), checked field by field.

The check per action: the body aliyunsdkcore hands back (the raw JSON localcloud sent) equals
what the Tea SDK's typed response model holds (`body.to_map()` keeps only the fields the model
knows), so every field localcloud answers is one the Tea model parses, with the same value and
type. Every other VPC action (each aliyunsdkvpc request class) must be answered with the
gateway's own 404 InvalidApi.NotFound, through both SDKs, never a 500.
"""

from __future__ import annotations

import itertools
import pkgutil
from collections.abc import Callable
from typing import Any

import aliyunsdkvpc.request.v20160428 as core_requests
import pytest
from alibabacloud_vpc20160428 import models as tea_models
from alibabacloud_vpc20160428.client import Client as TeaClient
from aliyunsdkcore.acs_exception.exceptions import ServerException

from localcloud.vpc.responses import SERVED_ACTIONS
from tests.localcloud.conftest import SDKS, SdkError, _snake

REGION = "cn-shanghai"
_HOSTS = itertools.count(1)


def _gateway(vpc_backend, ip: str = "203.0.113.20") -> str:
    creation = vpc_backend.create_customer_gateway(
        REGION,
        ip,
        name="gw-parity",
        description="parity gateway",
        asn="65010",
        auth_key="s3cret",
        tags=[("env", "test")],
    )
    return creation.gateway.customer_gateway_id


def _without_request_id(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != "RequestId"}


def _tea_map(sdk, action: str, **params: Any) -> dict[str, Any]:
    return sdk.tea_call(action, **params).body.to_map()


# Per served action: (params given the backend, whether repeating it gives the same answer).
_Params = Callable[[Any], dict[str, Any]]
PARITY: dict[str, tuple[_Params, bool]] = {
    "DescribeRegions": (lambda backend: {"AcceptLanguage": "en-US"}, True),
    "DescribeCustomerGateways": (
        lambda backend: {"RegionId": REGION, "CustomerGatewayId": _gateway(backend)},
        True,
    ),
    "DescribeCustomerGateway": (
        lambda backend: {"RegionId": REGION, "CustomerGatewayId": _gateway(backend)},
        True,
    ),
    "ModifyCustomerGatewayAttribute": (
        lambda backend: {
            "RegionId": REGION,
            "CustomerGatewayId": _gateway(backend),
            "Name": "renamed",
            "Description": "changed",
        },
        True,
    ),
    "CreateCustomerGateway": (
        lambda backend: {
            "RegionId": REGION,
            "IpAddress": f"198.51.100.{next(_HOSTS)}",
            "Name": "created",
            "Description": "by parity",
            "Asn": "65020",
            "AuthKey": "k",
            "Tags": [{"Key": "env", "Value": "test"}],
        },
        False,  # a new gateway id per call
    ),
    "DeleteCustomerGateway": (
        lambda backend: {"RegionId": REGION, "CustomerGatewayId": _gateway(backend)},
        False,  # the second delete finds nothing
    ),
}


def _shape(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shape(v) for v in value]
    return type(value).__name__


@pytest.mark.parametrize("action", sorted(PARITY))
def test_served_action_parses_identically_in_every_sdk(action, make_sdk, vpc_backend, localcloud):
    make_params, repeatable = PARITY[action]
    if repeatable:
        params = make_params(vpc_backend)
        raw = _without_request_id(make_sdk("core").call(action, **params))
        for kind in ("tea-v3", "tea-v2"):
            assert _without_request_id(_tea_map(make_sdk(kind), action, **params)) == raw, kind
    else:
        raw = _without_request_id(make_sdk("core").call(action, **make_params(vpc_backend)))
        for kind in ("tea-v3", "tea-v2"):
            typed = _tea_map(make_sdk(kind), action, **make_params(vpc_backend))
            assert _shape(_without_request_id(typed)) == _shape(raw), kind
    statuses = {c["status"] for c in localcloud.cloud.calls.snapshot() if c["action"] == action}
    assert statuses == {200}


def test_modify_and_delete_change_what_describe_returns(make_sdk, vpc_backend):
    for kind in SDKS:
        sdk = make_sdk(kind)
        gateway = _gateway(vpc_backend, "192.0.2.10")
        sdk.call(
            "ModifyCustomerGatewayAttribute",
            RegionId=REGION,
            CustomerGatewayId=gateway,
            Name=f"n-{kind}",
        )
        one = sdk.call("DescribeCustomerGateway", RegionId=REGION, CustomerGatewayId=gateway)
        assert (one["Name"], one["Description"], one["Asn"]) == (
            f"n-{kind}",
            "parity gateway",
            65010,
        )
        sdk.call("DeleteCustomerGateway", RegionId=REGION, CustomerGatewayId=gateway)
        gone = sdk.error("DescribeCustomerGateway", RegionId=REGION, CustomerGatewayId=gateway)
        assert (gone.status, gone.code) == (404, "InvalidCustomerGatewayInstanceId.NotFound")


# --- every other action of the VPC API ----------------------------------------------------------
CORE_ACTIONS = sorted(
    m.name.removesuffix("Request")
    for m in pkgutil.iter_modules(core_requests.__path__)
    if m.name.endswith("Request")
)


def test_the_sdks_know_every_served_action():
    assert set(SERVED_ACTIONS) <= set(CORE_ACTIONS)
    assert all(callable(getattr(TeaClient, _snake(a), None)) for a in SERVED_ACTIONS)


def test_every_other_action_is_invalid_api_not_found_through_aliyunsdkcore(make_sdk, localcloud):
    core = make_sdk("core")
    others = [a for a in CORE_ACTIONS if a not in SERVED_ACTIONS]
    assert len(others) > 300  # the whole VPC API, not a sample
    answers = set()
    for action in others:
        request = core.core_request(action, RegionId=REGION)
        request.set_protocol_type("http")  # some request classes default to https
        with pytest.raises(ServerException) as caught:
            core.client.do_action_with_exception(request)
        answers.add((caught.value.get_http_status(), caught.value.get_error_code()))
    assert answers == {(404, "InvalidApi.NotFound")}
    assert {c["status"] for c in localcloud.cloud.calls.snapshot()} == {404}


@pytest.mark.parametrize("kind", ["tea-v3", "tea-v2"])
def test_every_other_action_is_invalid_api_not_found_through_tea(make_sdk, kind):
    sdk = make_sdk(kind)
    others = [
        a
        for a in CORE_ACTIONS
        if a not in SERVED_ACTIONS
        and hasattr(TeaClient, _snake(a))
        and hasattr(tea_models, f"{a}Request")
    ]
    assert len(others) > 300
    refused = set()
    for action in others:
        result = sdk.attempt(action)
        assert isinstance(result, SdkError), action
        refused.add((result.status, result.code))
    assert refused == {(404, "InvalidApi.NotFound")}
