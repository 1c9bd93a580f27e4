"""Request bytes -> a ProvisioningRequest, or a Rejection listing every violation.

The JSON Schema (schemas/provisioning-request.schema.json, compiled once per RequestValidator)
holds what JSON Schema can say; the small named checks below hold the rest. Each violation names
its JSON pointer, a rule, a sentence and the API-vocabulary code of its field. Pure, never raises.
"""

from __future__ import annotations

import ipaddress
import json
import math
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .redaction import SECRET_REQUEST_FIELDS

MAX_BODY_BYTES = 64 * 1024
MAX_DEPTH = 32
MAX_METADATA_BYTES = 4096
MAX_ASN = 4_294_967_295
RESERVED_ASN = 45104

# error.code precedence: the Rejection's code is that of its first violation in this order.
CODES = (
    "MissingRegionId",
    "InvalidRegionId",
    "MissingIpAddress",
    "InvalidIpAddress.WrongFormat",
    "InvalidName",
    "InvalidDescription",
    "InvalidAsn",
    "InvalidAuthKey",
    "InvalidClientToken",
    "InvalidResourceGroupId",
    "InvalidTags",
    "InvalidMetadata",
    "InvalidMessage",
)
_PRECEDENCE = {code: index for index, code in enumerate(CODES)}
_FIELD_CODES = {
    "RegionId": "InvalidRegionId",
    "IpAddress": "InvalidIpAddress.WrongFormat",
    "Name": "InvalidName",
    "Description": "InvalidDescription",
    "Asn": "InvalidAsn",
    "AuthKey": "InvalidAuthKey",
    "ClientToken": "InvalidClientToken",
    "ResourceGroupId": "InvalidResourceGroupId",
    "Tags": "InvalidTags",
    "Metadata": "InvalidMetadata",
}
KNOWN_FIELDS = frozenset(_FIELD_CODES)  # the request's fields (the schema's properties)
_MISSING_CODES = {"RegionId": "MissingRegionId", "IpAddress": "MissingIpAddress"}
_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_DOTTED_QUAD = re.compile(
    r"(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}"
    r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
)
_ASCII_NAME = re.compile(r"[A-Za-z0-9._-]*")

REFUSED_NETWORKS = (
    (ipaddress.IPv4Network("0.0.0.0/8"), "'this network'"),
    (ipaddress.IPv4Network("100.64.0.0/10"), "shared address space"),
    (ipaddress.IPv4Network("127.0.0.0/8"), "loopback"),
    (ipaddress.IPv4Network("169.254.0.0/16"), "link-local"),
    (ipaddress.IPv4Network("224.0.0.0/4"), "multicast"),
    (ipaddress.IPv4Network("255.0.0.0/8"), "reserved, broadcast"),
)

_REFUSED_SPANS = tuple(
    (int(network.network_address), int(network.broadcast_address))
    for network, _ in REFUSED_NETWORKS
)

# What a failed `pattern` means, per field (the schema's regexes are not for humans).
_PATTERN_MEANINGS = {
    "RegionId": "must be a region ID such as cn-shanghai (lowercase letters, digits and '-')",
    "Name": "must not start with http:// or https://",
    "Description": "must not start with http:// or https://",
    "Asn": "must be a decimal number or the two-segment form a.b",
    "AuthKey": "must contain only printable ASCII characters other than space and '?'",
    "ClientToken": "must contain only printable ASCII characters without spaces",
    "ResourceGroupId": "must look like rg-<lowercase letters and digits>",
    "Key": "must not start with aliyun or acs:",
}


@dataclass(frozen=True)
class Violation:
    pointer: str  # JSON pointer, e.g. "/IpAddress", "/Tags/3/Key", "" for the whole body
    rule: str  # short rule name, e.g. "required", "format:ipv4", "refused-range", "maxLength"
    message: str  # a sentence naming the field and the rule (never a secret's value)
    code: str  # API-vocabulary code for the field

    def as_dict(self) -> dict[str, str]:
        return {
            "pointer": self.pointer,
            "rule": self.rule,
            "message": self.message,
            "code": self.code,
        }


