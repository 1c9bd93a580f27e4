"""MNS authentication and error bodies, through aliyun-mns-sdk 1.3.0 against localcloud.

Where the SDK cannot produce a bad request by itself (a wrong Content-MD5, a body that is not
XML) the request is still built, signed and sent by the SDK's own MNSClient methods, only
with one header or the body changed.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import time
import types
from urllib.parse import urlsplit
from xml.etree import ElementTree

import mns.mns_client
import pytest
from mns.account import Account
from mns.mns_exception import MNSServerException
from mns.mns_http import RequestInternal
from mns.mns_xml_handler import ErrorDecoder
from mns.queue import Message, QueueMeta

from localcloud.credentials import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET
from tests.conftest import RESTRICTED_KEY, STS_KEY

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # SDK counts getters


@pytest.fixture
def base(localcloud):
    localcloud.cloud.backends.mns.create_queue("orders")
    return localcloud.cloud.base_url


def _error(call) -> MNSServerException:
    with pytest.raises(MNSServerException) as info:
        call()
    return info.value


def _send_via_sdk(account: Account, method: str, uri: str, data="", tamper=None):
    """Build, sign and send a request with the SDK's own code; `tamper(headers)` may change
    headers, after which the SDK signs again. Returns (status, headers, body)."""
    client = account.mns_client
    request = RequestInternal(method, uri)
    request.data = data
    client.build_header(types.SimpleNamespace(request_id=None), request)
    if tamper is not None:
        tamper(request.header)
        credential = client.credentials_provider.get_credentials()
        request.header["Authorization"] = client.get_signature(
            request.method, request.header, request.uri, credential
        )
    response = client.http.send_request(request)
    return response.status, response.header, response.data


def _raise_like_sdk(account: Account, status, headers, body) -> None:
    request = RequestInternal("GET", "/")
    holder = types.SimpleNamespace(status=status, header=headers)
    response = types.SimpleNamespace(status=status, header=headers, data=body)
    account.mns_client.check_status(request, response, holder)


def test_valid_signature_is_accepted(base):
    queue = Account(base, DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET).get_queue("orders")
    assert queue.send_message(Message("signed")).message_id


def test_wrong_secret_is_signature_does_not_match(base):
    queue = Account(base, DEFAULT_ACCESS_KEY_ID, "not-the-secret").get_queue("orders")
    error = _error(lambda: queue.send_message(Message("x")))
    assert error.type == "SignatureDoesNotMatch"
    assert error.request_id
    assert error.host_id


def test_unknown_key_is_invalid_access_key_id(base):
    queue = Account(base, "LTAINoSuchKey", "whatever").get_queue("orders")
    assert _error(queue.get_attributes).type == "InvalidAccessKeyId"


@pytest.mark.parametrize(
    ("skew_s", "accepted"), [(-14 * 60, True), (16 * 60, False), (-16 * 60, False)]
)
def test_date_skew_beyond_15_minutes_is_time_expired(base, monkeypatch, skew_s, accepted):
    shim = types.SimpleNamespace(
        strftime=time.strftime, gmtime=lambda: time.gmtime(time.time() + skew_s)
    )
    monkeypatch.setattr(mns.mns_client, "time", shim)
    queue = Account(base, DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET).get_queue("orders")
    if accepted:
        queue.get_attributes()
    else:
        assert _error(queue.get_attributes).type == "TimeExpired"


def test_sts_token_is_required_and_checked(base, localcloud):
    key, secret, token = STS_KEY.access_key_id, STS_KEY.access_key_secret, STS_KEY.security_token
    Account(base, key, secret, token).get_queue("orders").send_message(Message("with token"))
    without = Account(base, key, secret).get_queue("orders")
    assert _error(lambda: without.send_message(Message("x"))).type == "InvalidAccessKeyId"
    wrong = Account(base, key, secret, "forged-token").get_queue("orders")
    assert _error(lambda: wrong.send_message(Message("x"))).type == "InvalidSecurityToken"
    assert localcloud.cloud.backends.mns.get_queue("orders")["ActiveMessages"] == 1
    assert token not in repr(localcloud.cloud.calls.snapshot())


def test_restricted_credential_is_access_denied(base, localcloud):
    account = Account(base, RESTRICTED_KEY.access_key_id, RESTRICTED_KEY.access_key_secret)
    error = _error(lambda: account.get_queue("orders").send_message(Message("x")))
    assert error.type == "AccessDenied"
    assert localcloud.cloud.backends.mns.get_queue("orders")["ActiveMessages"] == 0
    last = localcloud.cloud.calls.snapshot()[-1]
    assert (last["action"], last["status"], last["code"]) == ("SendMessage", 403, "AccessDenied")


@pytest.mark.parametrize(
    ("drop", "code"),
    [("Authorization", "MissingAuthorizationHeader"), ("Date", "MissingDateHeader")],
)
def test_missing_headers(base, drop, code):
    headers = {
        "Authorization": "MNS a:b",
        "Date": time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime()),
        "x-mns-version": "2015-06-06",
    }
    del headers[drop]
    conn = http.client.HTTPConnection(urlsplit(base).netloc, timeout=10)
    conn.request("GET", "/queues/orders", headers=headers)
    response = conn.getresponse()
    body = response.read().decode()
    assert response.status == 400
    assert ErrorDecoder.decodeError(body)[0] == code
    assert response.getheader("x-mns-request-id") == ErrorDecoder.decodeError(body)[2]


def test_content_md5_sdk_quirk_and_documented_form_pass_other_values_fail(base):
    account = Account(base, DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET)
    body = (
        b'<?xml version="1.0" encoding="UTF-8"?><Message xmlns="http://mns.aliyuncs.com/doc/v1/">'
        b"<MessageBody>md5</MessageBody></Message>"
    )
    raw_digest = base64.b64encode(hashlib.md5(body).digest()).decode()

    def documented(headers):
        headers["content-md5"] = raw_digest

    def wrong(headers):
        headers["content-md5"] = base64.b64encode(hashlib.md5(b"other").digest()).decode()

    uri = "/queues/orders/messages"
    assert _send_via_sdk(account, "POST", uri, body)[0] == 201  # the SDK's Base64(hex) form
    assert _send_via_sdk(account, "POST", uri, body, documented)[0] == 201
    status, headers, data = _send_via_sdk(account, "POST", uri, body, wrong)
    assert status == 400
    with pytest.raises(MNSServerException) as info:
        _raise_like_sdk(account, status, headers, data)
    assert info.value.type == "InvalidDegist"


def test_body_that_is_not_xml_is_malformed_xml(base):
    account = Account(base, DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET)
    status, headers, data = _send_via_sdk(account, "POST", "/queues/orders/messages", b"<Message>")
    assert status == 400
    with pytest.raises(MNSServerException) as info:
        _raise_like_sdk(account, status, headers, data)
    assert info.value.type == "MalformedXML"


def test_error_body_shape(base):
    account = Account(base, DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET)
    status, headers, data = _send_via_sdk(account, "GET", "/queues/missing")
    assert status == 404
    root = ElementTree.fromstring(data)
    assert root.tag == "{http://mns.aliyuncs.com/doc/v1/}Error"
    fields = {child.tag.split("}")[1]: child.text for child in root}
    assert set(fields) == {"Code", "Message", "RequestId", "HostId"}
    assert fields["Code"] == "QueueNotExist"
    assert headers["x-mns-request-id"] == fields["RequestId"]


def test_create_queue_twice_answers_204_then_201_for_a_new_name(base):
    account = Account(base, DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET)
    body = (  # what the SDK sends for an attribute-less create
        b'<?xml version="1.0" encoding="utf-8"?><Queue xmlns="http://mns.aliyuncs.com/doc/v1/"/>'
    )
    assert _send_via_sdk(account, "PUT", "/queues/orders", body)[0] == 204
    status, headers, _ = _send_via_sdk(account, "PUT", "/queues/fresh", body)
    assert status == 201
    assert headers["Location"].endswith("/queues/fresh")
    account.get_queue("fresh").create(QueueMeta())  # and the SDK accepts the 204 too
