"""ROS template parameters: a value checked against its declaration, as ROS checks it at
ValidateTemplate / CreateStack time (https://www.alibabacloud.com/help/en/ros/user-guide/overview-10).

    check_parameter("FunctionTimeout", {"Type": "Number", "MaxValue": 600}, "60")  # -> 60

Pure: no I/O. A violation raises ParameterError with one line naming the parameter and the rule
(Type, AllowedValues, AllowedPattern, MinLength / MaxLength, MinValue / MaxValue). The pattern
must match the whole value (re.fullmatch), as ROS and CloudFormation apply it.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

TYPES = ("String", "Number", "CommaDelimitedList", "Json", "Boolean")
_SHOWN = 60  # characters of a bad value quoted in a message


class ParameterError(ValueError):
    """A parameter value (or declaration) breaks a rule; the message names both."""


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."


def _number(name: str, value: Any) -> int | float:
    if isinstance(value, bool):
        raise ParameterError(f"parameter {name}: Type Number, got {_show(value)}")
    if isinstance(value, (int, float)):
        number: int | float = value
    elif isinstance(value, str):
        text = value.strip()
        try:
            number = int(text)
        except ValueError:
            try:
                number = float(text)
            except ValueError:
                raise ParameterError(f"parameter {name}: Type Number, got {_show(value)}") from None
    else:
        raise ParameterError(f"parameter {name}: Type Number, got {_show(value)}")
    if isinstance(number, float):
        if not math.isfinite(number):
            raise ParameterError(f"parameter {name}: Type Number, got {_show(value)}")
        if number.is_integer():
            number = int(number)
    return number


def _bound(name: str, spec: Mapping[str, Any], key: str) -> int | float | None:
    if key not in spec:
        return None
    try:
        return _number(name, spec[key])
    except ParameterError:
        raise ParameterError(
            f"parameter {name}: {key} must be a number, got {_show(spec[key])}"
        ) from None


def _typed(name: str, kind: str, value: Any) -> Any:
    if kind == "Number":
        return _number(name, value)
    if kind == "String":
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise ParameterError(f"parameter {name}: Type String, got {_show(value)}")
        return value if isinstance(value, str) else str(value)
    if kind == "Boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        raise ParameterError(f"parameter {name}: Type Boolean (true or false), got {_show(value)}")
    if kind == "CommaDelimitedList":
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value
        if isinstance(value, str):
            return [item.strip() for item in value.split(",")]
        raise ParameterError(f"parameter {name}: Type CommaDelimitedList, got {_show(value)}")
    # Json
    if isinstance(value, (dict, list)):
        return value
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except (ValueError, RecursionError):
            parsed = None
        if isinstance(parsed, (dict, list)):
            return parsed
    raise ParameterError(f"parameter {name}: Type Json (an object or array), got {_show(value)}")


def check_parameter(name: str, spec: Any, value: Any) -> Any:
    """`value` (given, or the Default) converted to the parameter's Type and checked against
    every constraint its declaration `spec` carries; ParameterError naming the rule if not."""
    if not isinstance(spec, Mapping):
        raise ParameterError(f"parameter {name}: its declaration must be a mapping")
    kind = spec.get("Type")
    if kind not in TYPES:
        raise ParameterError(
            f"parameter {name}: Type must be one of {', '.join(TYPES)}, got {kind!r}"
        )
    typed = _typed(name, kind, value)
    allowed = spec.get("AllowedValues")
    if allowed is not None:
        if not isinstance(allowed, list) or not allowed:
            raise ParameterError(f"parameter {name}: AllowedValues must be a non-empty list")
        choices: list[Any]
        if kind == "Number":
            choices = [_number(name, a) for a in allowed if not isinstance(a, bool)]
        else:
            choices = [a if isinstance(a, str) else str(a) for a in allowed]
        items = typed if kind == "CommaDelimitedList" else [typed]
        outside = [i for i in items if i not in choices]
        if outside:
            raise ParameterError(
                f"parameter {name}: {_show(outside[0])} is not one of AllowedValues "
                f"{_show(allowed)}"
            )
    if kind == "String":
        _check_string(name, spec, typed)
    if kind == "Number":
        low, high = _bound(name, spec, "MinValue"), _bound(name, spec, "MaxValue")
        if low is not None and typed < low:
            raise ParameterError(f"parameter {name}: {typed} is below MinValue {low}")
        if high is not None and typed > high:
            raise ParameterError(f"parameter {name}: {typed} is above MaxValue {high}")
    return typed


def _check_string(name: str, spec: Mapping[str, Any], text: str) -> None:
    shortest, longest = _bound(name, spec, "MinLength"), _bound(name, spec, "MaxLength")
    if shortest is not None and len(text) < shortest:
        raise ParameterError(
            f"parameter {name}: {_show(text)} is shorter than MinLength {shortest}"
        )
    if longest is not None and len(text) > longest:
        raise ParameterError(
            f"parameter {name}: {len(text)} characters, longer than MaxLength {longest}"
        )
    pattern = spec.get("AllowedPattern")
    if pattern is None:
        return
    if not isinstance(pattern, str):
        raise ParameterError(f"parameter {name}: AllowedPattern must be a string")
    try:
        compiled = re.compile(pattern)
    except (re.error, RecursionError, OverflowError) as exc:
        raise ParameterError(f"parameter {name}: AllowedPattern is not a regex: {exc}") from None
    if compiled.fullmatch(text) is None:
        raise ParameterError(
            f"parameter {name}: {_show(text)} does not match AllowedPattern {pattern}"
        )
