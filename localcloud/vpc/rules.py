"""The parameter rules of the customer gateway API: each check returns the clean value or
raises the VpcError the real API answers with.

Messages of codes in the CreateCustomerGateway error table are the table's, word for word
(e.g. InvalidName "The name is not valid"); the other codes use the gateway's generic
"Specified parameter X is not valid." followed by which rule failed.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping

from localcloud.vpc import regions
from localcloud.vpc.exceptions import VpcError, invalid, missing

REFUSED_NETWORKS = tuple(
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "224.0.0.0/4",
        "255.0.0.0/8",
    )
)
RESERVED_ASN = 45104  # Alibaba Cloud's own ASN
MAX_ASN = 4294967295
MAX_TAGS = 20
DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 50

_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}", re.ASCII)
_ASN = re.compile(r"([0-9]{1,10})(?:\.([0-9]{1,5}))?", re.ASCII)
_RESOURCE_GROUP = re.compile(r"rg-[a-z0-9]{1,64}", re.ASCII)
_TAG_PARAMETER = re.compile(r"(?P<n>[0-9]+)\.(?P<part>Key|Value)")
_URL_PREFIXES = ("http://", "https://")


def region(value: str | None) -> regions.Region:
    if value is None or value == "":
        raise missing("RegionId")
    found = regions.find(value)
    if found is None:
        raise VpcError("InvalidRegionId", 400, "Specified parameter RegionId is not valid.")
    return found


def ip_address(value: str | None) -> str:
    if value is None or value == "":
        raise missing("IpAddress")
    if not _IPV4.fullmatch(value):
        raise _wrong_ip()
    address = ipaddress.ip_address(value)
    if any(address in network for network in REFUSED_NETWORKS):
        raise _wrong_ip()
    return value


def refused_network(value: str) -> str | None:
    """The refused range a dotted IPv4 address falls in, for messages and docs."""
    address = ipaddress.ip_address(value)
    for network in REFUSED_NETWORKS:
        if address in network:
            return str(network)
    return None


def name(value: str | None) -> str | None:
    if value is None:
        return None
    if (
        not 2 <= len(value) <= 128
        or value.lower().startswith(_URL_PREFIXES)
        or not all(ch.isalpha() or ch.isdecimal() or ch in "._-" for ch in value)
    ):
        raise VpcError("InvalidName", 400, "The name is not valid")
    return value


def description(value: str | None) -> str | None:
    if value is None:
        return None
    if (
        not 2 <= len(value) <= 256
        or not value[0].isalpha()
        or value.lower().startswith(_URL_PREFIXES)
    ):
        raise VpcError("InvalidDescription", 400, "The description is not valid")
    return value


def asn(value: str | int | None) -> int | None:
    """`1..4294967295` or the two-segment `a.b` (= a*65536+b, each 0..65535); never 45104."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise invalid("Asn", "(expected a number)")
    if isinstance(value, int):
        number = value
    else:
        match = _ASN.fullmatch(value)
        if match is None:
            raise invalid("Asn", "(expected 1..4294967295 or the a.b form)")
        high, low = match.groups()
        if low is None:
            number = int(high)
        else:
            if int(high) > 65535 or int(low) > 65535:
                raise invalid("Asn", "(in the a.b form both parts are 0..65535)")
            number = int(high) * 65536 + int(low)
    if not 1 <= number <= MAX_ASN:
        raise invalid("Asn", f"(must be 1..{MAX_ASN})")
    if number == RESERVED_ASN:
        raise invalid("Asn", f"({RESERVED_ASN} is Alibaba Cloud's own ASN)")
    return number


def auth_key(value: str | None) -> str | None:
    """1-64 printable ASCII characters, no space and no '?'. Never echoed in messages."""
    if value is None:
        return None
    if not 1 <= len(value) <= 64 or not all("!" <= ch <= "~" and ch != "?" for ch in value):
        raise invalid("AuthKey", "(1-64 printable ASCII characters, no space or '?')")
    return value


