"""Acceptance: every event source, every validation rule and every seed error code ends in the
right outcome event on the subscribed queue (localcloud over HTTP, the real SDKs)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator, FormatChecker

from cgw_provisioner.app import TransientFailureError
from tests.conftest import SUB_USER_KEY

from .conftest import FcCredentials

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"
OUTCOME_SCHEMA = json.loads((ROOT / "schemas/provisioning-outcome.schema.json").read_text())
OUTCOME_VALIDATOR = Draft202012Validator(OUTCOME_SCHEMA, format_checker=FormatChecker())

CREATED = ("created", None)

# sample -> the outcomes its messages must end in: (MessageTag, error.code)
SAMPLES = {
    "direct-request.json": [CREATED],
    "direct-batch.json": [CREATED, CREATED],
    "direct-invalid-asn-reserved.json": [("failed", "InvalidAsn")],
    "direct-invalid-ipaddress-typo.json": [("failed", "MissingIpAddress")],
    "direct-invalid-many.json": [("failed", "InvalidRegionId")],
    "direct-invalid-refused-range.json": [("failed", "InvalidIpAddress.WrongFormat")],
    "mns-queue-single.json": [CREATED],
    "mns-queue-batch.json": [CREATED, CREATED, CREATED],
    "mns-queue-batch-base64.json": [CREATED, CREATED, CREATED],
    "mns-queue-rawdata.json": [CREATED, CREATED, CREATED],
    "mns-queue-batch-poison.json": [
        CREATED,
        ("failed", "InvalidMessage"),
        ("failed", "MissingIpAddress"),
        ("failed", "InvalidIpAddress.WrongFormat"),
        ("failed", "InvalidAsn"),
        ("failed", "InvalidRegionId"),
    ],
    "mns-topic-json.json": [CREATED],
    "mns-topic-json-base64-attrs.json": [CREATED],
    "mns-topic-stream.json": [CREATED],
    "mns-topic-stream-attrs.json": [CREATED],
    "mns-topic-stream-base64.txt": [CREATED],
}


def _kinds(outcomes):
    return Counter((o.tag, (o.event["data"].get("error") or {}).get("code")) for o in outcomes)


def test_every_sample_is_in_the_table():
    on_disk = {p.name for p in EVENTS.iterdir() if p.is_file()}
    assert on_disk == set(SAMPLES)


@pytest.mark.parametrize("sample", sorted(SAMPLES))
def test_sample_ends_in_its_outcomes(cloud, sample):
    event = (EVENTS / sample).read_bytes()
    result = cloud.invoke(event)
    outcomes = cloud.outcomes()

    assert _kinds(outcomes) == Counter(SAMPLES[sample])
    for published in outcomes:
        OUTCOME_VALIDATOR.validate(published.event)
        assert published.tag == published.event["type"].rsplit(".", 1)[1]
        assert published.event["source"] == (
            f"acs:fc:{cloud.region}:{cloud.account_id}:services/cgw-provisioner"
            "/functions/create-customer-gateway"
        )
    created = [o.event for o in outcomes if o.tag == "created"]
    assert len(cloud.gateways()) == len(created)
    assert {e["data"]["customerGateway"]["CustomerGatewayId"] for e in created} == {
        g.customer_gateway_id for g in cloud.gateways()
    }
    # return value: one request object (direct, or a topic STREAM body that is a bare request)
    # -> its event; anything else -> the summary
    kinds = {o.event["data"]["trigger"]["kind"] for o in outcomes}
    if kinds == {"direct"} and not event.lstrip().startswith(b"["):
        assert result == outcomes[0].event
    else:
        assert result["total"] == len(SAMPLES[sample])
        assert result["created"] == len(created)
        assert result["failed"] == len(outcomes) - len(created)
        assert sorted(o["eventId"] for o in result["outcomes"]) == sorted(
            o.event["id"] for o in outcomes
        )
        for item in result["outcomes"]:
            assert set(item) == {"messageId", "clientToken", "eventId", "type"}


# body -> (error.code, a violated pointer)
VALIDATION_RULES = [
    ({"IpAddress": "203.0.113.10"}, "MissingRegionId", "/RegionId"),
    ({"RegionId": "Shanghai", "IpAddress": "203.0.113.10"}, "InvalidRegionId", "/RegionId"),
    ({"RegionId": "cn-shanghai"}, "MissingIpAddress", "/IpAddress"),
    (
        {"RegionId": "cn-shanghai", "IpAddress": "203.0.113.256"},
        "InvalidIpAddress.WrongFormat",
        "/IpAddress",
    ),
    (
        {"RegionId": "cn-shanghai", "IpAddress": "127.0.0.1"},
        "InvalidIpAddress.WrongFormat",
        "/IpAddress",
    ),
    (
        {"RegionId": "cn-shanghai", "IpAddress": "203.0.113.10", "Name": "http://gw"},
        "InvalidName",
        "/Name",
    ),
    (
        {"RegionId": "cn-shanghai", "IpAddress": "203.0.113.10", "Description": "x" * 300},
        "InvalidDescription",
        "/Description",
    ),
    (
        {"RegionId": "cn-shanghai", "IpAddress": "203.0.113.10", "Asn": "45104"},
        "InvalidAsn",
        "/Asn",
    ),
    (
        {"RegionId": "cn-shanghai", "IpAddress": "203.0.113.10", "AuthKey": "has space"},
        "InvalidAuthKey",
        "/AuthKey",
    ),
    (
        {"RegionId": "cn-shanghai", "IpAddress": "203.0.113.10", "ClientToken": "t" * 65},
        "InvalidClientToken",
        "/ClientToken",
    ),
    (
        {"RegionId": "cn-shanghai", "IpAddress": "203.0.113.10", "ResourceGroupId": "group"},
        "InvalidResourceGroupId",
        "/ResourceGroupId",
    ),
    (
        {
            "RegionId": "cn-shanghai",
            "IpAddress": "203.0.113.10",
            "Tags": [{"Key": "aliyun-x", "Value": "v"}],
        },
        "InvalidTags",
        "/Tags/0/Key",
    ),
    (
        {"RegionId": "cn-shanghai", "IpAddress": "203.0.113.10", "Metadata": "not an object"},
        "InvalidMetadata",
        "/Metadata",
    ),
    (
        {"RegionId": "cn-shanghai", "IpAddress": "203.0.113.10", "Extra": 1},
        "InvalidMessage",
        "/Extra",
    ),
    (b"not json at all", "InvalidMessage", ""),
    ([1, 2], "InvalidMessage", ""),
]


@pytest.mark.parametrize(("body", "code", "pointer"), VALIDATION_RULES)
def test_validation_rule_ends_in_a_failed_outcome(cloud, body, code, pointer):
    if isinstance(body, list):  # a direct array: each element is a request
        result = cloud.invoke(json.dumps([body]).encode())
        assert result["failed"] == 1
    else:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        result = cloud.invoke(raw)
    [published] = cloud.outcomes()
    error = published.event["data"]["error"]
    assert (published.tag, error["code"], error["retryable"]) == ("failed", code, False)
    assert pointer in [d["pointer"] for d in error["details"]]
    assert published.event["data"]["attempts"] == 0
    assert cloud.calls("CreateCustomerGateway") == []
    if not isinstance(body, list):
        assert result == published.event


REQUEST = {"RegionId": "cn-shanghai", "IpAddress": "198.51.100.7", "Name": "seed-gw"}


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("Forbidden", 403),
        ("Forbbiden.SubUser", 403),
        ("InvalidIpAddress.WrongFormat", 400),
        ("InvalidName", 400),
        ("InvalidDescription", 400),
        ("Resource.QuotaFull", 400),
        ("InvalidIpAddress.AlreadyExist", 400),
        ("IdempotentParameterMismatch", 400),
    ],
)
def test_seed_error_code_injected_ends_in_its_failed_outcome(cloud, monkeypatch, code, status):
    """Every error of the seed's table (and a few permanent ones more), injected as a fault:
    not retried, published as a failure with the API's code, message, status and RequestId."""
    monkeypatch.setenv("ADOPT_EXISTING", "false")
    message = f"injected {code}"
    cloud.faults(
        [
            {
                "service": "vpc",
                "action": "CreateCustomerGateway",
                "error": {"code": code, "status": status, "message": message},
            }
        ]
    )
    event = cloud.invoke(REQUEST)
    [published] = cloud.outcomes()
    assert published.event == event
    error = event["data"]["error"]
    assert (error["code"], error["httpStatus"], error["retryable"]) == (code, status, False)
    assert error["message"] == message
    assert event["data"]["attempts"] == 1
    [call] = cloud.calls("CreateCustomerGateway")
    assert event["data"]["vpcRequestId"]
    assert call["code"] == code


