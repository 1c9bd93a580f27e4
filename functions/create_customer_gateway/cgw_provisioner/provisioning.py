"""One validated request -> one Outcome, through the VPC port.

CreateCustomerGateway is always sent with a ClientToken (the request's own, else the
delivery's derived token) and every retry reuses it, so a lost response or a redelivery cannot
create a second gateway. InvalidIpAddress.AlreadyExist is resolved by adoption: the existing
gateway for that IP is looked up and, when it matches the request, adopted. Permanent API errors
become failure outcomes; a retryable failure that outlasts the budget propagates as
RetryBudgetExhaustedError (the app hands that message back to the trigger).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from .events import Delivery
from .outcomes import Outcome, OutcomeError
from .redaction import redact_text
from .retry import (
    ApiCallError,
    AttemptLog,
    Deadline,
    RetryBudgetExhaustedError,
    RetryPolicy,
    call_with_retries,
)
from .validation import ProvisioningRequest

if TYPE_CHECKING:
    from .logs import Log

ALREADY_EXIST = "InvalidIpAddress.AlreadyExist"
PAGE_SIZE = 50
_GATEWAY_FIELDS = ("CustomerGatewayId", "IpAddress", "Name", "Description", "Asn", "CreateTime")


class VpcApiError(ApiCallError):
    """A VPC API call failed (raised by the VPC port): code, message, HTTP status, RequestId."""


class VpcPort(Protocol):
    def create_customer_gateway(
        self, params: Mapping[str, Any], *, timeout: float | None = None
    ) -> Mapping[str, Any]: ...

    def describe_customer_gateways(
        self, region_id: str, page_number: int, page_size: int, *, timeout: float | None = None
    ) -> Mapping[str, Any]: ...


@dataclass(frozen=True)
class Provisioner:
    vpc: VpcPort
    policy: RetryPolicy
    max_attempts: int = 8
    adopt_existing: bool = True
    call_timeout: float = 10.0

    def provision(
        self, request: ProvisioningRequest, delivery: Delivery, deadline: Deadline, log: Log
    ) -> Outcome:
        """The outcome of one request; raises RetryBudgetExhaustedError for a transient cause."""
        token = request.client_token or delivery.derived_client_token()
        params = {**request.api_parameters(), "ClientToken": token}
        record = AttemptLog()
        secrets = _request_secrets(request)

        def outcome(**fields: Any) -> Outcome:
            return Outcome(
                delivery=delivery,
                client_token=token,
                request_fields=request.fields,
                attempts=record.attempts,
                **fields,
            )

        try:
            answer = call_with_retries(
                lambda timeout: self.vpc.create_customer_gateway(params, timeout=timeout),
                policy=self.policy,
                deadline=deadline,
                max_attempts=self.max_attempts,
                call_timeout=self.call_timeout,
                log=log,
                action="CreateCustomerGateway",
                record=record,
            )
        except RetryBudgetExhaustedError as exhausted:
            exhausted.attempts = record.attempts
            raise
        except ApiCallError as error:
            if error.code == ALREADY_EXIST and self.adopt_existing:
                return self._adopt(params, error, deadline, log, outcome, secrets)
            log.info(
                "create failed permanently",
                code=error.code,
                http_status=error.http_status,
                vpc_request_id=error.request_id,
            )
            return outcome(vpc_request_id=error.request_id, error=_outcome_error(error, secrets))
        gateway = _created_gateway(answer, params)
        log.info(
            "customer gateway created",
            customer_gateway_id=gateway.get("CustomerGatewayId"),
            attempts=record.attempts,
            vpc_request_id=answer.get("RequestId"),
        )
        return outcome(vpc_request_id=answer.get("RequestId"), customer_gateway=gateway)

    def _adopt(
        self,
        params: Mapping[str, Any],
        error: ApiCallError,
        deadline: Deadline,
        log: Log,
        outcome: Callable[..., Outcome],
        secrets: tuple[str, ...],
    ) -> Outcome:
        """AlreadyExist: adopt the existing gateway when it matches the request."""
        try:
            existing = self._find_by_ip(params["RegionId"], params["IpAddress"], deadline, log)
        except VpcApiError as lookup:  # permanent (a retryable one left as budget exhaustion)
            log.info("existing gateway lookup failed", code=lookup.code)
            failure = _outcome_error(error, secrets)
            message = (
                f"{failure.message} The existing gateway could not be looked up: "
                f"{lookup.code}: {redact_text(lookup.message, secrets)}"
            )
            return outcome(
                vpc_request_id=error.request_id,
                error=OutcomeError(failure.code, message, failure.http_status, False),
            )
        if existing is None:
            # It existed a moment ago and is gone now: the state is in flux, try again later.
            raise RetryBudgetExhaustedError(
                VpcApiError(
                    ALREADY_EXIST,
                    "the gateway for this IpAddress was not found by DescribeCustomerGateways",
                    http_status=error.http_status,
                    request_id=error.request_id,
                ),
                0,
                "adoption",
            )
        gateway = {key: existing[key] for key in _GATEWAY_FIELDS if key in existing}
        conflicts = _conflicts(params, existing)
        if not conflicts:
            log.info(
                "existing customer gateway adopted",
                customer_gateway_id=gateway.get("CustomerGatewayId"),
            )
            return outcome(vpc_request_id=error.request_id, customer_gateway=gateway, adopted=True)
        log.info(
            "existing customer gateway conflicts with the request",
            customer_gateway_id=gateway.get("CustomerGatewayId"),
            fields=sorted(conflicts),
        )
        names = ", ".join(sorted(conflicts))
        message = (
            f"{redact_text(error.message, secrets)} The existing customer gateway "
            f"{gateway.get('CustomerGatewayId')} for {params['IpAddress']} differs from the "
            f"request in {names}, so it was not adopted."
        )
        detail = {"existingCustomerGateway": gateway, "conflicts": conflicts}
        return outcome(
            vpc_request_id=error.request_id,
            error=OutcomeError(
                code=error.code,
                message=message,
                http_status=error.http_status,
                retryable=False,
                details=(detail,),
            ),
        )

    def _find_by_ip(
        self, region_id: str, ip: str, deadline: Deadline, log: Log
    ) -> Mapping[str, Any] | None:
        for gateway in self._all_gateways(region_id, deadline, log):
            if gateway.get("IpAddress") == ip:
                return gateway
        return None

    def _all_gateways(
        self, region_id: str, deadline: Deadline, log: Log
    ) -> Iterator[Mapping[str, Any]]:
        page_number = 1
        while True:

            def describe(timeout: float, n: int = page_number) -> Mapping[str, Any]:
                return self.vpc.describe_customer_gateways(region_id, n, PAGE_SIZE, timeout=timeout)

            page = call_with_retries(
                describe,
                policy=self.policy,
                deadline=deadline,
                max_attempts=self.max_attempts,
                call_timeout=self.call_timeout,
                log=log,
                action="DescribeCustomerGateways",
            )
            gateways = (page.get("CustomerGateways") or {}).get("CustomerGateway") or []
            yield from gateways
            total = int(page.get("TotalCount") or 0)
            if not gateways or page_number * PAGE_SIZE >= total:
                return
            page_number += 1


def _created_gateway(answer: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
    gateway = {key: answer[key] for key in _GATEWAY_FIELDS if answer.get(key) is not None}
    for key in ("IpAddress", "Name", "Description"):
        if key not in gateway and params.get(key) is not None:
            gateway[key] = params[key]
    if "Asn" not in gateway and params.get("Asn") is not None:
        asn = str(params["Asn"])
        gateway["Asn"] = int(asn) if asn.isdigit() else asn
    return gateway


def _conflicts(params: Mapping[str, Any], existing: Mapping[str, Any]) -> dict[str, Any]:
    """The fields the request gives that the existing gateway does not have the same."""
    conflicts: dict[str, Any] = {}
    for key in ("Name", "Description", "Asn"):
        wanted = params.get(key)
        if wanted is None:
            continue
        have = existing.get(key)
        if _normalized(key, wanted) != _normalized(key, have):
            conflicts[key] = {"requested": wanted, "existing": have}
    return conflicts


def _normalized(key: str, value: Any) -> Any:
    if key == "Asn" and value is not None:
        text = str(value).strip()
        return int(text) if text.isdigit() else text
    return value if value not in ("",) else None


def _request_secrets(request: ProvisioningRequest) -> tuple[str, ...]:
    auth_key = request.fields.get("AuthKey")
    return (auth_key,) if isinstance(auth_key, str) and auth_key else ()


def _outcome_error(error: ApiCallError, secrets: tuple[str, ...]) -> OutcomeError:
    return OutcomeError(
        code=error.code,
        message=redact_text(error.message, secrets),
        http_status=error.http_status,
        retryable=False,
    )
