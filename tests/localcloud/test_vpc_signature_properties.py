"""Property tests: whatever parameters the SDK signers sign, localcloud's verifiers agree, and
one changed character anywhere in the signed content makes them disagree.

Signers are the SDKs' own: aliyunsdkcore's rpc_signature_composer.get_signed_url (the URL it
builds is what it sends) and Tea's Utils.get_rpcsignature with darabonba's urlencode of the
query (V1), and Tea's Utils.get_authorization (ACS3).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import datetime, timezone
from urllib.parse import urlencode

import pytest
from alibabacloud_tea_openapi.utils import Utils as TeaUtils
from aliyunsdkcore.auth.composer import rpc_signature_composer
from aliyunsdkcore.request import CommonRequest
from darabonba.request import DaraRequest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from localcloud.auth import NonceCache, OpenApiAuthError, acs3, rpc_v1
from localcloud.credentials import (
    DEFAULT_ACCESS_KEY_ID,
    DEFAULT_ACCESS_KEY_SECRET,
    Credential,
    CredentialStore,
)

COMMON = {
    "Action",
    "Version",
    "Format",
    "AccessKeyId",
    "Signature",
    "SignatureMethod",
    "SignatureVersion",
    "SignatureNonce",
    "SignatureType",
    "Timestamp",
    "SecurityToken",
    "RegionId",
}
# Any text without lone surrogates (which no UTF-8 request can carry), with the characters the
# encodings treat specially made likely.
_text = st.text(
    alphabet=st.one_of(
        st.sampled_from(list(" *~/+%&=?#;:,'\"!()$@[]^`{|}\\.-_")),
        st.characters(blacklist_categories=("Cs",)),
    ),
    max_size=20,
)
_names = _text.filter(lambda n: n and n not in COMMON)
_parameters = st.dictionaries(_names, _text, min_size=1, max_size=6)

settings.register_profile("vpc-signatures", deadline=None, max_examples=150)


def _store() -> CredentialStore:
    store = CredentialStore()
    store.add(Credential(DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET))
    return store


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _verify_v1(method: str, parameters: dict[str, str]) -> Credential:
    return rpc_v1.verify(method, parameters, _store(), NonceCache(), _now())


def _core_signed(parameters, body=None, method="POST"):
    """(query parameters as the server decodes them, body parameters) from aliyunsdkcore."""
    url, _ = rpc_signature_composer.get_signed_url(
        {"Action": "DescribeRegions", "Version": "2016-04-28", **parameters},
        DEFAULT_ACCESS_KEY_ID,
        DEFAULT_ACCESS_KEY_SECRET,
        "JSON",
        method,
        body or {},
    )
    assert url.startswith("/?")
    decoded = rpc_v1.parse_parameters(url[2:])
    # The client sends body parameters with urlencode (client.py _make_http_response).
    decoded.update(rpc_v1.parse_parameters(urlencode(body or {})))
    return decoded


def _tea_signed(parameters):
    query = {
        "Action": "DescribeRegions",
        "Format": "json",
        "Version": "2016-04-28",
        "Timestamp": TeaUtils.get_timestamp(),
        "SignatureNonce": TeaUtils.get_nonce(),
        **parameters,
        "SignatureMethod": "HMAC-SHA1",
        "SignatureVersion": "1.0",
        "AccessKeyId": DEFAULT_ACCESS_KEY_ID,
    }
    query["Signature"] = TeaUtils.get_rpcsignature(dict(query), "POST", DEFAULT_ACCESS_KEY_SECRET)
    # darabonba's compose_url: urlencode, so a space travels as '+'.
    return rpc_v1.parse_parameters(urlencode(query))


def _flip(parameters: dict[str, str], name: str, position: int, replacement: str) -> dict:
    value = parameters[name]
    if value:
        index = position % len(value)
        assume(value[index] != replacement)
        changed = value[:index] + replacement + value[index + 1 :]
    else:
        changed = replacement
    return {**parameters, name: changed}


@settings(settings.get_profile("vpc-signatures"))
@given(parameters=_parameters, method=st.sampled_from(["GET", "POST"]))
def test_aliyunsdkcore_signatures_verify(parameters, method):
    assert _verify_v1(method, _core_signed(parameters, method=method)).access_key_id == (
        DEFAULT_ACCESS_KEY_ID
    )


@settings(settings.get_profile("vpc-signatures"))
@given(query=_parameters, body=_parameters)
def test_aliyunsdkcore_form_body_signatures_verify(query, body):
    assume(not set(query) & set(body))
    assert _verify_v1("POST", _core_signed(query, body))


@settings(settings.get_profile("vpc-signatures"))
@given(parameters=_parameters)
def test_tea_v2_signatures_verify(parameters):
    assert _verify_v1("POST", _tea_signed(parameters))


@settings(settings.get_profile("vpc-signatures"))
@given(
    parameters=_parameters,
    data=st.data(),
    replacement=st.characters(blacklist_categories=("Cs",)),
    signer=st.sampled_from(["core", "tea"]),
)
def test_one_changed_character_fails(parameters, data, replacement, signer):
    signed = _core_signed(parameters) if signer == "core" else _tea_signed(parameters)
    name = data.draw(st.sampled_from(sorted(parameters)))
    position = data.draw(st.integers(min_value=0, max_value=100))
    tampered = _flip(signed, name, position, replacement)
    with pytest.raises(OpenApiAuthError) as info:
        _verify_v1("POST", tampered)
    assert info.value.code == "SignatureDoesNotMatch"
    # The message carries the server's string to sign after the first ':' (aliyunsdkcore).
    assert info.value.message.split(":", 1)[1] == rpc_v1.string_to_sign("POST", tampered)


@settings(settings.get_profile("vpc-signatures"))
@given(
    query=st.dictionaries(
        st.from_regex(r"[A-Za-z][A-Za-z0-9._-]{0,15}", fullmatch=True), _text, max_size=6
    ),
    body=st.binary(max_size=64),
)
def test_tea_acs3_signatures_verify(query, body):
    request = DaraRequest()
    request.method = "POST"
    request.pathname = "/"
    request.query = query
    request.headers = {
        "host": "127.0.0.1:8080",
        "x-acs-version": "2016-04-28",
        "x-acs-action": "DescribeRegions",
        "user-agent": "AlibabaCloud (Linux) Python/3.10",
        "x-acs-date": TeaUtils.get_timestamp(),
        "x-acs-signature-nonce": TeaUtils.get_nonce(),
        "accept": "application/json",
        "x-acs-content-sha256": hashlib.sha256(body).hexdigest(),
    }
    authorization = TeaUtils.get_authorization(
        request,
        "ACS3-HMAC-SHA256",
        request.headers["x-acs-content-sha256"],
        DEFAULT_ACCESS_KEY_ID,
        DEFAULT_ACCESS_KEY_SECRET,
    )
    headers = {k: [v] for k, v in request.headers.items()}
    headers["authorization"] = [authorization]
    # The server sees the query after darabonba's urlencode and its own decoding.
    decoded = rpc_v1.parse_parameters(urlencode(query))
    signed = acs3.SignedRequest("POST", "/", decoded, headers, body)
    assert acs3.verify(signed, _store(), NonceCache(), _now())

    if query:
        name = sorted(query)[0]
        tampered = acs3.SignedRequest(
            "POST", "/", {**decoded, name: decoded[name] + "x"}, headers, body
        )
        with pytest.raises(OpenApiAuthError) as info:
            acs3.verify(tampered, _store(), NonceCache(), _now())
        assert info.value.code == "SignatureDoesNotMatch"


@settings(
    deadline=None, max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(parameters=_parameters)
def test_random_parameters_over_http_with_aliyunsdkcore(make_sdk, vpc_endpoint, parameters):
    """Unknown parameters are ignored by the action but signed like any other."""
    core = make_sdk("core")
    request = CommonRequest(
        domain=vpc_endpoint, version="2016-04-28", action_name="DescribeRegions", product="Vpc"
    )
    request.set_method("POST")
    for name, value in parameters.items():
        request.add_query_param(name, value)
    body = json.loads(core.client.do_action_with_exception(request))
    assert body["Regions"]["Region"]
    assert uuid.UUID(body["RequestId"])
