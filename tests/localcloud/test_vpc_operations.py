"""VPC customer gateway operations through the official SDKs (aliyunsdkcore with aliyunsdkvpc,
and alibabacloud_vpc20160428 with V3 and V1 signatures), over HTTP against localcloud."""

from __future__ import annotations

import json
import re
import time
import urllib.request
from xml.etree import ElementTree

import pytest
from alibabacloud_tea_openapi.utils_models import OpenApiRequest, Params
from aliyunsdkcore.client import AcsClient
from aliyunsdkvpc.request.v20160428.CreateCustomerGatewayRequest import (
    CreateCustomerGatewayRequest,
)
from aliyunsdkvpc.request.v20160428.DescribeCustomerGatewaysRequest import (
    DescribeCustomerGatewaysRequest,
)
from darabonba.runtime import RuntimeOptions
from Tea.exceptions import TeaException

from localcloud.credentials import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET
from localcloud.vpc import regions

REQUEST_ID = re.compile(r"[0-9A-F]{8}-[0-9A-F]{4}-4[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}")
GATEWAY_ID = re.compile(r"cgw-[a-z0-9]{21}")


def _create(sdk, ip, **extra):
    return sdk.call("CreateCustomerGateway", RegionId="cn-shanghai", IpAddress=ip, **extra)


def test_create_answers_the_documented_shape(sdk, vpc_backend):
    before = int(time.time() * 1000)
    body = _create(
        sdk,
        "203.0.113.10",
        Name="branch-上海-1",
        Description="Shanghai branch edge",
        Asn="1.10",
        AuthKey="bgp-Secret-1",
        ResourceGroupId="rg-acfmxazb4ph6aiy",
        Tags=[{"Key": "team", "Value": "network"}, {"Key": "env", "Value": ""}],
    )
    assert REQUEST_ID.fullmatch(body["RequestId"])
    assert GATEWAY_ID.fullmatch(body["CustomerGatewayId"])
    assert body["CustomerGatewayId"].startswith("cgw-uf6")  # cn-shanghai's id prefix
    assert body["IpAddress"] == "203.0.113.10"
    assert body["Name"] == "branch-上海-1"
    assert body["Description"] == "Shanghai branch edge"
    assert before <= body["CreateTime"] <= int(time.time() * 1000)

    (stored,) = vpc_backend.customer_gateways()
    assert stored.customer_gateway_id == body["CustomerGatewayId"]
    assert stored.asn == 65546  # 1 * 65536 + 10
    assert stored.auth_key == "bgp-Secret-1"
    assert stored.resource_group_id == "rg-acfmxazb4ph6aiy"
    assert stored.tags == (("team", "network"), ("env", ""))


def test_describe_returns_every_field_and_tea_models_parse_it(make_sdk):
    tea = make_sdk("tea-v3")
    created = _create(
        tea,
        "198.51.100.7",
        Name="gw-7",
        Description="Seventh gateway",
        Asn="65001",
        AuthKey="k3y!",
        Tags=[{"Key": "env", "Value": "prod"}],
    )
    for kind in ("tea-v3", "tea-v2"):
        response = make_sdk(kind).tea_call(
            "DescribeCustomerGateways", RegionId="cn-shanghai", PageSize=50
        )
        body = response.body
        assert body.total_count == 1
        assert body.page_number == 1
        assert body.page_size == 50
        gateway = body.customer_gateways.customer_gateway[0]
        assert gateway.customer_gateway_id == created["CustomerGatewayId"]
        assert gateway.ip_address == "198.51.100.7"
        assert gateway.name == "gw-7"
        assert gateway.description == "Seventh gateway"
        assert gateway.asn == 65001
        assert isinstance(gateway.asn, int)
        assert gateway.auth_key == "k3y!"
        assert gateway.create_time == created["CreateTime"]
        assert gateway.resource_group_id.startswith("rg-")
        assert gateway.tags.tag[0].key == "env"
        assert gateway.tags.tag[0].value == "prod"

        one = make_sdk(kind).tea_call(
            "DescribeCustomerGateway",
            RegionId="cn-shanghai",
            CustomerGatewayId=created["CustomerGatewayId"],
        )
        assert one.body.ip_address == "198.51.100.7"
        assert one.body.asn == 65001
        assert one.body.tags.tag[0].key == "env"
        assert REQUEST_ID.fullmatch(one.body.request_id)


