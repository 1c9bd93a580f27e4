"""The one line `--verbose` logs per request: method, path, action, status; secrets masked.

The SDKs put secrets in the query (`Signature`, `SecurityToken`, a gateway's `AuthKey`), so the
query is logged with the value of every parameter the call log scrubs
(`localcloud.calls.SECRET_PARAMETERS`) replaced by `***`. Headers are never logged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, quote

from localcloud.calls import SECRET_PARAMETERS

MASK = "***"
_SECRET_NAMES = frozenset(name.lower() for name in SECRET_PARAMETERS)
_MAX_LOGGED = 512  # characters of path and of query: a hostile URL does not flood the log


def masked_query(query_string: str) -> str:
    """The query with every secret-bearing value replaced by `***` (names kept, order kept)."""
    pairs = parse_qsl(query_string, keep_blank_values=True, errors="replace")
    return "&".join(
        f"{quote(name, safe='')}={MASK if name.lower() in _SECRET_NAMES else quote(value, safe='')}"
        for name, value in pairs
    )


def request_line(environ: Mapping[str, Any], status: int | str) -> str:
    """`METHOD /path?masked-query action=X -> status` for one WSGI request."""
    path = environ.get("PATH_INFO", "")[:_MAX_LOGGED]
    query = masked_query(environ.get("QUERY_STRING", ""))[:_MAX_LOGGED]
    pairs = dict(parse_qsl(environ.get("QUERY_STRING", ""), errors="replace"))
    action = pairs.get("Action") or environ.get("HTTP_X_ACS_ACTION") or "-"
    target = f"{path}?{query}" if query else path
    return f"{environ.get('REQUEST_METHOD', '-')} {target} action={action[:64]} -> {status}"
