"""A request refused before it reaches a service, answered in that service's own wire format.

The front door (body limits, the admin guard) refuses requests without knowing the services'
internals; this module renders such a refusal as each service's SDK parses errors:
- VPC: the POP gateway's error body (JSON, or XML when `Format=XML`), `x-acs-request-id`;
- MNS: `<Error xmlns=...>` with Code, Message, RequestId and HostId, `x-mns-request-id`;
- FC: JSON `{"ErrorCode", "ErrorMessage", "RequestId"}`, `X-Fc-Request-Id`;
- the admin API: JSON `{"error": message}`.
"""

from __future__ import annotations

import json
import uuid
from typing import Any
from urllib.parse import parse_qsl

from werkzeug.wrappers import Response

from localcloud.mns import wire as mns_wire
from localcloud.vpc import wire as vpc_wire


def render(service: str, status: int, code: str, message: str, environ: dict[str, Any]) -> Response:
    request_id = str(uuid.uuid4()).upper()
    host = environ.get("HTTP_HOST", "")
    if service == "vpc":
        query = dict(parse_qsl(environ.get("QUERY_STRING", ""), errors="replace"))
        body = vpc_wire.error_body(request_id, host, code, message)
        response = vpc_wire.render("Error", body, status, vpc_wire.wants_xml(query.get("Format")))
        response.headers["x-acs-request-id"] = request_id
        return response
    if service == "mns":
        request_id = request_id.replace("-", "")[:24]
        document = mns_wire.error_document(code, message, request_id, host)
        response = Response(document, status, content_type="text/xml;charset=utf-8")
        response.headers["x-mns-request-id"] = request_id
        return response
    if service == "fc":
        body = {"ErrorCode": code, "ErrorMessage": message, "RequestId": request_id}
        response = Response(json.dumps(body), status, content_type="application/json")
        response.headers["X-Fc-Request-Id"] = request_id
        return response
    return Response(
        json.dumps({"error": message, "code": code}), status, mimetype="application/json"
    )
