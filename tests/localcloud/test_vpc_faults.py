"""Fault rules (PUT /_localcloud/faults) applied to VPC calls, seen through the official SDKs."""

from __future__ import annotations

import json
import time
import urllib.request

import pytest
from alibabacloud_tea_openapi.exceptions import ServerException, ThrottlingException
from darabonba.exceptions import RetryError, UnretryableException
from darabonba.runtime import RuntimeOptions

from localcloud.faults import FaultEngine

CREATE = "CreateCustomerGateway"
SH = {"RegionId": "cn-shanghai"}


def _admin(localcloud, method: str, route: str, data=None):
    body = None if data is None else json.dumps(data).encode()
    request = urllib.request.Request(
        f"{localcloud.cloud.base_url}/_localcloud/{route}",
        data=body,
        method=method,
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def test_error_rule_through_the_admin_api(sdk, localcloud, vpc_backend):
    _admin(
        localcloud,
        "PUT",
        "faults",
        [
            {
                "service": "vpc",
                "action": CREATE,
                "error": {
                    "code": "ServiceUnavailable",
                    "status": 503,
                    "message": "The request has failed due to a temporary failure of the server.",
                },
            }
        ],
    )
    error = sdk.error(CREATE, **SH, IpAddress="203.0.113.1")
    assert (error.code, error.status) == ("ServiceUnavailable", 503)
    assert "temporary failure of the server" in error.message
    if sdk.kind != "core":
        assert isinstance(error.exception, ServerException)
    assert vpc_backend.customer_gateways() == []
    # Other actions are unaffected.
    assert sdk.call("DescribeRegions")

    calls = _admin(localcloud, "GET", f"calls?service=vpc&action={CREATE}")
    assert [(c["status"], c["code"], c["fault"]) for c in calls] == [
        (503, "ServiceUnavailable", "rule 0: ServiceUnavailable")
    ]


@pytest.mark.parametrize(("probability", "fails"), [(0, False), (1, True)])
def test_error_probability_zero_and_one(sdk, localcloud, probability, fails):
    localcloud.cloud.faults.set_rules(
        [
            {
                "service": "vpc",
                "probability": probability,
                "error": {"code": "InternalError", "status": 500},
            }
        ]
    )
    for _ in range(3):
        if fails:
            assert sdk.error("DescribeRegions").code == "InternalError"
        else:
            assert sdk.call("DescribeRegions")["Regions"]


def test_seeded_probability_repeats_exactly(make_sdk, localcloud):
    rules = [
        {
            "service": "vpc",
            "probability": 0.5,
            "error": {"code": "ServiceUnavailable", "status": 503},
        }
    ]
    sdk = make_sdk("tea-v3")

    def outcomes() -> list[bool]:
        localcloud.cloud.faults = FaultEngine(rules, seed=20261125)
        results = []
        for _ in range(16):
            try:
                sdk.call("DescribeRegions")
                results.append(True)
            except ServerException:
                results.append(False)
        return results

    try:
        first, second = outcomes(), outcomes()
    finally:
        localcloud.cloud.faults = FaultEngine()
    assert first == second
    assert True in first
    assert False in first


def test_error_rule_with_retry_after_is_throttling(sdk, localcloud):
    localcloud.cloud.faults.set_rules(
        [
            {
                "service": "vpc",
                "action": CREATE,
                "retry_after_ms": 1500,
                "error": {
                    "code": "Throttling.User",
                    "status": 400,
                    "message": "Request was denied due to user flow control.",
                },
            }
        ]
    )
    error = sdk.error(CREATE, **SH, IpAddress="203.0.113.1")
    assert (error.code, error.status) == ("Throttling.User", 400)
    if sdk.kind != "core":
        assert isinstance(error.exception, ThrottlingException)
        assert error.exception.retry_after == 1500


def test_rate_limit(sdk, localcloud):
    localcloud.cloud.faults.set_rules(
        [{"service": "vpc", "action": "DescribeRegions", "rate_limit_qps": 0.2, "burst": 2}]
    )
    assert sdk.call("DescribeRegions")
    assert sdk.call("DescribeRegions")
    error = sdk.error("DescribeRegions")  # the bucket refills one token every 5 s
    assert (error.code, error.status) == ("Throttling.User", 400)
    assert "Request was denied due to user flow control." in error.message
    if sdk.kind != "core":
        assert isinstance(error.exception, ThrottlingException)
        assert 1 <= error.exception.retry_after <= 5000
    # Another action has its own budget.
    assert sdk.call("DescribeCustomerGateways", **SH)
    calls = localcloud.cloud.calls.snapshot()
    assert [c["code"] for c in calls] == [None, None, "Throttling.User", None]


def test_rate_limit_header_on_the_wire(make_sdk, localcloud):
    localcloud.cloud.faults.set_rules([{"service": "vpc", "rate_limit_qps": 0.5, "burst": 1}])
    core = make_sdk("core")
    core.call("DescribeRegions")
    status, headers, body, _ = core.client._implementation_of_do_action(
        core.core_request("DescribeRegions")
    )
    assert status == 400
    assert 1 <= int(headers["x-acs-retry-after"]) <= 2000
    assert json.loads(body)["Code"] == "Throttling.User"


def test_latency_delays_the_answer(make_sdk, localcloud):
    localcloud.cloud.faults.set_rules(
        [{"service": "vpc", "action": "DescribeRegions", "latency_ms": 400}]
    )
    tea = make_sdk("tea-v3")
    started = time.monotonic()
    assert tea.call("DescribeRegions")
    assert time.monotonic() - started >= 0.4
    # A client whose read timeout is shorter than the injected latency gives up.
    runtime = RuntimeOptions(read_timeout=100)
    with pytest.raises(UnretryableException) as info:
        tea.client.describe_regions_with_options(tea.tea_request("DescribeRegions"), runtime)
    assert "timed out" in str(info.value.inner_exception).lower()

    core = make_sdk("core")
    request = core.core_request("DescribeRegions")
    request.set_read_timeout(0.1)  # seconds in aliyunsdkcore
    with pytest.raises(Exception) as info:
        core.client.do_action_with_exception(request)
    assert info.value.get_error_code() == "SDK.HttpError"
    # Other actions are not delayed by this rule.
    fast = core.core_request("DescribeCustomerGateways")
    fast.set_read_timeout(0.3)
    assert json.loads(core.client.do_action_with_exception(fast))["TotalCount"] == 0
    # The server finishes the calls the clients gave up on; wait for them so that they are
    # not logged into the next test.
    deadline = time.monotonic() + 5
    while len(localcloud.cloud.calls.snapshot()) < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [c["action"] for c in localcloud.cloud.calls.snapshot()].count("DescribeRegions") == 3


def test_dropped_response_after_commit(sdk, localcloud, vpc_backend):
    localcloud.cloud.faults.set_rules(
        [{"service": "vpc", "action": CREATE, "drop_response_after_commit": True}]
    )
    error = sdk.connection_error(
        CREATE, **SH, IpAddress="203.0.113.1", ClientToken="lost-response-1"
    )
    if sdk.kind == "core":
        assert error.get_error_code() == "SDK.HttpError"
    else:
        assert isinstance(error, UnretryableException)
        assert isinstance(error.inner_exception, RetryError)
        assert "Remote end closed connection without response" in error.inner_exception.message
    (gateway,) = vpc_backend.customer_gateways()
    assert gateway.ip_address == "203.0.113.1"
    (call,) = localcloud.cloud.calls.snapshot()
    assert (call["status"], call["created"]) == (200, True)
    assert call["fault"] == "rule 0: drop_response_after_commit"

    # The client's retry with the same ClientToken gets the gateway that was committed.
    localcloud.cloud.faults.set_rules([])
    body = sdk.call(CREATE, **SH, IpAddress="203.0.113.1", ClientToken="lost-response-1")
    assert body["CustomerGatewayId"] == gateway.customer_gateway_id
    assert body["CreateTime"] == gateway.create_time
    assert localcloud.cloud.calls.snapshot()[-1]["created"] is False


def test_faults_apply_only_after_authentication(make_sdk, localcloud):
    localcloud.cloud.faults.set_rules(
        [{"service": "vpc", "error": {"code": "InternalError", "status": 500}}]
    )
    error = make_sdk("tea-v3", access_key_secret="wrong").error("DescribeRegions")
    assert error.code == "SignatureDoesNotMatch"
    (call,) = localcloud.cloud.calls.snapshot()
    assert call["fault"] is None


def test_fault_rules_for_other_services_do_not_touch_vpc(sdk, localcloud):
    localcloud.cloud.faults.set_rules(
        [{"service": "mns", "error": {"code": "InternalError", "status": 500}}]
    )
    assert sdk.call("DescribeRegions")
