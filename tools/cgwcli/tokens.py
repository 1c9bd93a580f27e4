"""ClientToken rules (pure).

- `line_token`: a request sent by `cgw.py send` without a ClientToken gets
  "cli-" + the first 40 hex characters of sha256("<position>|<canonical JSON>"), where position
  is the request's line number in its file (JSON lines, CSV) or its 1-based index (JSON array)
  and canonical JSON is the request with sorted keys, no spaces, non-ASCII kept as UTF-8.
  The same line of the same content always gets the same token; an edited line gets a new one.
- `delivery_token`: what the function derives for a queue message that brings no ClientToken
  ("cgw-" + 40 hex of sha256("mns-queue|<message id>|<sha256 hex of the body bytes>")). The
  function's rule lives in cgw_provisioner/events.py (Delivery.derived_client_token); this copy
  is pinned to it by tests/unit/test_cgw_tokens.py.
Both tokens are 44 printable ASCII characters, inside CreateCustomerGateway's 64.
"""

from __future__ import annotations

import binascii
import hashlib
import json
import re
from typing import Any

_STRICT_BASE64 = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")


def canonical_json(request: Any) -> str:
    return json.dumps(request, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def line_token(position: int, request: dict[str, Any]) -> str:
    seed = f"{position}|{canonical_json(request)}".encode("utf-8", "surrogatepass")
    return "cli-" + hashlib.sha256(seed).hexdigest()[:40]


def request_bytes(message_body: str) -> bytes:
    """The request bytes the function reads from a queue message body: the text as UTF-8, or
    what it decodes to when it is strict Base64 of a JSON object (events.py `_message_body`)."""
    raw = message_body.encode("utf-8", "surrogatepass")
    if raw and len(raw) % 4 == 0 and _STRICT_BASE64.fullmatch(message_body):
        try:
            decoded = binascii.a2b_base64(raw)
            if isinstance(json.loads(decoded.decode("utf-8")), dict):
                return decoded
        except (ValueError, RecursionError):
            pass
    return raw


def delivery_token(message_id: str, body: bytes) -> str:
    body_digest = hashlib.sha256(body).hexdigest()
    seed = f"mns-queue|{message_id}|{body_digest}".encode("utf-8", "surrogatepass")
    return "cgw-" + hashlib.sha256(seed).hexdigest()[:40]
