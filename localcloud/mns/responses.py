"""MNS HTTP API 2015-06-06 on the wire: how to route a request to its action, verify its
signature and render results and errors.

The shared path (localcloud.pipeline) runs each call: route (method + path + query -> action) ->
signature check (localcloud.auth.mns) -> InvalidRequestURL when no action matched -> the
credential's allowed_actions (AccessDenied) -> fault rules -> the action -> call log. Errors are
<Error xmlns="http://mns.aliyuncs.com/doc/v1/"> with Code, Message, RequestId, HostId and the
`x-mns-request-id` header, as aliyun-mns-sdk requires.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from werkzeug.wrappers import Request, Response

from localcloud.auth import mns as mns_auth
from localcloud.calls import Call
from localcloud.core import Cloud, ServiceError
from localcloud.credentials import Credential
from localcloud.faults import FaultError
from localcloud.mns import wire
from localcloud.mns.models import (
    DEFAULT_PRIORITY,
    MAX_BATCH,
    MessageProperties,
    MnsBackend,
    MnsError,
    ReceivedMessage,
    message_not_exist,
)
from localcloud.mns.unsupported import UNSUPPORTED
from localcloud.mns.unsupported import message as unsupported_message
from localcloud.pipeline import Exchange, Handler

API_VERSION = "2015-06-06"

_QUEUE = r"/queues/(?P<queue>[^/]+)"
_TOPIC = r"/topics/(?P<topic>[^/]+)"
_SUB = _TOPIC + r"/subscriptions/(?P<subscription>[^/]+)"


@dataclass
class _Context(Exchange):
    """One MNS call as the action handlers see it."""

    path: dict[str, str] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    handler: _Handler | None = None

    @property
    def params(self) -> dict[str, Any]:
        """What the call log records (handlers fill it in)."""
        return self.call.parameters


_Handler = Callable[["MnsResponses", _Context], Response]


class MnsResponses:
    """The MNS wire format (a localcloud.pipeline.WireFormat) and its actions."""

    service = "mns"
    long_running: frozenset[str] = frozenset()

    def __init__(self, cloud: Cloud, backend: MnsBackend) -> None:
        self.cloud = cloud
        self.backend = backend

    # -- the wire format -------------------------------------------------------------------
    def read(self, request: Request) -> _Context:
        body = request.get_data(cache=True)
        query = wire.raw_query(request.environ.get("QUERY_STRING", ""))
        action, handler, path = _route(request.method, request.path, query, body)
        return _Context(
            request=request,
            request_id=uuid.uuid4().hex[:24].upper(),
            action=action,
            call=Call("mns", action or "Unknown", {}),
            path=path,
            query=query,
            body=body,
            handler=handler,
        )

    def authenticate(self, exchange: _Context) -> Credential:
        request = exchange.request
        return mns_auth.verify(
            mns_auth.SignedRequest(
                request.method,
                _resource(request),
                cast("Mapping[str, str]", request.headers),  # case-insensitive, as required
                exchange.body,
            ),
            self.cloud.credentials,
            mns_auth.utc_now(),
        )

    def resolve(self, exchange: _Context, credential: Credential) -> Handler:
        handler, action = exchange.handler, exchange.action
        if handler is None or action is None:
            raise MnsError("InvalidRequestURL", 400, "Http request URL format invalid.")
        if not credential.allows(action):
            raise MnsError(
                "AccessDenied",
                403,
                f"The OwnerId that your Access Key Id associated to is forbidden for this "
                f"operation. (action {action})",
            )
        return lambda: handler(self, exchange)

    def fault_error(self, exchange: _Context, fault: FaultError) -> ServiceError:
        return MnsError(fault.code, fault.status, fault.message)

    def internal_error(self, exchange: _Context, exc: Exception) -> ServiceError:
        return MnsError("InternalError", 500, "Interal error.")  # (sic) as MNS spells it

    def render_error(self, exchange: _Context, error: ServiceError) -> Response:
        if isinstance(error, _BatchError):
            return _xml(error.root, error.items, error.status)
        host = exchange.request.host or self.cloud.base_url
        document = wire.error_document(error.code, error.message, exchange.request_id, host)
        return _xml_bytes(document, error.status)

    def finish(self, exchange: _Context, response: Response) -> None:
        response.headers["x-mns-request-id"] = exchange.request_id
        response.headers["x-mns-version"] = API_VERSION

    # -- account ---------------------------------------------------------------------------
    def get_account_attributes(self, ctx: _Context) -> Response:
        return _xml("Account", sorted(self.backend.get_account_attributes().items()))

    def set_account_attributes(self, ctx: _Context) -> Response:
        fields = wire.children(wire.parse(ctx.body, "Account")) if ctx.body.strip() else {}
        attributes = {k: v.strip() for k, v in fields.items() if k == "LoggingBucket"}
        ctx.params.update(attributes)
        self.backend.set_account_attributes(**attributes)
        return Response(status=204)

    # -- queues ----------------------------------------------------------------------------
    def create_queue(self, ctx: _Context) -> Response:
        name = ctx.path["queue"]
        ctx.params["QueueName"] = name
        attributes = _queue_attributes(ctx.body)
        ctx.params.update(attributes)
        created = self.backend.create_queue(name, **attributes)
        response = Response(status=201 if created else 204)
        response.headers["Location"] = f"{self.cloud.base_url}/queues/{name}"
        return response

    def set_queue_attributes(self, ctx: _Context) -> Response:
        name = ctx.path["queue"]
        attributes = _queue_attributes(ctx.body)
        ctx.params.update({"QueueName": name, **attributes})
        self.backend.set_queue_attributes(name, **attributes)
        return Response(status=204)

    def get_queue_attributes(self, ctx: _Context) -> Response:
        ctx.params["QueueName"] = ctx.path["queue"]
        attributes = self.backend.get_queue(ctx.path["queue"])
        return _xml("Queue", sorted(attributes.items()))

    def delete_queue(self, ctx: _Context) -> Response:
        ctx.params["QueueName"] = ctx.path["queue"]
        self.backend.delete_queue(ctx.path["queue"])
        return Response(status=204)

    def list_queue(self, ctx: _Context) -> Response:
        prefix = ctx.request.headers.get("x-mns-prefix", "")
        names, marker = _page(self.backend.list_queues(prefix), ctx)
        items = "".join(
            f"<Queue>{wire.element('QueueURL', f'{self.cloud.base_url}/queues/{n}')}</Queue>"
            for n in names
        )
        return _xml("Queues", items + marker)

    def send_message(self, ctx: _Context) -> Response:
        queue = ctx.path["queue"]
        body, delay, priority, properties = _message_entry(wire.parse(ctx.body, "Message"))
        ctx.params.update({"QueueName": queue, "DelaySeconds": delay, "Priority": priority})
        ctx.params["BodyBytes"] = len(body.encode("utf-8"))
        sent = self.backend.send_message(queue, body, delay, priority, properties)
        ctx.params["MessageId"] = sent.message_id
        return _xml(
            "Message", [("MessageId", sent.message_id), ("MessageBodyMD5", sent.body_md5)], 201
        )

    def batch_send_message(self, ctx: _Context) -> Response:
        queue = ctx.path["queue"]
        ctx.params["QueueName"] = queue
        root = wire.parse(ctx.body, "Messages")
        entries = [_message_entry(m) for m in wire.child_elements(root, "Message")]
        if not 1 <= len(entries) <= MAX_BATCH:
            raise MnsError(
                "InvalidArgument",
                400,
                f"A batch must hold 1 to {MAX_BATCH} messages (got {len(entries)}).",
            )
        # As MNS: valid entries are stored even when others fail; a partial failure answers
        # with one <Message> per entry, either MessageId + MessageBodyMD5 or ErrorCode +
        # ErrorMessage (the exact shapes aliyun-mns-sdk's BatchSendMessageDecoder accepts).
        results: list[tuple[str, str, str]] = []  # (kind, a, b)
        for body, delay, priority, properties in entries:
            try:
                sent = self.backend.send_message(queue, body, delay, priority, properties)
            except MnsError as exc:
                if exc.code == "QueueNotExist":
                    raise
                results.append(("error", exc.code, exc.message))
            else:
                results.append(("sent", sent.message_id, sent.body_md5))
        ctx.params["MessageIds"] = [a for kind, a, _ in results if kind == "sent"]
        items = "".join(
            "<Message>"
            + (
                wire.element("MessageId", a) + wire.element("MessageBodyMD5", b)
                if kind == "sent"
                else wire.element("ErrorCode", a) + wire.element("ErrorMessage", b)
            )
            + "</Message>"
            for kind, a, b in results
        )
        failed = [(a, b) for kind, a, b in results if kind == "error"]
        if failed:
            ctx.params["Failed"] = len(failed)
            raise _BatchError(400, "Messages", items, MnsError(failed[0][0], 400, failed[0][1]))
        return _xml("Messages", items, 201)

    def receive_message(self, ctx: _Context) -> Response:
        got = self._receive(ctx, 1)
        return _xml("Message", _received_fields(got[0]))

    def batch_receive_message(self, ctx: _Context) -> Response:
        count = _int_query(ctx.query, "numofmessages", "numOfMessages")
        if count is None or not 1 <= count <= MAX_BATCH:
            raise MnsError(
                "InvalidArgument",
                400,
                f"The value of numOfMessages should between 1 and {MAX_BATCH}. (got {count})",
            )
        got = self._receive(ctx, count)
        items = "".join(
            "<Message>" + "".join(wire.element(k, v) for k, v in _received_fields(m)) + "</Message>"
            for m in got
        )
        return _xml("Messages", items)

    def _receive(self, ctx: _Context, count: int) -> list[ReceivedMessage]:
        queue = ctx.path["queue"]
        wait = _int_query(ctx.query, "waitseconds", "waitseconds")
        ctx.params.update({"QueueName": queue, "WaitSeconds": wait, "NumOfMessages": count})
        got = self.backend.receive_messages(queue, count, wait)
        if not got:
            raise message_not_exist()
        ctx.params["MessageIds"] = [m.message_id for m in got]
        return got

    def peek_message(self, ctx: _Context) -> Response:
        count = _int_query(ctx.query, "numofmessages", "numOfMessages")
        queue = ctx.path["queue"]
        ctx.params.update({"QueueName": queue, "NumOfMessages": count})
        got = self.backend.peek_messages(queue, count or 1)
        if not got:
            raise message_not_exist()

        def fields(m: ReceivedMessage) -> list[tuple[str, object]]:
            return [
                (k, v)
                for k, v in _received_fields(m)
                if k not in ("ReceiptHandle", "NextVisibleTime")
            ]

        if count is None:
            return _xml("Message", fields(got[0]))
        items = "".join(
            "<Message>" + "".join(wire.element(k, v) for k, v in fields(m)) + "</Message>"
            for m in got
        )
        return _xml("Messages", items)

    def delete_message(self, ctx: _Context) -> Response:
        queue = ctx.path["queue"]
        handle = ctx.query.get("receipthandle", "")
        ctx.params.update({"QueueName": queue, "ReceiptHandle": handle})
        if not handle:
            raise MnsError("MissingReceiptHandle", 400, "ReceiptHandle is required.")
        ctx.params["MessageId"] = self.backend.delete_message(queue, handle)
        return Response(status=204)

    def batch_delete_message(self, ctx: _Context) -> Response:
        queue = ctx.path["queue"]
        root = wire.parse(ctx.body, "ReceiptHandles")
        handles = [(e.text or "").strip() for e in wire.child_elements(root, "ReceiptHandle")]
        ctx.params.update({"QueueName": queue, "ReceiptHandles": handles})
        if not 1 <= len(handles) <= MAX_BATCH:
            raise MnsError(
                "InvalidArgument", 400, f"A batch must hold 1 to {MAX_BATCH} receipt handles."
            )
        failed = self.backend.delete_messages(queue, handles)
        if failed:
            items = "".join(
                "<Error>"
                + wire.element("ErrorCode", e.code)
                + wire.element("ErrorMessage", e.message)
                + wire.element("ReceiptHandle", h)
                + "</Error>"
                for h, e in failed
            )
            raise _BatchError(404, "Errors", items, failed[0][1])
        return Response(status=204)

    def change_message_visibility(self, ctx: _Context) -> Response:
        queue = ctx.path["queue"]
        handle = ctx.query.get("receipthandle", "")
        timeout = _int_query(ctx.query, "visibilitytimeout", "VisibilityTimeout")
        ctx.params.update(
            {"QueueName": queue, "ReceiptHandle": handle, "VisibilityTimeout": timeout}
        )
        if not handle:
            raise MnsError("MissingReceiptHandle", 400, "ReceiptHandle is required.")
        if timeout is None:
            raise MnsError("MissingVisibilityTimeout", 400, "VisibilityTimeout is required.")
        if not 1 <= timeout <= 43200:
            raise MnsError(
                "InvalidArgument",
                400,
                f"The value of Element VisibilityTimeout should between 1 and 43200 seconds. "
                f"(got {timeout})",
            )
        changed = self.backend.change_visibility(queue, handle, timeout)
        ctx.params["MessageId"] = changed.message_id
        return _xml(
            "ChangeVisibility",
            [
                ("ReceiptHandle", changed.receipt_handle),
                ("NextVisibleTime", changed.next_visible_time),
            ],
        )

    # -- topics ----------------------------------------------------------------------------
    def create_topic(self, ctx: _Context) -> Response:
        name = ctx.path["topic"]
        attributes = _topic_attributes(ctx.body)
        ctx.params.update({"TopicName": name, **attributes})
        created = self.backend.create_topic(name, **attributes)
        response = Response(status=201 if created else 204)
        response.headers["Location"] = f"{self.cloud.base_url}/topics/{name}"
        return response

    def set_topic_attributes(self, ctx: _Context) -> Response:
        name = ctx.path["topic"]
        attributes = _topic_attributes(ctx.body)
        ctx.params.update({"TopicName": name, **attributes})
        self.backend.set_topic_attributes(name, **attributes)
        return Response(status=204)

    def get_topic_attributes(self, ctx: _Context) -> Response:
        ctx.params["TopicName"] = ctx.path["topic"]
        return _xml("Topic", sorted(self.backend.get_topic(ctx.path["topic"]).items()))

    def delete_topic(self, ctx: _Context) -> Response:
        ctx.params["TopicName"] = ctx.path["topic"]
        self.backend.delete_topic(ctx.path["topic"])
        return Response(status=204)

    def list_topic(self, ctx: _Context) -> Response:
        prefix = ctx.request.headers.get("x-mns-prefix", "")
        names, marker = _page(self.backend.list_topics(prefix), ctx)
        items = "".join(
            f"<Topic>{wire.element('TopicURL', f'{self.cloud.base_url}/topics/{n}')}</Topic>"
            for n in names
        )
        return _xml("Topics", items + marker)

    def publish_message(self, ctx: _Context) -> Response:
        topic = ctx.path["topic"]
        message = wire.parse(ctx.body, "Message")
        fields = wire.children(message)
        tag = fields.get("MessageTag") or None
        attributes: dict[str, str] = {}
        for attrs in wire.child_elements(message, "MessageAttributes"):
            attributes.update(wire.children(attrs))
        body = fields.get("MessageBody", "")
        ctx.params.update(
            {"TopicName": topic, "MessageTag": tag, "BodyBytes": len(body.encode("utf-8"))}
        )
        published = self.backend.publish(topic, body, tag, attributes)
        ctx.params["MessageId"] = published.message_id
        return _xml(
            "Message",
            [("MessageId", published.message_id), ("MessageBodyMD5", published.body_md5)],
            201,
        )

    def subscribe(self, ctx: _Context) -> Response:
        topic, name = ctx.path["topic"], ctx.path["subscription"]
        fields = wire.children(wire.parse(ctx.body, "Subscription"))
        ctx.params.update(
            {
                "TopicName": topic,
                "SubscriptionName": name,
                "Endpoint": fields.get("Endpoint", ""),
                "FilterTag": fields.get("FilterTag") or None,
                "NotifyContentFormat": fields.get("NotifyContentFormat") or "XML",
            }
        )
        created = self.backend.subscribe(
            topic,
            name,
            fields.get("Endpoint", "").strip(),
            filter_tag=fields.get("FilterTag") or None,
            notify_content_format=fields.get("NotifyContentFormat") or "XML",
            notify_strategy=fields.get("NotifyStrategy") or "BACKOFF_RETRY",
        )
        response = Response(status=201 if created else 204)
        response.headers["Location"] = f"{self.cloud.base_url}/topics/{topic}/subscriptions/{name}"
        return response

    def set_subscription_attributes(self, ctx: _Context) -> Response:
        topic, name = ctx.path["topic"], ctx.path["subscription"]
        fields = wire.children(wire.parse(ctx.body, "Subscription"))
        strategy = fields.get("NotifyStrategy") or ""
        ctx.params.update(
            {"TopicName": topic, "SubscriptionName": name, "NotifyStrategy": strategy}
        )
        self.backend.set_subscription_strategy(topic, name, strategy)
        return Response(status=204)

    def unsubscribe(self, ctx: _Context) -> Response:
        ctx.params.update(
            {"TopicName": ctx.path["topic"], "SubscriptionName": ctx.path["subscription"]}
        )
        self.backend.unsubscribe(ctx.path["topic"], ctx.path["subscription"])
        return Response(status=204)

    def get_subscription_attributes(self, ctx: _Context) -> Response:
        topic, name = ctx.path["topic"], ctx.path["subscription"]
        ctx.params.update({"TopicName": topic, "SubscriptionName": name})
        sub = self.backend.get_subscription(topic, name)
        return _xml(
            "Subscription",
            [
                ("SubscriptionName", sub.name),
                ("TopicOwner", self.cloud.account_id),
                ("TopicName", topic),
                ("Endpoint", sub.endpoint),
                ("NotifyStrategy", sub.notify_strategy),
                ("NotifyContentFormat", sub.notify_content_format),
                ("FilterTag", sub.filter_tag or ""),
                ("CreateTime", sub.create_time),
                ("LastModifyTime", sub.last_modify_time),
            ],
        )

    def list_subscription_by_topic(self, ctx: _Context) -> Response:
        topic = ctx.path["topic"]
        ctx.params["TopicName"] = topic
        prefix = ctx.request.headers.get("x-mns-prefix", "")
        base = f"{self.cloud.base_url}/topics/{topic}/subscriptions"
        names, marker = _page(self.backend.list_subscriptions(topic, prefix), ctx)
        items = "".join(
            f"<Subscription>{wire.element('SubscriptionURL', f'{base}/{n}')}</Subscription>"
            for n in names
        )
        return _xml("Subscriptions", items + marker)


class _BatchError(MnsError):
    """A batch failure whose body lists per-entry results instead of a single <Error>."""

    def __init__(self, status: int, root: str, items: str, first: MnsError) -> None:
        super().__init__(first.code, status, first.message)
        self.root = root
        self.items = items


# --- request parsing helpers --------------------------------------------------------------
def _resource(request: Request) -> str:
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
    if raw:
        return raw.encode("latin-1").decode("utf-8", "replace")
    query = request.environ.get("QUERY_STRING", "")
    return request.path + (f"?{query}" if query else "")


def _int_query(query: dict[str, str], key: str, label: str) -> int | None:
    if key not in query:
        return None
    try:
        return int(query[key])
    except ValueError:
        raise MnsError(
            "InvalidQueryString",
            400,
            f'Http request URL contains invalid querystring item "{label}": {query[key][:64]!r}.',
        ) from None


MAX_LIST = 1000


def _page(names: list[str], ctx: _Context) -> tuple[list[str], str]:
    """One page of a sorted name list, as the x-mns-ret-number and x-mns-marker headers ask,
    and the <NextMarker> element when more names follow (the marker is the next name)."""
    headers = ctx.request.headers
    raw = headers.get("x-mns-ret-number")
    limit = MAX_LIST
    if raw is not None:
        try:
            limit = int(raw)
        except ValueError:
            limit = 0
        if not 1 <= limit <= MAX_LIST:
            raise MnsError(
                "InvalidArgument",
                400,
                f"The value of x-mns-ret-number should between 1 and {MAX_LIST}. (got {raw!r})",
            )
    marker = headers.get("x-mns-marker", "")
    ctx.params.update({"RetNumber": limit, "Marker": marker})
    rest = [n for n in names if n >= marker]
    page = rest[:limit]
    more = rest[limit : limit + 1]
    return page, wire.element("NextMarker", more[0]) if more else ""


def _queue_attributes(body: bytes) -> dict[str, Any]:
    if not body.strip():
        return {}
    fields = wire.children(wire.parse(body, "Queue"))
    attributes: dict[str, Any] = {}
    for name in (
        "DelaySeconds",
        "MaximumMessageSize",
        "MessageRetentionPeriod",
        "VisibilityTimeout",
        "PollingWaitSeconds",
    ):
        value = wire.int_field(fields, name)
        if value is not None:
            attributes[name] = value
    logging_enabled = wire.bool_field(fields, "LoggingEnabled")
    if logging_enabled is not None:
        attributes["LoggingEnabled"] = logging_enabled
    return attributes


def _topic_attributes(body: bytes) -> dict[str, Any]:
    if not body.strip():
        return {}
    fields = wire.children(wire.parse(body, "Topic"))
    attributes: dict[str, Any] = {}
    size = wire.int_field(fields, "MaximumMessageSize")
    if size is not None:
        attributes["MaximumMessageSize"] = size
    logging_enabled = wire.bool_field(fields, "LoggingEnabled")
    if logging_enabled is not None:
        attributes["LoggingEnabled"] = logging_enabled
    return attributes


def _message_entry(message) -> tuple[str, int | None, int, MessageProperties]:
    fields = wire.children(message)
    body = fields.get("MessageBody", "")
    if not body:
        raise MnsError(
            "InvalidArgument",
            400,
            "The XML you provided did not validate against our published schema, cause by "
            "Element MessageBody: required and must not be empty.",
        )
    delay = wire.int_field(fields, "DelaySeconds")
    priority = wire.int_field(fields, "Priority")
    properties = MessageProperties(
        _properties(message, "UserProperties", "PropertyValue"),
        _properties(message, "SystemProperties", "SystemPropertyValue"),
    )
    return body, delay, DEFAULT_PRIORITY if priority is None else priority, properties


def _properties(message, container: str, item: str) -> tuple[tuple[str, str, str], ...]:
    """<container><item><Name/><Value/><Type/></item>...</container> as (name, value, type)."""
    found = []
    for holder in wire.child_elements(message, container):
        for entry in wire.child_elements(holder, item):
            fields = wire.children(entry)
            found.append((fields.get("Name", ""), fields.get("Value", ""), fields.get("Type", "")))
    return tuple(found)


def _property_fields(properties: MessageProperties) -> list[tuple[str, object]]:
    """The nested elements aliyun-mns-sdk's decoders read back (only when there are any)."""
    fields: list[tuple[str, object]] = []
    for container, item, values in (
        ("UserProperties", "PropertyValue", properties.user),
        ("SystemProperties", "SystemPropertyValue", properties.system),
    ):
        if values:
            entries = [(item, [("Name", n), ("Value", v), ("Type", t)]) for n, v, t in values]
            fields.append((container, entries))
    return fields


