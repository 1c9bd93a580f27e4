"""Publishing outcome events to their destinations (the only importer of mns and fc2).

- MNS topic: topic.publish_message(TopicMessage(body, tag)), MessageTag `created` / `failed`
  (subscriptions can filter on it).
- MNS queue: queue.send_message(Message(body)) with queue.set_encoding(False): the body is the
  CloudEvent JSON as is, not base64. MNS queue messages have no tag.
- FC function: fc2 invoke_function with `x-fc-invocation-type: Async` (fc2 is imported only when
  an FC destination is configured: it pulls in requests, a cold-start cost).
Publishing is retried with the same policy machinery as API calls (its own limiter).
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Mapping
from typing import Any

from mns.account import Account
from mns.mns_exception import (
    MNSClientNetworkException,
    MNSClientParameterException,
    MNSExceptionBase,
    MNSServerException,
)
from mns.queue import Message
from mns.topic import TopicMessage

from .arns import Destination
from .config import Endpoint
from .credentials import Credentials
from .logs import quiet_sdk_loggers
from .retry import ApiCallError

quiet_sdk_loggers()


class PublishError(ApiCallError):
    """Publishing an outcome failed: the destination's code, message and request id."""


def mns_endpoint(destination: Destination) -> Endpoint:
    return Endpoint("https", f"{destination.account_id}.mns.{destination.region}.aliyuncs.com")


def fc_endpoint(destination: Destination) -> Endpoint:
    return Endpoint("https", f"{destination.account_id}.{destination.region}.fc.aliyuncs.com")


def import_fc_sdk() -> None:
    """Import fc2 now (from the initializer) so that the first FC publish does not pay for it."""
    import fc2  # noqa: F401


def encode_event(event: Mapping[str, Any]) -> str:
    return json.dumps(event, ensure_ascii=False, separators=(",", ":"))


AccountKey = tuple[str, Credentials, int]  # (endpoint URL, credentials, timeout in seconds)


class MnsAccounts:
    """Idle MNS account clients by endpoint, credentials and timeout. The SDK keeps one
    keep-alive connection per client, so a client is used by one thread at a time: take one,
    give it back when done (a broken one is not given back)."""

    def __init__(self, keep: int = 16) -> None:
        self._keep = keep
        self._lock = threading.Lock()
        self._idle: dict[AccountKey, list[Account]] = {}

    @staticmethod
    def key(endpoint: Endpoint, credentials: Credentials, timeout: float) -> AccountKey:
        return (endpoint.url, credentials, max(1, math.ceil(timeout)))

    def take(self, key: AccountKey) -> Account:
        url, credentials, seconds = key
        with self._lock:
            idle = self._idle.get(key)
            if idle:
                return idle.pop()
            # credentials rotated: drop the clients of older ones
            for stale in [k for k in self._idle if k[1] != credentials]:
                del self._idle[stale]
        account = Account(
            url,
            credentials.access_key_id,
            credentials.access_key_secret,
            credentials.security_token or "",
        )
        account.mns_client.set_connection_timeout(seconds)
        return account

    def give_back(self, key: AccountKey, account: Account, healthy: bool) -> None:
        if not healthy:
            return  # a broken connection is not reused
        with self._lock:
            idle = self._idle.setdefault(key, [])
            if len(idle) < self._keep:
                idle.append(account)


class Publisher:
    """Sends one event to one destination (no retries here: app.py retries a publish with
    retry.call_with_retries)."""

    def __init__(
        self,
        mns_endpoint: Endpoint | None = None,
        fc_endpoint: Endpoint | None = None,
        accounts: MnsAccounts | None = None,
    ) -> None:
        self._mns_endpoint, self._fc_endpoint = mns_endpoint, fc_endpoint
        self._accounts = accounts or MnsAccounts()

    def publish(
        self,
        destination: Destination,
        event: Mapping[str, Any],
        tag: str,
        credentials: Credentials,
        *,
        timeout: float,
    ) -> str | None:
        """Publish; the MNS message id (None for FC). Raises PublishError."""
        body = encode_event(event)
        if destination.kind == "fc":
            self._invoke(destination, body, credentials, timeout)
            return None
        return self._send_mns(destination, body, tag, credentials, timeout)

    # -- MNS ---------------------------------------------------------------------------------
    def _send_mns(
        self,
        destination: Destination,
        body: str,
        tag: str,
        credentials: Credentials,
        timeout: float,
    ) -> str:
        endpoint = self._mns_endpoint or mns_endpoint(destination)
        key = MnsAccounts.key(endpoint, credentials, timeout)
        account = self._accounts.take(key)
        healthy = False
        try:
            if destination.kind == "mns-topic":
                topic = account.get_topic(destination.name)
                result = topic.publish_message(TopicMessage(body, tag))
            else:
                queue = account.get_queue(destination.name)
                queue.set_encoding(False)
                result = queue.send_message(Message(body))
            healthy = True
            message_id: str = result.message_id
            return message_id
        except MNSServerException as exc:
            healthy = True
            raise PublishError(exc.type, exc.message, request_id=exc.request_id) from exc
        except MNSClientNetworkException as exc:
            raise PublishError(exc.type, exc.message) from exc
        except MNSClientParameterException as exc:
            healthy = True
            raise PublishError(f"MNS.{exc.type}", exc.message) from exc
        except MNSExceptionBase as exc:
            raise PublishError("NetWorkException", exc.message) from exc
        finally:
            self._accounts.give_back(key, account, healthy)

    # -- FC ----------------------------------------------------------------------------------
    def _invoke(
        self, destination: Destination, body: str, credentials: Credentials, timeout: float
    ) -> None:
        import fc2  # lazily: only FC destinations need it (and requests behind it)
        import requests

        endpoint = self._fc_endpoint or fc_endpoint(destination)
        client = fc2.Client(
            endpoint=endpoint.url,
            accessKeyID=credentials.access_key_id,
            accessKeySecret=credentials.access_key_secret,
            securityToken=credentials.security_token or "",
            Timeout=timeout,
        )
        try:
            client.invoke_function(
                destination.service,
                destination.name,
                payload=body.encode("utf-8"),
                headers={"x-fc-invocation-type": "Async"},
                qualifier=destination.qualifier,
            )
        except fc2.FcError as exc:
            code = exc.err_code or "FunctionError"
            raise PublishError(
                code,
                str(exc.message)[:1000],
                http_status=exc.status_code,
                request_id=exc.request_id,
            ) from exc
        except requests.RequestException as exc:
            raise PublishError("ConnectionError", type(exc).__name__) from exc
        except ValueError as exc:  # fc2 reads a non-JSON error body with r.json()
            raise PublishError("RespDataDamaged", "the FC answer is not JSON") from exc
        return None
