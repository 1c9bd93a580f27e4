"""Every VPC error localcloud answers, reached and parsed by each official SDK flavour.

One table; each row runs through aliyunsdkcore (V1), Tea V3 and Tea V2 (V1). The SDK's own
exception must carry the right code and HTTP status (no SDK crash, no unknown error).
"""

from __future__ import annotations

import pytest

from tests.conftest import RESTRICTED_KEY, SUB_USER_KEY

CREATE = "CreateCustomerGateway"
SH = {"RegionId": "cn-shanghai"}
WRONG_IP = ("InvalidIpAddress.WrongFormat", 400, "Specified IpAddress is invalid.")
INVALID_NAME = ("InvalidName", 400, "The name is not valid")
INVALID_DESCRIPTION = ("InvalidDescription", 400, "The description is not valid")
INVALID_ASN = ("InvalidAsn", 400, "Specified parameter Asn is not valid.")
INVALID_AUTH_KEY = ("InvalidAuthKey", 400, "Specified parameter AuthKey is not valid.")
INVALID_TAGS = ("InvalidTags", 400, "Specified parameter Tags is not valid.")
NOT_FOUND = (
    "InvalidCustomerGatewayInstanceId.NotFound",
    404,
    "The specified customer gateway instance does not exist.",
)


def _tags(n):
    return [{"Key": f"k{i}", "Value": "v"} for i in range(n)]


