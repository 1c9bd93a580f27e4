"""Placeholder: trigger emulation lands next."""

from __future__ import annotations


class RunningTrigger:
    def stop(self) -> None: ...

    def state(self) -> dict:
        return {}


def start(backend, trigger) -> RunningTrigger:
    from localcloud.fc.models import FcError

    raise FcError("InvalidArgument", 400, f"trigger type {trigger.type!r} is not emulated yet")
