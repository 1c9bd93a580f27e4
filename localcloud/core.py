"""What every localcloud service shares, in a leaf module: the cloud, its typed backends, the error
base and the dropped-response signal.

Nothing here imports a service or the server at run time (the backend types are imported for the
type checker only), so the services, the template deployer and the server can all import it
without an import circle (tests/unit/test_layers.py holds that).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from localcloud.calls import CallLog
from localcloud.credentials import CredentialStore
from localcloud.epoch import Epoch
from localcloud.faults import FaultEngine

if TYPE_CHECKING:
    from localcloud.fc.models import FcBackend
    from localcloud.mns.models import MnsBackend
    from localcloud.vpc.models import VpcBackend

DEFAULT_REGION = "cn-shanghai"
DEFAULT_ACCOUNT_ID = "1234567890123456"


class ServiceError(Exception):
    """An error answer of any service: wire code, HTTP status, message and, for throttling, the
    delay a client should wait. Each service renders it in its own wire format."""

    def __init__(
        self,
        code: str,
        status: int,
        message: str,
        retry_after_ms: int | None = None,
        retry_after_header: str = "x-acs-retry-after",
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.status = status
        self.message = message
        self.retry_after_ms = retry_after_ms
        self.retry_after_header = retry_after_header  # (VPC: faults.RETRY_AFTER_HEADERS)


class DropConnection(Exception):
    """Raised after a change is committed: the server closes the socket without any response."""


class Backend(Protocol):
    """A service's in-memory state (its models)."""

    def reset(self) -> None: ...
    def state(self) -> Any: ...
    def close(self) -> None: ...
    def interrupt(self) -> None:
        """End the waits of requests in flight (an MNS long poll), at a reset."""
        ...


class Backends:
    """The cloud's backends, one typed slot per service (filled once by LocalCloud)."""

    def __init__(self) -> None:
        self._vpc: VpcBackend | None = None
        self._mns: MnsBackend | None = None
        self._fc: FcBackend | None = None

    def install(self, vpc: VpcBackend, mns: MnsBackend, fc: FcBackend) -> None:
        self._vpc, self._mns, self._fc = vpc, mns, fc

    @property
    def vpc(self) -> VpcBackend:
        return _installed(self._vpc, "vpc")

    @property
    def mns(self) -> MnsBackend:
        return _installed(self._mns, "mns")

    @property
    def fc(self) -> FcBackend:
        return _installed(self._fc, "fc")

    def items(self) -> Iterator[tuple[str, Backend]]:
        """(service name, backend) for each installed backend, in the order vpc, mns, fc."""
        for name, backend in (("vpc", self._vpc), ("mns", self._mns), ("fc", self._fc)):
            if backend is not None:
                yield name, backend


B = TypeVar("B")


def _installed(backend: B | None, name: str) -> B:
    if backend is None:
        raise RuntimeError(f"the {name} backend is not installed (LocalCloud installs it)")
    return backend


@dataclass
class Cloud:
    """What every service shares: identity, credentials, faults, the call log and the backends."""

    region: str = DEFAULT_REGION
    account_id: str = DEFAULT_ACCOUNT_ID
    quota: int = 100
    credentials: CredentialStore = field(default_factory=CredentialStore)
    faults: FaultEngine = field(default_factory=FaultEngine)
    calls: CallLog = field(default_factory=CallLog)
    backends: Backends = field(default_factory=Backends)
    base_url: str = ""  # set once the server is bound, e.g. http://127.0.0.1:PORT
    # Run after every reset, e.g. to deploy the --template again onto the emptied backends.
    reset_hooks: list[Callable[[], None]] = field(default_factory=list)
    # Every request commits in the epoch it began in: nothing in flight lands after a reset.
    epoch: Epoch = field(default_factory=Epoch)

    def reset(self) -> None:
        with self.epoch.advance(interrupt=self._interrupt_waits):
            for _, backend in self.backends.items():
                backend.reset()
            self.calls.clear()
            self.faults.set_rules([])
            for hook in self.reset_hooks:
                hook()

    def _interrupt_waits(self) -> None:
        """End the waits of requests from the old epoch (an MNS long poll) so they finish."""
        for _, backend in self.backends.items():
            backend.interrupt()
