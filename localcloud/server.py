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
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request, Response

from localcloud import admin_guard, http_limits, log_masking, pipeline, refusals
from localcloud.console import routes as console
from localcloud.core import DEFAULT_ACCOUNT_ID, DEFAULT_REGION, Cloud, DropConnection
from localcloud.credentials import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET, Credential
from localcloud.faults import FaultEngine, FaultRuleError
from localcloud.fc.models import FcBackend
from localcloud.fc.responses import FcResponses
from localcloud.http_handler import DEFAULT_READ_TIMEOUT_S, Connections, RequestHandler
from localcloud.mns.models import MnsBackend
from localcloud.mns.responses import MnsResponses
from localcloud.template import Deployment, deploy
from localcloud.vpc.models import VpcBackend
from localcloud.vpc.responses import VpcResponses

log = logging.getLogger("localcloud")


def _json(data: Any, status: int = 200) -> Response:
    return Response(json.dumps(data, indent=2, default=str), status, mimetype="application/json")


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
        read_timeout: float = DEFAULT_READ_TIMEOUT_S,
    ) -> None:
        """`template`: a ROS template (template.yml) to deploy at start and after each reset
        (localcloud/template.py); `code_uri` overrides where its functions' code is.
        `fc_max_instances`: instances per function; `trigger_time_scale` multiplies trigger
        retry intervals and FC async retry delays (e.g. 0.01 locally). `read_timeout`: seconds
        a connection may stay silent while localcloud waits for its request."""
        self.cloud = Cloud(region=region, account_id=account_id, quota=quota)
        self._template = template
        self._template_parameters = dict(template_parameters or {})
        self._code_uri = code_uri
        self.deployment: Deployment | None = None
        self.cloud.faults = FaultEngine(seed=fault_seed)
        credentials = list(credentials) or [
            Credential(DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET)
        ]
        for credential in credentials:
            self.cloud.credentials.add(credential)
        self._host, self._port = host, port
        self._read_timeout = read_timeout
        self._admin_hosts: frozenset[str] = frozenset()
        self._server: BaseWSGIServer | None = None
        self._connections = Connections()
        self._thread: threading.Thread | None = None
        backends = self.cloud.backends
        backends.install(
            VpcBackend(self.cloud.account_id, quota=lambda: self.cloud.quota),
            MnsBackend(self.cloud.region, self.cloud.account_id),
            FcBackend(self.cloud, max_instances=fc_max_instances, time_scale=trigger_time_scale),
        )
        # The router's table: each service's wire format (localcloud.pipeline runs the calls).
        self.services: dict[str, pipeline.WireFormat[Any]] = {
            "vpc": VpcResponses(self.cloud, backends.vpc),
            "mns": MnsResponses(self.cloud, backends.mns),
            "fc": FcResponses(self.cloud, backends.fc),
        }

    # --- life cycle -------------------------------------------------------------------------
    def start(self) -> LocalCloud:
        self._server = make_server(
            self._host, self._port, self.wsgi_app, threaded=True, request_handler=RequestHandler
        )
        self._server.daemon_threads = True  # type: ignore[attr-defined]
        self._server.localcloud_read_timeout = self._read_timeout  # type: ignore[attr-defined]
        self._connections = Connections()
        self._server.localcloud_connections = self._connections  # type: ignore[attr-defined]
        host, port = self._server.server_address[:2]
        self.cloud.base_url = f"http://{host!s}:{port}"
        loopback = admin_guard.is_loopback(self._host)
        names = [] if loopback else [socket.gethostname()]
        self._admin_hosts = admin_guard.allowed_hosts(self._host, port, names)
        if not loopback:
            log.warning(
                "localcloud is bound to %s, not loopback: anyone who can reach this port can "
                "use the admin API (%s/_localcloud), which has no authentication",
                self._host,
                self.cloud.base_url,
            )
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
        assert self._template is not None
        self.deployment = deploy(
            self.cloud,
            self._template,
            parameters=self._template_parameters,
            code_uri=self._code_uri,
        )
        log.info("deployed %s: %s", self._template, self.deployment.outputs)

    def stop(self) -> None:
        for _, backend in self.cloud.backends.items():
            backend.close()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._connections.close_all()  # kept-alive connections end with the server
            self._server = None

    def __enter__(self) -> LocalCloud:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def urls(self) -> dict[str, str]:
        base = self.cloud.base_url
        return {"vpc": base, "mns": base, "fc": base, "admin": f"{base}/_localcloud"}

    @property
    def connections_accepted(self) -> int:
        """Connections accepted since start (kept-alive ones count once)."""
        return self._connections.accepted

    def ready_info(self) -> dict[str, Any]:
        default = self.cloud.credentials.all()[0]
        info: dict[str, Any] = {
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
        service = service_for(environ.get("PATH_INFO", ""), environ.get("HTTP_AUTHORIZATION", ""))
        response = self._screen(service, environ)
        if response is None:
            request = Request(environ)
            try:
                response = (
                    self._admin(request) if service == "admin" else self._dispatch(service, request)
                )
            except DropConnection:
                log.debug("%s", log_masking.request_line(environ, "dropped"))
                _drop(environ)
                # werkzeug treats a ConnectionError from the app as a dropped client.
                raise ConnectionAbortedError("response dropped after commit (fault rule)") from None
        log.debug("%s", log_masking.request_line(environ, response.status_code))
        return response(environ, start_response)

    def _screen(self, service: str, environ: dict[str, Any]) -> Response | None:
        """Refuse what no service should see: a foreign admin caller, a body over the limit."""
        headers = {
            key[5:].replace("_", "-").lower(): value
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        if "CONTENT_TYPE" in environ:
            headers["content-type"] = environ["CONTENT_TYPE"]
        if service == "admin":
            refusal = admin_guard.check(environ["REQUEST_METHOD"], headers, self._admin_hosts)
            if refusal is not None:
                return refusals.render(
                    service, refusal.status, refusal.code, refusal.message, environ
                )
        try:
            http_limits.buffer_body(environ, http_limits.limit_for(service, headers))
        except http_limits.BodyRefused as exc:
            return refusals.render(service, exc.status, exc.code, exc.message, environ)
        return None

    def _dispatch(self, service: str, request: Request) -> Response:
        return pipeline.run(self.cloud, self.services[service], request)

    def _admin(self, request: Request) -> Response:
        route = request.path.removeprefix("/_localcloud").strip("/")
        if route == "console" or route.startswith("console/"):
            return self._console(request)
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
            except RecursionError:
                return _json({"error": "fault rules: JSON nested too deeply"}, 400)
            return _json(self.cloud.faults.rules())
        if route == "reset" and request.method == "POST":
            self.cloud.reset()
            return _json({"ok": True})
        return _json({"error": f"no admin route {request.method} /_localcloud/{route}"}, 404)

    def _console(self, request: Request) -> Response:
        if request.path.rstrip("/") == "/_localcloud/console" and not request.path.endswith("/"):
            return Response("", 308, headers={"Location": "/_localcloud/console/"})
        return console.handle(
            request.path.removeprefix("/_localcloud/console").strip("/"),
            request,
            backends=self.cloud.backends,
            calls=self.cloud.calls,
            faults=self.cloud.faults,
            deployment=lambda: self.deployment.to_json() if self.deployment else None,
        )


def service_for(path: str, authorization: str) -> str:
    """Which service a request is for: admin, fc, mns or vpc (see the module docstring)."""
    if path.startswith("/_localcloud"):
        return "admin"
    if path.startswith("/2016-08-15/"):
        return "fc"
    if authorization.startswith("MNS ") or path.startswith(("/queues", "/topics")):
        return "mns"
    return "vpc"


def _drop(environ: dict[str, Any]) -> None:
    """Close the client connection without a response (a lost response after commit)."""
    sock = environ.get("werkzeug.socket")
    if sock is None:
        return
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
