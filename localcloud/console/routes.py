"""HTTP face of the console: the static page and GET .../api/snapshot.

The admin router hands every path under /_localcloud/console/ here. The page is served with a
Content-Security-Policy that allows only its own script and style files, so even a value that
slipped into the page as markup could not run.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request, Response

from localcloud.calls import CallLog
from localcloud.console.view import CHART_SECONDS, Inputs, snapshot
from localcloud.faults import FaultEngine

if TYPE_CHECKING:
    from localcloud.core import Backends

STATIC = Path(__file__).with_name("static")
_TYPES = {
    "index.html": "text/html; charset=utf-8",
    "console.js": "text/javascript; charset=utf-8",
    "console.css": "text/css; charset=utf-8",
}
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def handle(
    route: str,
    request: Request,
    *,
    backends: Backends,
    calls: CallLog,
    faults: FaultEngine,
    deployment: Callable[[], Mapping[str, Any] | None],
    clock: Callable[[], float] = time.time,
) -> Response:
    """`route` is the path below /_localcloud/console/ ('' for the page itself)."""
    if request.method != "GET":
        return _json(
            {"error": "the console is read-only: change fault rules with PUT /_localcloud/faults"},
            405,
        )
    if route == "api/snapshot":
        now = clock()
        inputs = Inputs(
            now=now,
            deployment=deployment(),
            fc_state=backends.fc.state(),
            fc_activity=backends.fc.activity(),
            mns=backends.mns.overview(),
            vpc_state=backends.vpc.state(),
            calls=calls.since(now - CHART_SECONDS),
            faults=faults.rules(),
        )
        return _json(snapshot(inputs))
    name = route or "index.html"
    if name not in _TYPES:
        return _json({"error": f"no console file {name!r}"}, 404)
    body = (STATIC / name).read_bytes()
    return Response(body, 200, headers={"Content-Type": _TYPES[name], **SECURITY_HEADERS})


def _json(data: Any, status: int = 200) -> Response:
    return Response(
        json.dumps(data, ensure_ascii=False),
        status,
        headers={"Content-Type": "application/json", **SECURITY_HEADERS},
    )