def test_describe_json_shape_through_aliyunsdkcore(make_sdk):
    core = make_sdk("core")
    created = _create(core, "198.51.100.8", Tags=[{"Key": "a", "Value": "b"}])
    body = core.call("DescribeCustomerGateways", RegionId="cn-shanghai")
    assert list(body) == [
        "RequestId",
        "TotalCount",
        "PageNumber",
        "PageSize",
        "CustomerGateways",
    ]
    (item,) = body["CustomerGateways"]["CustomerGateway"]
    assert item["CustomerGatewayId"] == created["CustomerGatewayId"]
    assert item["Tags"] == {"Tag": [{"Key": "a", "Value": "b"}]}
    assert body["PageSize"] == 10  # the default


def test_paging_covers_every_gateway_once_newest_first(sdk, vpc_backend):
    for i in range(23):
        vpc_backend.create_customer_gateway("cn-shanghai", f"192.0.2.{i + 1}")
    vpc_backend.create_customer_gateway("cn-beijing", "192.0.2.200")  # another region

    seen = []
    for page_number in (1, 2, 3):
        body = sdk.call(
            "DescribeCustomerGateways", RegionId="cn-shanghai", PageNumber=page_number, PageSize=10
        )
        assert body["TotalCount"] == 23
        assert body["PageNumber"] == page_number
        items = body["CustomerGateways"]["CustomerGateway"]
        assert len(items) == (3 if page_number == 3 else 10)
        seen += [g["IpAddress"] for g in items]
    assert seen == [f"192.0.2.{i}" for i in range(23, 0, -1)]

    beyond = sdk.call("DescribeCustomerGateways", RegionId="cn-shanghai", PageNumber=4)
    assert beyond["CustomerGateways"]["CustomerGateway"] == []
    assert beyond["TotalCount"] == 23


def test_describe_filters_by_id_and_tag(sdk, vpc_backend):
    a = vpc_backend.create_customer_gateway(
        "cn-shanghai", "192.0.2.1", tags=[("env", "prod"), ("team", "net")]
    ).gateway
    vpc_backend.create_customer_gateway("cn-shanghai", "192.0.2.2", tags=[("env", "dev")])

    by_id = sdk.call(
        "DescribeCustomerGateways", RegionId="cn-shanghai", CustomerGatewayId=a.customer_gateway_id
    )
    assert [g["IpAddress"] for g in by_id["CustomerGateways"]["CustomerGateway"]] == ["192.0.2.1"]

    by_tag = sdk.call(
        "DescribeCustomerGateways", RegionId="cn-shanghai", Tag=[{"Key": "env", "Value": "dev"}]
    )
    assert [g["IpAddress"] for g in by_tag["CustomerGateways"]["CustomerGateway"]] == ["192.0.2.2"]

    by_key = sdk.call(
        "DescribeCustomerGateways", RegionId="cn-shanghai", Tag=[{"Key": "env", "Value": ""}]
    )
    assert by_key["TotalCount"] == 2

    unknown = sdk.call(
        "DescribeCustomerGateways", RegionId="cn-shanghai", CustomerGatewayId="cgw-nothere"
    )
    assert unknown["TotalCount"] == 0


def test_modify_then_delete(sdk, vpc_backend):
    gateway = vpc_backend.create_customer_gateway(
        "cn-shanghai", "192.0.2.9", name="old-name", auth_key="old"
    ).gateway
    body = sdk.call(
        "ModifyCustomerGatewayAttribute",
        RegionId="cn-shanghai",
        CustomerGatewayId=gateway.customer_gateway_id,
        Name="new-name",
        Description="New description",
        AuthKey="new-key",
    )
    assert body["CustomerGatewayId"] == gateway.customer_gateway_id
    assert body["Name"] == "new-name"
    assert body["Description"] == "New description"
    assert body["IpAddress"] == "192.0.2.9"
    assert body["CreateTime"] == gateway.create_time
    assert body["ResourceGroupId"] == gateway.resource_group_id
    stored = vpc_backend.get_customer_gateway("cn-shanghai", gateway.customer_gateway_id)
    assert (stored.name, stored.auth_key) == ("new-name", "new-key")

    deleted = sdk.call(
        "DeleteCustomerGateway",
        RegionId="cn-shanghai",
        CustomerGatewayId=gateway.customer_gateway_id,
    )
    assert list(deleted) == ["RequestId"]
    assert vpc_backend.customer_gateways() == []
    # The IP address is free again.
    assert sdk.call("CreateCustomerGateway", RegionId="cn-shanghai", IpAddress="192.0.2.9")


