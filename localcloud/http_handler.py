"""localcloud's HTTP connection handler: werkzeug's, made safe against hostile clients.

- A read timeout (`server.localcloud_read_timeout`, seconds) on every connection, so an idle
  or stalled client does not hold a thread forever.
- A malformed request line, an unknown HTTP version or a URL over 64 KiB gets http.server's
  own 400/505/414 answer, with a status line; logging it no longer fails on the missing path
  (which used to drop the connection with a traceback).
- Chunked bodies are left undecoded (`localcloud.chunked` in the environ) for
  localcloud.http_limits to decode with a size limit, instead of werkzeug's dechunker.
- Nothing here logs a request URI: the WSGI app logs one masked line per request
  (localcloud.log_masking).
- HTTP/1.1 keep-alive, as the real endpoints offer it (the SDKs pool their connections: the VPC
  SDK through its requests session, the MNS SDK one connection per client). werkzeug's own
  writer closes every connection, because after the response it drains whatever the client
  sent next, which on a kept connection would be the next request. Here every answer has a
  Content-Length, and the connection is kept only when the body was read to its end
  (`localcloud.http_limits.buffer_body` marks it) and the client did not ask to close (HTTP/1.0
  asks by default); anything else (a refused body, a dropped response) is answered and closed
  as werkzeug does, drain included. Answers go out with TCP_NODELAY.
"""

from __future__ import annotations

import contextlib
import logging
import selectors
import socket
import threading
from collections.abc import Iterable
from typing import Any

from werkzeug.serving import DechunkedInput, WSGIRequestHandler

from localcloud.http_limits import BODY_READ

log = logging.getLogger("localcloud")

DEFAULT_READ_TIMEOUT_S = 30.0
_NO_BODY = frozenset({204, 304})  # (and 1xx) carry no body and no Content-Length
_DRAIN_LIMIT = 1 << 30  # what a closing connection reads of an unread body, at most


class Connections:
    """The server's open connections, so that stopping the server also ends the kept ones (a
    stopped localcloud must not go on answering on a connection a client pooled)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self.closing = False
        self.accepted = 0  # connections accepted so far

    def add(self, sock: socket.socket) -> None:
        with self._lock:
            self._open.add(sock)
            self.accepted += 1

    def discard(self, sock: socket.socket) -> None:
        with self._lock:
            self._open.discard(sock)

    def close_all(self) -> None:
        with self._lock:
            self.closing = True
            socks, self._open = list(self._open), set()
        for sock in socks:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class RequestHandler(WSGIRequestHandler):
    # http.server answers a request line it cannot parse as if it were HTTP/0.9: a body without
    # a status line, which no client can read. Answer it with a status line.
    default_request_version = "HTTP/1.0"

    def setup(self) -> None:
        # socketserver reads `timeout` from the instance (a class attribute by default).
        self.timeout = getattr(  # type: ignore[misc]
            self.server, "localcloud_read_timeout", DEFAULT_READ_TIMEOUT_S
        )
        super().setup()
        # A kept connection's answer goes out in two writes (head, body): without NODELAY
        # the second waits for the client's delayed ACK of the first (40 ms on Linux).
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self._connections is not None:
            self._connections.add(self.connection)

    def finish(self) -> None:
        if self._connections is not None:
            self._connections.discard(self.connection)
        super().finish()

    @property
    def _connections(self) -> Connections | None:
        """The server's open connections (LocalCloud sets them; a bare werkzeug server not)."""
        return getattr(self.server, "localcloud_connections", None)

    def handle_one_request(self) -> None:
        # A kept connection's next request: log_request must not see the last one's environ.
        vars(self).pop("environ", None)
        super().handle_one_request()

    def run_wsgi(self) -> None:
        """One request: run the app, answer with a Content-Length, keep the connection when
        the next request can be read from it (see the module docstring)."""
        if self.headers.get("Expect", "").lower().strip(" \t") == "100-continue":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        self.environ = environ = self.make_environ()
        try:
            status, headers, body = _call(self.server.app, environ)
        except ConnectionError as exc:  # the app dropped the connection (a fault rule)
            self.close_connection = True
            self.connection_dropped(exc, environ)
            return
        except Exception:
            log.exception("localcloud failed to answer a request")
            status, headers = "500 INTERNAL SERVER ERROR", [("Content-Type", "text/plain")]
            body = b"localcloud failed to answer this request"
            environ.pop(BODY_READ, None)
        keep = (
            not self.close_connection
            and environ.get(BODY_READ) is True
            and not (self._connections is not None and self._connections.closing)
        )
        self._answer(status, headers, body, keep)
        if not keep:
            self.close_connection = True
            self._drain()

    def _answer(self, status: str, headers: list[tuple[str, str]], body: bytes, keep: bool) -> None:
        code_text, _, reason = status.partition(" ")
        code = int(code_text)
        self.send_response(code, reason)
        length = str(len(body))
        for key, value in headers:
            if key.lower() == "content-length" and self.command == "HEAD":
                length = value  # a HEAD answer states the length a GET's body would have
            elif key.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(key, value)
        has_body = not (100 <= code < 200 or code in _NO_BODY)
        if has_body:
            self.send_header("Content-Length", length)
        self.send_header("Connection", "keep-alive" if keep else "close")
        self.end_headers()
        if body and has_body and self.command != "HEAD":
            self.wfile.write(body)
        self.wfile.flush()

    def _drain(self) -> None:
        """Read what the client still sends of a body nobody read, so that it sees the answer
        rather than a reset (werkzeug's behaviour on the connections it closes)."""
        read = 0
        with selectors.DefaultSelector() as selector:
            selector.register(self.connection, selectors.EVENT_READ)
            try:
                while read < _DRAIN_LIMIT and selector.select(timeout=0.01):
                    data = self.rfile.read1(1 << 20)
                    if not data:
                        break
                    read += len(data)
            except OSError:
                pass

    def make_environ(self) -> dict[str, Any]:
        environ = super().make_environ()
        stream = environ["wsgi.input"]
        if isinstance(stream, DechunkedInput):
            environ["wsgi.input"] = self.rfile
            environ["localcloud.chunked"] = True
        return environ

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        if getattr(self, "environ", None) is None:  # refused by http.server before WSGI ran
            log.debug("unparsable request line -> %s", code)

    def log_error(self, format: str, *args: Any) -> None:
        # http.server's messages quote the raw request line, which may carry a signature:
        # log the status only.
        code = args[0] if format.startswith("code %d") and args else "-"
        log.debug("refused by the HTTP layer (status %s)", code)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _call(app: Any, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
    """Run a WSGI app to the end: (status, headers, the whole body). localcloud's answers are
    small and built in memory, so a length is always known."""
    started: list[Any] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        started[:] = [status, headers]
        return lambda data: None  # (the legacy write callable: unused by localcloud)

    chunks: Iterable[bytes] = app(environ, start_response)
    try:
        body = b"".join(chunks)
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
    status, headers = started
    return status, headers, body
