"""localcloud in its own process (so its threads never compete with the measured interpreter's
GIL), with the admin API and the result topic + reader queue the function publishes to."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from bench import ROOT

TOPIC = "cgw-outcomes"
READER = "cgw-outcomes-reader"
# The admin API refuses a state-changing call without a JSON content type.
_JSON = {"Content-Type": "application/json"}
SERVICE = "cgw-provisioner"
FUNCTION = "create-customer-gateway"
NO_PROXY_ENV = ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without proxies (both VPC SDKs would send loopback traffic through one)."""
    env = {k: v for k, v in os.environ.items() if k not in NO_PROXY_ENV}
    env.update(extra)
    return env


class LocalCloudProcess:
    def __init__(self, *args: str, quota: int = 1_000_000) -> None:
        self._args = ["--quota", str(quota), *args]
        self._dir = tempfile.TemporaryDirectory(prefix="bench-localcloud-")
        self._process: subprocess.Popen | None = None
        self.info: dict[str, Any] = {}

    def __enter__(self) -> LocalCloudProcess:
        ready = Path(self._dir.name) / "ready.json"
        self._log = open(Path(self._dir.name) / "localcloud.log", "w")
        self._process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "localcloud",
                "--port",
                "0",
                "--ready-file",
                str(ready),
                *self._args,
            ],
            cwd=ROOT,
            env=clean_env(),
            stdout=subprocess.DEVNULL,
            stderr=self._log,
        )
        deadline = time.monotonic() + 30
        while not ready.exists():
            if self._process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"localcloud did not start: see {self._log.name}")
            time.sleep(0.05)
        self.info = json.loads(ready.read_text())
        return self

    def __exit__(self, *exc: object) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._log.close()
        self._dir.cleanup()

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

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
        return self.info["vpc"]

    # -- admin API -----------------------------------------------------------------------------
    def admin(self, method: str, route: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            f"{self.info['admin']}/{route}", data=data, method=method, headers=_JSON
        )
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(request, timeout=60) as response:
            return json.loads(response.read())

    def faults(self, rules: list[dict[str, Any]]) -> None:
        self.admin("PUT", "faults", rules)

    def calls(self, action: str | None = None) -> list[dict[str, Any]]:
        route = f"calls?action={action}" if action else "calls"
        return self.admin("GET", route)

    def reset(self) -> None:
        self.admin("POST", "reset")

    def state(self) -> dict[str, Any]:
        return self.admin("GET", "state")

    # -- MNS -------------------------------------------------------------------------------------
    def mns(self):
        from mns.account import Account

        from localcloud.credentials import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET

        return Account(self.info["mns"], DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET)

    def create_result_topic(self) -> None:
        """The result topic with a queue subscribed to it (JSON notify format)."""
        from mns.queue import QueueMeta
        from mns.subscription import SubscriptionMeta
        from mns.topic import TopicMeta

        account = self.mns()
        account.get_topic(TOPIC).create(TopicMeta())
        account.get_queue(READER).create(QueueMeta())
        endpoint = f"acs:mns:{self.info['region']}:{self.info['account_id']}:queues/{READER}"
        meta = SubscriptionMeta(endpoint, notify_content_format="JSON")
        account.get_topic(TOPIC).get_subscription("reader").subscribe(meta)

    def function_env(self, **extra: str) -> dict[str, str]:
        """What the function's environment needs to talk to this localcloud."""
        from localcloud.credentials import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET

        return clean_env(
            VPC_ENDPOINT=self.url,
            MNS_ENDPOINT=self.info["mns"],
            FC_ENDPOINT=self.info["fc"],
            SUCCESS_DESTINATION=f"acs:mns:::/topics/{TOPIC}",
            FAILURE_DESTINATION=f"acs:mns:::/topics/{TOPIC}",
            ALIBABA_CLOUD_ACCESS_KEY_ID=DEFAULT_ACCESS_KEY_ID,
            ALIBABA_CLOUD_ACCESS_KEY_SECRET=DEFAULT_ACCESS_KEY_SECRET,
            LOG_LEVEL="WARNING",
            **extra,
        )