def test_describe_regions_lists_the_accepted_regions(sdk):
    body = sdk.call("DescribeRegions")
    listed = {r["RegionId"]: r for r in body["Regions"]["Region"]}
    for region_id in (
        "cn-hangzhou",
        "cn-shanghai",
        "cn-beijing",
        "cn-shenzhen",
        "cn-hongkong",
        "ap-southeast-1",
        "us-west-1",
        "eu-central-1",
    ):
        assert region_id in listed
    assert listed["cn-shanghai"]["LocalName"] == "华东2（上海）"
    assert listed["cn-shanghai"]["RegionEndpoint"] == "vpc.aliyuncs.com"
    assert listed["eu-central-1"]["RegionEndpoint"] == "vpc.eu-central-1.aliyuncs.com"
    assert set(listed) == set(regions.BY_ID)

    english = sdk.call("DescribeRegions", AcceptLanguage="en-US")
    names = {r["RegionId"]: r["LocalName"] for r in english["Regions"]["Region"]}
    assert names["cn-shanghai"] == "China (Shanghai)"


@pytest.mark.parametrize("region_id", sorted(regions.BY_ID))
def test_every_listed_region_accepts_a_gateway(vpc_backend, region_id):
    creation = vpc_backend.create_customer_gateway(region_id, "203.0.113.1")
    assert creation.gateway.customer_gateway_id.startswith(
        "cgw-" + regions.BY_ID[region_id].id_prefix
    )


def test_tea_models_parse_create_and_regions(make_sdk):
    tea = make_sdk("tea-v3")
    created = tea.tea_call(
        "CreateCustomerGateway", RegionId="cn-hangzhou", IpAddress="203.0.113.77", Name="gw"
    )
    assert created.status_code == 200
    assert GATEWAY_ID.fullmatch(created.body.customer_gateway_id)
    assert created.body.name == "gw"
    assert isinstance(created.body.create_time, int)
    assert created.headers["content-type"] == "application/json;charset=utf-8"
    assert created.headers["x-acs-request-id"] == created.body.request_id

    listed = tea.tea_call("DescribeRegions")
    assert "cn-hangzhou" in [r.region_id for r in listed.body.regions.region]


def test_xml_format_through_aliyunsdkcore(make_sdk):
    core = make_sdk("core")
    request = core.core_request("CreateCustomerGateway", IpAddress="203.0.113.5", Name="x-gw")
    request.set_accept_format("XML")
    status, headers, body, error = core.client._implementation_of_do_action(request)
    assert (status, error) == (200, None)
    assert headers["Content-Type"] == "text/xml;charset=utf-8"
    root = ElementTree.fromstring(body)
    assert root.tag == "CreateCustomerGatewayResponse"
    assert GATEWAY_ID.fullmatch(root.findtext("CustomerGatewayId"))
    assert root.findtext("IpAddress") == "203.0.113.5"

    request = core.core_request("DescribeCustomerGateways")
    request.set_accept_format("xml")  # case does not matter
    status, _, body, _ = core.client._implementation_of_do_action(request)
    root = ElementTree.fromstring(body)
    assert root.tag == "DescribeCustomerGatewaysResponse"
    assert root.findtext("TotalCount") == "1"
    (gateway,) = root.findall("CustomerGateways/CustomerGateway")
    assert gateway.findtext("Name") == "x-gw"


def test_xml_error_body(make_sdk):
    core = make_sdk("core")
    request = core.core_request("CreateCustomerGateway", IpAddress="10.0.0.256")
    request.set_accept_format("XML")
    status, headers, body, error = core.client._implementation_of_do_action(request)
    assert status == 400
    assert headers["Content-Type"] == "text/xml;charset=utf-8"
    root = ElementTree.fromstring(body)
    assert root.tag == "Error"
    assert root.findtext("Code") == "InvalidIpAddress.WrongFormat"
    assert root.findtext("Message") == "Specified IpAddress is invalid."
    assert REQUEST_ID.fullmatch(root.findtext("RequestId"))
    assert root.findtext("HostId")
    # aliyunsdkcore reads errors as JSON only: an XML error is an unknown error, no crash.
    assert error.get_error_code() == "SDK.UnknownServerError"