# (id, action, parameters, (code, status, message prefix))
CASES = [
    ("missing-region", CREATE, {"RegionId": "", "IpAddress": "203.0.113.1"},
     ("MissingRegionId", 400, "RegionId is mandatory for this action.")),
    ("unknown-region", CREATE, {"RegionId": "cn-atlantis", "IpAddress": "203.0.113.1"},
     ("InvalidRegionId", 400, "Specified parameter RegionId is not valid.")),
    ("region-case", CREATE, {"RegionId": "CN-SHANGHAI", "IpAddress": "203.0.113.1"},
     ("InvalidRegionId", 400, "Specified parameter RegionId is not valid.")),
    ("missing-ip", CREATE, {**SH},
     ("MissingIpAddress", 400, "IpAddress is mandatory for this action.")),
    ("ip-octet-256", CREATE, {**SH, "IpAddress": "10.0.0.256"}, WRONG_IP),
    ("ip-three-octets", CREATE, {**SH, "IpAddress": "203.0.113"}, WRONG_IP),
    ("ip-leading-zero", CREATE, {**SH, "IpAddress": "203.0.113.01"}, WRONG_IP),
    ("ip-v6", CREATE, {**SH, "IpAddress": "2001:db8::1"}, WRONG_IP),
    ("ip-hostname", CREATE, {**SH, "IpAddress": "vpn.example.com"}, WRONG_IP),
    ("ip-space", CREATE, {**SH, "IpAddress": " 203.0.113.1"}, WRONG_IP),
    ("ip-arabic-digits", CREATE, {**SH, "IpAddress": "٢٠٣.0.113.1"}, WRONG_IP),
    ("ip-shared-100.64", CREATE, {**SH, "IpAddress": "100.64.0.1"}, WRONG_IP),
    ("ip-shared-top", CREATE, {**SH, "IpAddress": "100.127.255.255"}, WRONG_IP),
    ("ip-loopback", CREATE, {**SH, "IpAddress": "127.0.0.1"}, WRONG_IP),
    ("ip-link-local", CREATE, {**SH, "IpAddress": "169.254.10.1"}, WRONG_IP),
    ("ip-multicast", CREATE, {**SH, "IpAddress": "224.0.0.5"}, WRONG_IP),
    ("ip-multicast-top", CREATE, {**SH, "IpAddress": "239.255.255.255"}, WRONG_IP),
    ("ip-broadcast", CREATE, {**SH, "IpAddress": "255.255.255.255"}, WRONG_IP),
    ("ip-this-network", CREATE, {**SH, "IpAddress": "0.1.2.3"}, WRONG_IP),
    ("ip-unspecified", CREATE, {**SH, "IpAddress": "0.0.0.0"}, WRONG_IP),
    ("name-short", CREATE, {**SH, "IpAddress": "203.0.113.1", "Name": "a"}, INVALID_NAME),
    ("name-long", CREATE, {**SH, "IpAddress": "203.0.113.1", "Name": "n" * 129}, INVALID_NAME),
    ("name-url", CREATE, {**SH, "IpAddress": "203.0.113.1", "Name": "http://gw"}, INVALID_NAME),
    ("name-url-case", CREATE, {**SH, "IpAddress": "203.0.113.1", "Name": "HTTPS://gw"},
     INVALID_NAME),
    ("name-space", CREATE, {**SH, "IpAddress": "203.0.113.1", "Name": "my gw"}, INVALID_NAME),
    ("name-slash", CREATE, {**SH, "IpAddress": "203.0.113.1", "Name": "a/b"}, INVALID_NAME),
    ("name-star", CREATE, {**SH, "IpAddress": "203.0.113.1", "Name": "a*b"}, INVALID_NAME),
    ("description-short", CREATE, {**SH, "IpAddress": "203.0.113.1", "Description": "d"},
     INVALID_DESCRIPTION),
    ("description-digit-first", CREATE,
     {**SH, "IpAddress": "203.0.113.1", "Description": "1st gateway"}, INVALID_DESCRIPTION),
    ("description-url", CREATE,
     {**SH, "IpAddress": "203.0.113.1", "Description": "https://example.com"},
     INVALID_DESCRIPTION),
    ("description-long", CREATE, {**SH, "IpAddress": "203.0.113.1", "Description": "d" * 257},
     INVALID_DESCRIPTION),
    ("asn-reserved", CREATE, {**SH, "IpAddress": "203.0.113.1", "Asn": "45104"}, INVALID_ASN),
    ("asn-reserved-dotted", CREATE, {**SH, "IpAddress": "203.0.113.1", "Asn": "0.45104"},
     INVALID_ASN),
    ("asn-zero", CREATE, {**SH, "IpAddress": "203.0.113.1", "Asn": "0"}, INVALID_ASN),
    ("asn-too-big", CREATE, {**SH, "IpAddress": "203.0.113.1", "Asn": "4294967296"},
     INVALID_ASN),
    ("asn-dotted-high", CREATE, {**SH, "IpAddress": "203.0.113.1", "Asn": "65536.0"},
     INVALID_ASN),
    ("asn-dotted-low", CREATE, {**SH, "IpAddress": "203.0.113.1", "Asn": "1.65536"},
     INVALID_ASN),
    ("asn-three-parts", CREATE, {**SH, "IpAddress": "203.0.113.1", "Asn": "1.2.3"}, INVALID_ASN),
    ("asn-negative", CREATE, {**SH, "IpAddress": "203.0.113.1", "Asn": "-1"}, INVALID_ASN),
    ("asn-text", CREATE, {**SH, "IpAddress": "203.0.113.1", "Asn": "AS65001"}, INVALID_ASN),
    ("authkey-space", CREATE, {**SH, "IpAddress": "203.0.113.1", "AuthKey": "sec ret"},
     INVALID_AUTH_KEY),
    ("authkey-question", CREATE, {**SH, "IpAddress": "203.0.113.1", "AuthKey": "secret?"},
     INVALID_AUTH_KEY),
    ("authkey-long", CREATE, {**SH, "IpAddress": "203.0.113.1", "AuthKey": "k" * 65},
     INVALID_AUTH_KEY),
    ("authkey-cjk", CREATE, {**SH, "IpAddress": "203.0.113.1", "AuthKey": "密钥abc"},
     INVALID_AUTH_KEY),
    ("client-token-long", CREATE, {**SH, "IpAddress": "203.0.113.1", "ClientToken": "t" * 65},
     ("InvalidClientToken", 400, "Specified parameter ClientToken is not valid.")),
    ("client-token-unicode", CREATE, {**SH, "IpAddress": "203.0.113.1", "ClientToken": "tök"},
     ("InvalidClientToken", 400, "Specified parameter ClientToken is not valid.")),
    ("resource-group", CREATE,
     {**SH, "IpAddress": "203.0.113.1", "ResourceGroupId": "my-group"},
     ("InvalidResourceGroupId", 400, "Specified parameter ResourceGroupId is not valid.")),
    ("tag-aliyun", CREATE,
     {**SH, "IpAddress": "203.0.113.1", "Tags": [{"Key": "aliyun-env", "Value": "x"}]},
     INVALID_TAGS),
    ("tag-acs", CREATE,
     {**SH, "IpAddress": "203.0.113.1", "Tags": [{"Key": "ACS:env", "Value": "x"}]},
     INVALID_TAGS),
    ("tag-key-long", CREATE,
     {**SH, "IpAddress": "203.0.113.1", "Tags": [{"Key": "k" * 65, "Value": "x"}]},
     INVALID_TAGS),
    ("tag-value-long", CREATE,
     {**SH, "IpAddress": "203.0.113.1", "Tags": [{"Key": "k", "Value": "v" * 129}]},
     INVALID_TAGS),
    ("tag-21", CREATE, {**SH, "IpAddress": "203.0.113.1", "Tags": _tags(21)}, INVALID_TAGS),
    ("tag-duplicate", CREATE,
     {**SH, "IpAddress": "203.0.113.1",
      "Tags": [{"Key": "k", "Value": "1"}, {"Key": "k", "Value": "2"}]},
     INVALID_TAGS),
    ("tag-value-without-key", CREATE,
     {**SH, "IpAddress": "203.0.113.1", "Tags": [{"Value": "orphan"}]}, INVALID_TAGS),
    ("page-size-51", "DescribeCustomerGateways", {**SH, "PageSize": 51},
     ("InvalidPageSize", 400, "Specified parameter PageSize is not valid.")),
    ("page-size-0", "DescribeCustomerGateways", {**SH, "PageSize": 0},
     ("InvalidPageSize", 400, "Specified parameter PageSize is not valid.")),
    ("page-number-0", "DescribeCustomerGateways", {**SH, "PageNumber": 0},
     ("InvalidPageNumber", 400, "Specified parameter PageNumber is not valid.")),
    ("describe-unknown-region", "DescribeCustomerGateways", {"RegionId": "mars-1"},
     ("InvalidRegionId", 400, "Specified parameter RegionId is not valid.")),
    ("describe-one-missing-id", "DescribeCustomerGateway", {**SH},
     ("MissingCustomerGatewayId", 400, "CustomerGatewayId is mandatory for this action.")),
    ("describe-one-unknown", "DescribeCustomerGateway",
     {**SH, "CustomerGatewayId": "cgw-uf6000000000000000000"}, NOT_FOUND),
    ("delete-unknown", "DeleteCustomerGateway",
     {**SH, "CustomerGatewayId": "cgw-uf6000000000000000000"}, NOT_FOUND),
    ("modify-unknown", "ModifyCustomerGatewayAttribute",
     {**SH, "CustomerGatewayId": "cgw-uf6000000000000000000", "Name": "new-name"}, NOT_FOUND),
]  # fmt: skip


