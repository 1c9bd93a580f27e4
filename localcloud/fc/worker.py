"""The bootstrap that runs inside one FC instance process (python3 runtime stand-in).

Started by runtime.py as `python -u worker.py CODE_DIR`; standard library only, so it
imports nothing of localcloud and nothing of the function until asked to. It talks JSON lines:

    parent -> stdin : {"kind": "invoke"|"initialize", "handler": "index.handler",
                       "event": base64, "context": {...}}
    stdout -> parent: {"ok": true, "body": base64} | {"ok": false, "error": {...}}

Before anything else the protocol channel is moved off fd 1: fd 1 (what `print` and the
logging handler write to) then points at fd 2, the log pipe, as on FC where stdout and stderr
both go to the function's log. The handler runs as FC's runtime does (docs/platform.md, "The
Python runtime"): `event` is bytes; a str/bytes return value is the body as is, anything else is
json.dumps(indent=4, sort_keys=True); an exception becomes {errorMessage, errorType,
stackTrace}; the root logger prints `time request_id [LEVEL] message`.
A BaseException (SystemExit...) escapes and ends the process, as on FC.
"""

from __future__ import annotations

import base64
import datetime
import decimal
import importlib
import json
import logging
import os
import sys
import time
import traceback

_LOG_FORMAT = "%(asctime)s.%(msecs)03dZ %(fc_request_id)s [%(levelname)s] %(message)s"
_current_request_id = ""


class Credentials:
    def __init__(self, access_key_id: str, access_key_secret: str, security_token: str) -> None:
        self.access_key_id = self.accessKeyId = access_key_id
        self.access_key_secret = self.accessKeySecret = access_key_secret
        self.security_token = self.securityToken = security_token


class FunctionMeta:
    def __init__(self, name: str, handler: str, memory: int, timeout: int) -> None:
        self.name, self.handler, self.memory, self.timeout = name, handler, memory, timeout


class ServiceMeta:
    def __init__(self, name, log_project, log_store, qualifier, version_id) -> None:
        self.name = name
        self.log_project = log_project
        self.log_store = log_store
        self.qualifier = qualifier
        self.version_id = version_id


class Tracing:
    def __init__(self) -> None:
        self.span_context = ""
        self.jaeger_endpoint = ""
        self.span_baggages: dict[str, str] = {}

    def parseOpenTracingBaggages(self, value: str) -> dict[str, str]:
        if not value:
            return {}
        return json.loads(base64.b64decode(value))


class FCContext:
    """The `context` argument, shaped like the runtime's fc_rapis_context.FCContext."""

    def __init__(self, meta: dict) -> None:
        creds = meta["credentials"]
        fn = meta["function"]
        svc = meta["service"]
        self.request_id = self.requestId = meta["request_id"]
        self.credentials = Credentials(
            creds["access_key_id"], creds["access_key_secret"], creds["security_token"]
        )
        self.function = FunctionMeta(fn["name"], fn["handler"], int(fn["memory"]), fn["timeout"])
        self.service = ServiceMeta(
            svc["name"], svc["log_project"], svc["log_store"], svc["qualifier"], svc["version_id"]
        )
        self.region = meta["region"]
        self.account_id = meta["account_id"]
        self.retry_count = int(meta.get("retry_count", 0))
        self.tracing = Tracing()

    def getLogger(self) -> logging.Logger:
        return logging.getLogger()

    def to_json(self) -> str:
        return json.dumps(
            {
                "requestId": self.request_id,
                "credentials": {
                    "accessKeyId": self.credentials.access_key_id,
                    "accessKeySecret": self.credentials.access_key_secret,
                    "securityToken": self.credentials.security_token,
                },
                "function": {
                    "name": self.function.name,
                    "handler": self.function.handler,
                    "memory": self.function.memory,
                    "timeout": self.function.timeout,
                },
                "service": {
                    "name": self.service.name,
                    "logProject": self.service.log_project,
                    "logStore": self.service.log_store,
                    "qualifier": self.service.qualifier,
                    "versionId": self.service.version_id,
                },
                "region": self.region,
                "accountId": self.account_id,
                "retryCount": self.retry_count,
            }
        )


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.fc_request_id = _current_request_id
        return True


