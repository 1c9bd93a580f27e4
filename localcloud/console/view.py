"""The console's view of localcloud: raw backend data in, one JSON-ready snapshot out.

Pure: every input is handed in (the time included), nothing is read from the backends here, so
the rules (what a dead letter's reason is, what counts as throttled, what is masked) are tested
without a server. Secrets never leave this module: every message body is parsed and every value
under a secret-bearing name is replaced by `******` before it is put in the snapshot; a body that
is not JSON is shown only as its length.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from localcloud.calls import SECRET_PARAMETERS, Call

MASK = "******"
CHART_SECONDS = 60
PEEK_BODY_CHARS = 4000
RECENT_OUTCOMES = 200
RECENT_INVOCATIONS = 30
_SECRET_NAMES = frozenset(name.lower() for name in SECRET_PARAMETERS) | {
    "accesskeysecret",
    "access_key_secret",
    "securitytoken",
    "security_token",
    "authkey",
}
_SUMMARY_FIELDS = ("RegionId", "IpAddress", "Name", "ClientToken")
_CREATED = "vpc.customergateway.created"
_FAILED = "vpc.customergateway.failed"


@dataclass(frozen=True)
class Inputs:
    """Everything the snapshot is made of, as the backends report it."""

    now: float  # time.time()
    deployment: Mapping[str, Any] | None  # Deployment.to_json(), None without a template
    fc_state: Mapping[str, Any]  # FcBackend.state()
    fc_activity: Mapping[str, Any]  # FcBackend.activity()
    mns: Mapping[str, Any]  # MnsBackend.overview()
    vpc_state: Mapping[str, Any]  # VpcBackend.state() (AuthKey already masked)
    calls: Iterable[Call]  # the calls of the last CHART_SECONDS
    faults: list[dict[str, Any]]  # FaultEngine.rules()


def snapshot(inputs: Inputs) -> dict[str, Any]:
    reasons = dead_letter_reasons(inputs.fc_state)
    return {
        "time": inputs.now,
        "stack": _stack(inputs.deployment, inputs.fc_state),
        "queues": [
            _queue(name, q, inputs.now, reasons.get(name))
            for name, q in inputs.mns.get("queues", {}).items()
        ],
        "functions": _functions(inputs.fc_state, inputs.fc_activity),
        "vpc": _vpc(inputs.vpc_state, inputs.calls, inputs.faults, inputs.now),
        "outcomes": _outcomes(inputs.mns.get("topics", {})),
    }


# -- secrets ---------------------------------------------------------------------------------
def mask(value: Any) -> Any:
    """A copy of a JSON value with every secret-bearing key's value replaced by MASK, at any
    depth, JSON documents held in strings included."""
    if isinstance(value, dict):
        return {
            key: MASK if str(key).lower() in _SECRET_NAMES else mask(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [mask(item) for item in value]
    if isinstance(value, str) and value:
        # A JSON document inside a string (a dead letter's messageBody, base64 or not) is shown
        # parsed and masked: a secret must not ride through as text.
        nested = parse_body(value)
        if isinstance(nested, (dict, list)):
            return mask(nested)
    return value


def parse_body(body: str) -> Any:
    """A message body as JSON, undoing the SDK's base64 when that yields JSON; None when the
    body is not JSON either way."""
    for text in (body, _unbase64(body)):
        if text is None:
            continue
        try:
            return json.loads(text)
        except ValueError:
            continue
    return None


def _unbase64(body: str) -> str | None:
    try:
        return base64.b64decode(body.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None


def shown_body(body: str) -> tuple[Any, str | None]:
    """(the masked JSON value, None) or (None, a note saying what the body is)."""
    parsed = parse_body(body)
    if parsed is None:
        return None, f"not JSON ({len(body)} characters, not shown)"
    text = json.dumps(mask(parsed), ensure_ascii=False)
    if len(text) > PEEK_BODY_CHARS:
        return None, f"JSON of {len(text)} characters (too long to show)"
    return mask(parsed), None


# -- stack -----------------------------------------------------------------------------------
def _stack(deployment: Mapping[str, Any] | None, fc_state: Mapping[str, Any]) -> dict[str, Any]:
    functions = {
        name: {
            "handler": fn.get("handler"),
            "runtime": fn.get("runtime"),
            "memory_mb": fn.get("memory"),
            "timeout_s": fn.get("timeout"),
            "environment": list(fn.get("environment") or []),  # names only
            "max_instances": fn.get("max_instances"),
        }
        for name, fn in fc_state.get("functions", {}).items()
    }
    triggers = {
        name: {"type": t.get("type"), "source": t.get("source_arn"), **(t.get("settings") or {})}
        for name, t in fc_state.get("triggers", {}).items()
    }
    deployed = deployment or {}
    return {
        "deployed": deployment is not None,
        "resources": {
            "MNS queues": len(deployed.get("queues") or []),
            "MNS topics": len(deployed.get("topics") or []),
            "FC functions": len(functions),
            "FC triggers": len(triggers),
        },
        "functions": functions,
        "triggers": triggers,
        "outputs": {str(k): str(v) for k, v in (deployed.get("outputs") or {}).items()},
    }


def dead_letter_reasons(fc_state: Mapping[str, Any]) -> dict[str, dict[str, int]]:
    """Per dead-letter queue: why the triggers writing to it dead-lettered messages (reason ->
    count). EventBridge puts no reason in a letter (it is the event exactly as pushed), so the
    reasons come from the triggers' state, counted since localcloud started or was reset."""
    out: dict[str, dict[str, int]] = {}
    for trigger in fc_state.get("triggers", {}).values():
        dlq = (trigger.get("settings") or {}).get("dead_letter_queue")
        if dlq:
            counts = out.setdefault(dlq, {})
            for reason, count in (trigger.get("dead_letter_reasons") or {}).items():
                counts[reason] = counts.get(reason, 0) + count
    return out


