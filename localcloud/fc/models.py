"""FC state and rules: services, functions, their instance pools, triggers and logs.

`FcBackend` is `cloud.backends.fc` and also the in-process API the template deployer and the
trigger emulation use: create_service, create_function, invoke, invoke_async, create_trigger.
Errors raise `FcError` with the code and HTTP status the wire would carry.

Instances run the function with the credentials of the service role: a local STS credential
(AccessKeyId `STS.`..., secret, security token) that the backend registers in
`cloud.credentials`, so what the function signs with `context.credentials` is accepted by the
VPC and MNS emulators like a real role session.
"""

from __future__ import annotations

import collections
import logging
import secrets
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from localcloud.credentials import Credential
from localcloud.epoch import StaleRequest
from localcloud.fc import triggers
from localcloud.fc.errors import FcError
from localcloud.fc.runtime import InstancePool, InstanceSpec, InvocationResult

if TYPE_CHECKING:
    from localcloud.core import Cloud
    from localcloud.fc.triggers import RunningTrigger

log = logging.getLogger("localcloud.fc")
instance_log = logging.getLogger("localcloud.fc.instances")

# FC 2.0 runtimes (docs/platform.md, "Python runtimes"); localcloud runs the Python ones with
# its own python.
PYTHON_RUNTIMES = ("python3", "python3.9", "python3.10")
RUNTIMES = (
    *PYTHON_RUNTIMES,
    "python2.7",
    "nodejs12",
    "nodejs14",
    "nodejs16",
    "java8",
    "java11",
    "php7.2",
    "dotnetcore3.1",
    "go1",
    "custom",
    "custom.debian10",
    "custom-container",
)
MAX_ASYNC_RETRY_ATTEMPTS = 3  # FC async default (docs/platform.md, "Asynchronous invocation")
ASYNC_RETRY_DELAYS_S = (1.0, 2.0, 4.0)
LOG_LINES_KEPT = 5000


@dataclass
class Service:
    name: str
    role: str = ""
    log_project: str = ""
    log_store: str = ""
    description: str = ""
    created: float = field(default_factory=time.time)


@dataclass
class Function:
    service: str
    name: str
    handler: str
    runtime: str
    code_dir: str
    initializer: str | None = None
    timeout: float = 3
    initialization_timeout: float = 3
    memory: int = 128
    environment: dict[str, str] = field(default_factory=dict)
    max_instances: int = 3
    description: str = ""
    created: float = field(default_factory=time.time)


@dataclass
class Trigger:
    service: str
    function: str
    name: str
    type: str
    config: dict[str, Any]
    source_arn: str = ""
    invocation_role: str = ""
    qualifier: str = ""
    description: str = ""
    created: float = field(default_factory=time.time)


