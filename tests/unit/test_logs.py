"""logs: JSON lines on stdout, levels, and the secret-scrubbing processor."""

from __future__ import annotations

import json

import pytest

from cgw_provisioner import logs
from cgw_provisioner.redaction import SECRETS, redact, redact_text


@pytest.fixture
def log_at():
    def configure(level):
        logs.configure(level)
        return logs.get_logger(fc_request_id="r-1")

    yield configure
    logs.configure("INFO")


def test_one_json_object_per_line_with_bound_fields(log_at, capsys):
    log = log_at("INFO").bind(message_id="m-1", client_token="t-1")
    log.info("backoff", attempt=2, code="Throttling.User", delay_s=0.1)
    [line] = capsys.readouterr().out.splitlines()
    record = json.loads(line)
    assert record["event"] == "backoff"
    assert record["level"] == "info"
    assert (record["fc_request_id"], record["message_id"], record["client_token"]) == (
        "r-1",
        "m-1",
        "t-1",
    )
    assert record["time"].endswith("Z")


def test_below_the_level_nothing_is_written(log_at, capsys):
    log = log_at("WARNING")
    log.info("quiet")
    log.debug("quieter")
    log.warning("loud")
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line)["event"] for line in lines] == ["loud"]


def test_secret_keys_and_known_values_are_masked(log_at, capsys):
    SECRETS.add("registered-secret-value")
    log = log_at("INFO")
    log.info(
        "leaky",
        access_key_secret="x1",
        security_token="x2",
        AuthKey="x3",
        Signature="x4",
        note="has registered-secret-value inside",
        url="http://h/?Signature=abc%3D&SecurityToken=tok123&AuthKey=k-9&Name=ok",
    )
    record = json.loads(capsys.readouterr().out)
    assert {record[k] for k in ("access_key_secret", "security_token", "AuthKey", "Signature")} == {
        "******"
    }
    assert "registered-secret-value" not in record["note"]
    assert record["url"] == (
        "http://h/?Signature=******&SecurityToken=******&AuthKey=******&Name=ok"
    )


def test_exceptions_are_scrubbed_too(log_at, capsys):
    log = log_at("INFO")
    try:
        raise RuntimeError("GET /?SecurityToken=tok-in-traceback&x=1 failed")
    except RuntimeError:
        log.exception("boom")
    out = capsys.readouterr().out
    assert "tok-in-traceback" not in out
    assert "SecurityToken=******" in out


def test_redaction_of_nested_values():
    value = {"request": {"AuthKey": "k", "Name": "n"}, "list": ["AuthKey=abc&x"]}
    assert redact(value) == {
        "request": {"AuthKey": "******", "Name": "n"},
        "list": ["AuthKey=******&x"],
    }
    assert redact_text("Authorization: MNS id:c2lnbmF0dXJl") == "Authorization: MNS id:******"
