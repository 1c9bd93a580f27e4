"""The function against localcloud over real HTTP, with the real SDKs.

The handler runs in-process with a context object carrying FC's documented attributes (the
platform itself cannot run here). Outcomes are read the way a consumer would: the result topic
has a queue subscribed to it (JSON notify format, so the MessageTag is visible), read with the
MNS SDK.
"""

from __future__ import annotations

import json
import urllib.request
import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest
from mns.account import Account
from mns.mns_exception import MNSServerException
from mns.queue import QueueMeta
from mns.subscription import SubscriptionMeta
from mns.topic import TopicMeta

from cgw_provisioner import app
from localcloud.credentials import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET

TOPIC = "cgw-outcomes"
QUEUE = "cgw-outcomes-reader"
SERVICE = "cgw-provisioner"
FUNCTION = "create-customer-gateway"


@dataclass
class FcCredentials:
    access_key_id: str = DEFAULT_ACCESS_KEY_ID
    access_key_secret: str = DEFAULT_ACCESS_KEY_SECRET
    security_token: str = ""


@dataclass
class FcFunction:
    name: str = FUNCTION
    handler: str = "index.handler"
    memory: int = 256
    timeout: Any = 30


@dataclass
class FcService:
    name: str = SERVICE
    log_project: str = ""
    log_store: str = ""
    qualifier: str = "LATEST"
    version_id: str = ""


@dataclass
class FcContext:
    """FC 2.0's python3.10 context: the attributes the documentation lists."""

    region: str
    account_id: str
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    credentials: FcCredentials = field(default_factory=FcCredentials)
    function: FcFunction = field(default_factory=FcFunction)
    service: FcService = field(default_factory=FcService)
    retry_count: int = 0


@dataclass
class Published:
    tag: str | None
    event: dict[str, Any]


class Harness:
    """One test's view: invoke the function, read outcomes, set faults, inspect localcloud."""

    def __init__(self, server) -> None:
        self.server = server
        self.base_url = server.cloud.base_url
        self.region = server.cloud.region
        self.account_id = server.cloud.account_id
        self.mns = Account(self.base_url, DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET)

    def context(self, **overrides: Any) -> FcContext:
        timeout = overrides.pop("timeout", None)
        context = FcContext(self.region, self.account_id, **overrides)
        if timeout is not None:
            context.function.timeout = timeout
        return context

    def invoke(self, event: bytes | str | dict | list, **context: Any) -> Any:
        if isinstance(event, (dict, list)):
            event = json.dumps(event).encode()
        elif isinstance(event, str):
            event = event.encode()
        return app.handle(event, self.context(**context))

    def create_destinations(self) -> None:
        self.mns.get_topic(TOPIC).create(TopicMeta())
        self.mns.get_queue(QUEUE).create(QueueMeta())
        endpoint = f"acs:mns:{self.region}:{self.account_id}:queues/{QUEUE}"
        meta = SubscriptionMeta(endpoint, notify_content_format="JSON")
        self.mns.get_topic(TOPIC).get_subscription("reader").subscribe(meta)

    def outcomes(self) -> list[Published]:
        """Every outcome published so far (drained from the subscribed queue)."""
        queue = self.mns.get_queue(QUEUE)
        queue.set_encoding(False)
        found = []
        while True:
            try:
                message = queue.receive_message_with_str_body(wait_seconds=0)
            except MNSServerException as error:
                if error.type == "MessageNotExist":
                    return found
                raise
            queue.delete_message(message.receipt_handle)
            notification = json.loads(message.message_body)
            found.append(
                Published(notification.get("MessageTag"), json.loads(notification["Message"]))
            )

    def faults(self, rules: list[dict[str, Any]]) -> None:
        self._admin("PUT", "faults", rules)

    def calls(self, action: str | None = None) -> list[dict[str, Any]]:
        calls = self._admin("GET", "calls")
        return [c for c in calls if action is None or c["action"] == action]

    def gateways(self) -> list[dict[str, Any]]:
        return self.server.cloud.backends.vpc.customer_gateways()

    def _admin(self, method: str, route: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            f"{self.base_url}/_localcloud/{route}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())


@pytest.fixture
def cloud(localcloud, monkeypatch):
    """localcloud, the function configured for it (env), the result topic and its reader queue."""
    base = localcloud.cloud.base_url
    for name, value in {
        "VPC_ENDPOINT": base,
        "MNS_ENDPOINT": base,
        "FC_ENDPOINT": base,
        "SUCCESS_DESTINATION": f"acs:mns:::/topics/{TOPIC}",
        "FAILURE_DESTINATION": f"acs:mns:::/topics/{TOPIC}",
        "DEADLINE_MARGIN_SECONDS": "1",
        "API_TIMEOUT_SECONDS": "5",
        "LOG_LEVEL": "INFO",
    }.items():
        monkeypatch.setenv(name, value)
    for name in (
        "ALIBABA_CLOUD_ACCESS_KEY_ID",
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
        "ALIBABA_CLOUD_SECURITY_TOKEN",
    ):
        monkeypatch.delenv(name, raising=False)
    app.reset()
    harness = Harness(localcloud)
    harness.create_destinations()
    yield harness
    app.reset()