def test_json_error_body_fields(make_sdk, vpc_endpoint):
    core = make_sdk("core")
    request = core.core_request("CreateCustomerGateway", IpAddress="127.0.0.1")
    status, headers, body, _ = core.client._implementation_of_do_action(request)
    data = json.loads(body)
    assert status == 400
    assert headers["Content-Type"] == "application/json;charset=utf-8"
    assert list(data) == ["RequestId", "HostId", "Code", "Message", "Recommend"]
    assert data["HostId"] == vpc_endpoint
    assert data["Recommend"] == (
        "https://api.aliyun.com/troubleshoot?q=InvalidIpAddress.WrongFormat&product=Vpc"
        f"&requestId={data['RequestId']}"
    )


def test_raw_sdk_request_classes_work_unmodified(vpc_endpoint):
    """The brief's own usage: AcsClient(ak, sk, region, auto_retry=False) + set_endpoint."""
    client = AcsClient(
        DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET, "cn-hangzhou", auto_retry=False
    )
    request = CreateCustomerGatewayRequest()
    request.set_endpoint(vpc_endpoint)
    request.set_IpAddress("203.0.113.99")
    client.do_action_with_exception(request)
    describe = DescribeCustomerGatewaysRequest()
    describe.set_endpoint(vpc_endpoint)
    body = json.loads(client.do_action_with_exception(describe))
    # aliyunsdkcore sent the client's region as RegionId.
    assert body["CustomerGateways"]["CustomerGateway"][0]["CustomerGatewayId"].startswith("cgw-bp1")


def test_xml_error_is_parsed_by_tea(make_sdk):
    """Tea (V3) parses an XML error body under `text/xml;charset=utf-8` into its exception."""
    tea = make_sdk("tea-v3")
    params = Params(
        action="CreateCustomerGateway",
        version="2016-04-28",
        protocol="HTTP",
        pathname="/",
        method="POST",
        auth_type="AK",
        style="RPC",
        req_body_type="formData",
        body_type="string",
    )
    query = {"Format": "XML", "RegionId": "cn-shanghai", "IpAddress": "224.0.0.1"}
    with pytest.raises(TeaException) as info:
        tea.client.call_api(params, OpenApiRequest(query=query), RuntimeOptions())
    assert (info.value.code, info.value.status_code) == ("InvalidIpAddress.WrongFormat", 400)
    assert "Specified IpAddress is invalid." in info.value.message

    query["IpAddress"] = "203.0.113.3"
    answer = tea.client.call_api(params, OpenApiRequest(query=query), RuntimeOptions())
    root = ElementTree.fromstring(answer["body"])
    assert root.tag == "CreateCustomerGatewayResponse"
    assert answer["headers"]["content-type"] == "text/xml;charset=utf-8"


def test_admin_state_and_calls(make_sdk, localcloud):
    core = make_sdk("core")
    created = core.call(
        "CreateCustomerGateway", RegionId="cn-shanghai", IpAddress="203.0.113.8", AuthKey="s3cr3t"
    )
    base = localcloud.cloud.base_url
    with urllib.request.urlopen(f"{base}/_localcloud/state", timeout=10) as response:
        state = json.loads(response.read())["vpc"]
    (gateway,) = state["customer_gateways"]
    assert gateway["CustomerGatewayId"] == created["CustomerGatewayId"]
    assert gateway["RegionId"] == "cn-shanghai"
    assert gateway["AuthKey"] == "******"
    with urllib.request.urlopen(f"{base}/_localcloud/calls?service=vpc", timeout=10) as response:
        (call,) = json.loads(response.read())
    assert call["action"] == "CreateCustomerGateway"
    assert call["parameters"] == {"RegionId": "cn-shanghai", "IpAddress": "203.0.113.8"}
    assert (call["status"], call["code"], call["created"]) == (200, None, True)
    assert call["access_key_id"] == DEFAULT_ACCESS_KEY_ID
    assert "s3cr3t" not in json.dumps(call)

    urllib.request.urlopen(
        urllib.request.Request(
            f"{base}/_localcloud/reset",
            data=b"",
            method="POST",
            headers={"Content-Type": "application/json"},
        ),
        timeout=10,
    ).close()
    assert localcloud.cloud.backends.vpc.customer_gateways() == []