class FcBackend:
    """All FC state of one localcloud (one account, one region)."""

    def __init__(self, cloud: Cloud, max_instances: int = 3, time_scale: float = 1.0) -> None:
        self.cloud = cloud
        self.default_max_instances = max_instances
        # Multiplies platform delays (async retry backoff, trigger retry intervals) locally.
        self.time_scale = time_scale
        self._lock = threading.RLock()
        self._services: dict[str, Service] = {}
        self._functions: dict[tuple[str, str], Function] = {}
        self._pools: dict[tuple[str, str], InstancePool] = {}
        self._triggers: dict[tuple[str, str, str], Trigger] = {}
        self._running: dict[tuple[str, str, str], RunningTrigger] = {}
        self._logs: collections.deque[tuple[float, str, str, str]] = collections.deque(
            maxlen=LOG_LINES_KEPT
        )
        self.log_file: Any = None  # an open text file that receives every instance log line
        self.role_credential = Credential(
            f"STS.LocalFcRole{secrets.token_hex(6)}",
            secrets.token_urlsafe(24),
            f"localcloud-fc-role-token-{secrets.token_urlsafe(24)}",
        )
        cloud.credentials.add(self.role_credential)
        self._async_threads: set[threading.Thread] = set()

    # -- life cycle ------------------------------------------------------------------------
    def interrupt(self) -> None:
        """Nothing to end here: async retries check the epoch before each try."""

    def reset(self) -> None:
        with self._lock:
            running = list(self._running.values())
            pools = list(self._pools.values())
            self._running.clear()
            self._triggers.clear()
            self._pools.clear()
            self._functions.clear()
            self._services.clear()
            self._logs.clear()
        for trigger in running:
            trigger.stop()
        for pool in pools:
            pool.close()

    def close(self) -> None:
        self.reset()

    def state(self) -> dict[str, Any]:
        with self._lock:
            return {
                "services": {name: asdict(s) for name, s in sorted(self._services.items())},
                "functions": {
                    f"{s}/{f}": {
                        **{k: v for k, v in asdict(fn).items() if k != "environment"},
                        "environment": sorted(fn.environment),
                        **self._pools[(s, f)].state(),
                    }
                    for (s, f), fn in sorted(self._functions.items())
                },
                "triggers": {
                    f"{s}/{f}/{t}": {
                        "type": trig.type,
                        "source_arn": trig.source_arn,
                        **(self._running[(s, f, t)].state() if (s, f, t) in self._running else {}),
                    }
                    for (s, f, t), trig in sorted(self._triggers.items())
                },
            }

    def activity(self) -> dict[str, Any]:
        """Per function: instances and the last invocations (for the console)."""
        with self._lock:
            pools = sorted(self._pools.items())
        return {f"{s}/{f}": pool.activity.snapshot() for (s, f), pool in pools}

    # -- logs ------------------------------------------------------------------------------
    def record_log(self, function: str, instance_id: str, line: str) -> None:
        """Keep the line and forward it: to `log_file` when set, else to the log at INFO."""
        self._logs.append((time.time(), function, instance_id, line))
        if self.log_file is None:
            instance_log.info("[%s %s] %s", function, instance_id, line)
            return
        try:
            self.log_file.write(f"[{function} {instance_id}] {line}\n")
            self.log_file.flush()
        except (OSError, ValueError):
            instance_log.info("[%s %s] %s", function, instance_id, line)

    def logs(self, function: str | None = None, last: int | None = None) -> list[str]:
        """The instance log lines kept (newest last), optionally of one function."""
        lines = [line for _, fn, _, line in list(self._logs) if function in (None, fn)]
        return lines[-last:] if last else lines

    # -- services and functions ------------------------------------------------------------
    def create_service(self, name: str, **properties: Any) -> Service:
        _check_name(name, "serviceName")
        with self._lock:
            service = Service(name, **properties)
            self._services[name] = service
            return service

    def get_service(self, name: str) -> Service:
        with self._lock:
            service = self._services.get(name)
        if service is None:
            raise FcError("ServiceNotFound", 404, f"service '{name}' does not exist")
        return service

    def create_function(self, service: str, name: str, **properties: Any) -> Function:
        self.get_service(service)
        _check_name(name, "functionName")
        properties.setdefault("max_instances", self.default_max_instances)
        function = Function(service, name, **properties)
        _check_function(function)
        spec = InstanceSpec(
            function=name,
            code_dir=function.code_dir,
            handler=function.handler,
            initializer=function.initializer,
            timeout=function.timeout,
            initialization_timeout=function.initialization_timeout,
            environment=self._instance_environment(function),
        )
        pool = InstancePool(spec, function.max_instances, self.record_log)
        with self._lock:
            old = self._pools.pop((service, name), None)
            self._functions[(service, name)] = function
            self._pools[(service, name)] = pool
        if old is not None:
            old.close()
        return function

    def check_qualifier(self, service: str, qualifier: str | None) -> None:
        """Versions and aliases are not emulated: only LATEST (or none) exists, and anything
        else is the 404 FC gives for a version or alias that does not exist."""
        if qualifier in (None, "", "LATEST"):
            return
        self.get_service(service)
        if qualifier.isdigit():
            raise FcError(
                "VersionNotFound",
                404,
                f"version '{qualifier}' of service '{service}' does not exist",
            )
        raise FcError(
            "AliasNotFound", 404, f"alias '{qualifier}' of service '{service}' does not exist"
        )

    def get_function(self, service: str, name: str) -> Function:
        self.get_service(service)
        with self._lock:
            function = self._functions.get((service, name))
        if function is None:
            raise FcError(
                "FunctionNotFound", 404, f"function '{name}' does not exist in service '{service}'"
            )
        return function

    def _instance_environment(self, function: Function) -> dict[str, str]:
        role = self.role_credential
        env = dict(function.environment)
        env.update(
            {
                "FC_FUNC_CODE_PATH": function.code_dir,
                "FC_FUNCTION_NAME": function.name,
                "FC_FUNCTION_HANDLER": function.handler,
                "FC_FUNCTION_MEMORY_SIZE": str(function.memory),
                "FC_SERVICE_NAME": function.service,
                "FC_REGION": self.cloud.region,
                "FC_ACCOUNT_ID": self.cloud.account_id,
                "FC_RUNTIME_VERSION": "python3.10",
                "ALIBABA_CLOUD_ACCESS_KEY_ID": role.access_key_id,
                "ALIBABA_CLOUD_ACCESS_KEY_SECRET": role.access_key_secret,
                "ALIBABA_CLOUD_SECURITY_TOKEN": role.security_token or "",
            }
        )
        return env

    # -- invocation ------------------------------------------------------------------------
    def invoke(
        self,
        service: str,
        function: str,
        payload: bytes,
        *,
        qualifier: str | None = None,
        request_id: str | None = None,
        retry_count: int = 0,
    ) -> InvocationResult:
        """Run the function synchronously: its answer, or its error (result.error_type)."""
        fn = self.get_function(service, function)
        svc = self.get_service(service)
        self.check_qualifier(service, qualifier)
        with self._lock:
            pool = self._pools[(service, function)]
        context = self.context(svc, fn, request_id or new_request_id(), qualifier, retry_count)
        return pool.invoke(payload, context)

    def invoke_async(
        self,
        service: str,
        function: str,
        payload: bytes,
        *,
        qualifier: str | None = None,
        request_id: str | None = None,
    ) -> str:
        """Accept an asynchronous invocation; run it in the background, retrying a function
        error up to MAX_ASYNC_RETRY_ATTEMPTS times (FC's async default). Returns the id."""
        self.get_function(service, function)
        self.check_qualifier(service, qualifier)
        request_id = request_id or new_request_id()
        epoch = self.cloud.epoch.current()
        thread = threading.Thread(
            target=self._run_async,
            args=(service, function, payload, qualifier, request_id, epoch),
            name=f"fc-async-{request_id[:8]}",
            daemon=True,
        )
        self._async_threads.add(thread)
        thread.start()
        return request_id

    def _run_async(
        self,
        service: str,
        function: str,
        payload: bytes,
        qualifier: str | None,
        request_id: str,
        epoch: int,
    ) -> None:
        try:
            for attempt in range(MAX_ASYNC_RETRY_ATTEMPTS + 1):
                try:
                    self.cloud.epoch.check(epoch)  # a reset ends the retries of earlier calls
                    result = self.invoke(
                        service,
                        function,
                        payload,
                        qualifier=qualifier,
                        request_id=request_id,
                        retry_count=attempt,
                    )
                except (FcError, RuntimeError, StaleRequest) as exc:
                    log.warning("async invocation %s dropped: %s", request_id, exc)
                    return
                if not result.failed:
                    return
                if attempt < MAX_ASYNC_RETRY_ATTEMPTS:
                    time.sleep(ASYNC_RETRY_DELAYS_S[attempt] * self.time_scale)
            log.warning(
                "async invocation %s of %s/%s failed after %d retries: %s",
                request_id,
                service,
                function,
                MAX_ASYNC_RETRY_ATTEMPTS,
                result.error,
            )
        finally:
            self._async_threads.discard(threading.current_thread())

    def wait_async(self, timeout: float = 30) -> bool:
        """Wait until no asynchronous invocation runs (tests); False on timeout."""
        deadline = time.monotonic() + timeout
        for thread in list(self._async_threads):
            thread.join(max(0.0, deadline - time.monotonic()))
        return not any(t.is_alive() for t in list(self._async_threads))

    def context(
        self,
        service: Service,
        function: Function,
        request_id: str,
        qualifier: str | None,
        retry_count: int,
    ) -> dict[str, Any]:
        """The invocation context the instance turns into the handler's `context`."""
        role = self.role_credential
        return {
            "request_id": request_id,
            "credentials": {
                "access_key_id": role.access_key_id,
                "access_key_secret": role.access_key_secret,
                "security_token": role.security_token or "",
            },
            "function": {
                "name": function.name,
                "handler": function.handler,
                "memory": function.memory,
                "timeout": function.timeout,
            },
            "service": {
                "name": service.name,
                "log_project": service.log_project,
                "log_store": service.log_store,
                "qualifier": qualifier or "LATEST",
                "version_id": "",
            },
            "region": self.cloud.region,
            "account_id": self.cloud.account_id,
            "retry_count": retry_count,
        }

    # -- triggers --------------------------------------------------------------------------
    def create_trigger(
        self,
        service: str,
        function: str,
        name: str,
        trigger_type: str,
        config: dict[str, Any],
        source_arn: str = "",
        invocation_role: str = "",
        qualifier: str = "",
        description: str = "",
    ) -> Trigger:
        """Register a trigger and start its emulation (eventbridge MNS queue, mns_topic)."""
        self.get_function(service, function)
        _check_name(name, "triggerName")
        if trigger_type == "eventbridge" and not source_arn:
            # FC creates the event stream and reports its ARN (docs/platform.md, "Queue trigger").
            source_arn = (
                f"acs:eventbridge:{self.cloud.region}:{self.cloud.account_id}:eventstreaming/"
                f"{service}-{function}-{name}"
            )
        trigger = Trigger(
            service,
            function,
            name,
            trigger_type,
            dict(config),
            source_arn,
            invocation_role,
            qualifier,
            description,
        )
        key = (service, function, name)
        with self._lock:
            if key in self._triggers:
                raise FcError(
                    "TriggerAlreadyExists",
                    409,
                    f"trigger '{name}' already exists in service '{service}' function '{function}'",
                )
        running = triggers.start(self, trigger)
        with self._lock:
            self._triggers[key] = trigger
            self._running[key] = running
        return trigger

    def get_trigger(self, service: str, function: str, name: str) -> Trigger:
        self.get_function(service, function)
        with self._lock:
            trigger = self._triggers.get((service, function, name))
        if trigger is None:
            raise FcError("TriggerNotFound", 404, f"trigger '{name}' does not exist")
        return trigger

    def running_trigger(self, service: str, function: str, name: str) -> RunningTrigger:
        self.get_trigger(service, function, name)
        with self._lock:
            return self._running[(service, function, name)]

    def update_trigger(
        self,
        service: str,
        function: str,
        name: str,
        config: dict[str, Any] | None = None,
        invocation_role: str | None = None,
        description: str | None = None,
    ) -> Trigger:
        """Change a trigger's configuration: its emulation restarts with the new values
        (in-flight pushes finish; their messages are deleted or reappear as usual)."""
        old = self.get_trigger(service, function, name)
        self.delete_trigger(service, function, name)
        try:
            return self.create_trigger(
                service,
                function,
                name,
                old.type,
                config if config is not None else old.config,
                old.source_arn,
                invocation_role if invocation_role is not None else old.invocation_role,
                old.qualifier,
                description if description is not None else old.description,
            )
        except FcError:
            self.create_trigger(
                service, function, name, old.type, old.config, old.source_arn,
                old.invocation_role, old.qualifier, old.description,
            )  # fmt: skip
            raise

    def delete_trigger(self, service: str, function: str, name: str) -> None:
        self.get_trigger(service, function, name)
        with self._lock:
            self._triggers.pop((service, function, name), None)
            running = self._running.pop((service, function, name), None)
        if running is not None:
            running.stop()


