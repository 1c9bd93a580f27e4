"""The VPC adapter reads a throttle's wait over real HTTP, whichever header form localcloud's
rate limit answers with (the real SDK, aliyun-python-sdk-core, underneath)."""

from __future__ import annotations

import pytest

from cgw_provisioner.config import Endpoint
from cgw_provisioner.credentials import Credentials
from cgw_provisioner.provisioning import VpcApiError
from cgw_provisioner.vpc import VpcClient
from localcloud.credentials import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET
from localcloud.faults import RETRY_AFTER_HEADERS


def _throttled(localcloud, header: str) -> VpcApiError:
    rule = {"service": "vpc", "action": "CreateCustomerGateway", "rate_limit_qps": 0.5}
    localcloud.cloud.faults.set_rules([{**rule, "burst": 1, "retry_after_header": header}])
    host = localcloud.cloud.base_url.removeprefix("http://")
    client = VpcClient(
        Credentials(DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET),
        "cn-shanghai",
        Endpoint("http", host),
    )
    params = {"RegionId": "cn-shanghai", "IpAddress": "203.0.113.7", "ClientToken": "t-1"}
    client.create_customer_gateway(params, timeout=5)  # the bucket's one token
    with pytest.raises(VpcApiError) as caught:
        client.create_customer_gateway({**params, "ClientToken": "t-2"}, timeout=5)
    assert caught.value.code == "Throttling.User"
    return caught.value


@pytest.mark.parametrize("header", [h for h in RETRY_AFTER_HEADERS if h != "none"])
def test_the_wait_comes_through_in_either_form(localcloud, header):
    wait = _throttled(localcloud, header).retry_after_s
    assert wait is not None
    assert 1.0 < wait <= 2.0  # the next token of a 0.5/s bucket, about 2 s away


def test_no_header_is_no_wait(localcloud):
    assert _throttled(localcloud, "none").retry_after_s is None