def _install_logging() -> None:
    handler = logging.StreamHandler(sys.stdout)
    formatter = logging.Formatter(_LOG_FORMAT, "%Y-%m-%dT%H:%M:%S")
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    handler.addFilter(_RequestIdFilter())
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(os.environ.get("FC_SERVER_LOG_LEVEL", "INFO").upper())


class _LoadError(Exception):
    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type


_handlers: dict[str, object] = {}


def _load(handler: str):
    if handler in _handlers:
        return _handlers[handler]
    module_name, sep, function_name = handler.rpartition(".")
    if not sep or not module_name or not function_name:
        raise _LoadError("InvalidHandleName", f"Invalid handler name '{handler}'")
    try:
        module = importlib.import_module(module_name)
    except SyntaxError as exc:
        raise _LoadError(
            "UserCodeSyntaxError", f"Syntax error in module '{module_name}': {exc}"
        ) from None
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            raise _LoadError(
                "ImportModuleError", f"Unable to import module '{module_name}'"
            ) from None
        raise _LoadError("UserCodeError", f"Module initialization error: {exc!r}") from None
    except Exception as exc:
        raise _LoadError("UserCodeError", f"Module initialization error: {exc!r}") from None
    function = getattr(module, function_name, None)
    if not callable(function):
        raise _LoadError(
            "HandlerNotFound", f"Handler '{function_name}' is missing on module '{module_name}'"
        )
    _handlers[handler] = function
    return function


def _default(value):
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, (datetime.datetime, datetime.date)):
        return value.isoformat()
    to_json = getattr(value, "to_json", None)
    if callable(to_json):
        return to_json()
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _body(result) -> bytes:
    if isinstance(result, bytes):
        return result
    if isinstance(result, str):
        return result.encode("utf-8")
    return json.dumps(result, default=_default, indent=4, sort_keys=True).encode("utf-8")


def _error(exc: BaseException, tb) -> dict:
    here = os.path.abspath(__file__)
    frames = [f for f in traceback.extract_tb(tb) if os.path.abspath(f.filename) != here]
    error: dict = {"errorMessage": str(exc), "errorType": type(exc).__name__}
    if frames:
        error["stackTrace"] = [
            [f'File "{f.filename}"', f"line {f.lineno}", f"in {f.name}", f.line or ""]
            for f in frames
        ]
    return error


def _run(message: dict) -> dict:
    global _current_request_id
    context = FCContext(message["context"])
    _current_request_id = context.request_id
    phase = "Invoke" if message["kind"] == "invoke" else "Initialize"
    print(f"FC {phase} Start RequestId: {context.request_id}", flush=True)
    try:
        function = _load(message["handler"])
        if message["kind"] == "invoke":
            result = function(base64.b64decode(message["event"]), context)
        else:
            result = function(context)
        reply = {"ok": True, "body": base64.b64encode(_body(result)).decode("ascii")}
    except _LoadError as exc:
        reply = {"ok": False, "error": {"errorMessage": str(exc), "errorType": exc.error_type}}
    except Exception as exc:
        reply = {"ok": False, "error": _error(exc, exc.__traceback__)}
        print(
            f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime())} {context.request_id} "
            f"[ERROR] {type(exc).__name__}: {exc}",
            flush=True,
        )
    finally:
        sys.stdout.flush()
        print(f"FC {phase} End RequestId: {context.request_id}", flush=True)
    return reply


def main() -> None:
    code_dir = sys.argv[1]
    # Protocol on a private copy of fd 1; the function's stdout joins the log pipe (fd 2).
    protocol = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    os.dup2(2, 1)
    sys.stdout = os.fdopen(1, "w", encoding="utf-8", buffering=1)
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
    sys.path.insert(0, code_dir)
    os.chdir(code_dir)
    _install_logging()
    print("FunctionCompute python3 runtime inited.", flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        reply = _run(json.loads(line))
        protocol.write(json.dumps(reply) + "\n")
        protocol.flush()


if __name__ == "__main__":
    main()
