"""The HTTP front of localcloud: one threaded werkzeug server, a router, and the admin API.

One port serves every service. The router picks the service from the request:
- `/_localcloud/...` is the admin API (state, calls, faults, reset);
- `/2016-08-15/...` is the FC API (fc2 signs `Authorization: FC id:sig`);
- `Authorization: MNS ...`, or a path under `/queues` or `/topics`, is MNS;
- everything else is the VPC OpenAPI (RPC style: `?Action=...`, V1 or ACS3 signatures).
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from localcloud.calls import CallLog
from localcloud.credentials import (
    DEFAULT_ACCESS_KEY_ID,
    DEFAULT_ACCESS_KEY_SECRET,
    Credential,
    CredentialStore,
)
from localcloud.epoch import Epoch
from localcloud.faults import FaultEngine, FaultRuleError

log = logging.getLogger("localcloud")

DEFAULT_REGION = "cn-shanghai"
DEFAULT_ACCOUNT_ID = "1234567890123456"


class DropConnection(Exception):
    """Raised by a service after committing a change: close the socket without any response."""


class Backend(Protocol):
    def reset(self) -> None: ...
    def state(self) -> Any: ...


class Service(Protocol):
    def dispatch(self, request: Request) -> Response: ...


@dataclass
class Cloud:
    """What every service shares: identity, credentials, faults, the call log and the backends."""

    region: str = DEFAULT_REGION
    account_id: str = DEFAULT_ACCOUNT_ID
    quota: int = 100
    credentials: CredentialStore = field(default_factory=CredentialStore)
    faults: FaultEngine = field(default_factory=FaultEngine)
    calls: CallLog = field(default_factory=CallLog)
    backends: dict[str, Backend] = field(default_factory=dict)
    base_url: str = ""  # set once the server is bound, e.g. http://127.0.0.1:PORT
    # Run after every reset, e.g. to deploy the --template again onto the emptied backends.
    reset_hooks: list[Callable[[], None]] = field(default_factory=list)
    # Every request commits in the epoch it began in: nothing in flight lands after a reset.
    epoch: Epoch = field(default_factory=Epoch)

    def reset(self) -> None:
        with self.epoch.advance(interrupt=self._interrupt_waits):
            for backend in self.backends.values():
                backend.reset()
            self.calls.clear()
            self.faults.set_rules([])
            for hook in self.reset_hooks:
                hook()

    def _interrupt_waits(self) -> None:
        """End the waits of requests from the old epoch (an MNS long poll) so they finish."""
        for backend in self.backends.values():
            interrupt = getattr(backend, "interrupt", None)
            if interrupt is not None:
                interrupt()


def _json(data: Any, status: int = 200) -> Response:
    return Response(json.dumps(data, indent=2, default=str), status, mimetype="application/json")


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        log.debug("%s %s -> %s", self.command, self.path, code)


class LocalCloud:
    """localcloud, in-process or from the CLI.

    >>> with LocalCloud(port=0) as cloud:   # doctest: +SKIP
    ...     cloud.urls["vpc"]
    'http://127.0.0.1:53117'
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        region: str = DEFAULT_REGION,
        account_id: str = DEFAULT_ACCOUNT_ID,
        credentials: Iterable[Credential] = (),
        quota: int = 100,
        fault_seed: int | None = None,
        template: str | Path | None = None,
        template_parameters: Mapping[str, Any] | None = None,
        code_uri: str | Path | Mapping[str, str | Path] | None = None,
        fc_max_instances: int = 3,
        trigger_time_scale: float = 1.0,
    ) -> None:
        """`template`: a ROS template (template.yml) to deploy at start and after each reset
        (localcloud/template.py); `code_uri` overrides where its functions' code is.
        `fc_max_instances`: instances per function; `trigger_time_scale` multiplies trigger
        retry intervals and FC async retry delays (e.g. 0.01 locally)."""
        self.cloud = Cloud(region=region, account_id=account_id, quota=quota)
        self._template = template
        self._template_parameters = dict(template_parameters or {})
        self._code_uri = code_uri
        self._fc_options = {"max_instances": fc_max_instances, "time_scale": trigger_time_scale}
        self.deployment: Any = None  # localcloud.template.Deployment once deployed
        self.cloud.faults = FaultEngine(seed=fault_seed)
        credentials = list(credentials) or [
            Credential(DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET)
        ]
        for credential in credentials:
            self.cloud.credentials.add(credential)
        self._host, self._port = host, port
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self.services: dict[str, Service] = {}
        self._load_services()

    def _load_services(self) -> None:
        # Imported here so that each service package stays independent of the server module.
        from localcloud.fc.responses import FcResponses
        from localcloud.mns.responses import MnsResponses
        from localcloud.vpc.responses import VpcResponses

        self.services = {
            "vpc": VpcResponses(self.cloud),
            "mns": MnsResponses(self.cloud),
            "fc": FcResponses(self.cloud, **self._fc_options),
        }

    # --- life cycle -------------------------------------------------------------------------
    def start(self) -> LocalCloud:
        self._server = make_server(
            self._host, self._port, self.wsgi_app, threaded=True, request_handler=_QuietHandler
        )
        self._server.daemon_threads = True
        host, port = self._server.server_address[:2]
        self.cloud.base_url = f"http://{host}:{port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="localcloud", daemon=True
        )
        self._thread.start()
        log.info("localcloud listening on %s", self.cloud.base_url)
        if self._template is not None:
            try:
                self.deploy_template()
            except Exception:
                self.stop()
                raise
            self.cloud.reset_hooks.append(self.deploy_template)
        return self

    def deploy_template(self) -> None:
        """Deploy the template given at construction onto the (running) backends."""
        from localcloud.template import deploy

        self.deployment = deploy(
            self.cloud,
            self._template,
            parameters=self._template_parameters,
            code_uri=self._code_uri,
        )
        log.info("deployed %s: %s", self._template, self.deployment.outputs)

    def stop(self) -> None:
        for service in self.services.values():
            close = getattr(service, "close", None)
            if close is not None:
                close()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> LocalCloud:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def urls(self) -> dict[str, str]:
        base = self.cloud.base_url
        return {"vpc": base, "mns": base, "fc": base, "admin": f"{base}/_localcloud"}

    def ready_info(self) -> dict[str, Any]:
        default = self.cloud.credentials.all()[0]
        info = {
            **self.urls,
            "region": self.cloud.region,
            "account_id": self.cloud.account_id,
            "access_key_id": default.access_key_id,
        }
        if self.deployment is not None:
            info["deployment"] = self.deployment.to_json()
        return info

    # --- WSGI ---------------------------------------------------------------------------------
    def wsgi_app(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        try:
            response = self._route(request)
        except DropConnection:
            _drop(environ)
            # werkzeug treats a ConnectionError from the app as a dropped client: no traceback.
            raise ConnectionAbortedError("response dropped after commit (fault rule)") from None
        return response(environ, start_response)

    def _route(self, request: Request) -> Response:
        path = request.path
        if path.startswith("/_localcloud"):
            return self._admin(request)
        if path.startswith("/2016-08-15/"):
            return self.services["fc"].dispatch(request)
        auth = request.headers.get("Authorization", "")
        if auth.startswith("MNS ") or path.startswith(("/queues", "/topics")):
            return self.services["mns"].dispatch(request)
        return self.services["vpc"].dispatch(request)

    def _admin(self, request: Request) -> Response:
        route = request.path.removeprefix("/_localcloud").strip("/")
        if route in ("", "health") and request.method == "GET":
            return _json({"ok": True, **self.ready_info()})
        if route == "state" and request.method == "GET":
            return _json({name: b.state() for name, b in self.cloud.backends.items()})
        if route == "calls" and request.method == "GET":
            calls = self.cloud.calls.snapshot()
            for key in ("service", "action"):
                if key in request.args:
                    calls = [c for c in calls if c[key] == request.args[key]]
            return _json(calls)
        if route == "faults" and request.method == "GET":
            return _json(self.cloud.faults.rules())
        if route == "faults" and request.method == "PUT":
            try:
                self.cloud.faults.set_rules(json.loads(request.get_data() or b"[]"))
            except (ValueError, FaultRuleError) as exc:
                return _json({"error": str(exc)}, 400)
            return _json(self.cloud.faults.rules())
        if route == "reset" and request.method == "POST":
            self.cloud.reset()
            return _json({"ok": True})
        return _json({"error": f"no admin route {request.method} /_localcloud/{route}"}, 404)


def _drop(environ: dict[str, Any]) -> None:
    """Close the client connection without a response (a lost response after commit)."""
    sock = environ.get("werkzeug.socket")
    if sock is None:
        return
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
