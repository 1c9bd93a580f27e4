"""The function as a user might write it against the Tea SDK (alibabacloud-vpc20160428): the
same app, with CreateCustomerGateway / DescribeCustomerGateways sent through the Tea client.

For the cold start comparison only (bench/cold_start.py); never shipped. Everything but the VPC
client is the shipped function's, so the difference measured is the SDK's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cgw_provisioner import app
from cgw_provisioner.provisioning import VpcApiError

_instance = None


class TeaVpc:
    """VpcPort over alibabacloud_vpc20160428.Client (V3 signature, Tea's own retries off)."""

    def __init__(self, credentials: Any, region_id: str, endpoint: Any) -> None:
        from alibabacloud_tea_openapi.utils_models import Config
        from alibabacloud_vpc20160428.client import Client

        config = Config(
            access_key_id=credentials.access_key_id,
            access_key_secret=credentials.access_key_secret,
            security_token=credentials.security_token,
            region_id=region_id,
        )
        if endpoint is not None:
            config.endpoint, config.protocol = endpoint.host, endpoint.scheme
        self._client = Client(config)

    def create_customer_gateway(
        self, params: Mapping[str, Any], *, timeout: float | None = None
    ) -> Mapping[str, Any]:
        from alibabacloud_vpc20160428 import models

        request = models.CreateCustomerGatewayRequest().from_map(dict(params))
        return self._call(self._client.create_customer_gateway_with_options, request, timeout)

    def describe_customer_gateways(
        self, region_id: str, page_number: int, page_size: int, *, timeout: float | None = None
    ) -> Mapping[str, Any]:
        from alibabacloud_vpc20160428 import models

        request = models.DescribeCustomerGatewaysRequest(
            region_id=region_id, page_number=page_number, page_size=page_size
        )
        return self._call(self._client.describe_customer_gateways_with_options, request, timeout)

    def _call(self, method: Any, request: Any, timeout: float | None) -> Mapping[str, Any]:
        from darabonba.runtime import RuntimeOptions
        from Tea.exceptions import TeaException

        runtime = RuntimeOptions()
        if timeout is not None:
            runtime.read_timeout = runtime.connect_timeout = int(timeout * 1000)
        try:
            return method(request, runtime).body.to_map()
        except TeaException as error:
            status = getattr(error, "status_code", None) or getattr(error, "statusCode", None)
            retry_after = getattr(error, "retry_after", None)
            raise VpcApiError(
                error.code or "SDK.HttpError",
                error.message or str(error),
                http_status=status,
                request_id=(error.data or {}).get("RequestId")
                if isinstance(error.data, dict)
                else None,
                retry_after_s=retry_after / 1000 if retry_after else None,
            ) from error


def initializer(context: Any) -> None:
    global _instance
    config = app.config_module.load(__import__("os").environ)
    clients: dict[str, TeaVpc] = {}

    def vpc_for(credentials: Any, region: str) -> TeaVpc:
        if region not in clients:
            clients[region] = TeaVpc(credentials, region, config.vpc_endpoint)
        return clients[region]

    _instance = app.Instance.build(context, config=config, vpc_for=vpc_for)


def handler(event: bytes, context: Any) -> Any:
    if _instance is None:
        initializer(context)
    assert _instance is not None
    return _instance.handle(event, context)
