"""VPC OpenAPI authentication through the official SDKs: signatures V1 and ACS3, STS tokens,
nonce replay, clock skew, unknown keys, and the error forms of requests no SDK would send.

Requests that no SDK sends by itself are still signed by the SDK's own signer (aliyunsdkcore's
rpc_signature_composer, Tea's Utils.get_authorization) and then changed in one place.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import uuid
from datetime import datetime, timedelta, timezone
from urllib.parse import urlencode

import pytest
from alibabacloud_tea_openapi.utils import Utils as TeaUtils
from alibabacloud_tea_openapi.utils_models import OpenApiRequest, Params
from aliyunsdkcore.auth.algorithm import sha_hmac1
from aliyunsdkcore.auth.composer import rpc_signature_composer
from aliyunsdkcore.client import AcsClient
from aliyunsdkcore.request import CommonRequest
from aliyunsdkcore.utils import parameter_helper
from darabonba.request import DaraRequest
from darabonba.runtime import RuntimeOptions
from Tea.exceptions import TeaException

from localcloud.credentials import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET
from tests.conftest import STS_KEY
from tests.localcloud.conftest import VpcSdk

CREATE = "CreateCustomerGateway"
SH = {"RegionId": "cn-shanghai"}


def _utc(delta: timedelta = timedelta()) -> str:
    return (datetime.now(timezone.utc) + delta).strftime("%Y-%m-%dT%H:%M:%SZ")


def _send(endpoint: str, method: str, target: str, headers=None, body: bytes = b""):
    host, port = endpoint.split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.request(method, target, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def _v1_url(params: dict, method: str = "POST", body: dict | None = None, secret=None):
    """A URL signed by aliyunsdkcore's own composer, and its string to sign."""
    base = {"Action": CREATE, "Version": "2016-04-28", **params}
    return rpc_signature_composer.get_signed_url(
        base,
        DEFAULT_ACCESS_KEY_ID,
        secret or DEFAULT_ACCESS_KEY_SECRET,
        "JSON",
        method,
        body or {},
    )


def _v3_headers(endpoint: str, query: dict, body: bytes = b"", extra_headers=None):
    """Headers as the Tea SDK builds them, signed by Tea's Utils.get_authorization."""
    request = DaraRequest()
    request.method = "POST"
    request.pathname = "/"
    request.query = query
    request.headers = {
        "host": endpoint,
        "x-acs-version": "2016-04-28",
        "x-acs-action": CREATE,
        "user-agent": "test",
        "x-acs-date": _utc(),
        "x-acs-signature-nonce": TeaUtils.get_nonce(),
        "accept": "application/json",
        "x-acs-content-sha256": hashlib.sha256(body).hexdigest(),
        **(extra_headers or {}),
    }
    request.headers["Authorization"] = TeaUtils.get_authorization(
        request,
        "ACS3-HMAC-SHA256",
        request.headers["x-acs-content-sha256"],
        DEFAULT_ACCESS_KEY_ID,
        DEFAULT_ACCESS_KEY_SECRET,
    )
    return request.headers


# -- wrong secret, unknown key ----------------------------------------------------------------
def test_wrong_secret_aliyunsdkcore_rewrites_to_invalid_access_key_secret(make_sdk, localcloud):
    """localcloud answers SignatureDoesNotMatch with its string to sign after the ':'; that
    equals the SDK's own, so aliyunsdkcore (client.py _get_server_exception) rewrites the code
    to InvalidAccessKeySecret, as it does against the real gateway."""
    sdk = make_sdk("core", access_key_secret="not-the-secret")
    error = sdk.error(CREATE, **SH, IpAddress="203.0.113.1")
    assert (error.code, error.status) == ("InvalidAccessKeySecret", 400)
    assert error.message == (
        "The AccessKeySecret is incorrect. Please check your AccessKeyId and AccessKeySecret."
    )
    (call,) = localcloud.cloud.calls.snapshot()
    assert (call["code"], call["status"]) == ("SignatureDoesNotMatch", 400)


@pytest.mark.parametrize("kind", ["tea-v2", "tea-v3"])
def test_wrong_secret_tea_gets_signature_does_not_match(make_sdk, kind, vpc_backend):
    sdk = make_sdk(kind, access_key_secret="not-the-secret")
    error = sdk.error(CREATE, **SH, IpAddress="203.0.113.1")
    assert (error.code, error.status) == ("SignatureDoesNotMatch", 400)
    assert "Specified signature is not matched with our calculation." in error.message
    if kind == "tea-v2":
        assert "server string to sign is:POST&%2F&AccessKeyId%3D" in error.message
    else:
        assert "server string to sign is:ACS3-HMAC-SHA256\n" in error.message
        assert "server canonical request is:\nPOST\n/\nIpAddress=203.0.113.1" in error.message
    assert vpc_backend.customer_gateways() == []


