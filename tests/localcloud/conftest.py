"""VPC SDK clients pointed at the session's localcloud by endpoint settings only.

`VpcSdk` hides how each official SDK is driven so that one table of cases runs through all
three ways a caller can reach the VPC API:

- `core`:   aliyunsdkcore AcsClient + aliyunsdkvpc request classes (RPC signature V1);
- `tea-v3`: alibabacloud_vpc20160428 Client, default ACS3-HMAC-SHA256;
- `tea-v2`: the same Client with Config(signature_algorithm='v2') (RPC signature V1).

Parameters use the API's names (`IpAddress`, `Tags=[{"Key":..., "Value":...}]`); results are
the response body as a dict, and errors are normalised to `SdkError(code, status, message,
request_id, exception)` after each SDK has parsed them its own way.
"""

from __future__ import annotations

import importlib
import json
import re
from dataclasses import dataclass
from typing import Any

import pytest
from alibabacloud_tea_openapi.utils_models import Config
from alibabacloud_vpc20160428 import models as tea_models
from alibabacloud_vpc20160428.client import Client as TeaClient
from aliyunsdkcore.acs_exception.exceptions import ClientException as CoreClientException
from aliyunsdkcore.acs_exception.exceptions import ServerException as CoreServerException
from aliyunsdkcore.auth.credentials import StsTokenCredential
from aliyunsdkcore.client import AcsClient
from Tea.exceptions import TeaException

from localcloud.credentials import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET

SDKS = ("core", "tea-v3", "tea-v2")
REGION = "cn-shanghai"


@dataclass
class SdkError:
    code: str | None
    status: int | None
    message: str
    request_id: str | None
    exception: Exception


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


class VpcSdk:
    def __init__(
        self,
        kind: str,
        endpoint: str,
        access_key_id: str = DEFAULT_ACCESS_KEY_ID,
        access_key_secret: str = DEFAULT_ACCESS_KEY_SECRET,
        security_token: str | None = None,
        region: str = REGION,
    ) -> None:
        self.kind = kind
        self.endpoint = endpoint
        if kind == "core":
            if security_token:
                credential = StsTokenCredential(access_key_id, access_key_secret, security_token)
                self.client: Any = AcsClient(
                    region_id=region, credential=credential, auto_retry=False
                )
            else:
                self.client = AcsClient(access_key_id, access_key_secret, region, auto_retry=False)
        else:
            config = Config(
                access_key_id=access_key_id,
                access_key_secret=access_key_secret,
                security_token=security_token,
                region_id=region,
                endpoint=endpoint,
                protocol="http",
            )
            if kind == "tea-v2":
                config.signature_algorithm = "v2"
            self.client = TeaClient(config)

    def __repr__(self) -> str:
        return f"VpcSdk({self.kind})"

    # -- building requests -------------------------------------------------------------------
    def core_request(self, action: str, **params: Any):
        module = importlib.import_module(f"aliyunsdkvpc.request.v20160428.{action}Request")
        request = getattr(module, f"{action}Request")()
        request.set_endpoint(self.endpoint)
        for name, value in params.items():
            if isinstance(value, list):
                getattr(request, f"set_{name}s")(value)
            elif hasattr(request, f"set_{name}"):
                getattr(request, f"set_{name}")(value)
            else:
                request.add_query_param(name, value)
        return request

    def tea_request(self, action: str, **params: Any):
        return getattr(tea_models, f"{action}Request")().from_map(params)

    # -- calling -----------------------------------------------------------------------------
    def call(self, action: str, **params: Any) -> dict[str, Any]:
        """The response body as a dict (API names), or the SDK's exception."""
        if self.kind == "core":
            return json.loads(
                self.client.do_action_with_exception(self.core_request(action, **params))
            )
        return self.tea_call(action, **params).body.to_map()

    def tea_call(self, action: str, **params: Any):
        """Tea only: the SDK's typed response model."""
        method = getattr(self.client, _snake(action))
        return method(self.tea_request(action, **params))

    def attempt(self, action: str, **params: Any) -> dict[str, Any] | SdkError:
        """The response body, or the server's error as the SDK parsed it."""
        try:
            return self.call(action, **params)
        except CoreServerException as exc:
            return SdkError(
                exc.get_error_code(),
                exc.get_http_status(),
                exc.get_error_msg(),
                exc.get_request_id(),
                exc,
            )
        except TeaException as exc:
            if getattr(exc, "status_code", None) is None:
                raise  # no HTTP answer at all
            return SdkError(exc.code, exc.status_code, exc.message, exc.request_id, exc)

    def error(self, action: str, **params: Any) -> SdkError:
        """Call and expect an error answer from the server, parsed by the SDK."""
        result = self.attempt(action, **params)
        if not isinstance(result, SdkError):
            raise AssertionError(f"{self.kind}: {action} succeeded: {result}")
        return result

    def connection_error(self, action: str, **params: Any) -> Exception:
        """Call and expect a transport-level failure (no HTTP answer)."""
        try:
            self.call(action, **params)
        except CoreClientException as exc:
            return exc
        except TeaException as exc:
            if getattr(exc, "status_code", None) is not None:
                raise
            return exc
        raise AssertionError(f"{self.kind}: {action} got an answer")


@pytest.fixture
def vpc_endpoint(localcloud) -> str:
    return localcloud.cloud.base_url.removeprefix("http://")


@pytest.fixture
def make_sdk(vpc_endpoint):
    """make_sdk(kind, access_key_id=..., access_key_secret=..., security_token=...)."""

    def make(kind: str, **kwargs: Any) -> VpcSdk:
        return VpcSdk(kind, vpc_endpoint, **kwargs)

    return make


@pytest.fixture(params=SDKS)
def sdk(request, make_sdk) -> VpcSdk:
    """Each test using it runs once per SDK flavour."""
    return make_sdk(request.param)


@pytest.fixture
def vpc_backend(localcloud):
    return localcloud.cloud.backends.vpc
