"""Property tests of how localcloud reads requests (issue 13): whatever arrives, each parser
returns a value or raises its service's own error, never anything else.

Front door (body limits, admin guard, log masking), then VPC, MNS and FC request parsing.
"""

from __future__ import annotations

import io
from datetime import datetime, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from localcloud import admin_guard, http_limits, log_masking
from localcloud.auth import fc as fc_auth
from localcloud.auth import mns as mns_auth
from localcloud.auth import rpc_v1
from localcloud.calls import SECRET_PARAMETERS
from localcloud.credentials import (
    DEFAULT_ACCESS_KEY_ID,
    DEFAULT_ACCESS_KEY_SECRET,
    Credential,
    CredentialSpecError,
    CredentialStore,
    parse_credential_lines,
)
from localcloud.fc.responses import FcResponses
from localcloud.mns import wire as mns_wire
from localcloud.vpc import rules
from localcloud.vpc.exceptions import VpcError

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
DATE = "Fri, 02 Jan 2026 03:04:05 GMT"
some_text = st.text(max_size=60)
# Long digit strings built, not drawn character by character (fast): int() refuses > 4300.
long_digits = st.builds(
    lambda zeros, digit, n, tail: "0" * zeros + digit * n + tail,
    st.integers(0, 5000),
    st.sampled_from("0123456789"),
    st.integers(0, 6000),
    st.from_regex(r"[0-9]{0,3}", fullmatch=True),
).filter(bool)
digits_or_not = st.one_of(st.text(max_size=30), long_digits)


def _outcome(call, error_type):
    """(value, None) or (None, the error_type raised): asserts stay outside `except`."""
    try:
        return call(), None
    except error_type as exc:
        return None, exc


def _store() -> CredentialStore:
    store = CredentialStore()
    store.add(Credential(DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET))
    return store


def _chunked(parts: list[bytes]) -> bytes:
    return b"".join(f"{len(p):x}\r\n".encode() + p + b"\r\n" for p in parts) + b"0\r\n\r\n"


# --- body limits ------------------------------------------------------------------------------
@given(parts=st.lists(st.binary(min_size=1, max_size=50), max_size=8), limit=st.integers(0, 300))
def test_chunked_bodies_decode_or_are_too_large(parts, limit):
    stream = io.BytesIO(_chunked(parts))
    body = b"".join(parts)
    if len(body) > limit:
        with pytest.raises(http_limits.BodyRefused) as info:
            http_limits.read_chunked(stream, limit)
        assert info.value.status == 413
    else:
        assert http_limits.read_chunked(stream, limit) == body


@settings(max_examples=300)
@given(data=st.binary(max_size=200), limit=st.integers(0, 100))
def test_any_bytes_as_a_chunked_body_give_a_body_or_a_refusal(data, limit):
    body, exc = _outcome(
        lambda: http_limits.read_chunked(io.BytesIO(data), limit), http_limits.BodyRefused
    )
    if exc is not None:
        assert (exc.status, exc.code) in ((400, "InvalidRequestBody"), (413, "EntityTooLarge"))
    else:
        assert len(body) <= limit


@given(header=st.one_of(st.none(), st.text(max_size=25)), data=st.binary(max_size=50))
def test_content_length_is_honoured_or_refused(header, data):
    body, exc = _outcome(
        lambda: http_limits.read_sized(io.BytesIO(data), header, 40), http_limits.BodyRefused
    )
    if exc is not None:
        assert exc.status in (400, 413)
    else:
        assert len(body) == (int(header) if header and header.strip() else 0) <= 40


@given(mode=some_text)
def test_fc_limit_depends_on_the_invocation_type_only(mode):
    limit = http_limits.limit_for("fc", {"x-fc-invocation-type": mode})
    async_ = mode.strip().lower() == "async"
    expected = http_limits.FC_MAX_ASYNC_PAYLOAD if async_ else http_limits.FC_MAX_SYNC_PAYLOAD
    assert limit == expected


# --- admin guard ------------------------------------------------------------------------------
HOSTS = admin_guard.allowed_hosts("127.0.0.1", 8123)


@given(
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "HEAD", "PATCH"]),
    host=st.one_of(st.sampled_from(sorted(HOSTS)), some_text),
    origin=st.one_of(st.none(), st.sampled_from([f"http://{h}" for h in HOSTS]), some_text),
    content_type=st.one_of(st.just("application/json; charset=utf-8"), some_text),
)
def test_admin_guard_lets_through_only_own_host_origin_and_json(method, host, origin, content_type):
    headers = {"host": host, "content-type": content_type}
    if origin is not None:
        headers["origin"] = origin
    refusal = admin_guard.check(method, headers, HOSTS)
    ok_host = host.strip().lower() in HOSTS
    ok_origin = origin is None or origin.strip().lower().rstrip("/") in {
        f"http://{h}" for h in HOSTS
    }
    ok_type = method in ("GET", "HEAD") or content_type.split(";")[0].strip().lower() == (
        "application/json"
    )
    assert (refusal is None) == (ok_host and ok_origin and ok_type)


def test_allowed_hosts_of_a_loopback_and_a_public_bind():
    assert {"127.0.0.1:8123", "localhost:8123", "[::1]:8123"} == HOSTS
    public = admin_guard.allowed_hosts("10.0.0.5", 80, ["box"])
    assert {"10.0.0.5:80", "10.0.0.5", "box:80", "box"} == public
    assert not admin_guard.is_loopback("10.0.0.5")