def test_signature_mismatch_keeps_its_code_when_strings_differ(vpc_endpoint):
    """A request changed after signing: the server's string to sign differs from the client's,
    and aliyunsdkcore keeps SignatureDoesNotMatch (its split(':') finds text, no crash)."""
    url, client_sts = _v1_url({**SH, "IpAddress": "203.0.113.1"})
    status, _, body = _send(vpc_endpoint, "POST", url + "&Name=added-later")
    assert status == 400
    data = json.loads(body)
    assert data["Code"] == "SignatureDoesNotMatch"
    server_sts = data["Message"].split(":", 1)[1]
    assert server_sts != client_sts
    assert "Name%3Dadded-later" in server_sts
    client = AcsClient(DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET, "cn-shanghai")
    exception = client._get_server_exception(400, body, vpc_endpoint, client_sts)
    assert exception.get_error_code() == "SignatureDoesNotMatch"
    assert exception.get_http_status() == 400


def test_unknown_access_key(sdk):
    stranger = VpcSdk(sdk.kind, sdk.endpoint, access_key_id="LTAI5tNobodyKnowsMe")
    error = stranger.error(CREATE, **SH, IpAddress="203.0.113.1")
    assert (error.code, error.status) == ("InvalidAccessKeyId.NotFound", 404)
    assert "Specified access key is not found." in error.message


# -- nonce replay -----------------------------------------------------------------------------
def test_replayed_nonce_aliyunsdkcore(make_sdk, monkeypatch, vpc_backend):
    nonce = uuid.uuid4().hex
    monkeypatch.setattr(parameter_helper, "get_uuid", lambda: nonce)
    sdk = make_sdk("core")
    assert sdk.call(CREATE, **SH, IpAddress="203.0.113.1")
    error = sdk.error(CREATE, **SH, IpAddress="203.0.113.2")
    assert (error.code, error.status) == ("SignatureNonceUsed", 400)
    assert "Specified signature nonce was used already." in error.message
    assert [g.ip_address for g in vpc_backend.customer_gateways()] == ["203.0.113.1"]


@pytest.mark.parametrize("kind", ["tea-v3", "tea-v2"])
def test_replayed_nonce_tea(make_sdk, monkeypatch, kind):
    nonce = uuid.uuid4().hex  # nonces outlive cloud.reset(), as they would on the gateway
    monkeypatch.setattr(TeaUtils, "get_nonce", staticmethod(lambda: nonce))
    sdk = make_sdk(kind)
    assert sdk.call("DescribeRegions")
    error = sdk.error("DescribeRegions")
    assert (error.code, error.status) == ("SignatureNonceUsed", 400)


def test_byte_for_byte_replay_is_refused(vpc_endpoint, vpc_backend):
    url, _ = _v1_url({**SH, "IpAddress": "203.0.113.1"})
    first = _send(vpc_endpoint, "POST", url)
    second = _send(vpc_endpoint, "POST", url)
    assert first[0] == 200
    assert second[0] == 400
    assert json.loads(second[2])["Code"] == "SignatureNonceUsed"
    assert len(vpc_backend.customer_gateways()) == 1


def test_same_nonce_under_another_key_is_fine(make_sdk, monkeypatch):
    nonce = uuid.uuid4().hex
    monkeypatch.setattr(parameter_helper, "get_uuid", lambda: nonce)
    assert make_sdk("core").call("DescribeRegions")
    sts = make_sdk(
        "core",
        access_key_id=STS_KEY.access_key_id,
        access_key_secret=STS_KEY.access_key_secret,
        security_token=STS_KEY.security_token,
    )
    assert sts.call("DescribeRegions")


# -- timestamps -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("skew", "code"),
    [
        (timedelta(minutes=-16), "InvalidTimeStamp.Expired"),
        (timedelta(minutes=16), "InvalidTimeStamp.Expired"),
        (timedelta(minutes=-14), None),
        (timedelta(minutes=14), None),
    ],
    ids=["16min-late", "16min-early", "14min-late", "14min-early"],
)
@pytest.mark.parametrize("kind", ["core", "tea-v3", "tea-v2"])
def test_clock_skew(make_sdk, monkeypatch, kind, skew, code):
    stamp = _utc(skew)
    monkeypatch.setattr(parameter_helper, "get_iso_8061_date", lambda: stamp)
    monkeypatch.setattr(TeaUtils, "get_timestamp", staticmethod(lambda: stamp))
    sdk = make_sdk(kind)
    if code is None:
        assert sdk.call("DescribeRegions")["Regions"]
        return
    error = sdk.error("DescribeRegions")
    assert (error.code, error.status) == (code, 400)
    assert "Specified time stamp or date value is expired." in error.message


