"""cgw.py's ClientToken rules: the line token, and the function's derived token reproduced
without importing the function (pinned here to the function's own code)."""

from __future__ import annotations

import base64
import json
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from cgw_provisioner.events import Delivery, decode_event
from tools.cgwcli.tokens import canonical_json, delivery_token, line_token, request_bytes

SCHEMA_TOKEN = re.compile(r"[!-~]{1,64}")
message_ids = st.text(
    st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=64
)
requests = st.dictionaries(
    st.text(max_size=12), st.one_of(st.text(max_size=20), st.integers(), st.none()), max_size=6
)


def test_delivery_token_is_the_functions_for_fixed_inputs():
    body = b'{"RegionId":"cn-shanghai","IpAddress":"203.0.113.10"}'
    expected = Delivery("mns-queue", "F9E7810191E6FDA5-1-1A24EAF3FED-000000001", body)
    assert delivery_token("F9E7810191E6FDA5-1-1A24EAF3FED-000000001", body) == (
        expected.derived_client_token()
    )
    assert delivery_token("m-1", body).startswith("cgw-")
    assert len(delivery_token("m-1", body)) == 44
    assert delivery_token("m-1", body) != delivery_token("m-2", body)


@settings(max_examples=200, deadline=None)
@given(message_ids, st.binary(max_size=200))
def test_delivery_token_matches_the_function_for_any_message(message_id, body):
    assert delivery_token(message_id, body) == (
        Delivery("mns-queue", message_id, body).derived_client_token()
    )


@settings(max_examples=200, deadline=None)
@given(message_ids, requests, st.booleans())
def test_request_bytes_are_the_bytes_the_function_reads(message_id, request, as_base64):
    """The message body of a dead-lettered CloudEvent -> the same bytes the function's
    decoder gives, plain JSON text or Base64 of it."""
    text = json.dumps(request, ensure_ascii=False)
    body = base64.b64encode(text.encode()).decode() if as_base64 else text
    event = {
        "specversion": "1.0",
        "id": message_id,
        "data": {"messageId": message_id, "messageBody": body},
    }
    (delivery,) = decode_event(json.dumps([event]).encode())
    assert request_bytes(body) == delivery.body
    assert delivery_token(message_id, request_bytes(body)) == delivery.derived_client_token()


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80))
def test_request_bytes_of_any_text_match_the_function(body):
    event = {"specversion": "1.0", "id": "m", "data": {"messageId": "m", "messageBody": body}}
    (delivery,) = decode_event(json.dumps([event]).encode())
    assert request_bytes(body) == delivery.body


@given(st.integers(min_value=1, max_value=10**6), requests)
def test_line_token_is_stable_short_printable_ascii(position, request):
    token = line_token(position, request)
    assert token == line_token(position, dict(reversed(list(request.items()))))
    assert SCHEMA_TOKEN.fullmatch(token)
    assert len(token) == 44
    assert token.startswith("cli-")


def test_line_token_changes_with_the_line_or_the_content():
    request = {"RegionId": "cn-shanghai", "IpAddress": "203.0.113.10"}
    assert line_token(1, request) != line_token(2, request)
    assert line_token(1, request) != line_token(1, {**request, "Name": "branch"})
    assert canonical_json({"b": 1, "a": "é"}) == '{"a":"é","b":1}'
