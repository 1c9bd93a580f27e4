"""Which SDK methods the parity suites exercise, checked against what the SDK offers.

A parity test declares the SDK methods it drives with `@covers("Queue.send_message", ...)`.
While the test runs, every public method of the SDK classes is wrapped to record the
outermost call (a method an SDK method calls internally does not count), and the test fails
if a declared method was never called: a declaration cannot drift from what the test does.

`missing_from(surface, declared, unsupported)` is the check the introspection test applies:
every public method of each class must be declared by a parity test or listed, with a reason,
as deliberately unsupported.
"""

from __future__ import annotations

import functools
import inspect
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import fc2
from mns.account import Account
from mns.queue import Queue
from mns.subscription import Subscription
from mns.topic import Topic

# name used in declarations -> the SDK class
MNS_CLASSES: dict[str, type] = {
    "Account": Account,
    "Queue": Queue,
    "Topic": Topic,
    "Subscription": Subscription,
}
FC_CLASSES: dict[str, type] = {"fc2.Client": fc2.Client}
SURFACE: dict[str, type] = {**MNS_CLASSES, **FC_CLASSES}

# Public methods the SDK calls only from inside its own operations, so a test cannot
# meaningfully call them at the top level; each says which test observes its effect.
INTERNAL: dict[str, str] = {
    f"{label}.debuginfo": (
        f"every {label} operation calls it after the response; prints the x-mns-request-id "
        "when set_debug(True): asserted by test_client_side_helpers_work_against_localcloud"
    )
    for label in MNS_CLASSES
}


def public_methods(classes: Mapping[str, type]) -> set[str]:
    """'Class.method' for every public function an SDK class defines or inherits."""
    return {
        f"{label}.{name}"
        for label, cls in classes.items()
        for name, _ in inspect.getmembers(cls, inspect.isfunction)
        if not name.startswith("_")
    }


def missing_from(
    surface: set[str], declared: Iterable[str], unsupported: Iterable[str]
) -> list[str]:
    """SDK methods neither exercised by a parity test nor listed as unsupported."""
    return sorted(surface - set(declared) - set(unsupported))


def covers(*methods: str) -> Callable:
    """Declare (and enforce) the SDK methods a parity test drives."""
    unknown = [m for m in methods if m not in public_methods(SURFACE)]
    if unknown:
        raise ValueError(f"not a public SDK method: {unknown}")

    def decorate(test: Callable) -> Callable:
        @functools.wraps(test)
        def run(*args: Any, **kwargs: Any) -> Any:
            with _Spy() as spy:
                result = test(*args, **kwargs)
            uncalled = sorted(set(methods) - spy.called)
            assert not uncalled, f"{test.__name__} declares but never calls {uncalled}"
            return result

        run.sdk_covers = frozenset(methods)  # type: ignore[attr-defined]
        return run

    return decorate


def declared_in(*modules: Any) -> set[str]:
    """Union of the `@covers` declarations of the test functions in `modules`."""
    return {
        name
        for module in modules
        for _, fn in inspect.getmembers(module, inspect.isfunction)
        for name in getattr(fn, "sdk_covers", ())
    }


class _Spy:
    """Wrap the SDK classes' public methods to record outermost calls, per thread."""

    def __init__(self) -> None:
        self.called: set[str] = set()
        self._depth = threading.local()
        self._saved: list[tuple[type, str, Any]] = []

    def __enter__(self) -> _Spy:
        for label, cls in SURFACE.items():
            for name, fn in inspect.getmembers(cls, inspect.isfunction):
                if not name.startswith("_"):
                    self._saved.append((cls, name, cls.__dict__.get(name)))
                    setattr(cls, name, self._wrap(f"{label}.{name}", fn))
        return self

    def __exit__(self, *exc: object) -> None:
        for cls, name, original in reversed(self._saved):
            if original is None:
                delattr(cls, name)
            else:
                setattr(cls, name, original)

    def _wrap(self, label: str, fn: Callable) -> Callable:
        @functools.wraps(fn)
        def spy(*args: Any, **kwargs: Any) -> Any:
            depth = getattr(self._depth, "n", 0)
            if depth == 0:
                self.called.add(label)
            self._depth.n = depth + 1
            try:
                return fn(*args, **kwargs)
            finally:
                self._depth.n = depth

        return spy