@dataclass(frozen=True)
class ProvisioningRequest:
    fields: Mapping[str, Any]  # the validated object, API field names, Metadata included

    @property
    def region_id(self) -> str:
        region_id: str = self.fields["RegionId"]
        return region_id

    @property
    def ip_address(self) -> str:
        ip_address: str = self.fields["IpAddress"]
        return ip_address

    @property
    def client_token(self) -> str | None:
        return self.fields.get("ClientToken")

    @property
    def metadata(self) -> dict[str, Any] | None:
        return self.fields.get("Metadata")

    def api_parameters(self) -> dict[str, Any]:
        """CreateCustomerGateway parameters: every field but Metadata. Asn becomes a decimal
        string (a.b converted); Tags stay a list of {Key, Value} for the adapter to flatten."""
        params = {key: value for key, value in self.fields.items() if key != "Metadata"}
        if "Asn" in params:
            params["Asn"] = str(_asn_value(params["Asn"]))
        if "Tags" in params:
            params["Tags"] = [dict(tag) for tag in params["Tags"]]
        return params


@dataclass(frozen=True)
class Rejection:
    code: str  # error.code: the first violation's code in CODES order
    message: str
    violations: tuple[Violation, ...]  # every violation, in CODES order (then as found)
    fields: Mapping[str, Any] | None  # the parsed object when the body was a JSON object


def load_schema(name: str) -> dict[str, Any]:
    """Read <function dir>/schemas/<name>.schema.json (the function dir's `schemas` link)."""
    path = Path(__file__).resolve().parent.parent / "schemas" / f"{name}.schema.json"
    schema: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return schema


class RequestValidator:
    """Compiles the request schema once; validate() then costs one parse and one schema pass.

    The schema pass has two forms, both made from the same loaded schema: a fast accept check
    (the schema's keywords compiled into plain Python, see _compile_accept) that answers "no
    schema violation" for a valid request in a few microseconds, and jsonschema's iter_errors,
    used whenever the fast check says no, to find and explain every violation. The fast check is
    exact (tests/unit/test_validation.py holds it to jsonschema's verdict with hypothesis); a
    schema keyword it does not model turns it off, never makes it guess.
    """

    def __init__(
        self, schema: Mapping[str, Any] | None = None, *, fast_accept: bool = True
    ) -> None:
        # jsonschema is most of this package's import time: paid here, once per instance.
        from jsonschema import Draft202012Validator, FormatChecker

        schema = load_schema("provisioning-request") if schema is None else schema
        Draft202012Validator.check_schema(schema)
        self._schema = schema
        self._validator = Draft202012Validator(schema, format_checker=FormatChecker(["ipv4"]))
        self._accept: Callable[[Any], bool] | None = None
        if fast_accept:
            try:
                self._accept = _compile_accept(schema)
            except _UnmodelledSchemaError:
                self._accept = None  # jsonschema alone, every time

    def validate(self, body: bytes) -> ProvisioningRequest | Rejection:
        """Never raises: any bytes give a ProvisioningRequest or a Rejection."""
        try:
            parsed, needs_walk = _parse(body)
        except _BodyError as error:
            return _rejection([error.violation], None)
        if not isinstance(parsed, dict):
            kind = _json_kind(parsed)
            message = f"the request must be a JSON object, not {kind}"
            return _rejection([Violation("", "not-object", message, "InvalidMessage")], None)
        fields, structural = _plain(parsed) if needs_walk else (parsed, [])
        accepted = self._accept is not None and self._accept(fields)
        schema_violations = () if accepted else self._schema_violations(fields)
        violations = [*structural, *schema_violations, *_named_violations(fields)]
        if violations:
            return _rejection(violations, fields)
        return ProvisioningRequest(fields=fields)

    def _schema_violations(self, fields: dict[str, Any]) -> Iterator[Violation]:
        reported: set[tuple[str, ...]] = set()  # jsonschema repeats `required` per missing name
        for error in self._validator.iter_errors(fields):
            path = list(error.absolute_path)
            if error.validator == "required":
                for name in error.validator_value:
                    key = ("required", *map(str, path), name)
                    if name not in error.instance and key not in reported:
                        reported.add(key)
                        yield _violation([*path, name], "required", "is required")
            elif error.validator == "additionalProperties":
                known = tuple(error.schema.get("properties", {}))
                for name in error.instance:
                    if name not in known:
                        yield _unknown_field(path, name, known)
            else:
                yield _violation(path, *_explain(error, path))


# --- the fast accept check ---------------------------------------------------------------------