def client_token(value: str | None) -> str | None:
    if value is None:
        return None
    if not 1 <= len(value) <= 64 or not value.isascii():
        raise invalid("ClientToken", "(1-64 ASCII characters)")
    return value


def resource_group_id(value: str | None) -> str | None:
    if value is None:
        return None
    if not _RESOURCE_GROUP.fullmatch(value):
        raise invalid("ResourceGroupId", "(expected rg- followed by lowercase letters and digits)")
    return value


def customer_gateway_id(value: str | None) -> str:
    if value is None or value == "":
        raise missing("CustomerGatewayId")
    return value


def tags(
    pairs: list[tuple[str, str]] | None, parameter: str = "Tags"
) -> tuple[tuple[str, str], ...]:
    """At most 20 (key, value) pairs; key 1-64, not starting with aliyun or acs:; value 0-128;
    keys unique."""
    if not pairs:
        return ()
    if len(pairs) > MAX_TAGS:
        raise _invalid_tags(parameter, f"at most {MAX_TAGS} tags")
    seen: set[str] = set()
    for key, value in pairs:
        if not 1 <= len(key) <= 64:
            raise _invalid_tags(parameter, "a tag key is 1-64 characters")
        if key.lower().startswith(("aliyun", "acs:")):
            raise _invalid_tags(parameter, "a tag key may not start with aliyun or acs:")
        if len(value) > 128:
            raise _invalid_tags(parameter, "a tag value is at most 128 characters")
        if key in seen:
            raise _invalid_tags(parameter, f"tag key {key[:64]!r} is given twice")
        seen.add(key)
    return tuple(pairs)


def tag_parameters(
    parameters: Mapping[str, str], prefix: str = "Tags", require_key: bool = True
) -> list[tuple[str, str]]:
    """`{prefix}.N.Key` / `{prefix}.N.Value` (N = 1..20) -> [(key, value)] in N order."""
    entries: dict[int, dict[str, str]] = {}
    for name_, value in parameters.items():
        if not name_.startswith(f"{prefix}."):
            continue
        match = _TAG_PARAMETER.fullmatch(name_[len(prefix) + 1 :])
        index = _small_int(match["n"], MAX_TAGS) if match else None
        if match is None or index is None or not 1 <= index <= MAX_TAGS:
            raise _invalid_tags(
                prefix, f"unexpected parameter {name_[:64]!r} ({prefix}.N.Key, N 1-20)"
            )
        entries.setdefault(index, {})[match["part"]] = value
    pairs = []
    for n in sorted(entries):
        entry = entries[n]
        if "Key" not in entry and require_key:
            raise _invalid_tags(prefix, f"{prefix}.{n}.Value is given without {prefix}.{n}.Key")
        pairs.append((entry.get("Key", ""), entry.get("Value", "")))
    return pairs


def page_number(value: str | None) -> int:
    return _positive_int("PageNumber", value, 1, 1_000_000)


def page_size(value: str | None) -> int:
    if value is None:
        return DEFAULT_PAGE_SIZE
    return _positive_int("PageSize", value, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)


def _positive_int(parameter: str, value: str | None, default: int, maximum: int) -> int:
    if value is None:
        return default
    number = _small_int(value, maximum)
    if number is None or not 1 <= number <= maximum:
        raise invalid(parameter, f"(an integer 1..{maximum})")
    return number


def _small_int(value: str, maximum: int) -> int | None:
    """The ASCII decimal `value` when it has no more digits than `maximum` (leading zeros
    aside), else None: int() itself refuses strings of more than 4300 digits."""
    digits = value.lstrip("0") or "0"
    if not (value.isascii() and value.isdigit()) or len(digits) > len(str(maximum)):
        return None
    return int(digits)


def _wrong_ip() -> VpcError:
    return VpcError("InvalidIpAddress.WrongFormat", 400, "Specified IpAddress is invalid.")


def _invalid_tags(parameter: str, detail: str) -> VpcError:
    return VpcError("InvalidTags", 400, f"Specified parameter {parameter} is not valid. ({detail})")
