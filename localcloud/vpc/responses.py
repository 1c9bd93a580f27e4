"""VPC OpenAPI 2016-04-28 (RPC style) on the wire: how to read a call, verify its signature,
find its action, and render its result or error as JSON or XML.

The shared path (localcloud.pipeline) runs each call: parameters (query + form body) -> signature
(ACS3 when the Authorization header says so, else RPC V1) -> action and version -> the
credential's allowed actions -> fault rules -> the action (localcloud.vpc.models) -> call log.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from werkzeug.wrappers import Request, Response

from localcloud.auth import NonceCache, acs3, rpc_v1, utc_now
from localcloud.calls import Call
from localcloud.core import Cloud, ServiceError
from localcloud.credentials import Credential
from localcloud.faults import FaultError
from localcloud.pipeline import Exchange, Handler
from localcloud.vpc import regions, rules, wire
from localcloud.vpc.exceptions import (
    FORBIDDEN,
    FORBIDDEN_SUB_USER,
    INTERNAL_ERROR,
    VpcError,
    api_not_found,
    invalid,
    missing,
)
from localcloud.vpc.models import VpcBackend

API_VERSION = "2016-04-28"

# Signing and protocol parameters: never passed to an action, never in the call log.
_COMMON_PARAMETERS = frozenset(
    {
        "Action",
        "Version",
        "Format",
        "AccessKeyId",
        "Signature",
        "SignatureMethod",
        "SignatureVersion",
        "SignatureNonce",
        "SignatureType",
        "Timestamp",
        "SecurityToken",
    }
)


@dataclass
class _Answer:
    body: dict[str, Any]
    created: bool | None = None


@dataclass
class VpcExchange(Exchange):
    """One VPC call: what the signature schemes and the actions read."""

    body: bytes
    query: dict[str, str]  # decoded query string
    everything: dict[str, str]  # query and form body, as V1 signs them
    headers: dict[str, list[str]]  # lowercase name -> values
    version: str
    xml: bool
    parameters: dict[str, str]  # API parameters only


_Action = Callable[["VpcResponses", dict[str, str]], _Answer]


class VpcResponses:
    """The VPC wire format (a localcloud.pipeline.WireFormat) and its actions."""

    service = "vpc"
    long_running: frozenset[str] = frozenset()

    def __init__(self, cloud: Cloud, backend: VpcBackend) -> None:
        self.cloud = cloud
        self.backend = backend
        self.nonces = NonceCache()

    # -- the wire format -----------------------------------------------------------------------
    def read(self, request: Request) -> VpcExchange:
        return _read(request)

    def authenticate(self, exchange: VpcExchange) -> Credential:
        request = exchange.request
        if acs3.is_acs3(request.headers.get("Authorization")):
            signed = acs3.SignedRequest(
                request.method, request.path, exchange.query, exchange.headers, exchange.body
            )
            return acs3.verify(signed, self.cloud.credentials, self.nonces, utc_now())
        return rpc_v1.verify(
            request.method, exchange.everything, self.cloud.credentials, self.nonces, utc_now()
        )

    def resolve(self, exchange: VpcExchange, credential: Credential) -> Handler:
        action, version, request = exchange.action, exchange.version, exchange.request
        if not action:
            raise missing("Action")
        if not version:
            raise missing("Version")
        if version != API_VERSION:
            raise invalid("Version", f"(this endpoint serves {API_VERSION})")
        handler = _ACTIONS.get(action)
        if handler is None or request.method not in ("GET", "POST") or request.path != "/":
            raise api_not_found(action)
        if not credential.allows(action):
            raise VpcError(*(FORBIDDEN_SUB_USER if credential.sub_user else FORBIDDEN))
        return lambda: self._answer(exchange, action, handler(self, exchange.parameters))

    def fault_error(self, exchange: VpcExchange, fault: FaultError) -> ServiceError:
        return VpcError(
            fault.code,
            fault.status,
            fault.message,
            fault.retry_after_ms,
            fault.retry_after_header,
        )

    def internal_error(self, exchange: VpcExchange, exc: Exception) -> ServiceError:
        return VpcError(*INTERNAL_ERROR)

    def render_error(self, exchange: VpcExchange, error: ServiceError) -> Response:
        if exchange.action == "CreateCustomerGateway":
            exchange.call.created = False
        host = exchange.request.host or self.cloud.base_url
        body = wire.error_body(exchange.request_id, host, error.code, error.message)
        response = wire.render("Error", body, error.status, exchange.xml)
        if error.retry_after_ms is not None:
            wait_ms = max(1, int(error.retry_after_ms))
            header = error.retry_after_header
            if header == "x-acs-retry-after":
                response.headers[header] = str(wait_ms)
            elif header != "none":  # the TimeLeft form (x-ratelimit-user-api, -user)
                response.headers[header] = f"Limit:1,Remain:0,TimeLeft:{wait_ms}"
        return response

    def finish(self, exchange: VpcExchange, response: Response) -> None:
        response.headers["x-acs-request-id"] = exchange.request_id

    def _answer(self, exchange: VpcExchange, action: str, answer: _Answer) -> Response:
        exchange.call.created = answer.created
        body = {"RequestId": exchange.request_id, **answer.body}
        return wire.render(f"{action}Response", body, 200, exchange.xml)

    # -- actions -----------------------------------------------------------------------------
    def create_customer_gateway(self, p: dict[str, str]) -> _Answer:
        # RegionId and IpAddress are checked before the tags are parsed so that their codes
        # take precedence, as in the backend.
        rules.region(p.get("RegionId"))
        rules.ip_address(p.get("IpAddress"))
        creation = self.backend.create_customer_gateway(
            p.get("RegionId"),
            p.get("IpAddress"),
            name=p.get("Name"),
            description=p.get("Description"),
            asn=p.get("Asn"),
            auth_key=p.get("AuthKey"),
            client_token=p.get("ClientToken"),
            resource_group_id=p.get("ResourceGroupId"),
            tags=rules.tag_parameters(p, "Tags"),
        )
        gateway = creation.gateway
        body: dict[str, Any] = {
            "CustomerGatewayId": gateway.customer_gateway_id,
            "IpAddress": gateway.ip_address,
        }
        if gateway.name:
            body["Name"] = gateway.name
        if gateway.description:
            body["Description"] = gateway.description
        body["CreateTime"] = gateway.create_time
        return _Answer(body, created=creation.created)

    def describe_customer_gateways(self, p: dict[str, str]) -> _Answer:
        rules.region(p.get("RegionId"))
        page = self.backend.describe_customer_gateways(
            p.get("RegionId"),
            customer_gateway_id=p.get("CustomerGatewayId") or None,
            page_number=rules.page_number(p.get("PageNumber")),
            page_size=rules.page_size(p.get("PageSize")),
            resource_group_id=p.get("ResourceGroupId") or None,
            tags=rules.tag_parameters(p, "Tag"),
        )
        return _Answer(
            {
                "TotalCount": page.total_count,
                "PageNumber": page.page_number,
                "PageSize": page.page_size,
                "CustomerGateways": {"CustomerGateway": [g.to_api() for g in page.gateways]},
            }
        )

    def describe_customer_gateway(self, p: dict[str, str]) -> _Answer:
        gateway = self.backend.get_customer_gateway(p.get("RegionId"), p.get("CustomerGatewayId"))
        return _Answer(gateway.to_api())

    def modify_customer_gateway_attribute(self, p: dict[str, str]) -> _Answer:
        rules.client_token(p.get("ClientToken"))
        gateway = self.backend.modify_customer_gateway_attribute(
            p.get("RegionId"),
            p.get("CustomerGatewayId"),
            name=p.get("Name"),
            description=p.get("Description"),
            auth_key=p.get("AuthKey"),
        )
        return _Answer(
            {
                "CustomerGatewayId": gateway.customer_gateway_id,
                "IpAddress": gateway.ip_address,
                "Name": gateway.name,
                "Description": gateway.description,
                "CreateTime": gateway.create_time,
                "ResourceGroupId": gateway.resource_group_id,
            }
        )

    def delete_customer_gateway(self, p: dict[str, str]) -> _Answer:
        rules.client_token(p.get("ClientToken"))
        self.backend.delete_customer_gateway(p.get("RegionId"), p.get("CustomerGatewayId"))
        return _Answer({})

    def describe_regions(self, p: dict[str, str]) -> _Answer:
        english = (p.get("AcceptLanguage") or "").lower().startswith("en")
        return _Answer(
            {
                "Regions": {
                    "Region": [
                        {
                            "RegionId": r.region_id,
                            "LocalName": r.local_name_en if english else r.local_name_zh,
                            "RegionEndpoint": r.endpoint,
                        }
                        for r in regions.REGIONS
                    ]
                }
            }
        )


def _read(request: Request) -> VpcExchange:
    body = request.get_data(cache=True)
    query = rpc_v1.parse_parameters(request.environ.get("QUERY_STRING", ""))
    form = {}
    if request.mimetype == "application/x-www-form-urlencoded" and body:
        form = rpc_v1.parse_parameters(body.decode("utf-8", "replace"))
    everything = {**query, **form}
    headers: dict[str, list[str]] = {}
    for name, value in request.headers.items():
        headers.setdefault(name.lower(), []).append(value)
    # RPC V1 carries Action and Version as parameters; ACS3 as x-acs-action / x-acs-version.
    action = everything.get("Action") or request.headers.get("x-acs-action", "")
    version = everything.get("Version") or request.headers.get("x-acs-version", "")
    parameters = {k: v for k, v in everything.items() if k not in _COMMON_PARAMETERS}
    return VpcExchange(
        request=request,
        request_id=str(uuid.uuid4()).upper(),
        action=action,
        call=Call("vpc", action or "Unknown", dict(parameters)),
        body=body,
        query=query,
        everything=everything,
        headers=headers,
        version=version,
        xml=wire.wants_xml(everything.get("Format")),
        parameters=parameters,
    )


_ACTIONS: dict[str, _Action] = {
    "CreateCustomerGateway": VpcResponses.create_customer_gateway,
    "DescribeCustomerGateways": VpcResponses.describe_customer_gateways,
    "DescribeCustomerGateway": VpcResponses.describe_customer_gateway,
    "ModifyCustomerGatewayAttribute": VpcResponses.modify_customer_gateway_attribute,
    "DeleteCustomerGateway": VpcResponses.delete_customer_gateway,
    "DescribeRegions": VpcResponses.describe_regions,
}

# The actions this emulator serves; any other action is InvalidApi.NotFound (404), as the
# gateway answers an action it does not know (tests/localcloud/test_vpc_sdk_parity.py).
SERVED_ACTIONS: frozenset[str] = frozenset(_ACTIONS)