_ANNOTATIONS = frozenset({"$schema", "$id", "$comment", "title", "description", "examples"})
_MODELLED = frozenset(
    {
        "type", "required", "additionalProperties", "properties", "maxLength", "minLength",
        "pattern", "format", "minimum", "maximum", "maxItems", "items",
    }
)  # fmt: skip
_FORMATS: dict[str, Callable[[str], bool]] = {}  # filled below: format name -> check of a string


class _UnmodelledSchemaError(Exception):
    """The schema uses something _compile_accept does not model: no fast path for it."""


def _compile_accept(schema: Any) -> Callable[[Any], bool]:
    """A check that is True exactly where Draft 2020-12 jsonschema (format ipv4 checked) finds no
    error, made of plain Python per keyword with jsonschema's semantics: each keyword applies
    only to its own JSON type, "integer" includes integral floats, booleans are not numbers."""
    if schema is True or schema is False:
        verdict: bool = schema
        return lambda value: verdict
    unknown = set(schema) - _ANNOTATIONS - _MODELLED
    if unknown:
        raise _UnmodelledSchemaError(f"keywords {sorted(unknown)}")
    is_type = _type_check(schema["type"]) if "type" in schema else None
    min_length, max_length = schema.get("minLength", 0), schema.get("maxLength")
    search = re.compile(schema["pattern"]).search if "pattern" in schema else None
    if "format" in schema and schema["format"] not in _FORMATS:
        raise _UnmodelledSchemaError(f"format {schema['format']!r}")
    format_ok = _FORMATS.get(schema.get("format", ""))
    minimum, maximum = schema.get("minimum"), schema.get("maximum")
    max_items = schema.get("maxItems")
    item_ok = _compile_accept(schema["items"]) if "items" in schema else None
    properties = {name: _compile_accept(sub) for name, sub in schema.get("properties", {}).items()}
    required = tuple(schema.get("required", ()))
    extra = schema.get("additionalProperties", True)
    extra_ok = None if extra is True else _compile_accept(extra)

    def string_ok(value: str) -> bool:
        length = len(value)
        return (
            min_length <= length
            and (max_length is None or length <= max_length)
            and (search is None or search(value) is not None)
            and (format_ok is None or format_ok(value))
        )

    def object_ok(value: dict[str, Any]) -> bool:
        for name in required:
            if name not in value:
                return False
        for key, member in value.items():
            check = properties.get(key, extra_ok)
            if check is not None and not check(member):
                return False
        return True

    # A string or an object schema gets a closure of its own (the fast path runs one per
    # field): the other types' keywords never apply to its values.
    kind = schema.get("type")
    if kind == "string":
        return lambda value: isinstance(value, str) and string_ok(value)
    if kind == "object":
        return lambda value: isinstance(value, dict) and object_ok(value)

    def accept(value: Any) -> bool:
        if is_type is not None and not is_type(value):
            return False
        if isinstance(value, str):
            return string_ok(value)
        if isinstance(value, dict):
            return object_ok(value)
        if isinstance(value, list):
            if max_items is not None and len(value) > max_items:
                return False
            return item_ok is None or all(map(item_ok, value))
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return (minimum is None or value >= minimum) and (maximum is None or value <= maximum)
        return True

    return accept


def _type_check(names: str | list[str]) -> Callable[[Any], bool]:
    checks = [_JSON_TYPES[name] for name in ([names] if isinstance(names, str) else names)]
    if len(checks) == 1:
        return checks[0]
    return lambda value: any(check(value) for check in checks)