def _received_fields(m: ReceivedMessage) -> list[tuple[str, object]]:
    return [
        ("MessageId", m.message_id),
        ("ReceiptHandle", m.receipt_handle),
        ("MessageBodyMD5", m.body_md5),
        ("MessageBody", m.body),
        ("EnqueueTime", m.enqueue_time),
        ("NextVisibleTime", m.next_visible_time),
        ("FirstDequeueTime", m.first_dequeue_time),
        ("DequeueCount", m.dequeue_count),
        ("Priority", m.priority),
        *_property_fields(m.properties),
    ]


def _xml(root: str, fields, status: int = 200) -> Response:
    return _xml_bytes(wire.document(root, fields), status)


def _xml_bytes(document: bytes, status: int) -> Response:
    return Response(document, status, content_type="text/xml;charset=utf-8")


# --- routing --------------------------------------------------------------------------------
def _route(
    method: str, path: str, query: dict[str, str], body: bytes
) -> tuple[str | None, _Handler | None, dict[str, str]]:
    for verb, pattern, choose in _ROUTES:
        if verb != method:
            continue
        match = re.fullmatch(pattern, path)
        if match:
            action, handler = choose(query, body)
            return action, handler, match.groupdict()
    return None, None, {}


def _fixed(
    action: str, handler: _Handler
) -> Callable[[dict[str, str], bytes], tuple[str, _Handler]]:
    return lambda query, body: (action, handler)


