"""The VPC port's adapter over aliyun-python-sdk-core + aliyun-python-sdk-vpc (the only module
that imports them).

The SDK's own retry is off (AcsClient(auto_retry=False)): retry.py decides. Requests go through
AcsClient._implementation_of_do_action, the one SDK call that returns the response headers with
the SDK's own ServerException: do_action_with_exception drops the headers, and a throttling
answer's retry-after lives there (throttle_headers.py reads it). Pinned SDK version: 2.16.1.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from typing import Any

from aliyunsdkcore.acs_exception.exceptions import ClientException, ServerException
from aliyunsdkcore.auth.credentials import AccessKeyCredential, StsTokenCredential
from aliyunsdkcore.client import AcsClient
from aliyunsdkcore.http import protocol_type
from aliyunsdkvpc.endpoint import endpoint_data
from aliyunsdkvpc.request.v20160428.CreateCustomerGatewayRequest import (
    CreateCustomerGatewayRequest,
)
from aliyunsdkvpc.request.v20160428.DescribeCustomerGatewaysRequest import (
    DescribeCustomerGatewaysRequest,
)

from .config import Endpoint
from .credentials import Credentials
from .logs import quiet_sdk_loggers
from .provisioning import VpcApiError
from .throttle_headers import retry_after_s

quiet_sdk_loggers()  # aliyunsdkcore adds a stream handler of its own at import

_SCALAR_PARAMETERS = (
    "RegionId",
    "IpAddress",
    "Name",
    "Description",
    "Asn",
    "AuthKey",
    "ClientToken",
    "ResourceGroupId",
)


def regional_endpoint(region_id: str) -> Endpoint:
    """The real endpoint: the SDK's endpoint map (a few regions use vpc.aliyuncs.com), else the
    regional vpc.{region}.aliyuncs.com, over https."""
    host = endpoint_data.getEndpointMap().get(region_id) or f"vpc.{region_id}.aliyuncs.com"
    return Endpoint("https", host)


class VpcClient:
    """VpcPort over one AcsClient per set of credentials (rebuilt when STS credentials rotate).
    Thread-safe: AcsClient signs per request and sends through a pooled requests session."""

    def __init__(
        self,
        credentials: Credentials,
        region_id: str,
        endpoint: Endpoint | None = None,
        *,
        pool_size: int = 16,
    ) -> None:
        self.credentials = credentials
        self._endpoint = endpoint
        if credentials.security_token:
            credential = StsTokenCredential(
                credentials.access_key_id,
                credentials.access_key_secret,
                credentials.security_token,
            )
        else:
            credential = AccessKeyCredential(
                credentials.access_key_id, credentials.access_key_secret
            )
        self._client = AcsClient(
            region_id=region_id, credential=credential, auto_retry=False, pool_size=pool_size
        )

    def create_customer_gateway(
        self, params: Mapping[str, Any], *, timeout: float | None = None
    ) -> Mapping[str, Any]:
        request = CreateCustomerGatewayRequest()
        for name in _SCALAR_PARAMETERS:
            if params.get(name) is not None:
                request.add_query_param(name, str(params[name]))
        if params.get("Tags"):
            request.set_Tagss(list(params["Tags"]))
        return self._send(request, params["RegionId"], timeout)

    def describe_customer_gateways(
        self, region_id: str, page_number: int, page_size: int, *, timeout: float | None = None
    ) -> Mapping[str, Any]:
        request = DescribeCustomerGatewaysRequest()
        request.add_query_param("RegionId", region_id)
        request.set_PageNumber(page_number)
        request.set_PageSize(page_size)
        return self._send(request, region_id, timeout)

    def _send(self, request: Any, region_id: str, timeout: float | None) -> Mapping[str, Any]:
        endpoint = self._endpoint or regional_endpoint(region_id)
        request.set_endpoint(endpoint.host)
        # HttpResponse compares the protocol by identity (`is PT.HTTPS`): pass the SDK's constant
        request.set_protocol_type(
            protocol_type.HTTPS if endpoint.scheme == "https" else protocol_type.HTTP
        )
        request.set_accept_format("JSON")
        if timeout is not None:
            request.set_connect_timeout(max(0.1, min(5.0, timeout)))
            request.set_read_timeout(max(0.1, timeout))
        try:
            status, headers, body, error = self._client._implementation_of_do_action(request)
        except ClientException as exc:  # SDK.HttpError: refused, reset, timed out, lost response
            raise VpcApiError(exc.get_error_code(), exc.get_error_msg()) from exc
        except Exception as exc:  # an SDK parsing trap (e.g. IndexError on an odd error message)
            raise VpcApiError(
                "SDK.UnexpectedError", f"{type(exc).__name__} while reading the answer"
            ) from exc
        if isinstance(error, ServerException):
            raise VpcApiError(
                error.get_error_code(),
                error.get_error_msg(),
                http_status=error.get_http_status(),
                request_id=error.get_request_id(),
                retry_after_s=retry_after_s(headers),
            )
        try:
            answer = json.loads(body)
        except (TypeError, ValueError) as exc:
            raise VpcApiError(
                "SDK.UnknownServerError",
                f"the answer is not JSON (HTTP {status})",
                http_status=status,
            ) from exc
        if not isinstance(answer, dict):
            raise VpcApiError("SDK.UnknownServerError", "the answer is not a JSON object")
        return answer


class VpcClients:
    """The VpcClient for the current credentials: cached, rebuilt when they change."""

    def __init__(self, region_id: str, endpoint: Endpoint | None, pool_size: int = 16) -> None:
        self._region_id, self._endpoint, self._pool_size = region_id, endpoint, pool_size
        self._lock = threading.Lock()
        self._client: VpcClient | None = None

    def for_credentials(self, credentials: Credentials) -> VpcClient:
        client = self._client
        if client is not None and client.credentials == credentials:
            return client
        with self._lock:
            if self._client is None or self._client.credentials != credentials:
                self._client = VpcClient(
                    credentials, self._region_id, self._endpoint, pool_size=self._pool_size
                )
            return self._client