def _is_integer(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


_JSON_TYPES: dict[str, Callable[[Any], bool]] = {
    "string": lambda value: isinstance(value, str),
    "object": lambda value: isinstance(value, dict),
    "array": lambda value: isinstance(value, list),
    "integer": _is_integer,
    "number": lambda value: isinstance(value, (int, float)) and not isinstance(value, bool),
    "boolean": lambda value: isinstance(value, bool),
    "null": lambda value: value is None,
}


def _is_ipv4(value: str) -> bool:
    """What jsonschema's ipv4 format asks of ipaddress.IPv4Address: four decimal octets 0-255,
    no leading zeros (the regex is that rule; ipaddress stays the judge of anything else)."""
    if _DOTTED_QUAD.fullmatch(value):
        return True
    try:
        ipaddress.IPv4Address(value)
    except ValueError:
        return False
    return True


_FORMATS["ipv4"] = _is_ipv4


# --- parsing ------------------------------------------------------------------------------------


class _BodyError(Exception):
    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.violation = Violation("", rule, message, "InvalidMessage")


class _Duplicated(dict[str, Any]):
    """A JSON object that repeated some keys: `duplicates` lists them (the last value wins)."""

    duplicates: tuple[str, ...] = ()


def _parse(body: bytes) -> tuple[Any, bool]:
    """The JSON value of the body, and whether it may hold what only _plain sees (a repeated key
    or a lone surrogate escape); False means it is plain JSON of plain dicts already."""
    if not isinstance(body, (bytes, bytearray, memoryview)):
        raise _BodyError("not-bytes", f"the request body must be bytes, not {type(body).__name__}")
    if len(body) > MAX_BODY_BYTES:
        raise _BodyError(
            "body-size", f"the request body is {len(body)} bytes; at most {MAX_BODY_BYTES} allowed"
        )
    try:
        text = bytes(body).decode("utf-8")
    except UnicodeDecodeError as error:
        raise _BodyError(
            "not-utf8", f"the request body is not UTF-8: {error.reason} at byte {error.start}"
        ) from None
    if not text.strip(" \t\n\r"):
        raise _BodyError("not-json", "the request body is empty; a JSON object is expected")
    _PARSING.repeats = False  # (set by _object_from_pairs, on this thread)
    try:
        if text.startswith("\ufeff"):  # (what json.loads says of it)
            raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
        value = _BODY_DECODER.decode(text)
    except RecursionError:
        raise _BodyError("max-depth", f"the request nests deeper than {MAX_DEPTH} levels") from None
    except ValueError as error:
        raise _BodyError("not-json", f"the request body is not valid JSON: {error}") from None
    # Each level of nesting needs a '[' or '{' in the text: few of them, no deep value.
    if text.count("{") + text.count("[") > MAX_DEPTH and _depth(value) > MAX_DEPTH:
        raise _BodyError("max-depth", f"the request nests deeper than {MAX_DEPTH} levels")
    # Valid UTF-8 decodes to no surrogate: only a \\uD800-\\uDFFF escape can make one.
    return value, bool(_PARSING.repeats) or _SURROGATE_ESCAPE.search(text) is not None


def _object_from_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) == len(pairs):
        return result
    _PARSING.repeats = True
    seen: set[str] = set()
    repeated = []
    for key, _ in pairs:
        if key in seen:
            repeated.append(key)
        seen.add(key)
    marked = _Duplicated(result)
    marked.duplicates = tuple(dict.fromkeys(repeated))
    return marked


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:20]} is out of range")
    return value


_COMPACT_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))  # (built once)

# One decoder for every body (json.loads with hooks would build one per call); what a parse
# found out travels per thread, as invocations' threads parse at the same time.
_PARSING = threading.local()
_BODY_DECODER = json.JSONDecoder(
    object_pairs_hook=_object_from_pairs,
    parse_constant=_refuse_constant,
    parse_float=_finite_float,
)


