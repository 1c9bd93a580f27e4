"""Property tests for the MNS parsers and signers, cross-checked against aliyun-mns-sdk code."""

from __future__ import annotations

import base64
import hashlib

from hypothesis import given, settings
from hypothesis import strategies as st
from mns.auth import Credentials
from mns.mns_client import MNSClient
from mns.mns_xml_handler import DecoderBase

from localcloud.auth import mns as mns_auth
from localcloud.mns import wire
from localcloud.mns.models import MnsError, decode_receipt_handle, encode_receipt_handle

# Characters XML 1.0 allows (what the SDK's minidom can carry).
_XML_TEXT = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00").filter(
        lambda c: c in "\t\n\r" or (ord(c) >= 0x20 and c not in "\ufffe\uffff")
    )
)
# No per-example deadline: CI machines have 2 cores and other tests running.
_NO_DEADLINE = settings(deadline=None)
_TOKEN = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=30)


@_NO_DEADLINE
@given(st.text(min_size=1, max_size=80), st.integers(min_value=0, max_value=10**9))
def test_receipt_handles_round_trip_and_stay_url_safe(message_id, generation):
    handle = encode_receipt_handle(message_id, generation)
    assert decode_receipt_handle(handle) == (message_id, generation)
    assert all(c.isalnum() or c in "-_" for c in handle)


@_NO_DEADLINE
@given(st.text(max_size=200))
def test_any_other_handle_is_receipt_handle_error_or_decodes(text):
    error = None
    try:
        decode_receipt_handle(text)
    except MnsError as exc:
        error = exc
    assert error is None or (error.code, error.status) == ("ReceiptHandleError", 400)


@_NO_DEADLINE
@given(st.binary(max_size=2000), st.binary(max_size=50))
def test_content_md5_accepts_both_forms_and_nothing_else(body, other):
    md5 = hashlib.md5(body)
    assert mns_auth.content_md5_matches(base64.b64encode(md5.digest()).decode(), body)
    assert mns_auth.content_md5_matches(base64.b64encode(md5.hexdigest().encode()).decode(), body)
    if hashlib.md5(other).digest() != md5.digest():
        assert not mns_auth.content_md5_matches(
            base64.b64encode(hashlib.md5(other).digest()).decode(), body
        )


@_NO_DEADLINE
@given(
    st.sampled_from(["GET", "PUT", "POST", "DELETE"]),
    st.dictionaries(st.from_regex(r"x-mns-[a-z\-]{1,12}", fullmatch=True), _TOKEN, max_size=4),
    st.from_regex(
        r"/queues/[a-z0-9\-]{1,20}(/messages(\?ReceiptHandle=[A-Za-z0-9+/=_\-]{1,40})?)?",
        fullmatch=True,
    ),
    _TOKEN,
)
def test_signature_matches_the_sdk_signer(method, mns_headers, resource, secret):
    headers = {
        **mns_headers,
        "content-md5": "abc",
        "content-type": "text/xml;charset=UTF-8",
        "date": "Thu, 07 Mar 2012 18:49:58 GMT",
        "host": "127.0.0.1",
    }
    sdk = MNSClient("http://127.0.0.1:1", "id", secret).get_signature(
        method, headers, resource, Credentials("id", secret)
    )
    ours = mns_auth.sign(
        secret, mns_auth.string_to_sign(mns_auth.SignedRequest(method, resource, headers, b""))
    )
    assert sdk == f"MNS id:{ours}"


@_NO_DEADLINE
@given(_XML_TEXT)
def test_rendered_bodies_reach_the_sdk_parser_unchanged(body):
    document = wire.document("Message", [("MessageBody", body)]).decode()
    parsed: dict[str, str] = {}
    DecoderBase.xml_to_dic("Message", document, parsed)
    assert parsed["MessageBody"] == body


@_NO_DEADLINE
@given(st.from_regex(r"[A-Za-z0-9+/=_\-]{1,40}", fullmatch=True))
def test_raw_query_keeps_plus_signs_in_receipt_handles(handle):
    assert wire.raw_query(f"ReceiptHandle={handle}&VisibilityTimeout=5") == {
        "receipthandle": handle,
        "visibilitytimeout": "5",
    }
