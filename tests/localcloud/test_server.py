"""The server's own surface: CLI start-up with a ready file, the admin API, fault rule parsing."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from localcloud.faults import FaultEngine, FaultRuleError


def _get(url: str):
    with urllib.request.urlopen(url, timeout=5) as resp:
        return json.loads(resp.read())


def _send(url: str, method: str, body: bytes = b""):
    req = urllib.request.Request(
        url, data=body, method=method, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=5) as resp:
        return json.loads(resp.read())


def test_cli_writes_ready_file_with_full_urls(tmp_path: Path):
    ready = tmp_path / "ready.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "localcloud", "--port", "0", "--ready-file", str(ready)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 20
        while not ready.exists():
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "localcloud did not write its ready file"
            time.sleep(0.05)
        info = json.loads(ready.read_text())
        for key in ("vpc", "mns", "admin"):
            assert info[key].startswith("http://127.0.0.1:")
        assert _get(info["admin"] + "/health")["ok"] is True
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_faults_roundtrip_and_reset(localcloud):
    admin = localcloud.urls["admin"]
    rules = [{"service": "vpc", "action": "CreateCustomerGateway", "latency_ms": 5}]
    assert _send(admin + "/faults", "PUT", json.dumps(rules).encode()) == rules
    assert _get(admin + "/faults") == rules
    _send(admin + "/reset", "POST")
    assert _get(admin + "/faults") == []


def test_bad_fault_rule_is_rejected_with_its_index(localcloud):
    admin = localcloud.urls["admin"]
    req = urllib.request.Request(
        admin + "/faults",
        data=b'[{"service": "vpc", "latency_ms": -1}]',
        method="PUT",
        headers={"Content-Type": "application/json"},
    )
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(req, timeout=5)
    assert info.value.code == 400
    assert "rule 0" in json.loads(info.value.read())["error"]


def test_rules_compose_latency_then_first_deciding_rule():
    engine = FaultEngine(
        [
            {"service": "vpc", "latency_ms": 20},
            {"service": "vpc", "action": "A", "error": {"status": 503, "code": "Unavailable"}},
            {"service": "vpc", "error": {"status": 500, "code": "InternalError"}},
        ],
        seed=1,
    )
    a = engine.decide("vpc", "A", "acct")
    assert (a.latency_s, a.error.code) == (0.02, "Unavailable")
    assert engine.decide("vpc", "B", "acct").error.code == "InternalError"
    assert engine.decide("mns", "A", "acct").error is None


def test_rate_limit_throttles_past_the_rate_with_retry_after():
    engine = FaultEngine([{"service": "vpc", "action": "A", "rate_limit_qps": 2}])
    decisions = [engine.decide("vpc", "A", "acct") for _ in range(5)]
    throttled = [d for d in decisions if d.error is not None]
    assert len(throttled) == 3  # a bucket of 2 tokens, then throttled
    assert {d.error.code for d in throttled} == {"Throttling.User"}
    assert all(d.error.retry_after_ms > 0 for d in throttled)
    assert engine.decide("vpc", "A", "other-account").error is None  # per account


@pytest.mark.parametrize(
    "rule",
    [
        {"service": "s3", "latency_ms": 1},
        {"service": "vpc"},
        {"service": "vpc", "latency_ms": 1, "rate_limit_qps": 1},
        {"service": "vpc", "error": {"status": 400}},
        {"service": "vpc", "latency_ms": 1, "probability": 2},
        {"service": "vpc", "latency_ms": 1, "colour": "red"},
        {"service": "vpc", "rate_limit_qps": 1, "retry_after_header": "Retry-After"},
    ],
)
def test_invalid_rules(rule):
    with pytest.raises(FaultRuleError):
        FaultEngine([rule])


def test_credentials_come_from_files_and_the_environment_too(tmp_path: Path):
    from localcloud.__main__ import CREDENTIALS_ENV, build_parser, credentials_from

    path = tmp_path / "creds"
    path.write_text("# comment\n\nLTAIFromFile:file-secret\n")
    args = build_parser().parse_args(["--credential-file", str(path), "--credential", "A:b"])
    environ = {CREDENTIALS_ENV: "LTAIFromEnv:env-secret:env-token\n"}
    got = [(c.access_key_id, c.security_token) for c in credentials_from(args, environ)]
    assert got == [("A", None), ("LTAIFromFile", None), ("LTAIFromEnv", "env-token")]
    path.write_text("LTAIOk:ok\n:leaked-secret\n")
    with pytest.raises(ValueError, match=r"creds line 2") as info:
        credentials_from(args, {})
    assert "leaked-secret" not in str(info.value)


def test_binding_beyond_loopback_warns_that_the_admin_api_is_open(caplog):
    from localcloud import LocalCloud

    with caplog.at_level(logging.WARNING, logger="localcloud"), LocalCloud(host="0.0.0.0"):
        pass
    assert "has no authentication" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="localcloud"), LocalCloud(host="127.0.0.1"):
        pass
    assert "has no authentication" not in caplog.text