def _depth(value: Any) -> int:
    """Nesting depth without recursion (a scalar is 0, {} is 1)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, level = stack.pop()
        children = (
            node.values() if isinstance(node, dict) else node if isinstance(node, list) else None
        )
        if children is None:
            continue
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in children)
    return deepest


def _plain(value: dict[str, Any]) -> tuple[dict[str, Any], list[Violation]]:
    """Plain dicts again, and the violations the schema cannot see: repeated keys and lone
    surrogates ("\\ud800" escapes, which no UTF-8 output can carry), anywhere in the request."""
    violations: list[Violation] = []

    def walk(node: Any, path: list[str | int]) -> Any:
        if isinstance(node, dict):
            for key in getattr(node, "duplicates", ()):
                message = f"{_describe([*path, key])} appears more than once in the JSON object"
                violations.append(
                    Violation(_pointer([*path, key]), "duplicate-key", message, "InvalidMessage")
                )
            for key in node:
                if _LONE_SURROGATE.search(key):
                    violations.append(_lone_surrogate([*path, key]))
            return {key: walk(child, [*path, key]) for key, child in node.items()}
        if isinstance(node, list):
            return [walk(child, [*path, index]) for index, child in enumerate(node)]
        if isinstance(node, str) and _LONE_SURROGATE.search(node):
            violations.append(_lone_surrogate(path))
        return node

    return walk(value, []), violations


def _lone_surrogate(path: list[str | int]) -> Violation:
    message = f"{_describe(path)} holds a lone UTF-16 surrogate escape (not a Unicode character)"
    return Violation(_pointer(path), "lone-surrogate", message, _code_for(path, "lone-surrogate"))


def _json_kind(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "null"
    return "a number"


# --- named checks (what JSON Schema cannot express) ---------------------------------------------


def _named_violations(fields: Mapping[str, Any]) -> Iterator[Violation]:
    for name, check in _NAMED_CHECKS:
        if name in fields:
            yield from check(fields[name])


def _check_ip_address(value: Any) -> Iterator[Violation]:
    address = _ipv4_number(value) if isinstance(value, str) else None
    if address is None:
        return  # the schema's type or format:ipv4 reports it
    for (first, last), (network, meaning) in zip(_REFUSED_SPANS, REFUSED_NETWORKS, strict=True):
        if first <= address <= last:
            message = f"IpAddress {value} is in the refused range {network} ({meaning})"
            yield _violation(["IpAddress"], "refused-range", message, raw=True)


def _ipv4_number(value: str) -> int | None:
    """The address as a number, None if it is not one. A plain dotted quad (nearly every
    request) is read directly; anything else is ipaddress's to judge."""
    if _DOTTED_QUAD.fullmatch(value):
        a, b, c, d = value.split(".")
        return (int(a) << 24) | (int(b) << 16) | (int(c) << 8) | int(d)
    try:
        return int(ipaddress.IPv4Address(value))
    except ValueError:
        return None


def _check_name(value: Any) -> Iterator[Violation]:
    if isinstance(value, str) and not (
        _ASCII_NAME.fullmatch(value) or all(_is_name_character(ch) for ch in value)
    ):
        yield _violation(
            ["Name"],
            "name-charset",
            "may contain only letters (any script), digits, '.', '_' and '-'",
        )


def _is_name_character(ch: str) -> bool:
    return ch.isalpha() or ch.isdecimal() or ch in "._-"


def _check_description(value: Any) -> Iterator[Violation]:
    if isinstance(value, str) and value and not value[0].isalpha():
        yield _violation(["Description"], "description-first-letter", "must start with a letter")


def _check_asn(value: Any) -> Iterator[Violation]:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return  # the schema's type check reports it
    if isinstance(value, str):
        if len(value) > 11:
            return  # the schema's pattern reports it (and int() of huge digit strings is slow)
        head, dot, tail = value.partition(".")
        if not (
            head.isdigit() and head.isascii() and (not dot or (tail.isdigit() and tail.isascii()))
        ):
            return  # the schema's pattern reports it
        if dot and (int(head) > 65535 or int(tail) > 65535):
            yield _violation(
                ["Asn"], "asn-range", "in the form a.b needs a and b each between 0 and 65535"
            )
            return
        number = _asn_value(value)
        if not 1 <= number <= MAX_ASN:
            yield _violation(["Asn"], "asn-range", f"must be between 1 and {MAX_ASN}")
            return
    else:
        number = _asn_value(value)
    if number == RESERVED_ASN:
        yield _violation(["Asn"], "asn-reserved", f"{RESERVED_ASN} is Alibaba Cloud's own ASN")


def _asn_value(value: Any) -> int:
    if isinstance(value, str) and "." in value:
        head, _, tail = value.partition(".")
        return int(head) * 65536 + int(tail)
    return int(value)


def _check_tags(value: Any) -> Iterator[Violation]:
    if not isinstance(value, list):
        return
    seen: set[str] = set()
    for index, tag in enumerate(value):
        key = tag.get("Key") if isinstance(tag, dict) else None
        if isinstance(key, str):
            if key in seen:
                yield _violation(
                    ["Tags", index, "Key"], "tag-key-unique", f"repeats the key {key!r}"[:120]
                )
            seen.add(key)


def _check_metadata(value: Any) -> Iterator[Violation]:
    if isinstance(value, dict):
        size = len(_COMPACT_JSON.encode(value).encode("utf-8", "surrogatepass"))
        if size > MAX_METADATA_BYTES:
            yield _violation(
                ["Metadata"],
                "metadata-size",
                f"is {size} bytes as compact JSON; at most {MAX_METADATA_BYTES} allowed",
            )