@pytest.mark.parametrize("kind", ["core", "tea-v3", "tea-v2"])
def test_badly_formatted_timestamp(make_sdk, monkeypatch, kind):
    monkeypatch.setattr(parameter_helper, "get_iso_8061_date", lambda: "2026/11/25 10:00:00")
    monkeypatch.setattr(TeaUtils, "get_timestamp", staticmethod(lambda: "yesterday"))
    error = make_sdk(kind).error("DescribeRegions")
    assert (error.code, error.status) == ("InvalidTimeStamp.Format", 400)
    assert "Specified time stamp or date value is not well formatted." in error.message


# -- STS --------------------------------------------------------------------------------------
def _sts(make_sdk, kind, token):
    return make_sdk(
        kind,
        access_key_id=STS_KEY.access_key_id,
        access_key_secret=STS_KEY.access_key_secret,
        security_token=token,
    )


@pytest.mark.parametrize("kind", ["core", "tea-v3", "tea-v2"])
def test_sts_credential_works(make_sdk, localcloud, kind):
    body = _sts(make_sdk, kind, STS_KEY.security_token).call(CREATE, **SH, IpAddress="203.0.113.1")
    assert body["CustomerGatewayId"].startswith("cgw-")
    (call,) = localcloud.cloud.calls.snapshot()
    assert call["access_key_id"] == STS_KEY.access_key_id
    assert "SecurityToken" not in call["parameters"]
    assert STS_KEY.security_token not in json.dumps(call)


@pytest.mark.parametrize("kind", ["core", "tea-v3", "tea-v2"])
def test_sts_wrong_token(make_sdk, vpc_backend, kind):
    error = _sts(make_sdk, kind, "some-other-token").error(CREATE, **SH, IpAddress="203.0.113.1")
    assert (error.code, error.status) == ("InvalidSecurityToken.MismatchWithAccessKey", 400)
    assert vpc_backend.customer_gateways() == []


@pytest.mark.parametrize("kind", ["core", "tea-v3", "tea-v2"])
def test_sts_key_without_token(make_sdk, kind):
    error = _sts(make_sdk, kind, None).error("DescribeRegions")
    assert (error.code, error.status) == ("MissingSecurityToken", 400)
    assert "SecurityToken is mandatory for this action." in error.message


@pytest.mark.parametrize("kind", ["core", "tea-v3", "tea-v2"])
def test_token_with_a_permanent_key(make_sdk, kind):
    error = make_sdk(kind, security_token="sts-security-token-value").error("DescribeRegions")
    assert (error.code, error.status) == ("InvalidSecurityToken.MismatchWithAccessKey", 400)


# -- what else the gateway checks -------------------------------------------------------------
def test_unknown_action_through_both_sdks(make_sdk, vpc_endpoint):
    core = make_sdk("core")
    request = CommonRequest(
        domain=vpc_endpoint, version="2016-04-28", action_name="DescribeNothing", product="Vpc"
    )
    request.set_method("POST")
    request.add_query_param("RegionId", "cn-shanghai")
    with pytest.raises(Exception) as info:
        core.client.do_action_with_exception(request)
    assert info.value.get_error_code() == "InvalidApi.NotFound"
    assert info.value.get_http_status() == 404

    for kind in ("tea-v3", "tea-v2"):
        tea = make_sdk(kind)
        params = Params(
            action="DescribeNothing",
            version="2016-04-28",
            protocol="HTTP",
            pathname="/",
            method="POST",
            auth_type="AK",
            style="RPC",
            req_body_type="formData",
            body_type="json",
        )
        with pytest.raises(TeaException) as info:
            tea.client.call_api(params, OpenApiRequest(query={}), RuntimeOptions())
        assert (info.value.code, info.value.status_code) == ("InvalidApi.NotFound", 404)


def test_form_body_parameters_are_signed_and_used(make_sdk, vpc_endpoint, vpc_backend):
    """CommonRequest body parameters travel as a form body (space as '+') and are signed."""
    core = make_sdk("core")
    request = CommonRequest(
        domain=vpc_endpoint, version="2016-04-28", action_name=CREATE, product="Vpc"
    )
    request.set_method("POST")
    request.add_query_param("RegionId", "cn-shanghai")
    request.add_body_params("IpAddress", "203.0.113.50")
    request.add_body_params("Description", "Edge router one ~*/+")
    body = json.loads(core.client.do_action_with_exception(request))
    (stored,) = vpc_backend.customer_gateways()
    assert stored.customer_gateway_id == body["CustomerGatewayId"]
    assert stored.description == "Edge router one ~*/+"


