"""Destination ARNs (FC's asynchronous-invocation destination forms) -> Destination. Pure.

- acs:mns:{region}:{account}:/topics/{name}            (a trailing /messages is accepted)
- acs:mns:{region}:{account}:/queues/{name}            (a trailing /messages is accepted)
- acs:fc:{region}:{account}:services/{service}[.{qualifier}]/functions/{name}
An empty region or account means the function's own (filled by `Destination.resolved`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Literal

DestinationKind = Literal["mns-topic", "mns-queue", "fc"]

_REGION = r"(?P<region>[a-z0-9-]*)"
_ACCOUNT = r"(?P<account>[0-9]*)"
_MNS_NAME = r"(?P<name>[A-Za-z0-9][A-Za-z0-9-]{0,255})"
_MNS = re.compile(
    rf"acs:mns:{_REGION}:{_ACCOUNT}:/?(?P<kind>topics|queues)/{_MNS_NAME}(?:/messages?)?/?"
)
_FC_NAME = r"[A-Za-z_][A-Za-z0-9_-]{0,127}"
_FC = re.compile(
    rf"acs:fc:{_REGION}:{_ACCOUNT}:services/(?P<service>{_FC_NAME})"
    rf"(?:\.(?P<qualifier>[A-Za-z0-9_-]{{1,128}}))?/functions/(?P<name>{_FC_NAME})"
)
_FORMS = (
    "acs:mns:{region}:{account}:/topics/{name}, acs:mns:{region}:{account}:/queues/{name} "
    "or acs:fc:{region}:{account}:services/{service}[.{qualifier}]/functions/{name}"
)


class DestinationArnError(ValueError):
    """An ARN that is not one of the destination forms; the message says which part is wrong."""


@dataclass(frozen=True)
class Destination:
    kind: DestinationKind
    region: str  # "" = the function's region
    account_id: str  # "" = the function's account
    name: str  # topic, queue or function name
    service: str | None = None  # FC only
    qualifier: str | None = None  # FC only

    def resolved(self, region: str, account_id: str) -> Destination:
        """This destination with an empty region or account replaced by the function's own."""
        return replace(self, region=self.region or region, account_id=self.account_id or account_id)

    @property
    def tag_supported(self) -> bool:
        return self.kind == "mns-topic"

    def __str__(self) -> str:
        if self.kind == "fc":
            qualifier = f".{self.qualifier}" if self.qualifier else ""
            return (
                f"acs:fc:{self.region}:{self.account_id}:services/{self.service}{qualifier}"
                f"/functions/{self.name}"
            )
        folder = "topics" if self.kind == "mns-topic" else "queues"
        return f"acs:mns:{self.region}:{self.account_id}:/{folder}/{self.name}"


def parse_destination_arn(text: str) -> Destination:
    """Parse one destination ARN; raises DestinationArnError naming what is wrong."""
    if not isinstance(text, str) or not text.strip():
        raise DestinationArnError(f"must be a destination ARN ({_FORMS}), got an empty value")
    arn = text.strip()
    if match := _MNS.fullmatch(arn):
        kind: DestinationKind = "mns-topic" if match["kind"] == "topics" else "mns-queue"
        return Destination(kind, match["region"], match["account"], match["name"])
    if match := _FC.fullmatch(arn):
        return Destination(
            "fc",
            match["region"],
            match["account"],
            match["name"],
            service=match["service"],
            qualifier=match["qualifier"],
        )
    raise DestinationArnError(f"{arn[:200]!r} is not a destination ARN: {_explain(arn)}")


def _explain(arn: str) -> str:
    parts = arn.split(":", 4)
    if len(parts) < 5 or parts[0] != "acs":
        return f"expected acs:<service>:<region>:<account>:<resource> ({_FORMS})"
    service, region, account, resource = parts[1], parts[2], parts[3], parts[4]
    if service not in ("mns", "fc"):
        return f"the service must be mns or fc, not {service[:40]!r}"
    if not re.fullmatch(r"[a-z0-9-]*", region):
        return f"the region {region[:40]!r} must be empty or a region ID such as cn-shanghai"
    if not re.fullmatch(r"[0-9]*", account):
        return f"the account {account[:40]!r} must be empty or a numeric account ID"
    if service == "mns":
        return (
            "an MNS resource must be /topics/{name} or /queues/{name} (name: letters, digits "
            f"and '-', starting with a letter or digit, at most 256), not {resource[:80]!r}"
        )
    return (
        "an FC resource must be services/{service}[.{qualifier}]/functions/{name}, "
        f"not {resource[:80]!r}"
    )
