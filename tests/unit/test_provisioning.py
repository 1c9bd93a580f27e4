"""provisioning: one request -> one Outcome through a fake VPC port."""

from __future__ import annotations

import json

import pytest

from cgw_provisioner.events import Delivery
from cgw_provisioner.provisioning import Provisioner, VpcApiError
from cgw_provisioner.retry import Deadline, FullJitterPolicy, RetryBudgetExhaustedError
from cgw_provisioner.validation import ProvisioningRequest, RequestValidator

from .fakes import FakeVpc

VALIDATOR = RequestValidator()


class Log:
    def __init__(self):
        self.events = []

    def info(self, event, **fields):
        self.events.append(event)

    warning = error = debug = info


def _request(**fields):
    body = json.dumps({"RegionId": "cn-shanghai", "IpAddress": "203.0.113.10", **fields}).encode()
    verdict = VALIDATOR.validate(body)
    assert isinstance(verdict, ProvisioningRequest)
    return verdict, Delivery("mns-queue", "MSG-1", body)


def _provision(vpc, request, delivery, *, adopt=True, max_attempts=8, deadline_in=60.0):
    provisioner = Provisioner(
        vpc, FullJitterPolicy(base=0.0), max_attempts=max_attempts, adopt_existing=adopt
    )
    import time

    return provisioner.provision(request, delivery, Deadline(time.monotonic() + deadline_in), Log())


def test_created_with_the_requests_own_token():
    vpc = FakeVpc()
    outcome = _provision(vpc, *_request(ClientToken="tok-1", Name="gw", Asn="1.10"))
    assert outcome.created
    assert outcome.client_token == "tok-1"
    assert vpc.create_calls[0]["ClientToken"] == "tok-1"
    assert vpc.create_calls[0]["Asn"] == "65546"  # a.b converted by the core
    assert outcome.customer_gateway["Asn"] == 65546
    assert outcome.attempts == 1
    assert outcome.vpc_request_id == "REQ-1"


def test_derived_token_when_the_request_has_none_and_every_retry_reuses_it():
    lost = VpcApiError("SDK.HttpError", "connection reset")
    vpc = FakeVpc(errors=[lost, VpcApiError("Throttling.User", "x", http_status=400), None])
    request, delivery = _request()
    outcome = _provision(vpc, request, delivery)
    assert outcome.created
    tokens = {call["ClientToken"] for call in vpc.create_calls}
    assert tokens == {"cgw-972241e0022e249d496754586834b1595f8fde66"}  # golden (contract v1)
    assert outcome.attempts == 3


def test_permanent_error_becomes_a_failure_with_the_apis_fields():
    error = VpcApiError("Forbidden", "User not authorized", http_status=403, request_id="RID")
    vpc = FakeVpc(errors=[error])
    outcome = _provision(vpc, *_request())
    assert not outcome.created
    assert (outcome.error.code, outcome.error.message, outcome.error.http_status) == (
        "Forbidden",
        "User not authorized",
        403,
    )
    assert outcome.error.retryable is False
    assert outcome.vpc_request_id == "RID"


def test_error_messages_lose_the_requests_auth_key():
    error = VpcApiError("InvalidParameter", "AuthKey s3cr3t-key is odd", http_status=400)
    outcome = _provision(FakeVpc(errors=[error]), *_request(AuthKey="s3cr3t-key"))
    assert "s3cr3t-key" not in outcome.error.message


def test_transient_beyond_the_budget_is_handed_back():
    vpc = FakeVpc(errors=[VpcApiError("InternalError", "x", http_status=500)] * 3)
    with pytest.raises(RetryBudgetExhaustedError) as raised:
        _provision(vpc, *_request(), max_attempts=3)
    assert raised.value.attempts == 3


@pytest.mark.parametrize(
    ("existing", "request_fields", "adopted"),
    [
        ({"Name": "gw"}, {"Name": "gw"}, True),
        ({"Name": "gw", "Asn": "65001"}, {"Asn": 65001}, True),  # only fields given must match
        ({}, {}, True),
        ({"Name": "gw"}, {"Name": "other"}, False),
        ({"Description": "office a"}, {"Description": "office b"}, False),
        ({"Asn": "65001"}, {"Asn": "65002"}, False),
    ],
)
def test_already_exist_adoption(existing, request_fields, adopted):
    vpc = FakeVpc()
    for i in range(70):  # the match sits on page 2
        vpc.add(f"198.51.100.{i}")
    gateway = vpc.add("203.0.113.10", **existing)
    outcome = _provision(vpc, *_request(ClientToken="new", **request_fields))
    assert [call[1] for call in vpc.describe_calls] == [1, 2]
    assert all(call[2] == 50 for call in vpc.describe_calls)
    if adopted:
        assert outcome.created
        assert outcome.adopted
        assert outcome.customer_gateway["CustomerGatewayId"] == gateway["CustomerGatewayId"]
    else:
        assert outcome.error.code == "InvalidIpAddress.AlreadyExist"
        assert gateway["CustomerGatewayId"] in outcome.error.message
        detail = outcome.error.details[0]
        assert (
            detail["existingCustomerGateway"]["CustomerGatewayId"] == gateway["CustomerGatewayId"]
        )


def test_adoption_switched_off():
    vpc = FakeVpc()
    vpc.add("203.0.113.10")
    outcome = _provision(vpc, *_request(), adopt=False)
    assert outcome.error.code == "InvalidIpAddress.AlreadyExist"
    assert vpc.describe_calls == []


def test_gateway_gone_between_create_and_describe_is_transient():
    vpc = FakeVpc(errors=[VpcApiError("InvalidIpAddress.AlreadyExist", "x", http_status=400)])
    with pytest.raises(RetryBudgetExhaustedError):
        _provision(vpc, *_request())


def test_describe_refused_keeps_the_already_exist_failure():
    class Refusing(FakeVpc):
        def describe_customer_gateways(self, *args, **kwargs):
            raise VpcApiError("Forbidden", "no describe", http_status=403)

    vpc = Refusing()
    vpc.add("203.0.113.10")
    outcome = _provision(vpc, *_request())
    assert outcome.error.code == "InvalidIpAddress.AlreadyExist"
    assert "Forbidden" in outcome.error.message
