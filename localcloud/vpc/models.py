"""VPC state and rules: customer gateways of one account, per region.

`VpcBackend` is what `cloud.backends.vpc` holds. Every method validates its input with the
API's own rules (localcloud.vpc.rules) and raises VpcError with the real code, so tests and
benchmarks may seed or inspect state directly and get the same answers as over HTTP. One lock
serialises every read and change, which makes CreateCustomerGateway atomic: IP uniqueness, the
quota and ClientToken idempotency hold under any concurrency.
"""

from __future__ import annotations

import hashlib
import secrets
import string
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from localcloud.vpc import regions, rules
from localcloud.vpc.exceptions import VpcError, customer_gateway_not_found

AUTH_KEY_MASK = "******"
_ID_ALPHABET = string.ascii_lowercase + string.digits
_ID_LENGTH = 21  # characters after "cgw-", as real ids have


@dataclass(frozen=True)
class CustomerGateway:
    customer_gateway_id: str
    region_id: str
    ip_address: str
    create_time: int  # epoch milliseconds
    resource_group_id: str
    name: str = ""
    description: str = ""
    asn: int | None = None
    auth_key: str | None = None
    tags: tuple[tuple[str, str], ...] = ()

    def to_api(self, mask_auth_key: bool = False) -> dict[str, Any]:
        """The DescribeCustomerGateways item (API field names; Asn an int)."""
        item: dict[str, Any] = {
            "CustomerGatewayId": self.customer_gateway_id,
            "IpAddress": self.ip_address,
            "Name": self.name,
            "Description": self.description,
        }
        if self.asn is not None:
            item["Asn"] = self.asn
        if self.auth_key is not None:
            item["AuthKey"] = AUTH_KEY_MASK if mask_auth_key else self.auth_key
        item["CreateTime"] = self.create_time
        item["ResourceGroupId"] = self.resource_group_id
        item["Tags"] = {"Tag": [{"Key": k, "Value": v} for k, v in self.tags]}
        return item


@dataclass(frozen=True)
class Creation:
    """The answer to CreateCustomerGateway: `created` is False for a ClientToken replay."""

    gateway: CustomerGateway
    created: bool


@dataclass(frozen=True)
class Page:
    total_count: int
    page_number: int
    page_size: int
    gateways: tuple[CustomerGateway, ...]


@dataclass
class _Region:
    gateways: dict[str, CustomerGateway] = field(default_factory=dict)  # by id, oldest first
    by_ip: dict[str, str] = field(default_factory=dict)
    # ClientToken -> (fingerprint of the parameters, the gateway as first created)
    tokens: dict[str, tuple[tuple[Any, ...], CustomerGateway]] = field(default_factory=dict)


