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

    def clear(self) -> None:
        with self._lock:
            self._calls.clear()


def scrub(parameters: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in parameters.items() if k not in SECRET_PARAMETERS}
