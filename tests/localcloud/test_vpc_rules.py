"""Property tests for the VPC parameter rules (localcloud.vpc.rules), against independent
oracles: Python's ipaddress module for addresses, arithmetic for ASNs."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from localcloud.vpc import rules
from localcloud.vpc.exceptions import VpcError

settings.register_profile("vpc-rules", deadline=None, max_examples=300)
# The ranges the API documents as unsupported, plus 0.0.0.0/8 ("this network").
REFUSED = [
    ipaddress.ip_network(n)
    for n in ("0.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "224.0.0.0/4")
] + [ipaddress.ip_network("255.0.0.0/8")]


def _code(check, value) -> str | None:
    try:
        check(value)
    except VpcError as exc:
        return exc.code
    return None


@settings(settings.get_profile("vpc-rules"))
@given(address=st.ip_addresses(v=4))
def test_every_ipv4_address_is_accepted_unless_in_a_refused_range(address):
    refused = any(address in network for network in REFUSED)
    code = _code(rules.ip_address, str(address))
    assert code == ("InvalidIpAddress.WrongFormat" if refused else None)


@settings(settings.get_profile("vpc-rules"))
@given(text=st.text(alphabet="0123456789.x -", max_size=20))
def test_only_canonical_dotted_quads_pass(text):
    try:
        canonical = str(ipaddress.IPv4Address(text)) == text
    except ValueError:
        canonical = False
    if not text:
        assert _code(rules.ip_address, text) == "MissingIpAddress"
    elif not canonical:
        assert _code(rules.ip_address, text) == "InvalidIpAddress.WrongFormat"


@settings(settings.get_profile("vpc-rules"))
@given(number=st.integers(min_value=-10, max_value=2**32 + 10))
def test_asn_plain_and_dotted_forms_agree(number):
    valid = 1 <= number <= 4294967295 and number != 45104
    for form in (str(number), number):
        assert (_code(rules.asn, form) is None) == valid
    if 0 <= number < 2**32:
        dotted = f"{number // 65536}.{number % 65536}"
        if valid:
            assert rules.asn(dotted) == number == rules.asn(str(number))
        else:
            assert _code(rules.asn, dotted) == "InvalidAsn"


@settings(settings.get_profile("vpc-rules"))
@given(high=st.integers(0, 70000), low=st.integers(0, 70000))
def test_asn_dotted_parts_are_16_bit(high, low):
    code = _code(rules.asn, f"{high}.{low}")
    value = high * 65536 + low
    ok = high <= 65535 and low <= 65535 and value != 45104 and value >= 1
    assert (code is None) == ok


@settings(settings.get_profile("vpc-rules"))
@given(
    pairs=st.lists(st.tuples(st.text(min_size=1, max_size=70), st.text(max_size=130)), max_size=22)
)
def test_tags_rule(pairs):
    keys = [k for k, _ in pairs]
    ok = (
        len(pairs) <= 20
        and all(len(k) <= 64 and not k.lower().startswith(("aliyun", "acs:")) for k in keys)
        and all(len(v) <= 128 for _, v in pairs)
        and len(set(keys)) == len(keys)
    )
    assert (_code(rules.tags, pairs) is None) == ok


@settings(settings.get_profile("vpc-rules"))
@given(pairs=st.lists(st.tuples(st.text(min_size=1, max_size=8), st.text(max_size=8)), max_size=20))
def test_tag_parameters_round_trip(pairs):
    flat = {}
    for n, (key, value) in enumerate(pairs, start=1):
        flat[f"Tags.{n}.Key"] = key
        flat[f"Tags.{n}.Value"] = value
    flat["Name"] = "unrelated"
    assert rules.tag_parameters(flat, "Tags") == pairs


@pytest.mark.parametrize("name", ["Tags.0.Key", "Tags.21.Key", "Tags.x.Key", "Tags.1.Other"])
def test_tag_parameter_names_outside_the_pattern(name):
    with pytest.raises(VpcError) as info:
        rules.tag_parameters({name: "v"}, "Tags")
    assert info.value.code == "InvalidTags"
