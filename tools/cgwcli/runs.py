"""Names of the per-run outcome queues, and which ones a killed run left behind (pure).

`send` follows outcomes through a queue of its own, subscribed to the result topic under the
same name: cgw-cli-<host>-<pid>-<start>, where host is 8 hex characters of sha256(hostname),
pid the process id and start the Unix time in seconds. A queue of that shape is a leftover when
it was made on this host by a process that is no longer running, or when it is older than
STALE_AFTER_S (a run on another host that has been killed).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable

PREFIX = "cgw-cli-"
STALE_AFTER_S = 24 * 3600
_NAME = re.compile(r"cgw-cli-(?P<host>[0-9a-f]{8})-(?P<pid>[0-9]{1,10})-(?P<start>[0-9]{1,12})")


def host_tag(hostname: str) -> str:
    return hashlib.sha256(hostname.encode("utf-8")).hexdigest()[:8]


def inbox_name(hostname: str, pid: int, started: float) -> str:
    return f"{PREFIX}{host_tag(hostname)}-{pid}-{int(started)}"


def is_leftover(
    name: str, hostname: str, now: float, running: Callable[[int], bool], own: str = ""
) -> bool:
    match = _NAME.fullmatch(name)
    if match is None or name == own:
        return False
    if now - int(match["start"]) > STALE_AFTER_S:
        return True
    return match["host"] == host_tag(hostname) and not running(int(match["pid"]))