# --- log masking ------------------------------------------------------------------------------
@given(
    secrets=st.dictionaries(
        st.sampled_from(sorted(SECRET_PARAMETERS)),
        st.from_regex(r"SECRET[A-Za-z0-9+/=]{4,20}", fullmatch=True),
        min_size=1,
    ),
    others=st.dictionaries(
        st.from_regex(r"[A-Z][a-z]{1,8}", fullmatch=True), st.text(max_size=10), max_size=4
    ),  # short enough that the logged query is not cut at 512 characters
)
def test_masked_query_never_shows_a_secret(secrets, others):
    from urllib.parse import urlencode

    query = urlencode({**others, **secrets})
    line = log_masking.request_line(
        {"REQUEST_METHOD": "GET", "PATH_INFO": "/", "QUERY_STRING": query}, 200
    )
    assert "SECRET" not in line
    for name in secrets:
        assert f"{name}=***" in line


# --- VPC --------------------------------------------------------------------------------------
@given(value=digits_or_not)
def test_page_size_and_number_are_a_number_in_range_or_invalid(value):
    for parse, name, maximum in (
        (rules.page_size, "PageSize", rules.MAX_PAGE_SIZE),
        (rules.page_number, "PageNumber", 1_000_000),
    ):
        number, exc = _outcome(lambda parse=parse: parse(value), VpcError)
        if exc is not None:
            assert (exc.status, exc.code) == (400, f"Invalid{name}")
        else:
            assert 1 <= number <= maximum
            assert number == int(value.lstrip("0"))  # leading zeros allowed, any count


@given(
    parameters=st.dictionaries(
        st.one_of(
            st.builds(
                lambda n, part: f"Tags.{n}.{part}", long_digits, st.sampled_from(["Key", "Value"])
            ),
            st.from_regex(r"Tags\.[^.]{0,10}\.[A-Za-z]{0,6}", fullmatch=True),
        ),
        st.text(max_size=5),
        max_size=5,
    )
)
def test_tag_parameters_are_pairs_or_invalid_tags(parameters):
    pairs, exc = _outcome(lambda: rules.tag_parameters(parameters, "Tags"), VpcError)
    if exc is not None:
        assert (exc.status, exc.code) == (400, "InvalidTags")
    else:
        assert len(pairs) <= rules.MAX_TAGS


@given(raw=st.text(max_size=200))
def test_rpc_parameters_parse_any_text(raw):
    assert isinstance(rpc_v1.parse_parameters(raw), dict)


# --- MNS --------------------------------------------------------------------------------------
@settings(max_examples=200)
@given(authorization=some_text, md5=some_text, token=some_text, body=st.binary(max_size=20))
def test_mns_authentication_refuses_in_its_own_terms(authorization, md5, token, body):
    headers = {"Authorization": authorization, "Date": DATE, "Content-MD5": md5}
    if token:
        headers["security-token"] = token
    request = mns_auth.SignedRequest("POST", "/queues/q/messages", headers, body)
    with pytest.raises(mns_auth.MnsAuthError) as info:
        mns_auth.verify(request, _store(), NOW)
    assert 400 <= info.value.status < 500


@given(query=st.text(max_size=100))
def test_mns_query_parses_any_text(query):
    assert isinstance(mns_wire.raw_query(query), dict)


# --- FC ---------------------------------------------------------------------------------------
@settings(max_examples=200)
@given(signature=some_text, md5=some_text, token=some_text)
def test_fc_authentication_refuses_in_its_own_terms(signature, md5, token):
    headers = {"authorization": f"FC {DEFAULT_ACCESS_KEY_ID}:{signature}", "date": DATE}
    if md5:
        headers["content-md5"] = md5
    if token:
        headers["x-fc-security-token"] = token
    request = fc_auth.SignedRequest("GET", "/2016-08-15/services/s", headers, body=b"{}")
    with pytest.raises(fc_auth.FcAuthError) as info:
        fc_auth.verify(_store(), request, NOW)
    assert 400 <= info.value.status < 500


@given(method=st.sampled_from(["GET", "POST", "PUT", "DELETE"]), rest=st.text(max_size=80))
def test_fc_routes_any_path_to_an_action_or_none(method, rest):
    action, params = FcResponses._route(method, rest)
    assert action is None or all(isinstance(v, str) for v in params.values())


# --- credentials from a file ------------------------------------------------------------------
@given(lines=st.lists(st.text(alphabet=st.characters(blacklist_categories=["Cc"]), max_size=30)))
def test_credential_lines_parse_or_name_the_line_without_the_secret(lines):
    text = "\n".join(lines)
    credentials, exc = _outcome(lambda: parse_credential_lines(text, "creds"), CredentialSpecError)
    if exc is not None:
        assert str(exc).startswith("creds line ")
        bad = next(
            line.strip()
            for line in lines
            if line.strip() and not line.strip().startswith("#")
            and not _valid(line.strip())
        )  # fmt: skip
        secret = bad.split(":", 2)[1] if bad.count(":") else ""
        if len(secret) > 3:
            assert secret not in str(exc).split("got ", 1)[1]
    else:
        assert all(c.access_key_id and c.access_key_secret for c in credentials)


def _valid(spec: str) -> bool:
    parts = spec.split(":", 2)
    return len(parts) >= 2 and bool(parts[0]) and bool(parts[1])