# -- queues ----------------------------------------------------------------------------------
def _queue(
    name: str, q: Mapping[str, Any], now: float, reasons: dict[str, int] | None
) -> dict[str, Any]:
    messages = [_message(m, now) for m in q.get("messages", [])]
    view = {
        "name": name,
        "dead_letter_queue": reasons is not None,
        "visible": q.get("visible", 0),
        "in_flight": q.get("in_flight", 0),
        "delayed": q.get("delayed", 0),
        "oldest_age_s": _round(q.get("oldest_age_s")),
        "messages": messages,
    }
    if reasons is not None:
        view["reasons"] = dict(reasons)
    return view


def _message(m: Mapping[str, Any], now: float) -> dict[str, Any]:
    parsed = parse_body(m["body"])
    request = parsed
    # A dead letter is the pushed event: a CloudEvent (or RawData object) around the request.
    inner = parsed.get("data", parsed) if isinstance(parsed, dict) else None
    if isinstance(inner, dict) and isinstance(inner.get("messageBody"), str):
        request = parse_body(inner["messageBody"])
    body, note = shown_body(m["body"])
    return {
        "message_id": m["message_id"],
        "dequeue_count": m.get("dequeue_count", 0),
        "age_s": _round(max(0.0, now - m.get("enqueue_time", now * 1000) / 1000)),
        "summary": _summary(request),
        "body": body,
        "note": note,
    }


def _summary(request: Any) -> dict[str, str]:
    if not isinstance(request, dict):
        return {}
    return {k: str(request[k])[:120] for k in _SUMMARY_FIELDS if k in request}