def _meta(create: tuple[str, _Handler], override: tuple[str, _Handler]):
    return lambda query, body: override if query.get("metaoverride") == "true" else create


def _queue_messages_get(query: dict[str, str], body: bytes) -> tuple[str, _Handler]:
    if query.get("peekonly") == "true":
        if "numofmessages" in query:
            return "BatchPeekMessage", MnsResponses.peek_message
        return "PeekMessage", MnsResponses.peek_message
    if "numofmessages" in query:
        return "BatchReceiveMessage", MnsResponses.batch_receive_message
    return "ReceiveMessage", MnsResponses.receive_message


def _queue_messages_post(query: dict[str, str], body: bytes) -> tuple[str, _Handler]:
    if wire.root_name(body) == "Messages":
        return "BatchSendMessage", MnsResponses.batch_send_message
    return "SendMessage", MnsResponses.send_message


def _queue_messages_delete(query: dict[str, str], body: bytes) -> tuple[str, _Handler]:
    if "receipthandle" not in query and body.strip():
        return "BatchDeleteMessage", MnsResponses.batch_delete_message
    return "DeleteMessage", MnsResponses.delete_message


def _unsupported(entry) -> _Handler:
    def refuse(self: MnsResponses, ctx: _Context) -> Response:
        raise MnsError("InvalidRequestURL", 400, unsupported_message(entry))

    return refuse


