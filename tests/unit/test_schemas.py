"""The JSON Schemas: valid 2020-12, their examples hold, and built events validate against them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator, FormatChecker

from cgw_provisioner.events import decode_event
from cgw_provisioner.outcomes import Outcome, OutcomeError, event_source, rejected, to_cloud_event
from cgw_provisioner.validation import ProvisioningRequest, RequestValidator, load_schema

ROOT = Path(__file__).resolve().parents[2]
SOURCE = event_source(
    "cn-shanghai", "1234567890123456", "cgw-provisioner", "create-customer-gateway"
)
TIME = "2026-11-25T08:00:00Z"


@pytest.fixture(scope="module")
def outcome_validator():
    return Draft202012Validator(load_schema("provisioning-outcome"), format_checker=FormatChecker())


def errors(validator, instance) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(instance)]


@pytest.mark.parametrize("name", ["provisioning-request", "provisioning-outcome"])
def test_schema_is_valid_draft_2020_12(name):
    schema = load_schema(name)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)


def test_function_dir_sees_the_same_schemas():
    linked = ROOT / "functions" / "create_customer_gateway" / "schemas"
    for path in (ROOT / "schemas").glob("*.schema.json"):
        assert (linked / path.name).read_bytes() == path.read_bytes()


def test_request_schema_examples_are_valid_requests():
    validator = RequestValidator()
    for example in load_schema("provisioning-request")["examples"]:
        assert isinstance(validator.validate(json.dumps(example).encode()), ProvisioningRequest)


def test_request_schema_checks_ipv4_format_with_the_format_checker():
    schema = load_schema("provisioning-request")
    strict = Draft202012Validator(schema, format_checker=FormatChecker())
    assert not strict.is_valid({"RegionId": "cn-shanghai", "IpAddress": "203.0.113.999"})
    assert strict.is_valid({"RegionId": "cn-shanghai", "IpAddress": "203.0.113.9"})


def every_sample_delivery():
    for path in sorted((ROOT / "events").glob("*.*")):
        yield from decode_event(path.read_bytes())


def test_every_sample_outcome_validates(outcome_validator):
    validator = RequestValidator()
    checked = 0
    for delivery in every_sample_delivery():
        result = validator.validate(delivery.body)
        if isinstance(result, ProvisioningRequest):
            outcome = Outcome(
                delivery=delivery,
                client_token=result.client_token or delivery.derived_client_token(),
                request_fields=result.fields,
                attempts=1,
                vpc_request_id="D32B3C26-6C6C-4988-93E9-D2A6444CE6AE",
                customer_gateway={
                    "CustomerGatewayId": "cgw-uf6abc",
                    "IpAddress": result.ip_address,
                },
            )
        else:
            outcome = rejected(delivery, result)
        event = to_cloud_event(outcome, source=SOURCE, time=TIME)
        assert errors(outcome_validator, event) == []
        checked += 1
    assert checked >= 20


def test_outcome_schema_tells_the_two_types_apart(outcome_validator):
    delivery = next(every_sample_delivery())
    created = Outcome(delivery, "tok", None, 1, "R", {"CustomerGatewayId": "cgw-1"}, adopted=False)
    event = to_cloud_event(created, source=SOURCE, time=TIME)
    assert errors(outcome_validator, event) == []
    mixed = json.loads(json.dumps(event))
    mixed["data"]["error"] = {
        "code": "X",
        "message": "",
        "httpStatus": None,
        "retryable": False,
        "details": [],
    }
    assert errors(outcome_validator, mixed)
    relabelled = dict(event, type="vpc.customergateway.failed")
    assert errors(outcome_validator, relabelled)
    unmasked = json.loads(json.dumps(event))
    unmasked["data"]["request"] = {"AuthKey": "secret"}
    assert errors(outcome_validator, unmasked)
    unmasked = json.loads(json.dumps(event))
    unmasked["data"]["customerGateway"]["AuthKey"] = "secret"
    assert errors(outcome_validator, unmasked)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(["mns-queue", "mns-topic", "direct"]),
    st.integers(0, 10),
    st.one_of(st.none(), st.integers(100, 599)),
    st.booleans(),
    st.booleans(),
)
def test_built_events_validate(kind, attempts, status, retryable, ok):
    schema_validator = Draft202012Validator(load_schema("provisioning-outcome"))
    delivery = decode_event(json.dumps({"RegionId": "cn-shanghai"}).encode())[0]
    delivery = type(delivery)(kind, delivery.message_id, delivery.body)
    if ok:
        outcome = Outcome(
            delivery,
            "t-1",
            {"RegionId": "cn-shanghai"},
            attempts,
            "R",
            {"CustomerGatewayId": "cgw-1", "CreateTime": 1},
        )
    else:
        error = OutcomeError("Throttling.User", "flow control", status, retryable)
        outcome = Outcome(delivery, "t-1", {"RegionId": "cn-shanghai"}, attempts, None, error=error)
    assert errors(schema_validator, to_cloud_event(outcome, source=SOURCE, time=TIME)) == []
