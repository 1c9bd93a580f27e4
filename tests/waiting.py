"""Wait on a condition, not on the clock: poll until it holds or a deadline passes."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def wait_for(predicate: Callable[[], Any], timeout: float = 30, what: str = "") -> Any:
    """The first truthy value of `predicate()`; AssertionError naming `what` after `timeout` s.

    The deadline is generous on purpose: it only bounds a failure, a pass returns as soon as
    the condition holds.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or predicate}")
        time.sleep(0.01)
