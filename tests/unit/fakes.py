"""In-memory fakes of the function's two ports (VPC and destinations), for fast unit tests."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Mapping
from typing import Any

from cgw_provisioner.destinations import PublishError
from cgw_provisioner.provisioning import VpcApiError


class FakeVpc:
    """Customer gateways by IP, ClientToken idempotency, and scripted errors per call."""

    def __init__(self, errors: list[VpcApiError | None] | None = None, page_size: int = 50):
        self.errors = list(errors or [])
        self.gateways: dict[str, dict[str, Any]] = {}
        self.tokens: dict[str, dict[str, Any]] = {}
        self.create_calls: list[dict[str, Any]] = []
        self.describe_calls: list[tuple[str, int, int]] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def create_customer_gateway(self, params: Mapping[str, Any], *, timeout=None):
        with self._lock:
            self.create_calls.append(dict(params))
            if self.errors:
                error = self.errors.pop(0)
                if error is not None:
                    raise error
            token = params.get("ClientToken")
            if token in self.tokens:
                return self.tokens[token]
            if params["IpAddress"] in self.gateways:
                raise VpcApiError(
                    "InvalidIpAddress.AlreadyExist",
                    "Specified IpAddress is already exist.",
                    http_status=400,
                    request_id="REQ-EXIST",
                )
            gateway = self.add(
                params["IpAddress"],
                Name=params.get("Name"),
                Description=params.get("Description"),
                Asn=params.get("Asn"),
            )
            answer = {
                "RequestId": f"REQ-{len(self.create_calls)}",
                **{k: v for k, v in gateway.items() if k != "Asn" and v is not None},
            }
            self.tokens[token] = answer
            return answer

    def add(self, ip: str, **fields: Any) -> dict[str, Any]:
        gateway = {
            "CustomerGatewayId": f"cgw-fake{next(self._ids):04d}",
            "IpAddress": ip,
            "CreateTime": 1764057601000,
            **fields,
        }
        if gateway.get("Asn") is not None:
            gateway["Asn"] = int(gateway["Asn"])
        self.gateways[ip] = gateway
        return gateway

    def describe_customer_gateways(self, region_id, page_number, page_size, *, timeout=None):
        self.describe_calls.append((region_id, page_number, page_size))
        everything = list(self.gateways.values())
        page = everything[(page_number - 1) * page_size : page_number * page_size]
        return {
            "RequestId": "REQ-D",
            "TotalCount": len(everything),
            "PageNumber": page_number,
            "PageSize": page_size,
            "CustomerGateways": {"CustomerGateway": page},
        }


class FakePublisher:
    """Records published events; scripted errors per call."""

    def __init__(self, errors: list[PublishError | None] | None = None):
        self.errors = list(errors or [])
        self.published: list[tuple[str, dict[str, Any], str]] = []
        self._lock = threading.Lock()

    def publish(self, destination, event, tag, credentials, *, timeout):
        with self._lock:
            if self.errors:
                error = self.errors.pop(0)
                if error is not None:
                    raise error
            self.published.append((str(destination), dict(event), tag))
            return "MSG"