def test_get_requests_work(make_sdk, vpc_endpoint):
    core = make_sdk("core")
    request = CommonRequest(
        domain=vpc_endpoint, version="2016-04-28", action_name="DescribeRegions", product="Vpc"
    )
    assert request.get_method() == "GET"
    assert json.loads(core.client.do_action_with_exception(request))["Regions"]


def test_tea_plus_for_space_in_query(make_sdk, vpc_backend):
    """Tea V1 puts the parameters in the URL with urlencode ('+' for a space)."""
    sdk = make_sdk("tea-v2")
    sdk.call(CREATE, **SH, IpAddress="203.0.113.51", Description="Edge router + spare ~*/")
    assert vpc_backend.customer_gateways()[0].description == "Edge router + spare ~*/"


@pytest.mark.parametrize(
    ("drop", "code"),
    [
        ("Signature", "MissingSignature"),
        ("AccessKeyId", "MissingAccessKeyId"),
        ("SignatureNonce", "MissingSignatureNonce"),
        ("Timestamp", "MissingTimestamp"),
        ("SignatureMethod", "MissingSignatureMethod"),
    ],
)
def test_missing_common_parameter(vpc_endpoint, drop, code):
    url, _ = _v1_url({**SH})
    kept = [p for p in url[2:].split("&") if not p.startswith(f"{drop}=")]
    status, headers, body = _send(vpc_endpoint, "POST", "/?" + "&".join(kept))
    data = json.loads(body)
    assert (status, data["Code"]) == (400, code)
    assert data["Message"] == f"{drop} is mandatory for this action."
    assert headers["Content-Type"] == "application/json;charset=utf-8"


@pytest.mark.parametrize(
    ("sent", "changed", "code"),
    [
        ("SignatureMethod=HMAC-SHA1", "SignatureMethod=HMAC-SHA256", "InvalidSignatureMethod"),
        ("SignatureVersion=1.0", "SignatureVersion=2.0", "InvalidSignatureVersion"),
        ("Timestamp=", "Timestamp=20261125T100000Z&x=", "InvalidTimeStamp.Format"),
    ],
)
def test_refused_before_the_signature_is_checked(vpc_endpoint, sent, changed, code):
    url, _ = _v1_url({**SH})
    assert sent in url
    status, _, body = _send(vpc_endpoint, "POST", url.replace(sent, changed))
    assert (status, json.loads(body)["Code"]) == (400, code)


def _signed_without_sdk_defaults(params: dict) -> str:
    url, _ = rpc_signature_composer.get_signed_url(
        params, DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET, "JSON", "POST", {}
    )
    return url


def test_missing_action_and_wrong_version(vpc_endpoint):
    status, _, body = _send(
        vpc_endpoint, "POST", _signed_without_sdk_defaults({"Version": "2016-04-28", **SH})
    )
    data = json.loads(body)
    assert (status, data["Code"]) == (400, "MissingAction")
    assert data["Message"] == "Action is mandatory for this action."

    url = _signed_without_sdk_defaults({"Action": "DescribeRegions", "Version": "2014-05-26"})
    status, _, body = _send(vpc_endpoint, "POST", url)
    data = json.loads(body)
    assert (status, data["Code"]) == (400, "InvalidVersion")
    assert data["Message"].startswith("Specified parameter Version is not valid.")


# -- ACS3 specifics ---------------------------------------------------------------------------
def test_acs3_raw_request_signed_by_tea_passes(vpc_endpoint, vpc_backend):
    query = {**SH, "IpAddress": "203.0.113.60"}
    headers = _v3_headers(vpc_endpoint, query)
    status, _, body = _send(vpc_endpoint, "POST", "/?" + urlencode(query), headers)
    assert status == 200, body
    assert len(vpc_backend.customer_gateways()) == 1