def test_forbidden_sub_user_for_real(cloud, capsys):
    """A RAM sub-user without vpc:CreateCustomerGateway (localcloud refuses it for real) that
    cannot publish either: the failed outcome cannot be delivered, so the invocation fails and
    the message is redelivered, never lost."""
    credentials = FcCredentials(SUB_USER_KEY.access_key_id, SUB_USER_KEY.access_key_secret)
    with pytest.raises(TransientFailureError, match="outcome not published: AccessDenied"):
        cloud.invoke(REQUEST, credentials=credentials)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    failed = [line for line in lines if line["event"] == "create failed permanently"]
    assert [(line["code"], line["http_status"]) for line in failed] == [("Forbbiden.SubUser", 403)]
    assert cloud.outcomes() == []


def test_quota_full_for_real(cloud, monkeypatch):
    monkeypatch.setattr(cloud.server.cloud, "quota", 1)
    first = cloud.invoke({**REQUEST, "IpAddress": "198.51.100.8"})
    second = cloud.invoke(REQUEST)
    assert first["type"] == "vpc.customergateway.created"
    assert second["data"]["error"]["code"] == "Resource.QuotaFull"
    assert len(cloud.gateways()) == 1


def test_idempotent_parameter_mismatch_for_real(cloud):
    first = cloud.invoke({**REQUEST, "ClientToken": "token-1"})
    second = cloud.invoke({**REQUEST, "ClientToken": "token-1", "Name": "other-name"})
    assert first["type"] == "vpc.customergateway.created"
    assert second["data"]["error"]["code"] == "IdempotentParameterMismatch"
    assert second["subject"] == "token-1"


