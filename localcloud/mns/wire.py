"""MNS XML on the wire: parse request bodies, render response bodies.

Every element is in the namespace http://mns.aliyuncs.com/doc/v1/. aliyun-mns-sdk reads
responses with minidom and insists on certain elements (e.g. all nine of a received
<Message>, all four of an <Error>), so renderers always emit every element.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import unquote
from xml.etree import ElementTree

from localcloud.mns.models import MnsError

XMLNS = "http://mns.aliyuncs.com/doc/v1/"
_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>'
_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"}


def malformed(detail: str) -> MnsError:
    return MnsError("MalformedXML", 400, f"The XML you provided was not well-formed. ({detail})")


def parse(body: bytes, root: str | tuple[str, ...]) -> ElementTree.Element:
    """Parse a request body whose root element must be `root` (namespace ignored)."""
    if not body.strip():
        raise malformed(f"expected a <{root}> document, got an empty body")
    try:
        element = ElementTree.fromstring(body)
    except ElementTree.ParseError as exc:
        raise malformed(str(exc)) from None
    roots = (root,) if isinstance(root, str) else root
    if local_name(element.tag) not in roots:
        raise malformed(
            f"root element must be <{'> or <'.join(roots)}>, got <{local_name(element.tag)}>"
        )
    return element


def root_name(body: bytes) -> str | None:
    """The root element's local name, or None when the body is not XML."""
    try:
        return local_name(ElementTree.fromstring(body).tag)
    except ElementTree.ParseError:
        return None


def local_name(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def children(element: ElementTree.Element) -> dict[str, str]:
    """Direct children as {name: text} (text '' for empty elements)."""
    return {local_name(child.tag): child.text or "" for child in element}


def child_elements(element: ElementTree.Element, name: str) -> list[ElementTree.Element]:
    return [child for child in element if local_name(child.tag) == name]


def int_field(fields: dict[str, str], name: str) -> int | None:
    if name not in fields:
        return None
    try:
        return int(fields[name].strip())
    except ValueError:
        raise MnsError(
            "InvalidArgument",
            400,
            f"The XML you provided did not validate against our published schema, cause by "
            f"Element {name}: {fields[name][:64]!r} is not an integer.",
        ) from None


def bool_field(fields: dict[str, str], name: str) -> bool | None:
    if name not in fields:
        return None
    value = fields[name].strip().lower()
    if value not in ("true", "false"):
        raise MnsError(
            "InvalidArgument",
            400,
            f"The XML you provided did not validate against our published schema, cause by "
            f"Element {name}: {fields[name]!r} is not True or False.",
        )
    return value == "true"


def raw_query(query_string: str) -> dict[str, str]:
    """Query parameters keyed by lowercase name, values percent-decoded but with `+` kept
    (receipt handles are sent unescaped and may contain `+`)."""
    params: dict[str, str] = {}
    for part in query_string.split("&"):
        if not part:
            continue
        key, _, value = part.partition("=")
        params[unquote(key).lower()] = unquote(value)
    return params


def escape(text: str) -> str:
    return "".join(_ESCAPES.get(c, c) for c in text)


def element(name: str, value: object) -> str:
    """<name>value</name>; a list of (name, value) pairs renders as nested elements."""
    if isinstance(value, list):
        return f"<{name}>{''.join(element(k, v) for k, v in value)}</{name}>"
    if isinstance(value, bool):
        value = "True" if value else "False"
    return f"<{name}>{escape(str(value))}</{name}>"


def document(root: str, fields: Iterable[tuple[str, object]] | str) -> bytes:
    inner = fields if isinstance(fields, str) else "".join(element(k, v) for k, v in fields)
    return f'{_DECLARATION}<{root} xmlns="{XMLNS}">{inner}</{root}>'.encode()


def error_document(code: str, message: str, request_id: str, host_id: str) -> bytes:
    return document(
        "Error",
        [("Code", code), ("Message", message), ("RequestId", request_id), ("HostId", host_id)],
    )
