"""One FC instance as its own process: run the handler once on the event read from stdin.

`python -m tests.integration.instance_process` with the function's environment (endpoints,
destinations) set by the caller; prints the handler's answer as one JSON line, or
{"error": "<exception class>", "message": ...} if the invocation failed. Used to show that
two instances (two processes, two interpreters, different hash seeds) agree on every id.
"""

from __future__ import annotations

import json
import os
import sys

from cgw_provisioner import app
from tests.integration.conftest import FcContext


def main() -> int:
    event = sys.stdin.buffer.read()
    context = FcContext(os.environ["TEST_REGION"], os.environ["TEST_ACCOUNT_ID"])
    try:
        answer = app.handle(event, context)
    except Exception as exc:  # reported to the test, which decides
        answer = {"error": type(exc).__name__, "message": str(exc)}
    print(json.dumps({"pid": os.getpid(), "answer": answer}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
