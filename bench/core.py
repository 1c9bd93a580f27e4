"""Per-message cost of the pure core: decode, validate, decide, build the outcome event.

10,000 messages arrive as 1,000 EventBridge batches of 10 (the queue trigger's shape). Every
tenth request is invalid (rejected); the rest are decided `created` with a gateway as the API
would return it, so both outcome paths are in the figure. The clock covers everything the
function does per message except the network. For comparison, the same run with the validator's
fast accept check turned off (jsonschema for every request).
"""

from __future__ import annotations

import json
import statistics
import time
from typing import Any

from cgw_provisioner.events import decode_event
from cgw_provisioner.outcomes import Outcome, event_source, rejected, to_cloud_event
from cgw_provisioner.validation import Rejection, RequestValidator

GOAL_US = 100.0
SOURCE = event_source("cn-shanghai", "1234567890123456", "cgw-provisioner", "cgw")
TIME = "2026-11-25T08:00:00.000Z"


def _request(i: int) -> dict[str, Any]:
    request: dict[str, Any] = {
        "RegionId": "cn-shanghai",
        "IpAddress": f"203.{i // 65536 % 256}.{i // 256 % 256}.{i % 256 or 1}",
        "Name": f"branch-{i}",
        "Description": "Branch office edge router",
        "Asn": "65001",
        "AuthKey": "bgp-Secret-1",
        "ClientToken": f"order-{i}",
        "Tags": [{"Key": "team", "Value": "network"}, {"Key": "env", "Value": "prod"}],
        "Metadata": {"orderId": str(i), "requestedBy": "workflow/branch-onboarding"},
    }
    if i % 10 == 9:
        request["IpAddress"] = "100.64.0.1"  # refused range: a rejection
    return request


def batches(messages: int, batch: int = 10) -> list[bytes]:
    events = []
    for start in range(0, messages, batch):
        elements = [
            {
                "id": f"{i:032X}",
                "source": "MNS-cgw-queue-trigger",
                "specversion": "1.0",
                "type": "mns:Queue:SendMessage",
                "datacontenttype": "application/json;charset=utf-8",
                "subject": "acs:mns:cn-shanghai:1234567890123456:queues/cgw-requests",
                "time": TIME,
                "data": {
                    "requestId": f"{i:024X}",
                    "messageId": f"{i:032X}",
                    "messageBody": json.dumps(_request(i)),
                },
            }
            for i in range(start, min(messages, start + batch))
        ]
        events.append(json.dumps(elements).encode())
    return events


def _decide(validator: RequestValidator, event: bytes) -> list[dict[str, Any]]:
    out = []
    for delivery in decode_event(event):
        verdict = validator.validate(delivery.body)
        if isinstance(verdict, Rejection):
            outcome = rejected(delivery, verdict)
        else:
            token = verdict.client_token or delivery.derived_client_token()
            verdict.api_parameters()
            gateway = {
                "CustomerGatewayId": "cgw-" + token[-21:].lower().rjust(21, "0"),
                "IpAddress": verdict.ip_address,
                "Name": verdict.fields.get("Name"),
                "Description": verdict.fields.get("Description"),
                "Asn": 65001,
                "CreateTime": 1764057600000,
            }
            outcome = Outcome(
                delivery=delivery,
                client_token=token,
                request_fields=verdict.fields,
                attempts=1,
                vpc_request_id="D32B3C26-6C6C-4988-93E9-D2A6444CE6AE",
                customer_gateway=gateway,
            )
        out.append(to_cloud_event(outcome, source=SOURCE, time=TIME))
    return out


def measure(messages: int = 10_000, repeats: int = 5) -> dict[str, Any]:
    figures = _measure(RequestValidator(), messages, repeats)
    reference = _measure(RequestValidator(fast_accept=False), messages, repeats)
    figures["jsonschema_only"] = {
        "us_per_message": reference["us_per_message"],
        "stages_us": reference["stages_us"],
        "what": "RequestValidator(fast_accept=False): jsonschema for every request, as before",
    }
    return figures


def _measure(validator: RequestValidator, messages: int, repeats: int) -> dict[str, Any]:
    events = batches(messages)
    _decide(validator, events[0])  # warm caches (regex compilation, format checkers)
    runs = []
    for _ in range(repeats):
        started = time.perf_counter()
        produced = sum(len(_decide(validator, event)) for event in events)
        runs.append(time.perf_counter() - started)
        assert produced == messages
    best, median = min(runs), statistics.median(runs)
    return {
        "us_per_message": round(median / messages * 1e6, 1),
        "us_per_message_best": round(best / messages * 1e6, 1),
        "stages_us": min(
            (_stages(validator, events, messages) for _ in range(3)),
            key=lambda stages: sum(stages.values()),
        ),
        "messages": messages,
        "repeats": repeats,
        "goal_us": GOAL_US,
    }


def _stages(validator: RequestValidator, events: list[bytes], messages: int) -> dict[str, float]:
    """Where the time goes: decoding alone, decoding + validation, then everything (one pass;
    measure() keeps the quietest of three)."""
    started = time.perf_counter()
    deliveries = [d for event in events for d in decode_event(event)]
    decoded = time.perf_counter()
    for delivery in deliveries:
        validator.validate(delivery.body)
    validated = time.perf_counter()
    for event in events:
        _decide(validator, event)
    total = time.perf_counter() - validated
    decode_s, validate_s = decoded - started, validated - decoded
    return {
        "decode": round(decode_s / messages * 1e6, 1),
        "validate": round(validate_s / messages * 1e6, 1),
        "decide_and_event": round((total - decode_s - validate_s) / messages * 1e6, 1),
    }


if __name__ == "__main__":
    print(json.dumps(measure(), indent=2))
