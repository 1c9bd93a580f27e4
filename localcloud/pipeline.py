"""The one request path every localcloud service runs on (as moto's BaseResponse).

    read -> authenticate -> resolve (action + the credential's policy) -> fault rules
         -> handler (in the request's reset epoch) -> call record -> answer (or a dropped
         connection)

A service supplies only its `WireFormat`: how to read a request (action, parameters, request id),
how to verify its signature, which handler serves the action, and how to render an error.
Handlers render their own results. Every refusal on the way is a `ServiceError`, rendered by the
service; any other exception is a localcloud bug, logged and still answered in the service's
wire format (never an HTML page). A request that began before a localcloud reset cannot commit
after it (localcloud.epoch): it is answered 503 and left out of the call log, since its client
belongs to a test that is over.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from werkzeug.wrappers import Request, Response

from localcloud.calls import Call
from localcloud.core import Cloud, DropConnection, ServiceError
from localcloud.credentials import Credential
from localcloud.epoch import STALE_CODE, STALE_STATUS, StaleRequest
from localcloud.faults import FaultError

Handler = Callable[[], Response]


@dataclass
class Exchange:
    """One call on its way through the pipeline; a service's reader may add fields."""

    request: Request
    request_id: str
    action: str | None  # None when the request names no action this service knows
    call: Call  # what the call log records; handlers may annotate it


E = TypeVar("E", bound=Exchange)


class WireFormat(Protocol[E]):
    """What a service supplies to the pipeline."""

    service: str  # "vpc", "mns" or "fc": the name fault rules and the call log use
    # Actions that wait on other requests while they run (an FC invocation runs a function that
    # calls MNS and VPC): checked against the reset epoch before they start, not held in it.
    long_running: frozenset[str]

    def read(self, request: Request) -> E:
        """Parse the request; never raises for bad input (later steps refuse it)."""
        ...

    def authenticate(self, exchange: E) -> Credential:
        """Verify the signature; raise a ServiceError (an AuthError) when it does not hold."""
        ...

    def resolve(self, exchange: E, credential: Credential) -> Handler:
        """The handler for the exchange's action, or a ServiceError (unknown action, or one
        the credential's policy does not allow)."""
        ...

    def fault_error(self, exchange: E, fault: FaultError) -> ServiceError:
        """The error a fault rule decided, as this service answers it."""
        ...

    def internal_error(self, exchange: E, exc: Exception) -> ServiceError:
        """The answer to a localcloud bug."""
        ...

    def render_error(self, exchange: E, error: ServiceError) -> Response: ...

    def finish(self, exchange: E, response: Response) -> None:
        """Stamp what every answer carries (the request id header)."""
        ...


def run(cloud: Cloud, wire: WireFormat[E], request: Request) -> Response:
    """Serve one request through the pipeline; raise DropConnection when a fault rule drops the
    response of a call that succeeded (the change is committed, the client hears nothing)."""
    epoch = cloud.epoch.current()
    exchange = wire.read(request)
    call = exchange.call
    drop = False
    try:
        credential = wire.authenticate(exchange)
        call.access_key_id = credential.access_key_id
        handler = wire.resolve(exchange, credential)
        decision = cloud.faults.decide(wire.service, call.action, cloud.account_id)
        call.fault = decision.label
        if decision.latency_s:
            time.sleep(decision.latency_s)
        if decision.error is not None:
            raise wire.fault_error(exchange, decision.error)
        if call.action in wire.long_running:
            cloud.epoch.check(epoch)
            response = handler()
        else:
            with cloud.epoch.commit(epoch):
                response = handler()
        drop = decision.drop_response_after_commit
    except StaleRequest as exc:
        stale = FaultError(STALE_STATUS, STALE_CODE, str(exc))
        response = _refuse(wire, exchange, wire.fault_error(exchange, stale))
        wire.finish(exchange, response)
        return response  # not in the call log: its client belongs to a test that is over
    except ServiceError as error:
        response = _refuse(wire, exchange, error)
    except Exception as exc:
        logging.getLogger(f"localcloud.{wire.service}").exception(
            "%s %s failed", wire.service.upper(), exchange.action or "request"
        )
        response = _refuse(wire, exchange, wire.internal_error(exchange, exc))
    call.status = response.status_code
    cloud.calls.record(call)
    if drop:
        raise DropConnection()
    wire.finish(exchange, response)
    return response


def _refuse(wire: WireFormat[E], exchange: E, error: ServiceError) -> Response:
    exchange.call.code = error.code
    return wire.render_error(exchange, error)
