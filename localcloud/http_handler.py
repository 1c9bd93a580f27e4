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
"""

from __future__ import annotations

import logging
from typing import Any

from werkzeug.serving import DechunkedInput, WSGIRequestHandler

log = logging.getLogger("localcloud")

DEFAULT_READ_TIMEOUT_S = 30.0


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
