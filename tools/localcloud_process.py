"""localcloud in a child process (`python -m localcloud ...`), for the tools and the benchmarks.

A child process keeps localcloud's threads off the interpreter that runs the function or measures
it. The process is ready when it writes its ready file (the URLs, region, account and, with
`--template`, the deployment); its stderr goes to a log file quoted when it fails to start.
Also the one home of the proxy variables: both VPC SDKs (and requests, behind fc2) send loopback
traffic through a proxy when one is set, so everything that talks to localcloud drops them.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Mapping, MutableMapping
from pathlib import Path
from typing import Any, TypeVar

from localcloud.credentials import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET

ROOT = Path(__file__).resolve().parents[1]
PROXY_VARIABLES = (
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "ALL_PROXY",
    "all_proxy",
)


def drop_proxies(environ: MutableMapping[str, str] = os.environ) -> None:
    """Remove the proxy variables from `environ` (this process's environment by default)."""
    for name in PROXY_VARIABLES:
        environ.pop(name, None)


def clean_env(base: Mapping[str, str] | None = None, /, **extra: str) -> dict[str, str]:
    """A copy of the environment without proxies, with `extra` set."""
    env = dict(os.environ if base is None else base)
    drop_proxies(env)
    env.update(extra)
    return env


P = TypeVar("P", bound="LocalCloudProcess")


class LocalCloudStartError(RuntimeError):
    """localcloud did not come up; the message carries its stderr."""


class LocalCloudProcess:
    """`python -m localcloud *args` as a child process; `with` starts it and waits until ready.

    >>> with LocalCloudProcess("--template", "template.yml") as cloud:  # doctest: +SKIP
    ...     cloud.info["deployment"]["outputs"]
    """

    def __init__(self, *args: str, timeout: float = 60) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="localcloud-")
        self.ready_file = Path(self._dir.name) / "ready.json"
        self.stderr_path = Path(self._dir.name) / "stderr.log"
        self.args = [
            sys.executable,
            "-m",
            "localcloud",
            "--port",
            "0",
            "--ready-file",
            str(self.ready_file),
            *args,
        ]
        self.timeout = timeout
        self.process: subprocess.Popen[bytes] | None = None
        self.info: dict[str, Any] = {}

    # -- life cycle --------------------------------------------------------------------------
    def start(self) -> dict[str, Any]:
        env = clean_env()
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        self._stderr = self.stderr_path.open("wb")
        self.process = subprocess.Popen(
            self.args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=self._stderr
        )
        deadline = time.monotonic() + self.timeout
        while not self.ready_file.exists():
            if self.process.poll() is not None:
                raise LocalCloudStartError(
                    f"localcloud exited with {self.process.returncode}:\n{self.stderr()}"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise LocalCloudStartError(f"localcloud not ready after {self.timeout:g} s")
            time.sleep(0.05)
        self.info = json.loads(self.ready_file.read_text())
        return self.info

    def stderr(self) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if getattr(self, "_stderr", None) is not None:
            self._stderr.close()
        self._dir.cleanup()

    def __enter__(self: P) -> P:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def instance_pids(self) -> list[int]:
        """Process ids of the FC instances (worker processes) this localcloud started."""
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            if parent == self.pid and b"worker.py" in cmdline:
                pids.append(int(entry.name))
        return pids

    @property
    def url(self) -> str:
        return str(self.info["vpc"])

    # -- admin API -----------------------------------------------------------------------------
    def admin(self, method: str, route: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            f"{self.info['admin']}/{route}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},  # (the body, when any, is JSON)
        )
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(request, timeout=60) as response:
            return json.loads(response.read())

    def faults(self, rules: list[dict[str, Any]]) -> None:
        self.admin("PUT", "faults", rules)

    def calls(self, action: str | None = None) -> list[dict[str, Any]]:
        route = f"calls?action={action}" if action else "calls"
        answer: list[dict[str, Any]] = self.admin("GET", route)
        return answer

    def reset(self) -> None:
        self.admin("POST", "reset")

    def state(self) -> dict[str, Any]:
        answer: dict[str, Any] = self.admin("GET", "state")
        return answer

    # -- MNS -------------------------------------------------------------------------------------
    def mns(self) -> Any:
        """An aliyun-mns-sdk Account on this localcloud, signed with its default credential."""
        from mns.account import Account

        return Account(self.info["mns"], DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET)