@pytest.mark.parametrize(
    ("tamper", "code", "fragment"),
    [
        (
            lambda h: h.update({"x-acs-extra": "unsigned"}),
            "IncompleteSignature",
            "These headers must be signed: x-acs-extra.",
        ),
        (
            lambda h: h.update({"x-acs-content-sha256": hashlib.sha256(b"x").hexdigest()}),
            "IncompleteSignature",
            "x-acs-content-sha256 is not the SHA-256 of the body",
        ),
        (
            lambda h: h.update(
                {"Authorization": h["Authorization"].replace("ACS3-HMAC-SHA256", "ACS3-HMAC-SM3")}
            ),
            "InvalidSignatureMethod",
            "Specified signature method is not valid.",
        ),
        (
            lambda h: h.update({"Authorization": h["Authorization"].split(",Signature=")[0]}),
            "IncompleteSignature",
            "The Authorization header lacks Signature",
        ),
        (lambda h: h.pop("x-acs-date"), "IncompleteSignature", "x-acs-date header is required"),
        (
            lambda h: h.update({"x-acs-version": "2016-04-29"}),
            "SignatureDoesNotMatch",
            "server string to sign is:ACS3-HMAC-SHA256\n",
        ),
    ],
    ids=["unsigned-x-acs", "body-hash", "sm3", "no-signature", "no-date", "changed-header"],
)
def test_acs3_refusals(vpc_endpoint, vpc_backend, tamper, code, fragment):
    query = {**SH, "IpAddress": "203.0.113.61"}
    headers = _v3_headers(vpc_endpoint, query)
    tamper(headers)
    status, _response_headers, body = _send(vpc_endpoint, "POST", "/?" + urlencode(query), headers)
    data = json.loads(body)
    assert (status, data["Code"]) == (400, code)
    assert fragment in data["Message"]
    assert vpc_backend.customer_gateways() == []


def test_acs3_signed_query_cannot_be_extended(vpc_endpoint):
    query = {**SH, "IpAddress": "203.0.113.62"}
    headers = _v3_headers(vpc_endpoint, query)
    status, _, body = _send(
        vpc_endpoint, "POST", "/?" + urlencode({**query, "Name": "sneaky"}), headers
    )
    assert (status, json.loads(body)["Code"]) == (400, "SignatureDoesNotMatch")


# -- malformed signing, produced by the SDKs themselves with one piece of their signer changed --
def _without_signature(original):
    def authorization(*args, **kwargs):
        return original(*args, **kwargs).split(",Signature=")[0]

    return staticmethod(authorization)


def _with_algorithm(original, algorithm):
    def authorization(*args, **kwargs):
        return original(*args, **kwargs).replace("ACS3-HMAC-SHA256", algorithm)

    return staticmethod(authorization)


@pytest.mark.parametrize(
    ("kind", "patch", "code"),
    [
        ("core", "empty-nonce", "MissingSignatureNonce"),
        ("tea-v2", "empty-nonce", "MissingSignatureNonce"),
        ("tea-v3", "empty-nonce", "IncompleteSignature"),
        ("core", "sha256-method", "InvalidSignatureMethod"),
        ("tea-v3", "sm3-algorithm", "InvalidSignatureMethod"),
        ("tea-v3", "no-signature", "IncompleteSignature"),
    ],
)
def test_malformed_signing_parsed_by_the_sdk(make_sdk, monkeypatch, kind, patch, code):
    if patch == "empty-nonce":
        monkeypatch.setattr(parameter_helper, "get_uuid", lambda: "")
        monkeypatch.setattr(TeaUtils, "get_nonce", staticmethod(lambda: ""))
    elif patch == "sha256-method":
        monkeypatch.setattr(sha_hmac1, "get_signer_name", lambda: "HMAC-SHA256")
    elif patch == "sm3-algorithm":
        monkeypatch.setattr(
            TeaUtils,
            "get_authorization",
            _with_algorithm(TeaUtils.get_authorization, "ACS3-HMAC-SM3"),
        )
    else:
        monkeypatch.setattr(
            TeaUtils, "get_authorization", _without_signature(TeaUtils.get_authorization)
        )
    error = make_sdk(kind).error("DescribeRegions")
    assert (error.code, error.status) == (code, 400)


def test_wrong_version_parsed_by_both_sdks(make_sdk, vpc_endpoint):
    core = make_sdk("core")
    request = CommonRequest(
        domain=vpc_endpoint, version="2014-05-26", action_name="DescribeRegions", product="Vpc"
    )
    with pytest.raises(Exception) as info:
        core.client.do_action_with_exception(request)
    assert (info.value.get_error_code(), info.value.get_http_status()) == ("InvalidVersion", 400)
    for kind in ("tea-v3", "tea-v2"):
        params = Params(
            action="DescribeRegions",
            version="2014-05-26",
            protocol="HTTP",
            pathname="/",
            method="POST",
            auth_type="AK",
            style="RPC",
            req_body_type="formData",
            body_type="json",
        )
        with pytest.raises(TeaException) as info:
            make_sdk(kind).client.call_api(params, OpenApiRequest(query={}), RuntimeOptions())
        assert (info.value.code, info.value.status_code) == ("InvalidVersion", 400)