_NAMED_CHECKS: tuple[tuple[str, Callable[[Any], Iterator[Violation]]], ...] = (
    ("IpAddress", _check_ip_address),
    ("Name", _check_name),
    ("Description", _check_description),
    ("Asn", _check_asn),
    ("Tags", _check_tags),
    ("Metadata", _check_metadata),
)


# --- violations and messages --------------------------------------------------------------------


def _violation(path: list[str | int], rule: str, message: str, *, raw: bool = False) -> Violation:
    """A violation at `path`; `message` is prefixed with the field's name unless `raw`."""
    text = message if raw else f"{_describe(path)} {message}"
    return Violation(_pointer(path), rule, text, _code_for(path, rule))


def _code_for(path: list[str | int], rule: str) -> str:
    if not path:
        return "InvalidMessage"
    field = str(path[0])
    if len(path) == 1 and rule == "required":
        return _MISSING_CODES.get(field, _FIELD_CODES.get(field, "InvalidMessage"))
    return _FIELD_CODES.get(field, "InvalidMessage")


def _unknown_field(path: list[str | int], name: str, known: tuple[str, ...]) -> Violation:
    hint = next((k for k in known if k.lower() == name.lower()), None)
    where = f"{_describe(path)} " if path else ""
    shown = name if len(name) <= 64 else name[:61] + "..."
    message = f"{where}field {shown!r} is not a known field".lstrip()
    message += f" (did you mean {hint}?)" if hint else f"; known fields: {', '.join(known)}"
    pointer = _pointer([*path, name])
    return Violation(pointer, "additionalProperties", message, _code_for([*path, name], ""))


def _explain(error: Any, path: list[str | int]) -> tuple[str, str]:
    """(rule, message without the field name) for one jsonschema error."""
    keyword, expected = error.validator, error.validator_value
    field = path[-1] if path and isinstance(path[-1], str) else None
    if keyword == "type":
        wanted = " or ".join(expected) if isinstance(expected, list) else expected
        return "type", f"must be of type {wanted}, not {_json_kind(error.instance)}"
    if keyword == "format":
        what = "IPv4 address (four decimal octets, no leading zeros)"
        what = what if expected == "ipv4" else f"{expected} value"
        return f"format:{expected}", f"{_shown(path, error.instance)} is not a valid {what}"
    if keyword == "minLength":
        return "minLength", f"must be at least {expected} characters long"
    if keyword == "maxLength":
        return "maxLength", f"must be at most {expected} characters long"
    if keyword == "pattern":
        return "pattern", _PATTERN_MEANINGS.get(field or "", "does not match the expected pattern")
    if keyword == "maxItems":
        return "maxItems", f"may hold at most {expected} items"
    if keyword == "minimum":
        return "minimum", f"must be at least {expected}"
    if keyword == "maximum":
        return "maximum", f"must be at most {expected}"
    return keyword, "is not valid"


def _shown(path: list[str | int], value: Any) -> str:
    """`value` quoted for a message: never a secret, never more than 64 characters."""
    if path and path[0] in SECRET_REQUEST_FIELDS:
        return "the value"
    text = repr(value)
    return text if len(text) <= 64 else text[:61] + "..."


def _describe(path: list[str | int]) -> str:
    """A field's name for a message: RegionId, Tags[3].Key (long keys shortened)."""
    if not path:
        return "the request"
    parts = [p if isinstance(p, int) or len(p) <= 64 else p[:61] + "..." for p in path]
    return "".join(
        f"[{p}]" if isinstance(p, int) else (f".{p}" if i else p) for i, p in enumerate(parts)
    )


def _pointer(path: list[str | int]) -> str:
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in path)


def _rejection(violations: list[Violation], fields: Mapping[str, Any] | None) -> Rejection:
    ordered = tuple(sorted(violations, key=lambda v: _PRECEDENCE[v.code]))  # stable
    first = ordered[0]
    more = len(ordered) - 1
    message = first.message + (
        f" (and {more} more violation{'s' if more > 1 else ''})" if more else ""
    )
    return Rejection(code=first.code, message=message, violations=ordered, fields=fields)
