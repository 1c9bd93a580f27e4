"""ClientToken idempotency and atomic creation under concurrency, through the official SDKs."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from tests.localcloud.conftest import SDKS, SdkError

CREATE = "CreateCustomerGateway"
SH = {"RegionId": "cn-shanghai"}


def test_same_token_same_parameters_returns_the_first_result(sdk, localcloud, vpc_backend):
    params = {
        **SH,
        "IpAddress": "203.0.113.1",
        "Name": "gw-1",
        "Asn": "1.10",
        "ClientToken": "order-4711",
        "Tags": [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}],
    }
    first = sdk.call(CREATE, **params)
    again = sdk.call(CREATE, **params)
    assert again["CustomerGatewayId"] == first["CustomerGatewayId"]
    assert again["CreateTime"] == first["CreateTime"]
    assert again["RequestId"] != first["RequestId"]
    # The same values written differently are the same parameters: Asn 1.10 = 65546, tag order.
    same = {**params, "Asn": "65546", "Tags": list(reversed(params["Tags"]))}
    assert sdk.call(CREATE, **same)["CustomerGatewayId"] == first["CustomerGatewayId"]
    assert len(vpc_backend.customer_gateways()) == 1
    assert [c["created"] for c in localcloud.cloud.calls.snapshot()] == [True, False, False]


def test_same_token_different_parameters_is_a_mismatch(sdk, vpc_backend):
    sdk.call(CREATE, **SH, IpAddress="203.0.113.1", ClientToken="order-1")
    for change in ({"IpAddress": "203.0.113.2"}, {"IpAddress": "203.0.113.1", "Name": "other"}):
        error = sdk.error(CREATE, **SH, ClientToken="order-1", **change)
        assert (error.code, error.status) == ("IdempotentParameterMismatch", 400)
    assert len(vpc_backend.customer_gateways()) == 1


def test_token_replay_survives_later_changes(sdk, vpc_backend):
    first = sdk.call(CREATE, **SH, IpAddress="203.0.113.1", Name="gw-1", ClientToken="t-1")
    vpc_backend.modify_customer_gateway_attribute(
        "cn-shanghai", first["CustomerGatewayId"], name="renamed"
    )
    again = sdk.call(CREATE, **SH, IpAddress="203.0.113.1", Name="gw-1", ClientToken="t-1")
    assert (again["CustomerGatewayId"], again["Name"]) == (first["CustomerGatewayId"], "gw-1")


def test_tokens_are_per_region(sdk, vpc_backend):
    a = sdk.call(CREATE, RegionId="cn-shanghai", IpAddress="203.0.113.1", ClientToken="t")
    b = sdk.call(CREATE, RegionId="cn-beijing", IpAddress="203.0.113.1", ClientToken="t")
    assert a["CustomerGatewayId"] != b["CustomerGatewayId"]


def test_without_token_a_repeat_is_already_exist(sdk):
    sdk.call(CREATE, **SH, IpAddress="203.0.113.1")
    assert sdk.error(CREATE, **SH, IpAddress="203.0.113.1").code == "InvalidIpAddress.AlreadyExist"


def _at_once(make_sdk, jobs):
    """Run every job(sdk) on its own thread and own client, released together."""
    barrier = threading.Barrier(len(jobs))
    clients = [make_sdk(SDKS[i % len(SDKS)]) for i in range(len(jobs))]

    def run(i):
        barrier.wait()
        return jobs[i](clients[i])

    with ThreadPoolExecutor(len(jobs)) as pool:
        return list(pool.map(run, range(len(jobs))))


def _attempt(ip, **extra):
    def job(sdk):
        result = sdk.attempt(CREATE, **SH, IpAddress=ip, **extra)
        return result.code if isinstance(result, SdkError) else result["CustomerGatewayId"]

    return job


def test_fifty_concurrent_creates_lose_nothing(make_sdk, vpc_backend):
    ips = [f"198.51.100.{i}" for i in range(1, 51)]
    results = _at_once(make_sdk, [_attempt(ip) for ip in ips])
    assert all(r.startswith("cgw-") for r in results)
    assert len(set(results)) == 50
    stored = vpc_backend.customer_gateways()
    assert sorted(g.ip_address for g in stored) == sorted(ips)
    assert sorted(g.customer_gateway_id for g in stored) == sorted(results)


def test_fifty_concurrent_creates_never_duplicate_an_ip(make_sdk, vpc_backend, localcloud):
    jobs = [_attempt(f"198.51.100.{i % 10}", Name=f"attempt-{i}") for i in range(50)]
    results = _at_once(make_sdk, jobs)
    assert Counter(r.startswith("cgw-") for r in results) == {True: 10, False: 40}
    assert {r for r in results if not r.startswith("cgw-")} == {"InvalidIpAddress.AlreadyExist"}
    stored = vpc_backend.customer_gateways()
    assert sorted(g.ip_address for g in stored) == sorted(f"198.51.100.{i}" for i in range(10))
    created = [c for c in localcloud.cloud.calls.snapshot() if c["created"]]
    assert len(created) == 10


def test_fifty_concurrent_retries_of_one_token_create_one_gateway(make_sdk, vpc_backend):
    results = _at_once(make_sdk, [_attempt("198.51.100.1", ClientToken="once")] * 50)
    assert len(set(results)) == 1
    assert results[0].startswith("cgw-")
    assert len(vpc_backend.customer_gateways()) == 1


def test_concurrent_creates_respect_the_quota(make_sdk, vpc_backend, localcloud):
    localcloud.cloud.quota = 7
    try:
        results = _at_once(make_sdk, [_attempt(f"198.51.100.{i}") for i in range(1, 31)])
    finally:
        localcloud.cloud.quota = 100
    assert Counter(r if not r.startswith("cgw-") else "created" for r in results) == {
        "created": 7,
        "Resource.QuotaFull": 23,
    }
    assert len(vpc_backend.customer_gateways()) == 7