@pytest.mark.parametrize(
    ("action", "params", "expected"),
    [pytest.param(a, p, e, id=i) for i, a, p, e in CASES],
)
def test_error_reaches_every_sdk(sdk, localcloud, vpc_backend, action, params, expected):
    code, status, message = expected
    error = sdk.error(action, **params)
    assert (error.code, error.status) == (code, status)
    assert message in error.message
    assert error.request_id
    assert len(error.request_id) == 36
    if "AuthKey" in params:
        assert params["AuthKey"] not in error.message  # never echoed
    assert vpc_backend.customer_gateways() == []
    (call,) = localcloud.cloud.calls.snapshot()
    assert (call["action"], call["status"], call["code"]) == (action, status, code)
    assert call["created"] is (False if action == CREATE else None)
    assert "AuthKey" not in call["parameters"]


def test_already_exist_in_the_same_region_only(sdk, vpc_backend):
    vpc_backend.create_customer_gateway("cn-shanghai", "203.0.113.1")
    error = sdk.error(CREATE, RegionId="cn-shanghai", IpAddress="203.0.113.1")
    assert (error.code, error.status) == ("InvalidIpAddress.AlreadyExist", 400)
    assert "Specified IpAddress is already exist." in error.message
    # Another region has its own namespace.
    assert sdk.call(CREATE, RegionId="cn-beijing", IpAddress="203.0.113.1")
    assert len(vpc_backend.customer_gateways()) == 2


