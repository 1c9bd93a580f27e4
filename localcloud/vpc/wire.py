"""VPC OpenAPI bodies on the wire: JSON by default, XML when the request says Format=XML.

A response is a dict with the API's field names. In XML a dict becomes child elements and a
list under a key repeats that key's element, so {"CustomerGateways": {"CustomerGateway": [a,
b]}} is <CustomerGateways><CustomerGateway>a</CustomerGateway><CustomerGateway>b
</CustomerGateway></CustomerGateways>, as the POP gateway renders it. Content types are exactly
`application/json;charset=utf-8` and `text/xml;charset=utf-8` (the Tea SDK parses an XML error
only under that exact string).
"""

from __future__ import annotations

import json
from typing import Any
from xml.sax.saxutils import escape

from werkzeug.wrappers import Response

JSON_TYPE = "application/json;charset=utf-8"
XML_TYPE = "text/xml;charset=utf-8"
_DECLARATION = "<?xml version='1.0' encoding='UTF-8'?>"


def wants_xml(format_parameter: str | None) -> bool:
    return (format_parameter or "").upper() == "XML"


def render(root: str, body: dict[str, Any], status: int, xml: bool) -> Response:
    if xml:
        text = f"{_DECLARATION}<{root}>{_elements(body)}</{root}>"
        return Response(text.encode("utf-8"), status, content_type=XML_TYPE)
    data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return Response(data, status, content_type=JSON_TYPE)


def error_body(request_id: str, host_id: str, code: str, message: str) -> dict[str, Any]:
    return {
        "RequestId": request_id,
        "HostId": host_id,
        "Code": code,
        "Message": message,
        "Recommend": (
            f"https://api.aliyun.com/troubleshoot?q={code}&product=Vpc&requestId={request_id}"
        ),
    }


def _elements(value: Any) -> str:
    parts: list[str] = []
    for key, item in value.items():
        if isinstance(item, list):
            parts.extend(_element(key, entry) for entry in item)
        else:
            parts.append(_element(key, item))
    return "".join(parts)


def _element(name: str, value: Any) -> str:
    if isinstance(value, dict):
        return f"<{name}>{_elements(value)}</{name}>"
    if isinstance(value, bool):
        value = "true" if value else "false"
    return f"<{name}>{escape('' if value is None else str(value))}</{name}>"
