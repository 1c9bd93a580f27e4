"""Shared fixtures: one localcloud per test session on a free loopback port, reset per test."""

from __future__ import annotations

import pytest

from tools.localcloud_process import drop_proxies

# Both VPC SDKs (and requests, for fc2) send loopback traffic through a proxy when one is set.
drop_proxies()

from localcloud import LocalCloud  # noqa: E402
from localcloud.credentials import (  # noqa: E402
    DEFAULT_ACCESS_KEY_ID,
    DEFAULT_ACCESS_KEY_SECRET,
    Credential,
)

# Extra credentials every session-wide localcloud accepts, for the tests that need them.
STS_KEY = Credential("STS.LocalTestKey", "sts-secret-value", "sts-security-token-value")
RESTRICTED_KEY = Credential("LTAIRestrictedKey", "restricted-secret")
SUB_USER_KEY = Credential("LTAISubUserKey", "sub-user-secret")


@pytest.fixture(scope="session")
def localcloud_server():
    server = LocalCloud(
        port=0,
        credentials=[
            Credential(DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET),
            STS_KEY,
            RESTRICTED_KEY,
            SUB_USER_KEY,
        ],
    )
    server.cloud.credentials.restrict(RESTRICTED_KEY.access_key_id, {"DescribeRegions"})
    server.cloud.credentials.restrict(
        SUB_USER_KEY.access_key_id, {"DescribeRegions"}, sub_user=True
    )
    with server:
        yield server


@pytest.fixture
def localcloud(localcloud_server):
    """The session's localcloud, with state, calls and faults cleared before each test."""
    localcloud_server.cloud.reset()
    yield localcloud_server
    localcloud_server.cloud.reset()