# -- function --------------------------------------------------------------------------------
def _functions(fc_state: Mapping[str, Any], activity: Mapping[str, Any]) -> list[dict[str, Any]]:
    out = []
    for name in fc_state.get("functions", {}):
        act = activity.get(name) or {}
        recent = list(act.get("recent") or [])[-RECENT_INVOCATIONS:]
        out.append(
            {
                "name": name,
                "invocations": act.get("invocations", 0),
                "errors": act.get("errors", 0),
                "cold_starts": act.get("cold_starts", 0),
                "instances": [
                    {
                        "id": i["instance_id"],
                        "busy": i["busy"],
                        "invocations": i["invocations"],
                        "errors": i["errors"],
                        "cold_start_s": i["cold_start_s"],
                    }
                    for i in act.get("instances") or []
                ],
                "recent": [
                    {
                        "time": r["time"],
                        "instance": r["instance_id"],
                        "batch_size": r["batch_size"],
                        "duration_s": r["duration_s"],
                        "cold": r["cold"],
                        "result": "ok" if r["ok"] else "error",
                        "error": r["error"],
                    }
                    for r in reversed(recent)
                ],
            }
        )
    return out


# -- VPC -------------------------------------------------------------------------------------
def call_result(call: Call) -> str:
    """answered, throttled or failed: how the chart counts one call."""
    if call.status is not None and 200 <= call.status < 300:
        return "answered"
    if call.code and call.code.startswith("Throttling"):
        return "throttled"
    return "failed"


def _vpc(
    state: Mapping[str, Any], calls: Iterable[Call], faults: list[dict[str, Any]], now: float
) -> dict[str, Any]:
    start = int(now) - CHART_SECONDS + 1
    series = {second: Counter[str]() for second in range(start, int(now) + 1)}
    totals: Counter[str] = Counter()
    for call in calls:
        if call.service != "vpc":
            continue
        result = call_result(call)
        totals[result] += 1
        bucket = series.get(int(call.time))
        if bucket is not None:
            bucket[result] += 1
    limits = [
        float(rule["rate_limit_qps"])
        for rule in faults
        if rule.get("service") == "vpc" and "rate_limit_qps" in rule
    ]
    regions = Counter(g.get("RegionId") for g in state.get("customer_gateways", []))
    return {
        "series": [
            {"t": second, **{k: bucket[k] for k in ("answered", "throttled", "failed")}}
            for second, bucket in series.items()
        ],
        "last_minute": {k: totals[k] for k in ("answered", "throttled", "failed")},
        "rate_limit_qps": min(limits) if limits else None,
        "gateways_by_region": dict(sorted((str(k), v) for k, v in regions.items())),
        "faults": [mask(rule) for rule in faults],
    }


# -- outcomes --------------------------------------------------------------------------------
def outcome_row(message: Mapping[str, Any]) -> dict[str, Any] | None:
    """One outcome event as a row, or None when the message is not an outcome event."""
    event = parse_body(message["body"])
    if not isinstance(event, dict) or event.get("type") not in (_CREATED, _FAILED):
        return None
    data = _object(event.get("data"))
    request = _object(data.get("request"))
    gateway = _object(data.get("customerGateway"))
    error = _object(data.get("error"))
    created = event["type"] == _CREATED
    return {
        "message_id": message["message_id"],
        "time": str(event.get("time", "")),
        "outcome": "created" if created else "failed",
        "client_token": str(event.get("subject", "")),
        "gateway_id": str(gateway.get("CustomerGatewayId", "")) if created else None,
        "adopted": bool(data.get("adopted")) if created else None,
        "code": None if created else str(error.get("code", "")),
        "message": None if created else str(error.get("message", ""))[:300],
        "attempts": data.get("attempts"),
        "request": _summary(request),
    }


def _outcomes(topics: Mapping[str, Any]) -> dict[str, Any]:
    rows = []
    for topic in topics.values():
        for message in topic.get("recent", []):
            row = outcome_row(message)
            if row is not None:
                rows.append(row)
    rows.sort(key=lambda r: r["time"], reverse=True)
    # Totals from every message ever published (the rows keep only the last ones); the
    # function tags each outcome message `created` or `failed`.
    counts: Counter[str] = Counter()
    for topic in topics.values():
        counts.update(topic.get("tag_counts") or {})
    return {
        "created": counts["created"],
        "failed": counts["failed"],
        "rows": rows[:RECENT_OUTCOMES],
    }


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)
