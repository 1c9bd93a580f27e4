"""Who may use the admin API (and the console) under /_localcloud/.

The admin API has no authentication: it trusts whoever can reach the port. A web page the user
opens can reach loopback too, so this guard refuses what a browser sends on a page's behalf:
- `Host` must name the address localcloud serves on (a DNS-rebound name such as
  `attacker.example` resolving to 127.0.0.1 is refused);
- `Origin`, when present, must be localcloud's own (a cross-site fetch or form carries the
  page's origin);
- a state-changing call (anything but GET/HEAD) must declare `Content-Type: application/json`,
  which a cross-site form cannot send and a cross-site fetch can only send after a CORS
  preflight that localcloud never grants.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
WILDCARD_HOSTS = frozenset({"0.0.0.0", "::", ""})
_SAFE_METHODS = frozenset({"GET", "HEAD"})


@dataclass(frozen=True)
class AdminRefusal:
    status: int
    code: str
    message: str


def allowed_hosts(bound_host: str, port: int, extra: Iterable[str] = ()) -> frozenset[str]:
    """The `Host` values (host:port, lowercase) that name this server.

    A loopback or wildcard bind also answers to the loopback names; `extra` adds names under
    which a non-loopback bind is reached (e.g. the machine's hostname)."""
    names = {bound_host.lower(), *(name.lower() for name in extra)}
    if bound_host in LOOPBACK_HOSTS or bound_host in WILDCARD_HOSTS:
        names |= {"127.0.0.1", "localhost", "[::1]"}
    names -= WILDCARD_HOSTS
    hosts = {_host_port(name, port) for name in names}
    if port == 80:  # clients leave out the default port
        hosts |= {_host_port(name, port).rsplit(":", 1)[0] for name in names}
    return frozenset(hosts)


def check(method: str, headers: Mapping[str, str], hosts: frozenset[str]) -> AdminRefusal | None:
    """None when the request may proceed, else why not (`headers` keys lowercase)."""
    host = headers.get("host", "").strip().lower()
    if host not in hosts:
        return AdminRefusal(
            403,
            "ForeignHost",
            f"the admin API answers only requests whose Host is one of {sorted(hosts)}; got "
            f"{host[:100]!r}",
        )
    origin = headers.get("origin")
    if origin is not None:
        own = {f"http://{h}" for h in hosts}
        if origin.strip().lower().rstrip("/") not in own:
            return AdminRefusal(
                403,
                "ForeignOrigin",
                f"the admin API refuses cross-origin requests (Origin {origin[:100]!r})",
            )
    if method.upper() not in _SAFE_METHODS:
        mimetype = headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if mimetype != "application/json":
            return AdminRefusal(
                415,
                "UnsupportedMediaType",
                f"{method.upper()} on the admin API needs Content-Type: application/json "
                f"(got {mimetype[:100]!r})",
            )
    return None


def is_loopback(host: str) -> bool:
    return host in LOOPBACK_HOSTS or host.startswith("127.")


def _host_port(name: str, port: int) -> str:
    if ":" in name and not name.startswith("["):
        name = f"[{name}]"  # an IPv6 literal in a Host header
    return f"{name}:{port}"
