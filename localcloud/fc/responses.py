"""The FC API (2016-08-15) wire format: what fc2.Client sends and expects.

Routes (enough for invoke and deploying a trigger):
- POST   /2016-08-15/services/{s}[.{q}]/functions/{f}/invocations   InvokeFunction
- GET    /2016-08-15/services/{s}                                     GetService
- GET    /2016-08-15/services/{s}[.{q}]/functions/{f}                 GetFunction
- POST   /2016-08-15/services/{s}/functions/{f}/triggers              CreateTrigger
- GET    /2016-08-15/services/{s}/functions/{f}/triggers/{t}          GetTrigger
- PUT    /2016-08-15/services/{s}/functions/{f}/triggers/{t}          UpdateTrigger
- DELETE /2016-08-15/services/{s}/functions/{f}/triggers/{t}          DeleteTrigger

Answers as FC gives them (docs/platform.md, "The Python runtime", "Asynchronous invocation",
"FC API signature and errors"):
- API errors: HTTP 4xx/5xx, JSON {"ErrorCode", "ErrorMessage"}, header X-Fc-Request-Id (fc2
  calls r.json() on every error response, so error bodies are always JSON);
- sync invoke: 200, the function's bytes; a function error is still 200, with
  X-Fc-Error-Type: UnhandledInvocationError and the JSON {errorMessage, errorType, stackTrace};
- async invoke (X-Fc-Invocation-Type: Async): 202, empty body, run in the background;
- X-Fc-Log-Type: Tail adds X-Fc-Log-Result: base64 of the last 4 KB of the invocation's log.
The shared path (localcloud.pipeline) runs each call; fault rules apply per action, and a
rate-limit rule answers as FC's concurrency limit: 429 ResourceExhausted.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from werkzeug.wrappers import Request, Response

from localcloud.auth.fc import SignedRequest, verify
from localcloud.calls import Call
from localcloud.core import Cloud, ServiceError
from localcloud.credentials import Credential
from localcloud.faults import THROTTLING_USER, FaultError
from localcloud.fc.errors import FcError
from localcloud.fc.models import FcBackend, Function, Trigger, new_request_id
from localcloud.pipeline import Exchange, Handler

API_PREFIX = "/2016-08-15"
LOG_TAIL_BYTES = 4096
MAX_SYNC_PAYLOAD = 32 * 1024 * 1024
MAX_ASYNC_PAYLOAD = 128 * 1024

_NAME = r"[A-Za-z_][A-Za-z0-9_-]*"
_ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    (
        "POST",
        re.compile(
            rf"/services/(?P<s>{_NAME})(?:\.(?P<q>[A-Za-z0-9_-]+))?/functions/(?P<f>{_NAME})/invocations"
        ),
        "InvokeFunction",
    ),
    ("GET", re.compile(rf"/services/(?P<s>{_NAME})(?:\.(?P<q>[A-Za-z0-9_-]+))?"), "GetService"),
    (
        "GET",
        re.compile(
            rf"/services/(?P<s>{_NAME})(?:\.(?P<q>[A-Za-z0-9_-]+))?/functions/(?P<f>{_NAME})"
        ),
        "GetFunction",
    ),
    (
        "POST",
        re.compile(rf"/services/(?P<s>{_NAME})/functions/(?P<f>{_NAME})/triggers"),
        "CreateTrigger",
    ),
    (
        "GET",
        re.compile(rf"/services/(?P<s>{_NAME})/functions/(?P<f>{_NAME})/triggers/(?P<t>{_NAME})"),
        "GetTrigger",
    ),
    (
        "PUT",
        re.compile(rf"/services/(?P<s>{_NAME})/functions/(?P<f>{_NAME})/triggers/(?P<t>{_NAME})"),
        "UpdateTrigger",
    ),
    (
        "DELETE",
        re.compile(rf"/services/(?P<s>{_NAME})/functions/(?P<f>{_NAME})/triggers/(?P<t>{_NAME})"),
        "DeleteTrigger",
    ),
]


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class FcExchange(Exchange):
    params: dict[str, str] = field(default_factory=dict)  # the route's names: s, q, f, t


class FcResponses:
    """The FC wire format (a localcloud.pipeline.WireFormat) and its actions."""

    service = "fc"
    long_running: frozenset[str] = frozenset({"InvokeFunction"})

    def __init__(self, cloud: Cloud, backend: FcBackend) -> None:
        self.cloud = cloud
        self.backend = backend

    # -- the wire format -------------------------------------------------------------------
    def read(self, request: Request) -> FcExchange:
        rest = request.path.removeprefix(API_PREFIX)
        action, params = self._route(request.method, rest)
        return FcExchange(
            request=request,
            request_id=new_request_id(),
            action=action,
            call=Call("fc", action or "Unknown", {"path": request.path, **params}),
            params=params,
        )

    def authenticate(self, exchange: FcExchange) -> Credential:
        request = exchange.request
        if exchange.action is None:  # FC refuses an unknown path before it checks the signature
            raise FcError(
                "PathNotSupported",
                400,
                f"'{request.method}' against '{request.path}' is not supported",
            )
        return verify(
            self.cloud.credentials,
            SignedRequest(
                request.method,
                request.path,
                dict(request.headers),
                request.args.to_dict(flat=False),
                request.get_data(),
            ),
        )

    def resolve(self, exchange: FcExchange, credential: Credential) -> Handler:
        action = exchange.action or ""  # (None was refused by authenticate)
        if not credential.allows(action):
            raise FcError(
                "AccessDenied",
                403,
                f"the caller is not authorized to perform 'fc:{action}' on the resource",
            )
        handler = getattr(self, f"_{action}")

        def run() -> Response:
            try:
                response: Response = handler(
                    exchange.request, exchange.request_id, **exchange.params
                )
            except (json.JSONDecodeError, RecursionError) as exc:  # RecursionError: too deep
                raise FcError("InvalidArgument", 400, f"request body is not JSON: {exc}") from None
            if response.headers.get("X-Fc-Error-Type"):
                exchange.call.code = response.headers["X-Fc-Error-Type"]
            return response

        return run

    def fault_error(self, exchange: FcExchange, fault: FaultError) -> ServiceError:
        if (fault.code, fault.status) == THROTTLING_USER[:2]:
            # A rate-limit rule answers as FC's concurrency limit does.
            return FcError(
                "ResourceExhausted",
                429,
                "Your request concurrency exceeds the limit (localcloud rate limit rule)",
            )
        return FcError(fault.code, fault.status, fault.message)

    def internal_error(self, exchange: FcExchange, exc: Exception) -> ServiceError:
        # A bug of ours: still a JSON answer fc2 can read.
        return FcError("InternalServerError", 500, f"localcloud FC {exchange.action}: {exc!r}")

    def render_error(self, exchange: FcExchange, error: ServiceError) -> Response:
        return _error(error.status, error.code, error.message, exchange.request_id)

    def finish(self, exchange: FcExchange, response: Response) -> None:
        response.headers["X-Fc-Request-Id"] = exchange.request_id

    @staticmethod
    def _route(method: str, rest: str) -> tuple[str | None, dict[str, str]]:
        for verb, pattern, action in _ROUTES:
            match = pattern.fullmatch(rest)
            if match and verb == method:
                return action, {k: v for k, v in match.groupdict().items() if v is not None}
        return None, {}

    # -- actions ---------------------------------------------------------------------------
    def _InvokeFunction(
        self, request: Request, request_id: str, s: str, f: str, q: str = ""
    ) -> Response:
        payload = request.get_data()
        mode = request.headers.get("X-Fc-Invocation-Type", "Sync")
        if mode not in ("Sync", "Async"):
            raise FcError(
                "InvalidArgument", 400, f"X-Fc-Invocation-Type must be Sync or Async, got {mode!r}"
            )
        limit = MAX_ASYNC_PAYLOAD if mode == "Async" else MAX_SYNC_PAYLOAD
        if len(payload) > limit:
            raise FcError(
                "EntityTooLarge", 400, f"payload size exceeds maximum allowed size ({limit} bytes)"
            )
        if mode == "Async":
            self.backend.invoke_async(s, f, payload, qualifier=q or None, request_id=request_id)
            return Response(b"", 202)
        result = self.backend.invoke(s, f, payload, qualifier=q or None, request_id=request_id)
        response = Response(result.body, 200, content_type="application/octet-stream")
        if result.error_type:
            response.headers["X-Fc-Error-Type"] = result.error_type
        if request.headers.get("X-Fc-Log-Type") == "Tail":
            tail = "\n".join(result.log_lines).encode("utf-8")[-LOG_TAIL_BYTES:]
            response.headers["X-Fc-Log-Result"] = base64.b64encode(tail).decode("ascii")
        return response

    def _GetService(self, request: Request, request_id: str, s: str, q: str = "") -> Response:
        service = self.backend.get_service(s)
        self.backend.check_qualifier(s, q)
        return _json(
            {
                "serviceName": service.name,
                "serviceId": f"local-{service.name}",
                "description": service.description,
                "role": service.role,
                "logConfig": {"project": service.log_project, "logstore": service.log_store},
                "internetAccess": True,
                "createdTime": _iso(service.created),
                "lastModifiedTime": _iso(service.created),
            }
        )

    def _GetFunction(
        self, request: Request, request_id: str, s: str, f: str, q: str = ""
    ) -> Response:
        function = self.backend.get_function(s, f)
        self.backend.check_qualifier(s, q)
        return _json(_function_json(function))

    def _CreateTrigger(self, request: Request, request_id: str, s: str, f: str) -> Response:
        body = _object(request)
        config = body.get("triggerConfig") or {}
        if isinstance(config, str):
            config = json.loads(config)
        if not isinstance(config, dict):
            raise FcError("InvalidArgument", 400, "triggerConfig must be a JSON object")
        for key in ("triggerName", "triggerType"):
            if not body.get(key):
                raise FcError("InvalidArgument", 400, f"{key} is required")
        trigger = self.backend.create_trigger(
            s,
            f,
            body["triggerName"],
            body["triggerType"],
            config,
            source_arn=body.get("sourceArn") or "",
            invocation_role=body.get("invocationRole") or "",
            qualifier=body.get("qualifier") or "",
            description=body.get("description") or "",
        )
        return _json(_trigger_json(trigger))

    def _GetTrigger(self, request: Request, request_id: str, s: str, f: str, t: str) -> Response:
        return _json(_trigger_json(self.backend.get_trigger(s, f, t)))

    def _UpdateTrigger(self, request: Request, request_id: str, s: str, f: str, t: str) -> Response:
        body = _object(request)
        if "triggerConfig" in body and not isinstance(body["triggerConfig"], dict):
            raise FcError("InvalidArgument", 400, "triggerConfig must be a JSON object")
        trigger = self.backend.update_trigger(
            s,
            f,
            t,
            config=body.get("triggerConfig"),
            invocation_role=body.get("invocationRole"),
            description=body.get("description"),
        )
        return _json(_trigger_json(trigger))

    def _DeleteTrigger(self, request: Request, request_id: str, s: str, f: str, t: str) -> Response:
        self.backend.delete_trigger(s, f, t)
        return Response(b"", 204)


def _object(request: Request) -> dict[str, Any]:
    body = json.loads(request.get_data() or b"{}")
    if not isinstance(body, dict):
        raise FcError("InvalidArgument", 400, "the request body must be a JSON object")
    return body


def _function_json(fn: Function) -> dict[str, Any]:
    return {
        "functionId": f"local-{fn.service}-{fn.name}",
        "functionName": fn.name,
        "description": fn.description,
        "runtime": fn.runtime,
        "handler": fn.handler,
        "initializer": fn.initializer or "",
        "timeout": fn.timeout,
        "initializationTimeout": fn.initialization_timeout,
        "memorySize": fn.memory,
        "instanceConcurrency": 1,
        "environmentVariables": dict(fn.environment),
        "createdTime": _iso(fn.created),
        "lastModifiedTime": _iso(fn.created),
    }


def _trigger_json(trigger: Trigger) -> dict[str, Any]:
    return {
        "triggerId": f"local-{trigger.service}-{trigger.function}-{trigger.name}",
        "triggerName": trigger.name,
        "triggerType": trigger.type,
        "triggerConfig": trigger.config,
        "sourceArn": trigger.source_arn,
        "invocationRole": trigger.invocation_role,
        "qualifier": trigger.qualifier,
        "description": trigger.description,
        "createdTime": _iso(trigger.created),
        "lastModifiedTime": _iso(trigger.created),
    }


def _json(data: Any, status: int = 200) -> Response:
    return Response(json.dumps(data), status, content_type="application/json")


def _error(status: int, code: str, message: str, request_id: str) -> Response:
    return _json({"ErrorCode": code, "ErrorMessage": message, "RequestId": request_id}, status)
