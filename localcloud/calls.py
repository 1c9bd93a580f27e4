"""The ordered log of API calls localcloud received (GET /_localcloud/calls)."""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any

# Parameter names whose values never enter the call log.
SECRET_PARAMETERS = frozenset(
    {"Signature", "SecurityToken", "AccessKeySecret", "AuthKey", "security-token", "Authorization"}
)


@dataclass
class Call:
    service: str
    action: str
    parameters: dict[str, Any]
    access_key_id: str | None = None
    status: int | None = None
    code: str | None = None
    created: bool | None = None  # CreateCustomerGateway only: did this call create a gateway?
    time: float = field(default_factory=time.time)
    fault: str | None = None  # which fault rule decided the answer, if any


class CallLog:
    def __init__(self) -> None:
        self._calls: list[Call] = []
        self._lock = threading.Lock()

    def record(self, call: Call) -> Call:
        call.parameters = scrub(call.parameters)
        with self._lock:
            self._calls.append(call)
        return call

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            return [asdict(c) for c in self._calls]

    def since(self, start: float) -> list[Call]:
        """The calls made at or after `start` (time.time()), oldest first, without copying
        the whole log: the console asks for the last minute once a second."""
        with self._lock:
            index = len(self._calls)
            while index > 0 and self._calls[index - 1].time >= start:
                index -= 1
            return self._calls[index:]

    def clear(self) -> None:
        with self._lock:
            self._calls.clear()


def scrub(parameters: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in parameters.items() if k not in SECRET_PARAMETERS}