def test_quota_full_per_region(sdk, localcloud, vpc_backend):
    localcloud.cloud.quota = 2
    try:
        vpc_backend.create_customer_gateway("cn-shanghai", "203.0.113.1")
        vpc_backend.create_customer_gateway("cn-shanghai", "203.0.113.2")
        error = sdk.error(CREATE, RegionId="cn-shanghai", IpAddress="203.0.113.3")
        assert (error.code, error.status) == ("Resource.QuotaFull", 400)
        assert "The quota of resource is full" in error.message
        assert sdk.call(CREATE, RegionId="cn-hangzhou", IpAddress="203.0.113.3")
    finally:
        localcloud.cloud.quota = 100


def test_modify_validates_like_create(sdk, vpc_backend):
    gateway = vpc_backend.create_customer_gateway("cn-shanghai", "203.0.113.1").gateway
    for params, code in (
        ({"Name": "x"}, "InvalidName"),
        ({"Description": "9lives"}, "InvalidDescription"),
        ({"AuthKey": "a b"}, "InvalidAuthKey"),
    ):
        error = sdk.error(
            "ModifyCustomerGatewayAttribute",
            RegionId="cn-shanghai",
            CustomerGatewayId=gateway.customer_gateway_id,
            **params,
        )
        assert (error.code, error.status) == (code, 400)
    assert vpc_backend.customer_gateways() == [gateway]


@pytest.mark.parametrize(
    ("credential", "code", "message"),
    [
        (RESTRICTED_KEY, "Forbidden", "User not authorized to operate on the specified resource."),
        (
            SUB_USER_KEY,
            "Forbbiden.SubUser",
            "User not authorized to operate on the specified resource as your account is "
            "created by another user.",
        ),
    ],
    ids=["restricted", "sub-user"],
)
@pytest.mark.parametrize("kind", ["core", "tea-v3", "tea-v2"])
def test_permissions(make_sdk, vpc_backend, kind, credential, code, message):
    sdk = make_sdk(
        kind,
        access_key_id=credential.access_key_id,
        access_key_secret=credential.access_key_secret,
    )
    error = sdk.error(CREATE, RegionId="cn-shanghai", IpAddress="203.0.113.1")
    assert (error.code, error.status) == (code, 403)
    assert message in error.message
    assert vpc_backend.customer_gateways() == []
    # DescribeRegions is what these credentials may do.
    assert sdk.call("DescribeRegions")["Regions"]["Region"]


def test_valid_edge_values_are_accepted(sdk, vpc_backend):
    body = sdk.call(
        CREATE,
        RegionId="cn-shanghai",
        IpAddress="10.0.0.1",  # private: private-network IPsec
        Name="ab",
        Description="Zé " + "d" * 253,
        Asn="65535.65535",
        AuthKey="!" + "~" * 63,
        ClientToken="t" * 64,
        Tags=[{"Key": "k" * 64, "Value": "v" * 128}, *_tags(19)],
    )
    (stored,) = vpc_backend.customer_gateways()
    assert stored.customer_gateway_id == body["CustomerGatewayId"]
    assert stored.asn == 4294967295
    assert len(stored.tags) == 20
    for ip in ("100.63.255.255", "100.128.0.0", "240.0.0.1", "1.0.0.0", "223.255.255.255"):
        assert sdk.call(CREATE, RegionId="cn-shanghai", IpAddress=ip)["IpAddress"] == ip
    for name in ("网关-1", "Шлюз_2", "gw.3", "１２"):
        vpc_backend.create_customer_gateway("cn-beijing", f"192.0.2.{len(name) + 10}", name=name)
        vpc_backend.delete_customer_gateway(
            "cn-beijing", vpc_backend.customer_gateways("cn-beijing")[0].customer_gateway_id
        )


def test_a_localcloud_bug_answers_internal_error(sdk, vpc_backend, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("bug")

    monkeypatch.setattr(vpc_backend, "describe_customer_gateways", broken)
    error = sdk.error("DescribeCustomerGateways", **SH)
    assert (error.code, error.status) == ("InternalError", 500)
    assert "unknown error" in error.message
