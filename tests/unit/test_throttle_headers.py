"""throttle_headers: the wait a throttled OpenAPI call asks for, in either header form."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cgw_provisioner.throttle_headers import retry_after_s


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"x-acs-retry-after": "1500"}, 1.5),
        ({"X-Acs-Retry-After": "83"}, 0.083),  # names in any case
        ({"x-ratelimit-user-api": "Limit:10,Remain:0,TimeLeft:2000,Reset:1234"}, 2.0),
        ({"X-RateLimit-User": "Limit:1,Remain:0,TimeLeft:250"}, 0.25),
        # the larger TimeLeft of the two, as the SDKs that read them wait
        ({"x-ratelimit-user-api": "TimeLeft:300", "x-ratelimit-user": "TimeLeft:900"}, 0.9),
        # x-acs-retry-after first, the TimeLeft form only without a usable one
        ({"x-acs-retry-after": "100", "x-ratelimit-user-api": "TimeLeft:5000"}, 0.1),
        ({"x-acs-retry-after": "0", "x-ratelimit-user-api": "TimeLeft:5000"}, 5.0),
        ({"x-ratelimit-user-api": "timeleft : 40 , Limit:1"}, 0.04),
        ({"x-ratelimit-user-api": "Limit:1,bogus,Remain::0,TimeLeft:60"}, 0.06),
    ],
)
def test_the_wait_in_seconds(headers, expected):
    assert retry_after_s(headers) == pytest.approx(expected)


@pytest.mark.parametrize(
    "headers",
    [None, {}, {"x-request-id": "1"}]
    + [{"x-acs-retry-after": v} for v in ("0", "-5", "abc", "nan", "inf", "", " ")]
    + [
        {"x-ratelimit-user-api": v}
        for v in ("Limit:1,Remain:0", "TimeLeft:0", "TimeLeft:-1", "TimeLeft:x", "TimeLeft")
    ],
)
def test_nothing_usable_is_no_wait(headers):
    assert retry_after_s(headers) is None


@given(st.dictionaries(st.text(max_size=30), st.text(max_size=60), max_size=6))
def test_any_headers_give_none_or_a_finite_positive_wait(headers):
    wait = retry_after_s(headers)
    assert wait is None or (math.isfinite(wait) and wait > 0)


_KEYS = st.sampled_from(["Limit", "Remain", "Reset", "Other"])


@given(
    st.integers(min_value=1, max_value=10**9),
    st.lists(st.tuples(_KEYS, st.integers(0, 10**6)), max_size=4),
    st.integers(min_value=0, max_value=4),
    st.sampled_from(["x-ratelimit-user-api", "x-ratelimit-user", "X-RATELIMIT-USER-API"]),
)
def test_time_left_is_found_wherever_it_stands(milliseconds, others, at, name):
    pairs = [f"{key}:{value}" for key, value in others]
    pairs.insert(min(at, len(pairs)), f"TimeLeft:{milliseconds}")
    assert retry_after_s({name: ",".join(pairs)}) == pytest.approx(milliseconds / 1000)


def test_headers_that_are_not_a_mapping_give_no_wait():
    assert retry_after_s(["x-acs-retry-after", "1500"]) is None  # type: ignore[arg-type]