def new_request_id() -> str:
    return str(uuid.uuid4())


def _check_name(name: str, what: str) -> None:
    ok = (
        isinstance(name, str)
        and 0 < len(name) <= 128
        and (name[0].isascii() and (name[0].isalpha() or name[0] == "_"))
        and all(c.isascii() and (c.isalnum() or c in "_-") for c in name)
    )
    if not ok:
        raise FcError(
            "InvalidArgument",
            400,
            f"{what} {name!r} is invalid: 1-128 letters, digits, '_' or '-', starting with a "
            "letter or '_'",
        )


def _check_function(function: Function) -> None:
    if function.runtime not in RUNTIMES:
        raise FcError(
            "InvalidArgument", 400, f"runtime '{function.runtime}' is not a valid FC runtime"
        )
    if function.runtime not in PYTHON_RUNTIMES:
        raise FcError(
            "InvalidArgument",
            400,
            f"localcloud runs Python functions only, not '{function.runtime}'",
        )
    if not 1 <= function.timeout <= 600:
        raise FcError("InvalidArgument", 400, "timeout must be from 1 to 600 seconds")
    if not 1 <= function.initialization_timeout <= 300:
        raise FcError("InvalidArgument", 400, "initializationTimeout must be from 1 to 300 seconds")
    if not Path(function.code_dir).is_dir():
        raise FcError("InvalidArgument", 400, f"code directory {function.code_dir} does not exist")
    if "." not in function.handler:
        raise FcError("InvalidArgument", 400, f"handler '{function.handler}' must be file.method")
