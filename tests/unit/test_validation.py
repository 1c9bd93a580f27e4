"""validation.RequestValidator: each rule gives its code and pointer; all violations reported."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import SchemaError

from cgw_provisioner.validation import (
    CODES,
    MAX_BODY_BYTES,
    REFUSED_NETWORKS,
    ProvisioningRequest,
    Rejection,
    RequestValidator,
    Violation,
    _compile_accept,
    _ipv4_number,
    _UnmodelledSchemaError,
    load_schema,
)

REQUESTS = Path(__file__).resolve().parents[2] / "events" / "requests"
VALID = {"RegionId": "cn-shanghai", "IpAddress": "203.0.113.10"}


@pytest.fixture(scope="module")
def validator():
    return RequestValidator()


def encode(value) -> bytes:
    """JSON with non-ASCII escaped: always valid UTF-8, even for lone surrogates."""
    return json.dumps(value).encode()


def only_violation(result) -> Violation:
    assert isinstance(result, Rejection), result
    assert len(result.violations) == 1, result.violations
    return result.violations[0]


# --- one rule at a time: (changes to a valid request) -> (pointer, rule, code) -------------------

RULES = [
    # RegionId
    ({"RegionId": None}, "/RegionId", "type", "InvalidRegionId"),
    ({"RegionId": "Shanghai"}, "/RegionId", "pattern", "InvalidRegionId"),
    ({"RegionId": "cn_shanghai"}, "/RegionId", "pattern", "InvalidRegionId"),
    ({"RegionId": "cn-shanghai\n"}, "/RegionId", "pattern", "InvalidRegionId"),
    ({"RegionId": "cn-" + "a" * 70}, "/RegionId", "maxLength", "InvalidRegionId"),
    # IpAddress
    ({"IpAddress": 3405803786}, "/IpAddress", "type", "InvalidIpAddress.WrongFormat"),
    ({"IpAddress": "203.0.113.256"}, "/IpAddress", "format:ipv4", "InvalidIpAddress.WrongFormat"),
    ({"IpAddress": "203.0.113.010"}, "/IpAddress", "format:ipv4", "InvalidIpAddress.WrongFormat"),
    ({"IpAddress": "203.0.113"}, "/IpAddress", "format:ipv4", "InvalidIpAddress.WrongFormat"),
    ({"IpAddress": "203.0.113.1\n"}, "/IpAddress", "format:ipv4", "InvalidIpAddress.WrongFormat"),
    ({"IpAddress": "2001:db8::1"}, "/IpAddress", "format:ipv4", "InvalidIpAddress.WrongFormat"),
    ({"IpAddress": "0.1.2.3"}, "/IpAddress", "refused-range", "InvalidIpAddress.WrongFormat"),
    ({"IpAddress": "100.64.0.0"}, "/IpAddress", "refused-range", "InvalidIpAddress.WrongFormat"),
    (
        {"IpAddress": "100.127.255.255"},
        "/IpAddress",
        "refused-range",
        "InvalidIpAddress.WrongFormat",
    ),
    ({"IpAddress": "127.0.0.1"}, "/IpAddress", "refused-range", "InvalidIpAddress.WrongFormat"),
    (
        {"IpAddress": "169.254.169.254"},
        "/IpAddress",
        "refused-range",
        "InvalidIpAddress.WrongFormat",
    ),
    ({"IpAddress": "224.0.0.1"}, "/IpAddress", "refused-range", "InvalidIpAddress.WrongFormat"),
    (
        {"IpAddress": "239.255.255.255"},
        "/IpAddress",
        "refused-range",
        "InvalidIpAddress.WrongFormat",
    ),
    (
        {"IpAddress": "255.255.255.255"},
        "/IpAddress",
        "refused-range",
        "InvalidIpAddress.WrongFormat",
    ),
    # Name
    ({"Name": "a"}, "/Name", "minLength", "InvalidName"),
    ({"Name": "a" * 129}, "/Name", "maxLength", "InvalidName"),
    ({"Name": "HTTPS:x"}, "/Name", "name-charset", "InvalidName"),
    ({"Name": "gw 1"}, "/Name", "name-charset", "InvalidName"),
    ({"Name": "gw1\n"}, "/Name", "name-charset", "InvalidName"),
    ({"Name": "gw\u00b2"}, "/Name", "name-charset", "InvalidName"),
    ({"Name": 12}, "/Name", "type", "InvalidName"),
    # Description
    ({"Description": "x"}, "/Description", "minLength", "InvalidDescription"),
    ({"Description": "a" * 257}, "/Description", "maxLength", "InvalidDescription"),
    (
        {"Description": "1st router"},
        "/Description",
        "description-first-letter",
        "InvalidDescription",
    ),
    ({"Description": " Router"}, "/Description", "description-first-letter", "InvalidDescription"),
    ({"Description": "https://x.example"}, "/Description", "pattern", "InvalidDescription"),
    # Asn
    ({"Asn": 0}, "/Asn", "minimum", "InvalidAsn"),
    ({"Asn": 4294967296}, "/Asn", "maximum", "InvalidAsn"),
    ({"Asn": "0"}, "/Asn", "asn-range", "InvalidAsn"),
    ({"Asn": "4294967296"}, "/Asn", "asn-range", "InvalidAsn"),
    ({"Asn": "0.0"}, "/Asn", "asn-range", "InvalidAsn"),
    ({"Asn": "65536.1"}, "/Asn", "asn-range", "InvalidAsn"),
    ({"Asn": "1.65536"}, "/Asn", "asn-range", "InvalidAsn"),
    ({"Asn": 45104}, "/Asn", "asn-reserved", "InvalidAsn"),
    ({"Asn": "45104"}, "/Asn", "asn-reserved", "InvalidAsn"),
    ({"Asn": "0.45104"}, "/Asn", "asn-reserved", "InvalidAsn"),
    ({"Asn": "AS65001"}, "/Asn", "pattern", "InvalidAsn"),
    ({"Asn": "1.2.3"}, "/Asn", "pattern", "InvalidAsn"),
    ({"Asn": "65001\n"}, "/Asn", "pattern", "InvalidAsn"),
    ({"Asn": "６５００１"}, "/Asn", "pattern", "InvalidAsn"),
    ({"Asn": 1.5}, "/Asn", "type", "InvalidAsn"),
    ({"Asn": True}, "/Asn", "type", "InvalidAsn"),
    # AuthKey
    ({"AuthKey": ""}, "/AuthKey", "minLength", "InvalidAuthKey"),
    ({"AuthKey": "k" * 65}, "/AuthKey", "maxLength", "InvalidAuthKey"),
    ({"AuthKey": "has space"}, "/AuthKey", "pattern", "InvalidAuthKey"),
    ({"AuthKey": "why?"}, "/AuthKey", "pattern", "InvalidAuthKey"),
    ({"AuthKey": "密钥"}, "/AuthKey", "pattern", "InvalidAuthKey"),
    ({"AuthKey": "key\n"}, "/AuthKey", "pattern", "InvalidAuthKey"),
    # ClientToken
    ({"ClientToken": ""}, "/ClientToken", "minLength", "InvalidClientToken"),
    ({"ClientToken": "t" * 65}, "/ClientToken", "maxLength", "InvalidClientToken"),
    ({"ClientToken": "tok\u00e9n"}, "/ClientToken", "pattern", "InvalidClientToken"),
    ({"ClientToken": "tok en"}, "/ClientToken", "pattern", "InvalidClientToken"),
    ({"ClientToken": "token\n"}, "/ClientToken", "pattern", "InvalidClientToken"),
    # ResourceGroupId
    (
        {"ResourceGroupId": "acfmxazb4ph6aiy"},
        "/ResourceGroupId",
        "pattern",
        "InvalidResourceGroupId",
    ),
    ({"ResourceGroupId": "rg-ABC"}, "/ResourceGroupId", "pattern", "InvalidResourceGroupId"),
    ({"ResourceGroupId": "rg-abc\n"}, "/ResourceGroupId", "pattern", "InvalidResourceGroupId"),
    # Tags
    ({"Tags": {}}, "/Tags", "type", "InvalidTags"),
    ({"Tags": [{"Key": f"k{i}"} for i in range(21)]}, "/Tags", "maxItems", "InvalidTags"),
    ({"Tags": [{"Value": "v"}]}, "/Tags/0/Key", "required", "InvalidTags"),
    ({"Tags": [{"Key": ""}]}, "/Tags/0/Key", "minLength", "InvalidTags"),
    ({"Tags": [{"Key": "k" * 65}]}, "/Tags/0/Key", "maxLength", "InvalidTags"),
    ({"Tags": [{"Key": "ok"}, {"Key": "aliyun-owner"}]}, "/Tags/1/Key", "pattern", "InvalidTags"),
    ({"Tags": [{"Key": "ALIYUN"}]}, "/Tags/0/Key", "pattern", "InvalidTags"),
    ({"Tags": [{"Key": "Acs:team"}]}, "/Tags/0/Key", "pattern", "InvalidTags"),
    ({"Tags": [{"Key": "k", "Value": "v" * 129}]}, "/Tags/0/Value", "maxLength", "InvalidTags"),
    (
        {"Tags": [{"Key": "k", "Colour": "red"}]},
        "/Tags/0/Colour",
        "additionalProperties",
        "InvalidTags",
    ),
    ({"Tags": [{"Key": "k"}, {"Key": "k"}]}, "/Tags/1/Key", "tag-key-unique", "InvalidTags"),
    ({"Tags": ["k=v"]}, "/Tags/0", "type", "InvalidTags"),
    # Metadata
    ({"Metadata": "order-1"}, "/Metadata", "type", "InvalidMetadata"),
    ({"Metadata": {"blob": "x" * 4090}}, "/Metadata", "metadata-size", "InvalidMetadata"),
    ({"Metadata": {"note": "\ud800"}}, "/Metadata/note", "lone-surrogate", "InvalidMetadata"),
    # unknown fields
    ({"IPAddress": "203.0.113.10"}, "/IPAddress", "additionalProperties", "InvalidMessage"),
    ({"DryRun": True}, "/DryRun", "additionalProperties", "InvalidMessage"),
    ({"a/b~c": 1}, "/a~1b~0c", "additionalProperties", "InvalidMessage"),
]


@pytest.mark.parametrize(
    ("changes", "pointer", "rule", "code"),
    RULES,
    ids=[f"{rule}-{pointer}-{i}" for i, (_, pointer, rule, _) in enumerate(RULES)],
)
def test_each_rule_reports_its_pointer_rule_and_code(validator, changes, pointer, rule, code):
    result = validator.validate(encode({**VALID, **changes}))
    violation = only_violation(result)
    assert (violation.pointer, violation.rule, violation.code) == (pointer, rule, code)
    assert result.code == code
    field = pointer.split("/")[1].replace("~1", "/").replace("~0", "~")
    assert field in violation.message


@pytest.mark.parametrize(
    ("field", "code"), [("RegionId", "MissingRegionId"), ("IpAddress", "MissingIpAddress")]
)
def test_missing_required_field(validator, field, code):
    body = {key: value for key, value in VALID.items() if key != field}
    violation = only_violation(validator.validate(encode(body)))
    assert violation == Violation(f"/{field}", "required", f"{field} is required", code)


def test_every_code_is_produced_by_some_rule():
    produced = {code for *_, code in RULES} | {"MissingRegionId", "MissingIpAddress"}
    assert produced == set(CODES)


def test_unknown_field_hint_names_the_right_spelling(validator):
    violation = only_violation(validator.validate(encode({**VALID, "ipaddress": "x"})))
    assert "did you mean IpAddress?" in violation.message


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"Name": "北京分部-网关_1"},
        {"Name": "gw.lab", "Description": "Édge router at the lab"},
        {"Description": "路由器"},
        {"Asn": 1},
        {"Asn": 4294967295},
        {"Asn": "65001"},
        {"Asn": "1.10"},
        {"Asn": "65535.65535"},
        {"AuthKey": "!#$%&'()*+,-./:;<=>@[]^_`{|}~"},
        {"ClientToken": "t" * 64},
        {"ResourceGroupId": "rg-acfmxazb4ph6aiy"},
        {"Tags": [{"Key": "k", "Value": ""}, {"Key": "K"}, {"Key": "aliyu"}, {"Key": "acs"}]},
        {"Tags": [{"Key": f"k{i}", "Value": "v"} for i in range(20)]},
        {"Metadata": {}},
        {"Metadata": {"blob": "x" * 4085}},  # exactly 4096 bytes as compact JSON
        {"IpAddress": "10.0.0.1"},  # private ranges serve private-network IPsec
        {"IpAddress": "100.128.0.1"},
        {"IpAddress": "223.255.255.255"},
        {"IpAddress": "254.255.255.255"},
    ],
)
def test_valid_requests_are_accepted(validator, changes):
    fields = {**VALID, **changes}
    result = validator.validate(encode(fields))
    assert isinstance(result, ProvisioningRequest), result
    assert result.fields == fields


@pytest.mark.parametrize(
    "name",
    [
        "valid-branch-shanghai-1",
        "valid-branch-shanghai-2",
        "valid-branch-beijing-cjk",
        "valid-lab-private",
        "duplicate-branch-shanghai-1",
        "same-ip-other-token",
    ],
)
def test_sample_valid_requests_are_accepted(validator, name):
    assert isinstance(
        validator.validate((REQUESTS / f"{name}.json").read_bytes()), ProvisioningRequest
    )


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("invalid-ipaddress-typo", "MissingIpAddress"),
        ("invalid-refused-range", "InvalidIpAddress.WrongFormat"),
        ("invalid-asn-reserved", "InvalidAsn"),
        ("invalid-many", "InvalidRegionId"),
    ],
)
def test_sample_invalid_requests_are_rejected(validator, name, code):
    result = validator.validate((REQUESTS / f"{name}.json").read_bytes())
    assert isinstance(result, Rejection)
    assert result.code == code


def test_poison_sample_is_rejected(validator):
    result = validator.validate((REQUESTS / "poison-not-json.txt").read_bytes())
    assert (result.code, result.violations[0].rule) == ("InvalidMessage", "not-json")


# --- several violations -------------------------------------------------------------------------


def test_every_violation_is_reported_in_precedence_order(validator):
    body = {
        "IPAddress": "203.0.113.10",
        "RegionId": "Shanghai",
        "Name": "http://gw",
        "Description": "1st",
        "Asn": "70000.1",
        "AuthKey": "has space?",
        "ClientToken": "é",
        "ResourceGroupId": "default",
        "Tags": [{"Key": "acs:x"}],
        "Metadata": [],
    }
    result = validator.validate(encode(body))
    assert [(v.pointer, v.code) for v in result.violations] == [
        ("/RegionId", "InvalidRegionId"),
        ("/IpAddress", "MissingIpAddress"),
        ("/Name", "InvalidName"),
        ("/Name", "InvalidName"),
        ("/Description", "InvalidDescription"),
        ("/Asn", "InvalidAsn"),
        ("/AuthKey", "InvalidAuthKey"),
        ("/ClientToken", "InvalidClientToken"),
        ("/ResourceGroupId", "InvalidResourceGroupId"),
        ("/Tags/0/Key", "InvalidTags"),
        ("/Metadata", "InvalidMetadata"),
        ("/IPAddress", "InvalidMessage"),
    ]
    assert result.code == "InvalidRegionId"
    assert result.message.startswith("RegionId ")
    assert "(and 11 more violations)" in result.message
    assert result.fields == body


BREAKING = {
    "MissingRegionId": ("RegionId", None),
    "InvalidRegionId": ("RegionId", "X"),
    "MissingIpAddress": ("IpAddress", None),
    "InvalidIpAddress.WrongFormat": ("IpAddress", "127.0.0.1"),
    "InvalidName": ("Name", "a b"),
    "InvalidDescription": ("Description", "1x"),
    "InvalidAsn": ("Asn", 45104),
    "InvalidAuthKey": ("AuthKey", "a?"),
    "InvalidClientToken": ("ClientToken", ""),
    "InvalidResourceGroupId": ("ResourceGroupId", "rg"),
    "InvalidTags": ("Tags", [{}]),
    "InvalidMetadata": ("Metadata", 1),
    "InvalidMessage": ("Unknown", 1),
}
PAIRS = [
    (first, second)
    for i, first in enumerate(CODES)
    for second in CODES[i + 1 :]
    if BREAKING[first][0] != BREAKING[second][0]
]


@pytest.mark.parametrize(("first", "second"), PAIRS)
def test_precedence_between_every_pair_of_codes(validator, first, second):
    body = dict(VALID)
    for code in (second, first):
        field, value = BREAKING[code]
        if value is None:
            body.pop(field)
        else:
            body[field] = value
    result = validator.validate(encode(body))
    assert [v.code for v in result.violations] == [first, second]
    assert result.code == first


# --- bodies that are not a request object -------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "rule"),
    [
        pytest.param(b"", "not-json", id="empty"),
        pytest.param(b" \n", "not-json", id="blank"),
        pytest.param(b"\xff\xfe{}", "not-utf8", id="not-utf8"),
        pytest.param('{"RegionId":"cn-shanghai"}'.encode("utf-16"), "not-utf8", id="utf16"),
        pytest.param(b"\xef\xbb\xbf{}", "not-json", id="utf8-bom"),
        pytest.param(b"hello", "not-json", id="not-json"),
        pytest.param(b'{"RegionId":', "not-json", id="truncated"),
        pytest.param(b'{"Asn": NaN}', "not-json", id="nan"),
        pytest.param(b'{"Metadata": {"x": 1e400}}', "not-json", id="infinite-number"),
        pytest.param(b'{"Metadata": {"x": ' + b"9" * 5000 + b"}}", "not-json", id="huge-integer"),
        pytest.param(b"[]", "not-object", id="array"),
        pytest.param(b'"cn-shanghai"', "not-object", id="string"),
        pytest.param(b"null", "not-object", id="null"),
        pytest.param(b"true", "not-object", id="boolean"),
        pytest.param(b"7", "not-object", id="number"),
        pytest.param(b"{" + b" " * MAX_BODY_BYTES + b"}", "body-size", id="over-64KiB"),
        pytest.param(b'{"Metadata":' + b'{"a":' * 40 + b"1" + b"}" * 41, "max-depth", id="deep"),
        pytest.param(b"[" * 30_000 + b"]" * 30_000, "max-depth", id="very-deep"),
        pytest.param(
            b'{"RegionId":"cn-shanghai","IpAddress":"203.0.113.1","Name":"gw1","Name":"gw2"}',
            "duplicate-key",
            id="duplicate-key",
        ),
    ],
)
def test_bad_bodies_are_invalid_message(validator, body, rule):
    result = validator.validate(body)
    assert isinstance(result, Rejection)
    assert result.code == "InvalidMessage"
    assert rule in [v.rule for v in result.violations]


def test_duplicate_keys_are_reported_where_they_are_and_alongside_other_violations(validator):
    body = (
        b'{"RegionId":"cn-shanghai","IpAddress":"1.2.3.4",'
        b'"Tags":[{"Key":"a","Key":"b"}],"IpAddress":"127.0.0.1"}'
    )
    result = validator.validate(body)
    pointers = [(v.pointer, v.rule) for v in result.violations]
    assert ("/IpAddress", "duplicate-key") in pointers
    assert ("/Tags/0/Key", "duplicate-key") in pointers
    assert ("/IpAddress", "refused-range") in pointers  # the last value is what JSON parsers keep
    assert result.code == "InvalidIpAddress.WrongFormat"


def test_huge_string_is_bounded_in_messages(validator):
    result = validator.validate(encode({**VALID, "IpAddress": "9" * 60_000}))
    assert result.code == "InvalidIpAddress.WrongFormat"
    assert all(len(v.message) < 300 for v in result.violations)


def test_auth_key_value_never_appears_in_a_message(validator):
    secret = "s3cret value?" + "x" * 60
    result = validator.validate(encode({**VALID, "AuthKey": secret}))
    assert {v.rule for v in result.violations} == {"pattern", "maxLength"}
    assert all("s3cret" not in v.message for v in result.violations)
    assert "s3cret" not in result.message


def test_non_bytes_body_is_a_rejection(validator):
    assert validator.validate(None).violations[0].rule == "not-bytes"


# --- the request object -------------------------------------------------------------------------


def test_api_parameters_leave_metadata_out_and_normalise_asn(validator):
    fields = {
        **VALID,
        "Name": "gw",
        "Asn": "1.10",
        "ClientToken": "t-1",
        "Tags": [{"Key": "k", "Value": "v"}],
        "Metadata": {"orderId": "1"},
    }
    request = validator.validate(encode(fields))
    assert request.api_parameters() == {
        "RegionId": "cn-shanghai",
        "IpAddress": "203.0.113.10",
        "Name": "gw",
        "Asn": "65546",
        "ClientToken": "t-1",
        "Tags": [{"Key": "k", "Value": "v"}],
    }
    assert (request.region_id, request.ip_address, request.client_token) == (
        "cn-shanghai",
        "203.0.113.10",
        "t-1",
    )
    assert request.metadata == {"orderId": "1"}


def test_integer_asn_is_sent_as_a_decimal_string(validator):
    assert validator.validate(encode({**VALID, "Asn": 65001})).api_parameters()["Asn"] == "65001"
    assert validator.validate(encode({**VALID, "Asn": 65001.0})).api_parameters()["Asn"] == "65001"


def test_optional_fields_absent(validator):
    request = validator.validate(encode(VALID))
    assert (request.client_token, request.metadata) == (None, None)
    assert request.api_parameters() == VALID


def test_a_given_schema_is_used_and_checked():
    loose = RequestValidator({"type": "object"})
    assert isinstance(
        loose.validate(b'{"RegionId":"cn-shanghai","IpAddress":"203.0.113.1"}'), ProvisioningRequest
    )
    with pytest.raises(SchemaError):
        RequestValidator({"type": 12})


def test_load_schema_reads_the_shared_schema_file():
    schema = load_schema("provisioning-request")
    assert schema["required"] == ["RegionId", "IpAddress"]
    assert schema["additionalProperties"] is False


# --- properties ---------------------------------------------------------------------------------

_VALIDATOR = RequestValidator()  # hypothesis tests cannot take function-scoped fixtures

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=25,
)
field_names = st.sampled_from(
    [
        "RegionId",
        "IpAddress",
        "Name",
        "Description",
        "Asn",
        "AuthKey",
        "ClientToken",
        "ResourceGroupId",
        "Tags",
        "Metadata",
        "IPAddress",
    ]
)


def assert_well_formed(result):
    if isinstance(result, ProvisioningRequest):
        return
    assert isinstance(result, Rejection)
    assert result.violations
    assert result.code == result.violations[0].code
    assert all(v.code in CODES for v in result.violations)
    assert [CODES.index(v.code) for v in result.violations] == sorted(
        CODES.index(v.code) for v in result.violations
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_never_raises_on_arbitrary_bytes(body):
    assert_well_formed(_VALIDATOR.validate(body))


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(field_names | st.text(max_size=10), json_values, max_size=8))
def test_never_raises_on_arbitrary_objects(obj):
    assert_well_formed(_VALIDATOR.validate(encode(obj)))


def not_reserved(number: int) -> bool:
    return number != 45104


asn_numbers = st.integers(1, 4294967295).filter(not_reserved)
dotted_asns = (
    st.tuples(st.integers(0, 65535), st.integers(0, 65535))
    .filter(lambda ab: ab[0] * 65536 + ab[1] >= 1 and not_reserved(ab[0] * 65536 + ab[1]))
    .map(lambda ab: f"{ab[0]}.{ab[1]}")
)
public_ipv4 = (
    st.ip_addresses(v=4)
    .filter(lambda ip: not any(ip in network for network, _ in REFUSED_NETWORKS))
    .map(str)
)
printable_ascii = st.characters(min_codepoint=0x21, max_codepoint=0x7E)
not_url = lambda text: not text.lower().startswith(("http://", "https://"))  # noqa: E731
tag_key = st.text(st.characters(categories=("L", "N")), min_size=1, max_size=64).filter(
    lambda key: not key.lower().startswith(("aliyun", "acs:"))
)
valid_requests = st.fixed_dictionaries(
    {
        "RegionId": st.from_regex(r"[a-z]{2,4}(-[a-z0-9]{1,8}){1,3}", fullmatch=True),
        "IpAddress": public_ipv4,
    },
    optional={
        "Name": st.text(
            st.characters(categories=("Lu", "Ll", "Lo", "Nd")) | st.sampled_from("._-"),
            min_size=2,
            max_size=128,
        ),
        "Description": st.tuples(
            st.characters(categories=("Lu", "Ll", "Lo")), st.text(min_size=1, max_size=255)
        )
        .map("".join)
        .filter(not_url),
        "Asn": asn_numbers | asn_numbers.map(str) | dotted_asns,
        "AuthKey": st.text(printable_ascii.filter(lambda c: c != "?"), min_size=1, max_size=64),
        "ClientToken": st.text(printable_ascii, min_size=1, max_size=64),
        "ResourceGroupId": st.from_regex(r"rg-[a-z0-9]{1,20}", fullmatch=True),
        "Tags": st.lists(
            st.fixed_dictionaries({"Key": tag_key}, optional={"Value": st.text(max_size=128)}),
            max_size=20,
            unique_by=lambda tag: tag["Key"],
        ),
        "Metadata": st.dictionaries(
            st.text(max_size=10), st.integers() | st.text(max_size=50), max_size=10
        ),
    },
)


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_requests)
def test_generated_valid_requests_are_accepted(fields):
    result = _VALIDATOR.validate(encode(fields))
    assert isinstance(result, ProvisioningRequest), result
    assert result.fields == fields
    assert "Metadata" not in result.api_parameters()


# --- the fast accept check: exactly jsonschema's verdict -----------------------------------------
# RequestValidator skips jsonschema when the compiled check accepts. These properties hold it to
# jsonschema itself on valid requests, near misses at every schema boundary, and arbitrary JSON.

_SCHEMA = load_schema("provisioning-request")
_JSONSCHEMA = Draft202012Validator(_SCHEMA, format_checker=FormatChecker(["ipv4"]))
_ACCEPT = _compile_accept(_SCHEMA)
_FULL = RequestValidator(fast_accept=False)


def _strings_around(low: int, high: int, alphabet: str = "ab") -> st.SearchStrategy[str]:
    lengths = sorted({n for n in (low - 1, low, low + 1, high - 1, high, high + 1) if n >= 0})
    return st.sampled_from(lengths).flatmap(
        lambda n: st.text(st.sampled_from(alphabet), min_size=n, max_size=n)
    )


octet_like = (
    st.integers(0, 999).map(str)
    | st.integers(0, 99).map(lambda n: f"0{n}")
    | st.sampled_from(["", "\u0661", "1 ", "+1", "0x1", "1\n"])
)
ipv4_like = (
    st.lists(octet_like, min_size=3, max_size=5).map(".".join)
    | st.from_regex(r"[0-9\u0661.x ]{0,17}", fullmatch=True)
    | st.sampled_from(["255.255.255.255", "0.0.0.0", "1.2.3.4\n"])
)
near_misses = {
    "RegionId": _strings_around(2, 64, "a-1") | st.sampled_from(["cn-", "cn-shanghai\n", "Cn-x"]),
    "IpAddress": ipv4_like | _strings_around(7, 15, "1."),
    "Name": _strings_around(2, 128, "aé_.") | st.sampled_from(["http://x", "HTTPS://x", "http:/"]),
    "Description": _strings_around(2, 256, "Ab ") | st.sampled_from(["hTTp://a", "ahttp://"]),
    "Asn": st.sampled_from(
        [0, 1, 65001, 4294967295, 4294967296, -1, 65001.0, 65001.5, 1e10, True, None, [1]]
    )
    | st.sampled_from(["65001", "1.10", "65001\n", "1.2.3", "", "12345678901", "a"]),
    "AuthKey": _strings_around(1, 64, "k?! ~"),
    "ClientToken": _strings_around(1, 64, "t \x7f~"),
    "ResourceGroupId": st.sampled_from(["rg-abc", "rg-", "rg-ABC", "rg-a\n", "x"])
    | _strings_around(60, 64, "a").map(lambda s: "rg-" + s),
    "Tags": st.lists(
        st.fixed_dictionaries(
            {"Key": _strings_around(1, 64, "kA:") | st.sampled_from(["aliyunX", "ACS:x", "acs"])},
            optional={"Value": _strings_around(0, 128, "v") | st.integers(), "Extra": st.none()},
        )
        | st.sampled_from([{}, {"Value": "v"}, "tag", None]),
        max_size=22,
    )
    | st.sampled_from([{}, "tags", None]),
    "Metadata": st.sampled_from([{}, {"a": [1, {"b": None}]}, [], "m", None, 0]),
    "IPAddress": st.just("203.0.113.1"),
}


@st.composite
def near_miss_requests(draw: st.DrawFn) -> dict:
    """A valid request with one to three fields removed or set to a value at a schema boundary."""
    fields = dict(draw(valid_requests))
    for name in draw(st.lists(st.sampled_from(sorted(near_misses)), min_size=1, max_size=3)):
        if name in fields and draw(st.booleans()):
            del fields[name]
        else:
            fields[name] = draw(near_misses[name])
    return fields


schema_inputs = valid_requests | near_miss_requests() | json_values


@pytest.mark.slow
@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schema_inputs)
def test_the_fast_check_accepts_exactly_what_jsonschema_accepts(value):
    assert _ACCEPT(value) == (next(_JSONSCHEMA.iter_errors(value), None) is None)


@pytest.mark.slow
@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(sorted(near_misses)).flatmap(
        lambda name: near_misses[name].map(lambda value: {**VALID, name: value})
    )
)
def test_the_fast_check_agrees_with_jsonschema_at_each_fields_boundaries(fields):
    assert _ACCEPT(fields) == (next(_JSONSCHEMA.iter_errors(fields), None) is None)


@pytest.mark.slow
@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_requests | near_miss_requests(), st.booleans())
def test_the_fast_path_gives_the_full_validators_verdict(fields, ascii_only):
    try:
        body = json.dumps(fields, ensure_ascii=ascii_only).encode()
    except UnicodeEncodeError:  # a lone surrogate can only travel escaped
        body = json.dumps(fields).encode()
    assert _VALIDATOR.validate(body) == _FULL.validate(body)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_the_fast_path_gives_the_full_validators_verdict_on_any_bytes(body):
    assert _VALIDATOR.validate(body) == _FULL.validate(body)


def test_a_valid_request_does_not_need_jsonschema(monkeypatch):
    validator = RequestValidator()

    class Refusing:
        def iter_errors(self, _instance):
            raise AssertionError("jsonschema was asked about a request the fast check accepts")

    monkeypatch.setattr(validator, "_validator", Refusing())
    body = encode({**VALID, "Asn": "65001", "Tags": [{"Key": "team", "Value": "net"}]})
    assert isinstance(validator.validate(body), ProvisioningRequest)


def test_a_rejection_is_explained_by_jsonschema_as_before(validator):
    body = encode({**VALID, "Name": "x", "Asn": 65001.5})
    assert validator.validate(body) == _FULL.validate(body)
    assert [v.rule for v in validator.validate(body).violations] == ["minLength", "type"]


@pytest.mark.parametrize(
    "schema",
    [
        pytest.param({"type": "object", "minProperties": 1}, id="unmodelled-keyword"),
        pytest.param({"properties": {"a": {"format": "email"}}}, id="unmodelled-format"),
        pytest.param({"patternProperties": {"^x": {"type": "string"}}}, id="patternProperties"),
    ],
)
def test_a_schema_the_fast_check_does_not_model_uses_jsonschema_alone(schema):
    with pytest.raises(_UnmodelledSchemaError):
        _compile_accept(schema)
    validator = RequestValidator(schema)
    assert validator._accept is None
    assert isinstance(validator.validate(b'{"a": "x", "x": "y"}'), ProvisioningRequest)
    assert isinstance(RequestValidator(schema).validate(b"{}"), Rejection) == (
        "minProperties" in schema
    )


@given(
    st.ip_addresses(v=4).map(str)
    | st.from_regex(r"\A[0-9.]{1,20}\Z")
    | st.text(alphabet="0123456789.x ", max_size=20)
)
def test_the_refused_range_check_reads_an_address_as_ipaddress_does(text):
    """_ipv4_number's direct reading of a dotted quad agrees with ipaddress on any string."""
    try:
        expected = int(ipaddress.IPv4Address(text))
    except ValueError:
        expected = None
    assert _ipv4_number(text) == expected
