"""HTTP/1.1 keep-alive: the SDKs' pooled connections are served again, and a connection is kept
only when the next request can be read from it.

Each test runs its own in-process localcloud (a 1 s read timeout) and talks to it over real
sockets: http.client for the connection itself, the official SDKs for their pools.
"""

from __future__ import annotations

import http.client
import json
import logging
import socket
import time
from collections.abc import Iterator

import pytest
from aliyunsdkcore.client import AcsClient
from aliyunsdkvpc.request.v20160428.DescribeRegionsRequest import DescribeRegionsRequest
from mns.account import Account
from mns.queue import Message, QueueMeta

from localcloud.credentials import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET
from localcloud.server import LocalCloud

READ_TIMEOUT_S = 1.0


@pytest.fixture
def cloud() -> Iterator[LocalCloud]:
    with LocalCloud(read_timeout=READ_TIMEOUT_S) as running:
        yield running


def _address(cloud: LocalCloud) -> tuple[str, int]:
    host, port = cloud.cloud.base_url.removeprefix("http://").split(":")
    return host, int(port)


def _connection(cloud: LocalCloud) -> http.client.HTTPConnection:
    return http.client.HTTPConnection(*_address(cloud), timeout=5)


def _fault_rules(conn: http.client.HTTPConnection, body: bytes = b"[]") -> http.client.HTTPResponse:
    conn.request(
        "PUT", "/_localcloud/faults", body=body, headers={"Content-Type": "application/json"}
    )
    return conn.getresponse()


def _closed_by_peer(sock: socket.socket, within: float) -> bool:
    sock.settimeout(within)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def test_requests_on_one_connection_are_all_answered(cloud):
    conn = _connection(cloud)
    sockets = []
    for round_ in range(3):
        rules = [{"service": "vpc", "action": f"Marker{round_}", "latency_ms": 1}]
        response = _fault_rules(conn, json.dumps(rules).encode())
        assert response.status == 200
        assert response.getheader("Connection") == "keep-alive"
        assert json.loads(response.read())[0]["action"] == f"Marker{round_}"
        sockets.append(conn.sock)  # http.client keeps it unless the server asks to close
    assert sockets[0] is not None
    assert all(sock is sockets[0] for sock in sockets)
    assert cloud.connections_accepted == 1
    conn.close()


def test_an_unread_body_closes_the_connection_after_the_answer(cloud):
    conn = _connection(cloud)
    conn.putrequest("PUT", "/_localcloud/faults")
    conn.putheader("Content-Type", "application/json")
    conn.putheader("Content-Length", str(2 * 1024 * 1024))  # over the limit, and never sent
    conn.endheaders()
    response = conn.getresponse()
    assert response.status == 413
    assert response.getheader("Connection") == "close"
    response.read()
    assert conn.sock is None  # http.client closed it, as told


def test_a_client_asking_to_close_or_speaking_http_1_0_is_closed(cloud):
    host, port = _address(cloud)
    for head in ("HTTP/1.1\r\nConnection: close", "HTTP/1.0"):
        request = f"GET /_localcloud/health {head}\r\nHost: {host}:{port}\r\n\r\n".encode()
        with socket.create_connection((host, port), timeout=5) as sock:
            sock.sendall(request)
            answer = b""
            while block := sock.recv(65536):  # to EOF: localcloud closes
                answer += block
        assert answer.startswith(b"HTTP/1.1 200")
        assert b"\r\nConnection: close\r\n" in answer


def test_an_idle_kept_connection_is_closed_after_the_read_timeout(cloud):
    conn = _connection(cloud)
    response = _fault_rules(conn)
    assert response.status == 200
    response.read()
    sock = conn.sock
    assert sock is not None
    started = time.monotonic()
    assert _closed_by_peer(sock, READ_TIMEOUT_S + 3)
    assert time.monotonic() - started >= READ_TIMEOUT_S - 0.2
    conn.close()


def test_stopping_localcloud_ends_its_kept_connections():
    cloud = LocalCloud(read_timeout=30).start()
    conn = _connection(cloud)
    response = _fault_rules(conn)
    response.read()
    sock = conn.sock
    assert sock is not None
    cloud.stop()
    assert _closed_by_peer(sock, 2)  # not served by a stopped localcloud
    conn.close()


def test_the_sdks_pools_reuse_their_connections(cloud):
    """The VPC SDK (requests session) and the MNS SDK (one connection per client) send every
    call on the connection they opened first: localcloud accepts each only once."""
    client = AcsClient(DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET, "cn-shanghai")
    account = Account(cloud.cloud.base_url, DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET)
    queue = account.get_queue("kept")
    queue.create(QueueMeta())
    accepted_before = cloud.connections_accepted
    for _ in range(5):
        request = DescribeRegionsRequest()
        request.set_endpoint(cloud.cloud.base_url.removeprefix("http://"))
        assert json.loads(client.do_action_with_exception(request))["Regions"]["Region"]
        queue.send_message(Message("hello"))
    # one: the VPC client's first call (the MNS client's connection is open already)
    assert cloud.connections_accepted - accepted_before == 1


def test_a_head_answer_states_the_length_and_the_connection_goes_on(cloud):
    conn = _connection(cloud)
    conn.request("GET", "/_localcloud/no-such-route")
    got = conn.getresponse().read()  # {"error": "no admin route GET /_localcloud/..."}
    conn.request("HEAD", "/_localcloud/no-such-route")
    head = conn.getresponse()
    assert head.read() == b""
    # the length of the body the app built for this HEAD (its message names the method), not 0
    assert int(head.getheader("Content-Length")) == len(got.replace(b" GET ", b" HEAD "))
    conn.request("GET", "/_localcloud/health")  # the same connection: no body was left behind
    assert conn.getresponse().status == 200
    assert cloud.connections_accepted == 1
    conn.close()


def test_a_bad_request_line_after_a_good_one_is_answered_and_logged_as_such(cloud, caplog):
    host, port = _address(cloud)
    good = f"GET /_localcloud/health HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode()
    with (
        caplog.at_level(logging.DEBUG, logger="localcloud"),
        socket.create_connection((host, port), timeout=5) as sock,
    ):
        sock.sendall(good)
        first = _one_answer(sock)
        sock.sendall(b"GET / HTTP/1.1 extra\r\n\r\n")  # the same, kept connection
        answer = b""
        while block := sock.recv(65536):
            answer += block
    assert first.startswith(b"HTTP/1.1 200")
    assert answer.startswith(b"HTTP/1.1 400")
    assert "unparsable request line" in caplog.text


def _one_answer(sock: socket.socket) -> bytes:
    """Read exactly one answer (head and Content-Length body) from a kept connection."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
    while len(body) < length:
        body += sock.recv(65536)
    assert len(body) == length  # nothing of a next answer came with it
    return head + b"\r\n\r\n" + body
