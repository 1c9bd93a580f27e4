"""Acceptance: secrets never reach a log line, an exception message or a published event.

Canary values are planted in the credentials (secret, STS token) and in AuthKey; invocations
then run through success, rejection, throttling, permanent errors whose messages echo the
secrets, lost connections and publishing failures. Every captured line and event is searched.
"""

from __future__ import annotations

import json
import socket

import pytest

from cgw_provisioner.app import TransientFailureError
from localcloud.credentials import Credential

from .conftest import FcCredentials

CANARY_SECRET = "CanarySecret-7f3a9c1e5b"
CANARY_TOKEN = "CanaryToken-2d8e4b6a0c"
CANARY_AUTHKEY = "CanaryAuthKey-91b7e3"
CANARIES = (CANARY_SECRET, CANARY_TOKEN, CANARY_AUTHKEY)
KEY_ID = "STS.CanaryKeyId"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_canaries_never_leak(cloud, monkeypatch, capsys):
    cloud.server.cloud.credentials.add(Credential(KEY_ID, CANARY_SECRET, CANARY_TOKEN))
    monkeypatch.setenv("LOG_LEVEL", "DEBUG")
    monkeypatch.setenv("MAX_ATTEMPTS", "2")
    credentials = FcCredentials(KEY_ID, CANARY_SECRET, CANARY_TOKEN)
    request = {"RegionId": "cn-shanghai", "IpAddress": "203.0.113.77", "AuthKey": CANARY_AUTHKEY}
    raised: list[str] = []
    results = []
    steps = []

    def invoke(label, body, context_credentials=credentials):
        """One invocation; its result as (label, outcome type, error code) or (label,
        "redelivered") when it failed transiently. Any other exception fails the test."""
        try:
            result = cloud.invoke(body, credentials=context_credentials)
        except TransientFailureError as error:
            raised.append(str(error))
            steps.append((label, "redelivered", None))
        else:
            results.append(result)
            steps.append((label, result["type"], result["data"].get("error", {}).get("code")))

    invoke("created", request)
    invoke("rejected", {**request, "Name": "http://bad"})  # the request echo holds AuthKey
    cloud.faults(
        [
            {
                "service": "vpc",
                "action": "CreateCustomerGateway",
                "error": {
                    "code": "InvalidParameter",
                    "status": 400,
                    "message": f"echo SecurityToken={CANARY_TOKEN}&AuthKey={CANARY_AUTHKEY} "
                    f"secret {CANARY_SECRET} Signature=abc%3D",
                },
            }
        ]
    )
    invoke("echoing", {**request, "IpAddress": "203.0.113.78"})  # permanent, echoes secrets
    cloud.faults(
        [
            {
                "service": "vpc",
                "action": "CreateCustomerGateway",
                "error": {"code": "Throttling.User", "status": 400},
                "retry_after_ms": 5,
            }
        ]
    )
    invoke("throttled", {**request, "IpAddress": "203.0.113.79"})  # until the budget is spent
    cloud.faults(
        [
            {
                "service": "mns",
                "action": "PublishMessage",
                "error": {
                    "code": "InternalError",
                    "status": 500,
                    "message": f"token {CANARY_TOKEN}",
                },
            }
        ]
    )
    invoke("unpublished", {**request, "IpAddress": "203.0.113.80"})
    cloud.faults([])
    wrong = FcCredentials(KEY_ID, "not-the-secret", CANARY_TOKEN)
    # a wrong secret: VPC and MNS both refuse the signature; MNS's
    # SignatureDoesNotMatch quotes its string to sign (which holds the token)
    invoke("wrong-secret", {**request, "IpAddress": "203.0.113.81"}, wrong)
    monkeypatch.setenv("VPC_ENDPOINT", f"http://127.0.0.1:{_free_port()}")
    from cgw_provisioner import app

    app.reset()
    invoke("refused", {**request, "IpAddress": "203.0.113.82"})  # the URL is signed

    created, failed = "vpc.customergateway.created", "vpc.customergateway.failed"
    assert steps == [
        ("created", created, None),
        ("rejected", failed, "InvalidName"),
        ("echoing", failed, "InvalidParameter"),
        ("throttled", "redelivered", None),
        ("unpublished", "redelivered", None),
        ("wrong-secret", "redelivered", None),  # VPC refuses the key, and so does MNS
        ("refused", "redelivered", None),
    ]
    # each redelivery names its cause
    reasons = [
        "Throttling.User outlasted",
        "outcome not published: InternalError",
        "outcome not published: SignatureDoesNotMatch",
        "SDK.HttpError outlasted",
    ]
    assert len(raised) == len(reasons)
    for message, reason in zip(raised, reasons, strict=True):
        assert reason in message, message
    captured = capsys.readouterr()
    events = [o.event for o in cloud.outcomes()]
    assert [e["id"] for e in events] == [r["id"] for r in results]
    lines = captured.out.splitlines()
    assert len(lines) > 10
    for line in lines:
        json.loads(line)  # one JSON object per line
    haystacks = {
        "stdout": captured.out,
        "stderr": captured.err,
        "exceptions": "\n".join(raised),
        "events": json.dumps(events, ensure_ascii=False),
        "results": json.dumps(results, ensure_ascii=False),
    }
    for where, text in haystacks.items():
        for canary in CANARIES:
            assert canary not in text, f"{canary} leaked into {where}"
    # the permanent error is still explained, with the secrets masked
    messages = [e["data"]["error"]["message"] for e in events if e["type"].endswith("failed")]
    assert "SecurityToken=******" in messages[1]


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("SUCCESS_DESTINATION", None, "SUCCESS_DESTINATION is required"),
        ("FAILURE_DESTINATION", "acs:sqs:::/queues/x", "FAILURE_DESTINATION"),
        ("MAX_ATTEMPTS", "zero", "MAX_ATTEMPTS must be an integer"),
        ("BATCH_CONCURRENCY", "0", "BATCH_CONCURRENCY must be an integer from 1"),
        ("ADOPT_EXISTING", "maybe", "ADOPT_EXISTING must be true or false"),
        ("VPC_ENDPOINT", "http://127.0.0.1:1/path", "VPC_ENDPOINT must be a URL"),
        ("LOG_LEVEL", "LOUD", "LOG_LEVEL must be one of"),
        ("RETRY_POLICY", "hope", "RETRY_POLICY must be one of"),
    ],
)
def test_config_errors_fail_the_invocation_naming_the_variable(
    cloud, monkeypatch, variable, value, expected
):
    from cgw_provisioner import app
    from cgw_provisioner.config import ConfigError

    if value is None:
        monkeypatch.delenv(variable)
    else:
        monkeypatch.setenv(variable, value)
    app.reset()
    with pytest.raises(ConfigError, match=expected):
        cloud.invoke({"RegionId": "cn-shanghai", "IpAddress": "203.0.113.90"})
    assert cloud.calls("CreateCustomerGateway") == []  # nothing done: it will be redelivered