def _account(action: str, handler: _Handler):
    """`/?accountmeta=true` is the account's attributes; any other request to `/` is not MNS."""

    def choose(query: dict[str, str], body: bytes) -> tuple[str | None, _Handler | None]:
        return (action, handler) if query.get("accountmeta") == "true" else (None, None)

    return choose


_ROUTES: list[tuple[str, str, Callable[[dict[str, str], bytes], tuple[str, _Handler]]]] = [
    ("GET", r"/", _account("GetAccountAttributes", MnsResponses.get_account_attributes)),
    ("PUT", r"/", _account("SetAccountAttributes", MnsResponses.set_account_attributes)),
    *(
        (entry.method, entry.path, _fixed(entry.action, _unsupported(entry)))
        for entry in UNSUPPORTED.values()
    ),
    ("GET", r"/queues", _fixed("ListQueue", MnsResponses.list_queue)),
    (
        "PUT",
        _QUEUE,
        _meta(
            ("CreateQueue", MnsResponses.create_queue),
            ("SetQueueAttributes", MnsResponses.set_queue_attributes),
        ),
    ),
    ("GET", _QUEUE, _fixed("GetQueueAttributes", MnsResponses.get_queue_attributes)),
    ("DELETE", _QUEUE, _fixed("DeleteQueue", MnsResponses.delete_queue)),
    ("POST", _QUEUE + "/messages", _queue_messages_post),
    ("GET", _QUEUE + "/messages", _queue_messages_get),
    ("DELETE", _QUEUE + "/messages", _queue_messages_delete),
    (
        "PUT",
        _QUEUE + "/messages",
        _fixed("ChangeMessageVisibility", MnsResponses.change_message_visibility),
    ),
    ("GET", r"/topics", _fixed("ListTopic", MnsResponses.list_topic)),
    (
        "PUT",
        _TOPIC,
        _meta(
            ("CreateTopic", MnsResponses.create_topic),
            ("SetTopicAttributes", MnsResponses.set_topic_attributes),
        ),
    ),
    ("GET", _TOPIC, _fixed("GetTopicAttributes", MnsResponses.get_topic_attributes)),
    ("DELETE", _TOPIC, _fixed("DeleteTopic", MnsResponses.delete_topic)),
    ("POST", _TOPIC + "/messages", _fixed("PublishMessage", MnsResponses.publish_message)),
    (
        "GET",
        _TOPIC + "/subscriptions",
        _fixed("ListSubscriptionByTopic", MnsResponses.list_subscription_by_topic),
    ),
    (
        "PUT",
        _SUB,
        _meta(
            ("Subscribe", MnsResponses.subscribe),
            ("SetSubscriptionAttributes", MnsResponses.set_subscription_attributes),
        ),
    ),
    ("DELETE", _SUB, _fixed("Unsubscribe", MnsResponses.unsubscribe)),
    ("GET", _SUB, _fixed("GetSubscriptionAttributes", MnsResponses.get_subscription_attributes)),
]
