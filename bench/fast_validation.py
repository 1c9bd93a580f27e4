"""A prototype for the core owner (not used by the function): a fast accept path for validation.

`jsonschema`'s iter_errors costs about 180 us per request, valid ones included (bench/core.py).
Here the request schema's keywords are compiled once into plain Python checks that answer only
"certainly valid" or "not sure": a request they accept is accepted without jsonschema; anything
else (a violation, or a value the checks do not model, such as a float Asn) goes the full way, so
rejections keep their complete, jsonschema-made explanation. A schema keyword the compiler does
not know disables the fast path altogether (it can never accept what jsonschema would refuse).
tests/fuzz/test_fast_validation_prototype.py holds it to jsonschema's verdict with hypothesis.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping
from typing import Any

from cgw_provisioner import validation
from cgw_provisioner.validation import ProvisioningRequest, RequestValidator

Check = Callable[[Any], bool]
_ANNOTATIONS = {"description", "examples", "title", "$schema", "$id", "$comment", "default"}


class _Unsupported(Exception):
    pass


def _ipv4(value: str) -> bool:
    try:
        ipaddress.IPv4Address(value)
    except ValueError:
        return False
    return True


def compile_schema(schema: Mapping[str, Any]) -> Check:
    """A check that is True only where jsonschema (Draft 2020-12, ipv4 format) would accept."""
    unknown = set(schema) - _ANNOTATIONS - {
        "type", "required", "additionalProperties", "properties", "maxLength", "minLength",
        "pattern", "format", "minimum", "maximum", "maxItems", "items",
    }  # fmt: skip
    if unknown:
        raise _Unsupported(sorted(unknown))
    checks: list[Check] = []
    types = schema.get("type")
    if types is not None:
        names = {types} if isinstance(types, str) else set(types)
        if not names <= {"string", "integer", "object", "array"}:
            raise _Unsupported(names)
        allowed = tuple(
            {"string": str, "object": dict, "array": list, "integer": int}[name] for name in names
        )
        checks.append(lambda v: isinstance(v, allowed) and not isinstance(v, bool))
    if "maxLength" in schema:
        n = schema["maxLength"]
        checks.append(lambda v: not isinstance(v, str) or len(v) <= n)
    if "minLength" in schema:
        m = schema["minLength"]
        checks.append(lambda v: not isinstance(v, str) or len(v) >= m)
    if "pattern" in schema:
        search = re.compile(schema["pattern"]).search
        checks.append(lambda v: not isinstance(v, str) or search(v) is not None)
    if "format" in schema:
        if schema["format"] != "ipv4":
            raise _Unsupported(schema["format"])
        checks.append(lambda v: not isinstance(v, str) or _ipv4(v))
    if "minimum" in schema:
        low = schema["minimum"]
        checks.append(lambda v: not isinstance(v, int) or isinstance(v, bool) or v >= low)
    if "maximum" in schema:
        high = schema["maximum"]
        checks.append(lambda v: not isinstance(v, int) or isinstance(v, bool) or v <= high)
    if "maxItems" in schema:
        k = schema["maxItems"]
        checks.append(lambda v: not isinstance(v, list) or len(v) <= k)
    if "items" in schema:
        item = compile_schema(schema["items"])
        checks.append(lambda v: not isinstance(v, list) or all(item(x) for x in v))
    if "properties" in schema or "required" in schema or "additionalProperties" in schema:
        properties = {k: compile_schema(s) for k, s in schema.get("properties", {}).items()}
        required = tuple(schema.get("required", ()))
        extra = schema.get("additionalProperties", True)
        if extra not in (True, False):
            raise _Unsupported("additionalProperties schema")

        def object_check(v: Any) -> bool:
            if not isinstance(v, dict):
                return True
            if any(name not in v for name in required):
                return False
            for key, value in v.items():
                check = properties.get(key)
                if check is None:
                    if not extra:
                        return False
                elif not check(value):
                    return False
            return True

        checks.append(object_check)
    return lambda v: all(check(v) for check in checks)


class FastRequestValidator(RequestValidator):
    """RequestValidator with the compiled accept path in front of jsonschema."""

    def __init__(self, schema: Mapping[str, Any] | None = None) -> None:
        super().__init__(schema)
        try:
            self._accept: Check | None = compile_schema(self._schema)
        except _Unsupported:
            self._accept = None

    def validate(self, body: bytes) -> Any:
        if self._accept is not None:
            try:
                parsed = validation._parse(body)
            except validation._BodyError:
                return super().validate(body)
            if isinstance(parsed, dict) and self._accept(parsed):
                fields, structural = validation._plain(parsed)
                if not structural and not any(validation._named_violations(fields)):
                    return ProvisioningRequest(fields=fields)
        return super().validate(body)
