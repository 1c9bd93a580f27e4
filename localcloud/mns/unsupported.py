"""The aliyun-mns-sdk operations localcloud deliberately does not serve, each with its reason.

The table is keyed by the SDK method (`Class.method`, aliyun-mns-sdk 1.3.0) so that
tests/localcloud/test_sdk_surface.py can check that every public SDK method is either
exercised by the parity suite or listed here. Each entry also names the request the SDK
sends, so the router recognises it and answers with MNS's own error for a request it does not
serve: HTTP 400 `InvalidRequestURL` in the <Error> document (the MNS error-code table,
https://www.alibabacloud.com/help/en/mns/developer-reference/syntax-of-error-responses),
never a 500. The request is recorded in the call log under its action name.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Unsupported:
    action: str  # the MNS action name, as the call log records it
    method: str  # HTTP method the SDK sends
    path: str  # regular expression of the path the SDK sends
    reason: str


UNSUPPORTED: dict[str, Unsupported] = {
    "Account.open_service": Unsupported(
        action="OpenService",
        method="POST",
        path=r"/commonbuy/openservice",
        reason=(
            "activates the MNS service (and its billing) for an Alibaba Cloud account; "
            "localcloud's MNS is always open and has no orders, so there is nothing to "
            "emulate"
        ),
    ),
}


def message(entry: Unsupported) -> str:
    """The <Message> of the error: MNS's own text, then why localcloud refuses."""
    return (
        f"Http request URL format invalid. ({entry.action} is not served by localcloud: "
        f"{entry.reason})"
    )
