"""localcloud/parameters.py and the template checks of localcloud/template.py: pure, no server."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from localcloud.parameters import TYPES, ParameterError, check_parameter
from localcloud.template import TemplateError, check_document

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
)
_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
_specs = st.fixed_dictionaries(
    {"Type": st.one_of(st.sampled_from(TYPES), _scalars)},
    optional={
        "AllowedValues": st.one_of(st.lists(_scalars, max_size=4), _scalars),
        "AllowedPattern": st.one_of(st.sampled_from(["^[a-z]+$", "[0-9]*", "(", "a{2,"]), _scalars),
        "MinLength": _scalars,
        "MaxLength": _scalars,
        "MinValue": _scalars,
        "MaxValue": _scalars,
    },
)


@settings(max_examples=500, deadline=None)
@given(spec=_specs, value=_values)
def test_any_declaration_and_value_give_a_value_or_one_line_naming_the_parameter(spec, value):
    try:
        check_parameter("P", spec, value)
    except ParameterError as exc:
        message = str(exc)
        assert message.startswith("parameter P: ")
        assert "\n" not in message
        assert len(message) < 400


@settings(max_examples=200, deadline=None)
@given(low=st.integers(-1000, 1000), span=st.integers(0, 1000), data=st.data())
def test_a_number_within_its_bounds_is_accepted_as_given_or_as_text(low, span, data):
    spec = {"Type": "Number", "MinValue": low, "MaxValue": low + span}
    number = data.draw(st.integers(low, low + span))
    assert check_parameter("N", spec, number) == number
    assert check_parameter("N", spec, str(number)) == number
    assert check_parameter("N", spec, f" {number}.0 ") == number


@settings(max_examples=200, deadline=None)
@given(low=st.integers(-1000, 1000), outside=st.integers(1, 10**6))
def test_a_number_out_of_bounds_names_the_bound(low, outside):
    spec = {"Type": "Number", "MinValue": low, "MaxValue": low + 10}
    with pytest.raises(ParameterError, match=rf"^parameter N: .* below MinValue {low}$"):
        check_parameter("N", spec, low - outside)
    with pytest.raises(ParameterError, match=rf"^parameter N: .* above MaxValue {low + 10}$"):
        check_parameter("N", spec, low + 10 + outside)


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=20).filter(lambda t: not re.fullmatch(r"\s*[-+]?[0-9_.eE]+\s*", t)))
def test_text_that_is_no_number_is_refused_as_type_number(text):
    try:
        float(text)
    except ValueError:
        pass
    else:  # "inf", "nan", "1e5"... are floats: only the non-finite ones are refused
        return
    with pytest.raises(ParameterError, match=r"^parameter N: Type Number, got "):
        check_parameter("N", {"Type": "Number"}, text)


@pytest.mark.parametrize("value", ["nan", "inf", "-Infinity", "1" * 5000, True])
def test_non_finite_huge_and_boolean_numbers_are_refused(value):
    with pytest.raises(ParameterError, match=r"^parameter N: Type Number"):
        check_parameter("N", {"Type": "Number"}, value)


@settings(max_examples=200, deadline=None)
@given(text=st.text(alphabet="abc-_", max_size=12))
def test_allowed_pattern_must_match_the_whole_value(text):
    spec = {"Type": "String", "AllowedPattern": "[a-c]+"}  # no anchors: still the whole value
    if re.fullmatch("[a-c]+", text):
        assert check_parameter("S", spec, text) == text
    else:
        with pytest.raises(ParameterError, match=r"^parameter S: .* does not match AllowedPattern"):
            check_parameter("S", spec, text)


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=12), low=st.integers(0, 6), span=st.integers(0, 6))
def test_string_length_bounds(text, low, span):
    spec = {"Type": "String", "MinLength": low, "MaxLength": low + span}
    if low <= len(text) <= low + span:
        assert check_parameter("S", spec, text) == text
    else:
        with pytest.raises(ParameterError, match=r"MinLength|MaxLength"):
            check_parameter("S", spec, text)


def test_allowed_values_compare_numbers_as_numbers_and_strings_as_strings():
    memory = {"Type": "Number", "AllowedValues": [128, 192, 256]}
    assert check_parameter("M", memory, "192") == 192
    assert check_parameter("M", memory, 256.0) == 256
    with pytest.raises(ParameterError, match=r"^parameter M: 200 is not one of AllowedValues"):
        check_parameter("M", memory, "200")
    level = {"Type": "String", "AllowedValues": ["INFO", "DEBUG"]}
    assert check_parameter("L", level, "DEBUG") == "DEBUG"
    with pytest.raises(ParameterError, match="'info' is not one of AllowedValues"):
        check_parameter("L", level, "info")


def test_other_types_convert_as_ros_documents_them():
    assert check_parameter("B", {"Type": "Boolean"}, "True") is True
    assert check_parameter("L", {"Type": "CommaDelimitedList"}, "a, b,c") == ["a", "b", "c"]
    assert check_parameter("J", {"Type": "Json"}, '{"k": [1]}') == {"k": [1]}
    assert check_parameter("S", {"Type": "String"}, 60) == "60"
    with pytest.raises(ParameterError, match=r"^parameter J: Type Json"):
        check_parameter("J", {"Type": "Json"}, "[1")
    with pytest.raises(ParameterError, match=r"^parameter X: Type must be one of"):
        check_parameter("X", {"Type": "Integer"}, 1)


_names = st.sampled_from(["A", "B", "C", "P"])
_refs = st.one_of(
    st.builds(lambda n: {"Ref": n}, _names),
    st.builds(lambda n: {"Fn::GetAtt": [n, "QueueName"]}, _names),
    st.builds(lambda n: {"Fn::Sub": "x-${" + n + ".QueueName}"}, _names),
    st.builds(lambda n, v: {"Fn::Sub": ["${" + n + "}", v]}, _names, _values),
    _values,
)
_resources = st.dictionaries(
    _names,
    st.one_of(
        st.fixed_dictionaries(
            {"Type": st.one_of(st.just("ALIYUN::MNS::Queue"), _scalars)},
            optional={
                "Properties": st.one_of(st.fixed_dictionaries({"QueueName": _refs}), _values),
                "DependsOn": st.one_of(_names, st.lists(_names, max_size=3), _values),
            },
        ),
        _values,
    ),
    max_size=4,
)


@settings(max_examples=400, deadline=None)
@given(
    resources=st.one_of(_resources, _values),
    parameters=st.one_of(
        st.dictionaries(st.just("P"), _specs.map(lambda s: {**s, "Default": "x"}), max_size=1),
        _values,
    ),
)
def test_any_template_document_is_accepted_or_refused_with_one_line(resources, parameters):
    """validate()'s checks on an arbitrary document: a TemplateError with one line naming the
    parameter or resource and the rule, never another exception (a Ref cycle included)."""
    document = {"ROSTemplateFormatVersion": "2015-09-01", "Resources": resources}
    document["Parameters"] = parameters
    try:
        check_document(document)
    except TemplateError as exc:
        message = str(exc)
        assert message
        assert "\n" not in message


def test_a_ref_cycle_in_a_document_names_the_resources():
    document = {
        "ROSTemplateFormatVersion": "2015-09-01",
        "Resources": {
            "A": {"Type": "ALIYUN::MNS::Queue", "Properties": {"QueueName": {"Ref": "B"}}},
            "B": {
                "Type": "ALIYUN::MNS::Queue",
                "Properties": {"QueueName": {"Fn::Sub": "${A.QueueName}-2"}},
            },
        },
    }
    with pytest.raises(TemplateError, match=r"^reference cycle: A -> B -> A$"):
        check_document(document)
