"""VPC API errors: the wire code, HTTP status and message travel with the exception.

Codes, statuses and messages are the real ones where known (the CreateCustomerGateway error
table, the POP gateway's common errors); the few chosen by us are marked in docs/localcloud.md.
"""

from __future__ import annotations

from localcloud.core import ServiceError


class VpcError(ServiceError):
    """An error answer of the VPC API (rendered as JSON or XML by responses.py)."""


def missing(name: str) -> VpcError:
    return VpcError(f"Missing{name}", 400, f"{name} is mandatory for this action.")


def invalid(name: str, detail: str = "") -> VpcError:
    """The generic `Invalid{Name}` form: "Specified parameter {Name} is not valid."."""
    message = f"Specified parameter {name} is not valid."
    return VpcError(f"Invalid{name}", 400, f"{message} {detail}".strip())


def api_not_found(action: str) -> VpcError:
    return VpcError(
        "InvalidApi.NotFound",
        404,
        f"Specified api is not found,please check your url and method. (Action {action[:64]!r})",
    )


def customer_gateway_not_found(gateway_id: str) -> VpcError:
    # Code as Terraform's provider expects it; the status (404) is our choice.
    return VpcError(
        "InvalidCustomerGatewayInstanceId.NotFound",
        404,
        f"The specified customer gateway instance does not exist. ({gateway_id[:64]})",
    )


FORBIDDEN = ("Forbidden", 403, "User not authorized to operate on the specified resource.")
# (sic) "Forbbiden" is how the CreateCustomerGateway error table spells it.
FORBIDDEN_SUB_USER = (
    "Forbbiden.SubUser",
    403,
    "User not authorized to operate on the specified resource as your account is created by "
    "another user.",
)
INTERNAL_ERROR = (
    "InternalError",
    500,
    "The request processing has failed due to some unknown error, exception or failure.",
)
