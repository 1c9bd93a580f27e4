"""Bounded request bodies: each service's size limit, enforced before anything else runs.

`buffer_body(environ, limit)` reads the whole body into memory, at most `limit` bytes, and
puts it back into the environ as a plain `wsgi.input` with a `CONTENT_LENGTH`, so that the
services' `request.get_data()` only ever sees a body that passed the limit. A declared
Content-Length over the limit is refused from the headers alone, before a byte is read.
Chunked bodies are decoded here, not by werkzeug's dev-server dechunker (which, given a
chunk size larger than what the client sends, keeps producing empty reads up to the declared
size after the connection ends): every chunk size is checked against what is left of the
limit before its data is read, and a cut-off or malformed chunking is refused.

Errors are `BodyRefused(status, code, message)`; `localcloud.refusals` renders them in the
service's own wire format.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, BinaryIO

KIB = 1024
MIB = 1024 * KIB

# FC 2.0: the payload of a synchronous invocation is at most 32 MB, of an asynchronous one
# 128 KB (https://www.alibabacloud.com/help/doc-detail/2527064.html).
FC_MAX_SYNC_PAYLOAD = 32 * MIB
FC_MAX_ASYNC_PAYLOAD = 128 * KIB
# MNS: a message is at most 64 KB, and so is a batch of up to 16 (as sent, i.e. after Base64;
# https://www.alibabacloud.com/help/en/mns/product-overview/limits and the BatchSendMessage
# page). The XML envelope comes on top. 128 KiB leaves room for it, so that a body just over
# 64 KiB still reaches the MNS backend and gets MNS's own message-size error.
MNS_MAX_BODY = 128 * KIB
# VPC RPC calls carry a few form parameters (20 tags of 64+128 characters at most): 1 MiB is
# localcloud's own bound, far above any valid request.
VPC_MAX_BODY = 1 * MIB
# The admin API: fault rules as JSON.
ADMIN_MAX_BODY = 1 * MIB

BODY_READ = "localcloud.body_read"  # environ key: the body was read to its end
_MAX_CHUNK_LINE = 1024  # chunk size plus extensions; real clients send a few bytes
_MAX_TRAILER_LINES = 64
_READ_BLOCK = 64 * KIB


@dataclass
class BodyRefused(Exception):
    """A body localcloud will not read: status, a code and a message naming the rule."""

    status: int
    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


def too_large(limit: int, what: str) -> BodyRefused:
    return BodyRefused(413, "EntityTooLarge", f"{what} exceeds the limit of {limit} bytes")


def bad_body(detail: str) -> BodyRefused:
    return BodyRefused(400, "InvalidRequestBody", detail)


def limit_for(service: str, headers: Mapping[str, str]) -> int:
    """The body limit of `service` for a request with these (lowercase-keyed) headers."""
    if service == "fc":
        mode = headers.get("x-fc-invocation-type", "").strip().lower()
        return FC_MAX_ASYNC_PAYLOAD if mode == "async" else FC_MAX_SYNC_PAYLOAD
    return {"mns": MNS_MAX_BODY, "vpc": VPC_MAX_BODY}.get(service, ADMIN_MAX_BODY)


def read_chunked(stream: BinaryIO, limit: int) -> bytes:
    """Decode a `Transfer-Encoding: chunked` body of at most `limit` bytes from `stream`."""
    body = bytearray()
    while True:
        size = _chunk_size(_line(stream, "chunk size line"))
        if size > limit - len(body):
            raise too_large(limit, "the chunked body")
        if size == 0:
            break
        data = _read_exactly(stream, size)
        if len(data) < size:
            raise bad_body(f"the body ended inside a chunk ({len(data)} of {size} bytes)")
        body += data
        if _line(stream, "chunk terminator") not in (b"\r\n", b"\n"):
            raise bad_body("a chunk's data is not followed by CRLF")
    for _ in range(_MAX_TRAILER_LINES):
        if _line(stream, "trailer line") in (b"\r\n", b"\n"):
            return bytes(body)
    raise bad_body(f"more than {_MAX_TRAILER_LINES} trailer lines")


def read_sized(stream: BinaryIO, length_header: str | None, limit: int) -> bytes:
    """Read a body of the declared Content-Length (refused from the header when over `limit`)."""
    if length_header is None or length_header.strip() == "":
        return b""
    text = length_header.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 19:
        raise bad_body(f"Content-Length {text[:32]!r} is not a non-negative integer")
    length = int(text)
    if length > limit:
        raise too_large(limit, f"Content-Length {length}")
    data = _read_exactly(stream, length)
    if len(data) < length:
        raise bad_body(f"the body ended after {len(data)} of {length} bytes (Content-Length)")
    return data


def buffer_body(environ: dict[str, Any], limit: int) -> bytes:
    """Read the request body with `limit` and make it the environ's `wsgi.input`."""
    stream = environ["wsgi.input"]
    try:
        if environ.get("localcloud.chunked"):
            body = read_chunked(stream, limit)
        else:
            body = read_sized(stream, environ.get("CONTENT_LENGTH"), limit)
    except TimeoutError:
        raise BodyRefused(408, "RequestTimeout", "the request body was not sent in time") from None
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    # The body is now a plain sized one: werkzeug must not treat it as chunked any more.
    environ.pop("wsgi.input_terminated", None)
    environ.pop("HTTP_TRANSFER_ENCODING", None)
    environ.pop("localcloud.chunked", None)
    environ[BODY_READ] = True  # the connection is at the next request (keep-alive is safe)
    return body


def _chunk_size(line: bytes) -> int:
    text = line.split(b";", 1)[0].strip(b" \t\r\n")
    if not text or len(text) > 16 or any(c not in b"0123456789abcdefABCDEF" for c in text):
        raise bad_body(f"chunk size {text[:32]!r} is not a hexadecimal number")
    return int(text, 16)


def _line(stream: BinaryIO, what: str) -> bytes:
    line = stream.readline(_MAX_CHUNK_LINE + 1)
    if not line.endswith(b"\n"):
        if len(line) > _MAX_CHUNK_LINE:
            raise bad_body(f"{what} longer than {_MAX_CHUNK_LINE} bytes")
        raise bad_body(f"the body ended before the {what} (broken chunked encoding)")
    return line


def _read_exactly(stream: BinaryIO, size: int) -> bytes:
    """Up to `size` bytes, fewer only at end of stream; reads in blocks (no big preallocation)."""
    parts = []
    left = size
    while left > 0:
        block = stream.read(min(left, _READ_BLOCK))
        if not block:
            break
        parts.append(block)
        left -= len(block)
    return b"".join(parts)
