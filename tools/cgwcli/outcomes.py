"""Outcome events -> one result per sent request: matching, counts, the table, the results file.

An outcome CloudEvent (schemas/provisioning-outcome.schema.json) names the queue message it
answers in `data.trigger.messageId` and the ClientToken used in `subject`; a request is matched
by its message id first, then by its token. A later "created" replaces an earlier "failed" for
the same request (a retried try that succeeded); otherwise the first outcome stays.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .inputs import Request

CREATED = "vpc.customergateway.created"


@dataclass
class Tracked:
    request: Request
    message_id: str | None = None
    outcome: dict[str, Any] | None = None

    @property
    def token(self) -> str:
        return self.request.fields["ClientToken"]

    @property
    def created(self) -> bool:
        return self.outcome is not None and self.outcome.get("type") == CREATED


@dataclass
class Tracker:
    items: list[Tracked]
    _by_id: dict[str, Tracked] = field(default_factory=dict)
    _by_token: dict[str, list[Tracked]] = field(default_factory=dict)

    @classmethod
    def of(cls, requests: list[Request]) -> Tracker:
        tracker = cls([Tracked(r) for r in requests])
        for item in tracker.items:
            tracker._by_token.setdefault(item.token, []).append(item)
        return tracker

    def sent(self, item: Tracked, message_id: str) -> None:
        item.message_id = message_id
        self._by_id[message_id] = item

    def accept(self, event: Any) -> bool:
        """Record an outcome event; True when it answered one of our requests."""
        if not isinstance(event, dict) or not isinstance(event.get("data"), dict):
            return False
        trigger = event["data"].get("trigger") or {}
        message_id = trigger.get("messageId") if isinstance(trigger, dict) else None
        item = self._by_id.get(message_id) if isinstance(message_id, str) else None
        subject = event.get("subject")
        if item is None and isinstance(subject, str):
            waiting = [i for i in self._by_token.get(subject, []) if i.outcome is None]
            item = waiting[0] if waiting else None
        if item is None:
            return False
        if item.outcome is None or (event.get("type") == CREATED and not item.created):
            item.outcome = event
        return True

    def counts(self) -> dict[str, int]:
        created = sum(i.created for i in self.items)
        waiting = sum(i.outcome is None for i in self.items)
        return {
            "created": created,
            "failed": len(self.items) - created - waiting,
            "waiting": waiting,
        }

    def done(self) -> bool:
        return all(i.outcome is not None for i in self.items)


def row(item: Tracked) -> tuple[str, str, str, str]:
    """(request, outcome, gateway id or error code, message)."""
    event = item.outcome
    if event is None:
        return (item.request.label, "no outcome", "-", "none received before the timeout")
    data = event.get("data") or {}
    if item.created:
        gateway = (data.get("customerGateway") or {}).get("CustomerGatewayId", "?")
        return (item.request.label, "adopted" if data.get("adopted") else "created", gateway, "")
    error = data.get("error") or {}
    return (
        item.request.label,
        "failed",
        str(error.get("code", "?")),
        str(error.get("message", "")),
    )


def table(items: list[Tracked], width: int = 60) -> str:
    header = ("request", "outcome", "gateway / error", "message")
    rows = [header, *(_clip(row(i), width) for i in items)]
    widths = [max(len(r[c]) for r in rows) for c in range(3)]
    lines = ["  ".join([*(r[c].ljust(widths[c]) for c in range(3)), r[3]]).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in [*widths, len(header[3])]))
    return "\n".join(lines)


def _clip(values: tuple[str, ...], width: int) -> tuple[str, ...]:
    *head, message = values
    message = " ".join(message.split())
    return (*head, message if len(message) <= width else message[: width - 3] + "...")


def result_line(item: Tracked, reason: str = "no outcome before the timeout") -> str:
    """One line of --results: the outcome event, or the request's place and why none came."""
    if item.outcome is not None:
        return json.dumps(item.outcome, ensure_ascii=False)
    return json.dumps(
        {
            "request": item.request.label,
            "messageId": item.message_id,
            "outcome": None,
            "reason": reason,
        },
        ensure_ascii=False,
    )


def exit_status(tracker: Tracker) -> int:
    return 0 if all(i.created for i in tracker.items) else 1


def bar(counts: dict[str, int], width: int = 30) -> str:
    """[####----....] created C  failed F  waiting W (# created, - failed, . waiting)."""
    total = max(1, sum(counts.values()))
    created = round(width * counts["created"] / total)
    failed = min(width - created, round(width * counts["failed"] / total))
    cells = "#" * created + "-" * failed + "." * (width - created - failed)
    created_n, failed_n, waiting_n = counts["created"], counts["failed"], counts["waiting"]
    return f"[{cells}] created {created_n}  failed {failed_n}  waiting {waiting_n}"
