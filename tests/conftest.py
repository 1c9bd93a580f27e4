"""Shared fixtures: one localcloud per test session on a free loopback port, reset per test."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tools.localcloud_process import drop_proxies

# Both VPC SDKs (and requests, for fc2) send loopback traffic through a proxy when one is set.
drop_proxies()

from hypothesis import settings  # noqa: E402

from localcloud import LocalCloud  # noqa: E402
from localcloud.credentials import (  # noqa: E402
    DEFAULT_ACCESS_KEY_ID,
    DEFAULT_ACCESS_KEY_SECRET,
    Credential,
)

# `make mutate` runs the property tests once per mutant: few examples, fixed, so that a run
# stays short and a surviving mutant is reproducible.
MUTATE = os.environ.get("HYPOTHESIS_PROFILE") == "mutate"
MUTATE_MAX_EXAMPLES = 20
settings.register_profile(
    "mutate", max_examples=MUTATE_MAX_EXAMPLES, deadline=None, derandomize=True
)
if MUTATE:
    settings.load_profile("mutate")

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


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Print pytest-randomly's seed at the end too (its header line is hidden by -q), with
    the command that replays this order."""
    seed = getattr(config.option, "randomly_seed", None)
    if isinstance(seed, int) and config.pluginmanager.hasplugin("randomly"):
        terminalreporter.write_line(
            f"random order seed: {seed} (replay the same order: pytest --randomly-seed={seed} "
            "with the same arguments; the last run's: --randomly-seed=last)"
        )


def pytest_collection_modifyitems(config, items):
    """Under `make mutate`, cap the examples of properties that set their own max_examples (a
    decorator's settings win over the profile): each mutant reruns them."""
    if not MUTATE:
        return
    for item in items:
        test = getattr(item, "obj", None)
        own = getattr(test, "_hypothesis_internal_use_settings", None)
        if own is not None and own.max_examples > MUTATE_MAX_EXAMPLES:
            test._hypothesis_internal_use_settings = settings(
                own, max_examples=MUTATE_MAX_EXAMPLES, derandomize=True
            )


@pytest.fixture(scope="module")
def outage_stack():
    """template.yml on a localcloud of its own, tuned so that an outage of the VPC API reaches
    the dead-letter queue in seconds: MaxAttempts 2, no batch window, trigger retries 100 x
    faster. Tests reset it (which deploys the template again) before use."""
    template = Path(__file__).resolve().parents[1] / "template.yml"
    parameters = {"MaxAttempts": "2", "TriggerBatchWindowSeconds": 0}
    with LocalCloud(
        template=template, template_parameters=parameters, trigger_time_scale=0.01
    ) as cloud:
        yield cloud