class VpcBackend:
    """Customer gateways of one account. Thread-safe."""

    def __init__(self, account_id: str, quota: int | Callable[[], int] = 100) -> None:
        self.account_id = account_id
        self._quota = quota
        self._lock = threading.RLock()
        self._regions: dict[str, _Region] = {}
        self.default_resource_group_id = "rg-acfm" + _derived_id(account_id, 11)

    @property
    def quota(self) -> int:
        """Customer gateways allowed per region (`cloud.quota` when built by localcloud)."""
        return self._quota() if callable(self._quota) else self._quota

    # -- customer gateways -------------------------------------------------------------------
    def create_customer_gateway(
        self,
        region_id: str | None,
        ip_address: str | None,
        *,
        name: str | None = None,
        description: str | None = None,
        asn: str | int | None = None,
        auth_key: str | None = None,
        client_token: str | None = None,
        resource_group_id: str | None = None,
        tags: Iterable[tuple[str, str]] | Iterable[Mapping[str, str]] | None = None,
    ) -> Creation:
        """Create a gateway, or return the first result for a repeated ClientToken.

        Raises VpcError: MissingRegionId, InvalidRegionId, MissingIpAddress,
        InvalidIpAddress.WrongFormat, InvalidName, InvalidDescription, InvalidAsn,
        InvalidAuthKey, InvalidClientToken, InvalidResourceGroupId, InvalidTags,
        IdempotentParameterMismatch, InvalidIpAddress.AlreadyExist, Resource.QuotaFull.
        """
        region = rules.region(region_id)
        ip = rules.ip_address(ip_address)
        clean: dict[str, Any] = {
            "name": rules.name(name),
            "description": rules.description(description),
            "asn": rules.asn(asn),
            "auth_key": rules.auth_key(auth_key),
        }
        token = rules.client_token(client_token)
        group = rules.resource_group_id(resource_group_id)
        tag_pairs = rules.tags(_tag_pairs(tags))
        fingerprint = (ip, *clean.values(), group, tuple(sorted(tag_pairs)))
        with self._lock:
            state = self._regions.setdefault(region.region_id, _Region())
            if token is not None and token in state.tokens:
                first_fingerprint, first = state.tokens[token]
                if first_fingerprint != fingerprint:
                    raise VpcError(
                        "IdempotentParameterMismatch",
                        400,
                        "Request uses a client token in a previous request but is not "
                        "identical to that request.",
                    )
                return Creation(first, created=False)
            if ip in state.by_ip:
                raise VpcError(
                    "InvalidIpAddress.AlreadyExist", 400, "Specified IpAddress is already exist."
                )
            if len(state.gateways) >= self.quota:
                raise VpcError("Resource.QuotaFull", 400, "The quota of resource is full")
            gateway = CustomerGateway(
                customer_gateway_id=self._new_id(region),
                region_id=region.region_id,
                ip_address=ip,
                create_time=int(time.time() * 1000),
                resource_group_id=group or self.default_resource_group_id,
                name=clean["name"] or "",
                description=clean["description"] or "",
                asn=clean["asn"],
                auth_key=clean["auth_key"],
                tags=tag_pairs,
            )
            state.gateways[gateway.customer_gateway_id] = gateway
            state.by_ip[ip] = gateway.customer_gateway_id
            if token is not None:
                state.tokens[token] = (fingerprint, gateway)
            return Creation(gateway, created=True)

    def describe_customer_gateways(
        self,
        region_id: str | None,
        *,
        customer_gateway_id: str | None = None,
        page_number: int = 1,
        page_size: int = rules.DEFAULT_PAGE_SIZE,
        resource_group_id: str | None = None,
        tags: Iterable[tuple[str, str]] | None = None,
    ) -> Page:
        """One page of the region's gateways, newest first. A tag filter (key, value) matches
        gateways with that key and, when the value is not empty, that value."""
        region = rules.region(region_id)
        if not 1 <= page_size <= rules.MAX_PAGE_SIZE:
            raise VpcError("InvalidPageSize", 400, "Specified parameter PageSize is not valid.")
        if page_number < 1:
            raise VpcError("InvalidPageNumber", 400, "Specified parameter PageNumber is not valid.")
        wanted = list(tags or ())
        with self._lock:
            state = self._regions.get(region.region_id, _Region())
            matches = [
                g
                for g in reversed(state.gateways.values())
                if (customer_gateway_id is None or g.customer_gateway_id == customer_gateway_id)
                and (resource_group_id is None or g.resource_group_id == resource_group_id)
                and all(_has_tag(g, key, value) for key, value in wanted)
            ]
        start = (page_number - 1) * page_size
        return Page(len(matches), page_number, page_size, tuple(matches[start : start + page_size]))

    def get_customer_gateway(
        self, region_id: str | None, customer_gateway_id: str | None
    ) -> CustomerGateway:
        region = rules.region(region_id)
        gateway_id = rules.customer_gateway_id(customer_gateway_id)
        with self._lock:
            gateway = self._regions.get(region.region_id, _Region()).gateways.get(gateway_id)
        if gateway is None:
            raise customer_gateway_not_found(gateway_id)
        return gateway

    def modify_customer_gateway_attribute(
        self,
        region_id: str | None,
        customer_gateway_id: str | None,
        *,
        name: str | None = None,
        description: str | None = None,
        auth_key: str | None = None,
    ) -> CustomerGateway:
        """Change what is given (None leaves a field as it is)."""
        region = rules.region(region_id)
        gateway_id = rules.customer_gateway_id(customer_gateway_id)
        changes: dict[str, Any] = {}
        if name is not None:
            changes["name"] = rules.name(name)
        if description is not None:
            changes["description"] = rules.description(description)
        if auth_key is not None:
            changes["auth_key"] = rules.auth_key(auth_key)
        with self._lock:
            state = self._regions.get(region.region_id, _Region())
            gateway = state.gateways.get(gateway_id)
            if gateway is None:
                raise customer_gateway_not_found(gateway_id)
            gateway = replace(gateway, **changes)
            state.gateways[gateway_id] = gateway
            return gateway

    def delete_customer_gateway(
        self, region_id: str | None, customer_gateway_id: str | None
    ) -> None:
        region = rules.region(region_id)
        gateway_id = rules.customer_gateway_id(customer_gateway_id)
        with self._lock:
            state = self._regions.get(region.region_id, _Region())
            gateway = state.gateways.pop(gateway_id, None)
            if gateway is None:
                raise customer_gateway_not_found(gateway_id)
            del state.by_ip[gateway.ip_address]

    def customer_gateways(self, region_id: str | None = None) -> list[CustomerGateway]:
        """Every gateway (of one region, or all), oldest first."""
        with self._lock:
            return [
                g
                for rid, state in sorted(self._regions.items())
                if region_id is None or rid == region_id
                for g in state.gateways.values()
            ]

    # -- regions -----------------------------------------------------------------------------
    def describe_regions(self) -> tuple[regions.Region, ...]:
        return regions.REGIONS

    # -- admin -------------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """For GET /_localcloud/state: every gateway with its RegionId, AuthKey masked."""
        return {
            "account_id": self.account_id,
            "quota_per_region": self.quota,
            "customer_gateways": [
                {"RegionId": g.region_id, **g.to_api(mask_auth_key=True)}
                for g in self.customer_gateways()
            ],
        }

    def interrupt(self) -> None:
        """Nothing waits inside the VPC backend: every action answers at once."""

    def reset(self) -> None:
        with self._lock:
            self._regions.clear()

    def close(self) -> None:
        """Nothing to stop: the VPC backend runs no threads."""

    def _new_id(self, region: regions.Region) -> str:
        while True:
            tail = "".join(secrets.choice(_ID_ALPHABET) for _ in range(_ID_LENGTH - 3))
            gateway_id = f"cgw-{region.id_prefix}{tail}"
            if not any(gateway_id in state.gateways for state in self._regions.values()):
                return gateway_id


def _tag_pairs(tags: Iterable[Any] | None) -> list[tuple[str, str]]:
    pairs = []
    for tag in tags or ():
        if isinstance(tag, Mapping):
            pairs.append((str(tag.get("Key", "")), str(tag.get("Value", "") or "")))
        else:
            key, value = tag
            pairs.append((key, value or ""))
    return pairs


def _has_tag(gateway: CustomerGateway, key: str, value: str) -> bool:
    return any(k == key and (not value or v == value) for k, v in gateway.tags)


def _derived_id(seed: str, length: int) -> str:
    digest = hashlib.sha256(seed.encode()).digest()
    return "".join(_ID_ALPHABET[b % len(_ID_ALPHABET)] for b in digest[:length])