@pytest.mark.parametrize("same_name", [True, False], ids=["matching", "conflicting"])
def test_already_exist_adoption(cloud, same_name):
    original = cloud.invoke({**REQUEST, "Asn": "65010", "ClientToken": "first"})
    existing_id = original["data"]["customerGateway"]["CustomerGatewayId"]
    again = {**REQUEST, "Asn": 65010, "ClientToken": "second"}
    if not same_name:
        again["Name"] = "another-name"
    event = cloud.invoke(again)
    assert len(cloud.gateways()) == 1
    assert cloud.calls("DescribeCustomerGateways")
    if same_name:
        assert event["type"] == "vpc.customergateway.created"
        assert event["data"]["adopted"] is True
        assert event["data"]["customerGateway"]["CustomerGatewayId"] == existing_id
    else:
        error = event["data"]["error"]
        assert error["code"] == "InvalidIpAddress.AlreadyExist"
        assert existing_id in error["message"]
        assert error["details"][0]["existingCustomerGateway"]["CustomerGatewayId"] == existing_id
        assert set(error["details"][0]["conflicts"]) == {"Name"}
    assert [o.event for o in cloud.outcomes()][-1] == event


def test_adoption_finds_the_gateway_beyond_the_first_page(cloud):
    batch = [
        {"RegionId": "cn-shanghai", "IpAddress": f"198.51.{i // 200}.{i % 200 + 1}"}
        for i in range(60)
    ]
    assert cloud.invoke(batch)["created"] == 60
    backend = cloud.server.cloud.backends.vpc
    on_page_2 = backend.describe_customer_gateways("cn-shanghai", page_number=2, page_size=50)
    ip = on_page_2.gateways[-1].ip_address
    event = cloud.invoke({"RegionId": "cn-shanghai", "IpAddress": ip, "ClientToken": "late"})
    assert event["data"]["adopted"] is True
    pages = [c["parameters"].get("PageNumber") for c in cloud.calls("DescribeCustomerGateways")]
    assert pages == ["1", "2"]


def test_adoption_off_publishes_already_exist(cloud, monkeypatch):
    monkeypatch.setenv("ADOPT_EXISTING", "off")
    cloud.invoke({**REQUEST, "ClientToken": "first"})
    event = cloud.invoke({**REQUEST, "ClientToken": "second"})
    assert event["data"]["error"]["code"] == "InvalidIpAddress.AlreadyExist"
    assert cloud.calls("DescribeCustomerGateways") == []
