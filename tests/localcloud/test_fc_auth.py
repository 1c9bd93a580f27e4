"""FC request signatures: the documented test vector, fc2's signer, and every refusal."""

from __future__ import annotations

import email.utils
import json
import textwrap
import time

import fc2
import pytest
import requests
from fc2.auth import Auth
from hypothesis import given, settings
from hypothesis import strategies as st

from localcloud.auth.fc import authorization, sign, string_to_sign
from localcloud.credentials import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET
from tests.conftest import STS_KEY

PATH = "/2016-08-15/services/svc/functions/fn/invocations"


def test_documented_test_vector():
    headers = {
        "date": "Mon, 02 Jan 2006 15:04:05 GMT",
        "content-type": "application/json",
        "x-fc-invocation-type": "Async",
        "x-fc-security-token": "tok",
    }
    text = string_to_sign("POST", PATH, headers)
    assert text == (
        "POST\n\napplication/json\nMon, 02 Jan 2006 15:04:05 GMT\n"
        "x-fc-invocation-type:Async\nx-fc-security-token:tok\n" + PATH
    )
    expected = "FC AKID:+VcnGxdfVs3V9iZOXyCrU+fy4fZB64WOJtv7F/By/QI="
    assert authorization("AKID", "SECRET", text) == expected
    assert Auth("AKID", "SECRET", "tok").sign_request("POST", PATH, headers) == expected


_header_value = st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=0, max_size=20)


@settings(deadline=None, max_examples=100)
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE"]),
    path=st.from_regex(
        r"/2016-08-15/services/[a-z_][a-z0-9_-]{0,10}(/functions/[a-z]{1,8})?", fullmatch=True
    ),
    fc_headers=st.dictionaries(
        st.from_regex(r"x-fc-[a-z-]{1,12}", fullmatch=True), _header_value, max_size=4
    ),
    md5=_header_value,
    secret=st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=30),
)
def test_our_signature_equals_fc2s(method, path, fc_headers, md5, secret):
    headers = {"date": "Tue, 03 Jan 2006 15:04:05 GMT", "content-type": "application/json"}
    headers.update(fc_headers)
    if md5:
        headers["content-md5"] = md5
    ours = "FC id:" + sign(secret, string_to_sign(method, path, headers))
    assert ours == Auth("id", secret).sign_request(method, path, headers)


@pytest.fixture
def toy(localcloud, tmp_path):
    (tmp_path / "index.py").write_text(
        textwrap.dedent(
            """
            def handler(event, context):
                return event
            """
        )
    )
    backend = localcloud.cloud.backends.fc
    backend.create_service("svc")
    backend.create_function(
        "svc", "fn", handler="index.handler", runtime="python3.10", code_dir=str(tmp_path)
    )
    return localcloud


def _client(cloud, key=DEFAULT_ACCESS_KEY_ID, secret=DEFAULT_ACCESS_KEY_SECRET, token=""):
    return fc2.Client(
        endpoint=cloud.cloud.base_url, accessKeyID=key, accessKeySecret=secret, securityToken=token
    )


def test_fc2_client_is_accepted(toy):
    assert _client(toy).invoke_function("svc", "fn", b"ping").data == b"ping"


def test_sts_credential_with_its_token_is_accepted(toy):
    client = _client(toy, STS_KEY.access_key_id, STS_KEY.access_key_secret, STS_KEY.security_token)
    assert client.invoke_function("svc", "fn", b"sts").data == b"sts"


def test_sts_credential_without_token_is_refused(toy):
    client = _client(toy, STS_KEY.access_key_id, STS_KEY.access_key_secret)
    with pytest.raises(fc2.FcError) as caught:
        client.invoke_function("svc", "fn", b"x")
    assert (caught.value.status_code, caught.value.err_code) == (403, "InvalidSecurityToken")


def test_wrong_secret_is_signature_not_match(toy):
    with pytest.raises(fc2.FcError) as caught:
        _client(toy, secret="not-the-secret").invoke_function("svc", "fn", b"x")
    assert (caught.value.status_code, caught.value.err_code) == (403, "SignatureNotMatch")
    calls = toy.cloud.calls.snapshot()
    assert calls[-1]["code"] == "SignatureNotMatch"
    assert "Authorization" not in json.dumps(calls)


def test_unknown_key_is_invalid_access_key_id(toy):
    with pytest.raises(fc2.FcError) as caught:
        _client(toy, key="LTAIUnknown").invoke_function("svc", "fn", b"x")
    assert (caught.value.status_code, caught.value.err_code) == (403, "InvalidAccessKeyID")
    assert "LTAIUnknown" in caught.value.message


def _signed_post(cloud, date: str, **extra_headers) -> requests.Response:
    headers = {"date": date, "content-type": "application/json", **extra_headers}
    headers["authorization"] = authorization(
        DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET, string_to_sign("POST", PATH, headers)
    )
    return requests.post(cloud.cloud.base_url + PATH, data=b"raw", headers=headers, timeout=10)


@pytest.mark.parametrize(
    ("offset_s", "accepted"), [(-14 * 60, True), (16 * 60, False), (-16 * 60, False)]
)
def test_date_within_fifteen_minutes(toy, offset_s, accepted):
    date = email.utils.formatdate(time.time() + offset_s, usegmt=True)
    response = _signed_post(toy, date)
    if accepted:
        assert (response.status_code, response.content) == (200, b"raw")
    else:
        assert response.status_code == 403
        assert response.json()["ErrorCode"] == "RequestTimeTooSkewed"
        assert response.headers["X-Fc-Request-Id"]


def test_missing_authorization_is_missing_required_header(toy):
    response = requests.post(
        toy.cloud.base_url + PATH,
        headers={"date": email.utils.formatdate(usegmt=True)},
        timeout=10,
    )
    assert response.status_code == 400
    assert response.json()["ErrorCode"] == "MissingRequiredHeader"


def test_signed_fc_header_cannot_be_changed(toy):
    """x-fc-* headers are signed: flipping the invocation type after signing is refused."""
    headers = {
        "date": email.utils.formatdate(usegmt=True),
        "content-type": "application/json",
        "x-fc-invocation-type": "Sync",
    }
    headers["authorization"] = authorization(
        DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET, string_to_sign("POST", PATH, headers)
    )
    headers["x-fc-invocation-type"] = "Async"
    response = requests.post(toy.cloud.base_url + PATH, headers=headers, timeout=10)
    assert (response.status_code, response.json()["ErrorCode"]) == (403, "SignatureNotMatch")
