"""localcloud under hostile input (issue 13): every finding replayed over real sockets.

localcloud runs as its own process (`python -m localcloud`, secrets from --credential-file,
--verbose, a 2 s read timeout) so that its memory (VmRSS, VmHWM in /proc) and threads can be
measured. Each case holds it to: an answer within seconds, in the service's own format; memory
growth under a bound; and the next good request served by the official SDKs.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import fc2
import pytest
from aliyunsdkcore.client import AcsClient
from aliyunsdkvpc.request.v20160428.DescribeRegionsRequest import DescribeRegionsRequest
from mns.account import Account
from mns.mns_exception import MNSServerException
from mns.queue import Message, QueueMeta

from localcloud.credentials import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET
from tests.localcloud.conftest import VpcSdk

READ_TIMEOUT_S = 2.0
ANSWER_WITHIN_S = 5.0
MEMORY_BOUND = 64 * 1024 * 1024  # growth of peak RSS allowed per case
STS_ID, STS_SECRET, STS_TOKEN = "STS.HostileKey", "hostile-sts-secret-7f3a", "hostile-token-91c2"
AUTH_KEY = "hostile-authkey-5d1e"


# --- the localcloud process -------------------------------------------------------------------
class Process:
    def __init__(self, tmp: Path) -> None:
        self.log_path = tmp / "localcloud.log"
        credentials = tmp / "credentials"
        credentials.write_text(
            "# the default key and an STS key\n"
            f"{DEFAULT_ACCESS_KEY_ID}:{DEFAULT_ACCESS_KEY_SECRET}\n\n"
            f"{STS_ID}:{STS_SECRET}:{STS_TOKEN}\n"
        )
        ready = tmp / "ready.json"
        env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
        self.log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "localcloud", "--port", "0", "--ready-file", str(ready),
             "--credential-file", str(credentials), "--read-timeout", str(READ_TIMEOUT_S),
             "--verbose"],
            stdout=subprocess.DEVNULL,
            stderr=self.log,
            env=env,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while not ready.exists():
            assert self.proc.poll() is None, self.log_path.read_text()
            assert time.monotonic() < deadline, "localcloud did not start"
            time.sleep(0.05)
        self.info = json.loads(ready.read_text())
        self.port = int(self.info["vpc"].rsplit(":", 1)[1])
        self.host = f"127.0.0.1:{self.port}"

    def status(self) -> dict[str, int]:
        fields = {}
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM", "Threads"):
                fields[name] = int(value.split()[0]) * (1024 if name != "Threads" else 1)
        return fields

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)
        self.log.close()


@pytest.fixture(scope="module")
def cloud(tmp_path_factory):
    process = Process(tmp_path_factory.mktemp("hostile"))
    yield process
    process.stop()


@pytest.fixture
def guarded(cloud):
    """The case runs; then memory stayed bounded, nothing crashed, and the SDKs are served."""
    before = cloud.status()
    yield cloud
    after = cloud.status()
    assert cloud.proc.poll() is None, "localcloud died"
    assert after["VmHWM"] - before["VmHWM"] < MEMORY_BOUND, (before, after)
    assert "Traceback" not in cloud.log_path.read_text(errors="replace")
    assert_sdks_served(cloud)


def assert_sdks_served(cloud: Process) -> None:
    client = AcsClient(DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET, "cn-shanghai")
    request = DescribeRegionsRequest()
    request.set_endpoint(cloud.host)
    assert json.loads(client.do_action_with_exception(request))["Regions"]["Region"]
    account = Account(cloud.info["mns"], DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET)
    account.get_queue("hostile-probe").create(QueueMeta())
    fc = fc2.Client(
        endpoint=cloud.info["fc"],
        accessKeyID=DEFAULT_ACCESS_KEY_ID,
        accessKeySecret=DEFAULT_ACCESS_KEY_SECRET,
    )
    with pytest.raises(fc2.fc_exceptions.FcError) as info:
        fc.get_service("no-such-service")
    assert info.value.status_code == 404


# --- raw HTTP -------------------------------------------------------------------------------
def exchange(cloud: Process, data: bytes, *, close_write: bool = False) -> tuple[int, dict, bytes]:
    """Send raw bytes, read the answer to EOF within ANSWER_WITHIN_S: (status, headers, body)."""
    start = time.monotonic()
    with socket.create_connection(("127.0.0.1", cloud.port), timeout=ANSWER_WITHIN_S) as sock:
        sock.sendall(data)
        if close_write:
            sock.shutdown(socket.SHUT_WR)
        raw = _read_all(sock)
    assert time.monotonic() - start < ANSWER_WITHIN_S
    return parse_response(raw)


def _read_all(sock: socket.socket) -> bytes:
    chunks = []
    while True:
        try:
            block = sock.recv(65536)
        except ConnectionResetError:
            break
        if not block:
            return b"".join(chunks)
        chunks.append(block)
    return b"".join(chunks)


def parse_response(raw: bytes) -> tuple[int, dict, bytes]:
    assert raw, "no answer: the connection was closed without a response"
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(lines[0].split(" ", 2)[1]), headers, body


def request_head(cloud: Process, method: str, path: str, **headers: str) -> bytes:
    """A request head that asks localcloud to close after its answer (`exchange` reads to EOF;
    a kept connection would only end at the read timeout)."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {cloud.host}", "Connection: close"]
    lines += [f"{name.replace('_', '-')}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


# Where each service is reached, and how its error code is read from the answer.
SERVICES = {
    "vpc": ("POST", "/?Format=JSON", {"Content_Type": "application/x-www-form-urlencoded"}),
    "mns": ("POST", "/queues/q/messages", {"Authorization": "MNS a:b"}),
    "fc": ("POST", "/2016-08-15/services/s/functions/f/invocations", {}),
    "admin": ("PUT", "/_localcloud/faults", {"Content_Type": "application/json"}),
}


def error_code(service: str, headers: dict, body: bytes) -> str:
    if service == "vpc":
        assert headers["content-type"] == "application/json;charset=utf-8"
        return json.loads(body)["Code"]
    if service == "mns":
        assert "x-mns-request-id" in headers
        return re.search(rb"<Code>(.*?)</Code>", body).group(1).decode()
    if service == "fc":
        assert "x-fc-request-id" in headers
        return json.loads(body)["ErrorCode"]
    return json.loads(body)["code"]


# --- 1. bounded memory, before authentication ---------------------------------------------------
@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize("size", ["FFFFFFFFFFFFFFFF", "40000000"])  # 2^64-1, 1 GiB
def test_huge_declared_chunk_is_refused_at_once(guarded, service, size):
    method, path, headers = SERVICES[service]
    head = request_head(guarded, method, path, Transfer_Encoding="chunked", **headers)
    status, answer_headers, body = exchange(
        guarded, head + f"{size}\r\nabc".encode(), close_write=True
    )
    assert status == 413
    assert error_code(service, answer_headers, body) == "EntityTooLarge"


@pytest.mark.parametrize("service", SERVICES)
def test_content_length_over_the_limit_is_refused_from_the_headers(guarded, service):
    method, path, headers = SERVICES[service]
    head = request_head(guarded, method, path, Content_Length=str(200 * 1024 * 1024), **headers)
    status, answer_headers, body = exchange(guarded, head)  # not a byte of the body sent
    assert status == 413
    assert error_code(service, answer_headers, body) == "EntityTooLarge"


def test_a_200_mb_body_streamed_anyway_stays_out_of_memory(guarded):
    method, path, headers = SERVICES["vpc"]
    size = 200 * 1024 * 1024
    head = request_head(guarded, method, path, Content_Length=str(size), **headers)
    with socket.create_connection(("127.0.0.1", guarded.port), timeout=ANSWER_WITHIN_S) as sock:
        sock.sendall(head)

        def stream() -> None:
            block = b"x" * (1024 * 1024)
            try:
                for _ in range(size // len(block)):
                    sock.sendall(block)
            except OSError:
                pass  # localcloud closed the connection: expected

        sender = threading.Thread(target=stream, daemon=True)
        sender.start()
        status, _, body = parse_response(_read_all(sock))
        sender.join(timeout=30)
    assert status == 413
    assert json.loads(body)["Code"] == "EntityTooLarge"


@pytest.mark.parametrize(
    ("service", "headers", "size"),
    [
        ("fc", {"X_Fc_Invocation_Type": "Async"}, 128 * 1024 + 1),
        ("mns", {}, 128 * 1024 + 1),
        ("vpc", {}, 1024 * 1024 + 1),
    ],
)
def test_each_service_has_its_own_limit(guarded, service, headers, size):
    method, path, base_headers = SERVICES[service]
    head = request_head(guarded, method, path, Content_Length=str(size), **base_headers, **headers)
    status, answer_headers, body = exchange(guarded, head)
    assert status == 413
    assert error_code(service, answer_headers, body) == "EntityTooLarge"
    # One byte less passes the limit and reaches the service (its own error: unsigned).
    head = request_head(
        guarded, method, path, Content_Length=str(size - 1), **base_headers, **headers
    )
    status, answer_headers, body = exchange(guarded, head + b"x" * (size - 1))
    assert status != 413
    assert error_code(service, answer_headers, body) != "EntityTooLarge"


@pytest.mark.parametrize(
    ("chunking", "detail"),
    [
        (b"ZZ\r\nabc\r\n0\r\n\r\n", b"not a hexadecimal number"),
        (b"5\r\nab", b"ended inside a chunk"),
        (b"3\r\nabcXY0\r\n\r\n", b"not followed by CRLF"),
        (b"3\r\nabc\r\n", b"broken chunked encoding"),
    ],
)
@pytest.mark.parametrize("service", SERVICES)
def test_broken_chunking_is_a_400_in_the_service_format(guarded, service, chunking, detail):
    method, path, headers = SERVICES[service]
    head = request_head(guarded, method, path, Transfer_Encoding="chunked", **headers)
    status, answer_headers, body = exchange(guarded, head + chunking, close_write=True)
    assert status == 400
    assert error_code(service, answer_headers, body) == "InvalidRequestBody"
    assert detail in body


def test_a_good_chunked_body_is_decoded(guarded):
    rules = json.dumps([{"service": "vpc", "action": "Nope", "latency_ms": 1}]).encode()
    chunked = b"".join(
        f"{len(part):x}\r\n".encode() + part + b"\r\n" for part in (rules[:7], rules[7:])
    )
    method, path, headers = SERVICES["admin"]
    head = request_head(guarded, method, path, Transfer_Encoding="chunked", **headers)
    status, _, body = exchange(guarded, head + chunked + b"0\r\n\r\n")
    assert (status, json.loads(body)) == (200, json.loads(rules))
    status, _, _ = exchange(
        guarded,
        request_head(guarded, "POST", "/_localcloud/reset", Content_Type="application/json"),
    )
    assert status == 200


def test_a_stalled_body_is_answered_408_after_the_read_timeout(guarded):
    method, path, headers = SERVICES["fc"]
    head = request_head(guarded, method, path, Transfer_Encoding="chunked", **headers)
    start = time.monotonic()
    with socket.create_connection(("127.0.0.1", guarded.port), timeout=10) as sock:
        sock.sendall(head + b"100000\r\nabc")  # 1 MiB announced, 3 bytes sent, then silence
        status, _, body = parse_response(_read_all(sock))
    assert READ_TIMEOUT_S <= time.monotonic() - start < READ_TIMEOUT_S + 3
    assert (status, json.loads(body)["ErrorCode"]) == (408, "RequestTimeout")


# --- 2. an answer for every request line --------------------------------------------------------
@pytest.mark.parametrize(
    ("line", "status"),
    [
        (b"GET / HTTP/9.9", 505),
        (b"GARBAGE", 400),
        (b"GET /" + b"a" * 70_000 + b" HTTP/1.1", 414),
        (b"GET /?Action=CreateCustomerGateway&IpAddress=" + b"1" * 100_000 + b" HTTP/1.1", 414),
        (b"GET / HTTP/1.1 extra", 400),
    ],
)
def test_malformed_request_line_gets_an_answer(guarded, line, status):
    got, _, _ = exchange(guarded, line + b"\r\nHost: x\r\n\r\n")
    assert got == status


def test_a_signed_call_with_a_100000_character_ip_address_gets_an_answer(guarded):
    sdk = VpcSdk("core", guarded.host)
    error = sdk.attempt("CreateCustomerGateway", RegionId="cn-shanghai", IpAddress="1" * 100_000)
    assert error.status == 414


# --- 3. client faults are 4xx in the service's format, never 500 --------------------------------
@pytest.mark.parametrize(
    ("parameters", "code"),
    [
        ({"PageSize": "9" * 5000}, "InvalidPageSize"),
        ({"PageNumber": "9" * 5000}, "InvalidPageNumber"),
        ({"PageSize": "0" * 5000 + "5"}, None),  # leading zeros: still 5
        ({f"Tag.{'1' * 5000}.Key": "k"}, "InvalidTags"),
    ],
)
def test_huge_digit_strings_are_invalid_parameters(guarded, parameters, code):
    sdk = VpcSdk("core", guarded.host)  # core sends any parameter name; Tea drops unknown ones
    result = sdk.attempt("DescribeCustomerGateways", RegionId="cn-shanghai", **parameters)
    if code is None:
        assert result["PageSize"] == 5
    else:
        assert (result.status, result.code) == (400, code)


def test_tags_n_with_a_huge_index_on_create(guarded):
    sdk = VpcSdk("core", guarded.host)
    error = sdk.attempt(
        "CreateCustomerGateway",
        RegionId="cn-shanghai",
        IpAddress="203.0.113.9",
        **{f"Tags.{'7' * 5000}.Key": "k"},
    )
    assert (error.status, error.code) == (400, "InvalidTags")


def test_non_ascii_fc_signature_is_signature_not_match(guarded):
    date = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime())
    head = request_head(
        guarded,
        "GET",
        "/2016-08-15/services/s",
        Date=date,
        Authorization=f"FC {DEFAULT_ACCESS_KEY_ID}:\u00e9\u00e9\u00e9",
    )
    status, headers, body = exchange(guarded, head.decode().encode("utf-8"))
    assert (status, error_code("fc", headers, body)) == (403, "SignatureNotMatch")


def test_fault_rules_nested_too_deep_are_a_400(guarded):
    nested = b"[" * 100_000 + b"]" * 100_000
    method, path, headers = SERVICES["admin"]
    head = request_head(guarded, method, path, Content_Length=str(len(nested)), **headers)
    status, _, body = exchange(guarded, head + nested)
    assert status == 400
    assert "nested too deeply" in json.loads(body)["error"]


# --- 4. idle connections are closed -------------------------------------------------------------
def test_idle_and_stalled_connections_are_closed_after_the_read_timeout(guarded):
    baseline = guarded.status()["Threads"]
    method, path, headers = SERVICES["vpc"]
    over_limit = request_head(
        guarded, method, path, Content_Length=str(200 * 1024 * 1024), **headers
    )
    method, path, headers = SERVICES["fc"]
    within_limit = request_head(
        guarded, method, path, Content_Length=str(16 * 1024 * 1024), **headers
    )
    sends = [
        b"",  # connected, silent
        over_limit[:-20],  # headers announcing 200 MB, not even finished
        over_limit,  # 200 MB announced (refused at once), none sent
        within_limit,  # 16 MB announced (FC takes 32 MiB), none sent: 408 at the timeout
    ]
    socks = []
    for i in range(200):
        sock = socket.create_connection(("127.0.0.1", guarded.port), timeout=10)
        sock.sendall(sends[i % len(sends)])
        socks.append(sock)
    try:
        deadline = time.monotonic() + READ_TIMEOUT_S + 10
        open_ = list(socks)
        while open_:
            assert time.monotonic() < deadline, f"{len(open_)} connections still open"
            sock = open_.pop()
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            _read_all(sock)  # returns at EOF: localcloud closed it
        deadline = time.monotonic() + 10
        while guarded.status()["Threads"] > baseline + 5:
            assert time.monotonic() < deadline, guarded.status()
            time.sleep(0.1)
    finally:
        for sock in socks:
            sock.close()


# --- 5. --verbose logs no secret ------------------------------------------------------------------
def test_verbose_log_names_the_call_and_masks_every_secret(guarded):
    sdk = VpcSdk(
        "core",
        guarded.host,
        access_key_id=STS_ID,
        access_key_secret=STS_SECRET,
        security_token=STS_TOKEN,
    )
    result = sdk.call(
        "CreateCustomerGateway", RegionId="cn-shanghai", IpAddress="203.0.113.7", AuthKey=AUTH_KEY
    )
    assert result["CustomerGatewayId"].startswith("cgw-")
    deadline = time.monotonic() + 5
    while "action=CreateCustomerGateway -> 200" not in guarded.log_path.read_text():
        assert time.monotonic() < deadline, "the call was not logged"
        time.sleep(0.05)
    log = guarded.log_path.read_text()
    for secret in (STS_SECRET, STS_TOKEN, AUTH_KEY, DEFAULT_ACCESS_KEY_SECRET):
        assert secret not in log
    line = next(x for x in log.splitlines() if "action=CreateCustomerGateway -> 200" in x)
    assert "GET /?" in line or "POST /?" in line
    for name in ("Signature", "SecurityToken", "AuthKey"):
        assert f"{name}=***" in line


# --- 6. the admin API answers only its own user ---------------------------------------------------
@pytest.mark.parametrize(
    ("method", "route", "headers", "status", "code"),
    [
        ("POST", "reset", {"Host": "attacker.example", "Content_Type": "application/json"},
         403, "ForeignHost"),
        ("GET", "state", {"Host": "attacker.example:80"}, 403, "ForeignHost"),
        ("POST", "reset", {"Origin": "http://attacker.example", "Content_Type": "application/json"},
         403, "ForeignOrigin"),
        ("POST", "reset", {"Content_Type": "text/plain"}, 415, "UnsupportedMediaType"),
        ("POST", "reset", {"Content_Type": None}, 415, "UnsupportedMediaType"),
        ("PUT", "faults", {"Content_Type": "application/x-www-form-urlencoded"},
         415, "UnsupportedMediaType"),
    ],
)  # fmt: skip
def test_admin_refuses_foreign_callers(guarded, method, route, headers, status, code):
    rules = [{"service": "vpc", "action": "Marker", "latency_ms": 1}]
    exchange(guarded, _admin(guarded, "PUT", "faults", json.dumps(rules).encode()))
    body = b"[]" if method == "PUT" else b""
    got, _, answer = exchange(guarded, _admin(guarded, method, route, body, **headers))
    assert (got, json.loads(answer)["code"]) == (status, code)
    # Nothing changed.
    _, _, current = exchange(guarded, _admin(guarded, "GET", "faults"))
    assert json.loads(current) == rules
    exchange(guarded, _admin(guarded, "PUT", "faults", b"[]"))


def test_admin_accepts_its_own_origin_and_localhost(guarded):
    for host in (guarded.host, f"localhost:{guarded.port}"):
        status, _, _ = exchange(
            guarded, _admin(guarded, "POST", "reset", Host=host, Origin=f"http://{host}")
        )
        assert status == 200


def _admin(cloud: Process, method: str, route: str, body: bytes = b"", **headers: Any) -> bytes:
    fields = {"Host": cloud.host}
    if method != "GET":
        fields["Content_Type"] = "application/json"
    fields.update(headers)
    lines = [f"{method} /_localcloud/{route} HTTP/1.1", f"Content-Length: {len(body)}"]
    lines.append("Connection: close")  # (read to EOF by `exchange`)
    lines += [
        f"{name.replace('_', '-')}: {value}" for name, value in fields.items() if value is not None
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


# --- 7. the same authentication rules everywhere -------------------------------------------------
def test_fc_refuses_a_content_md5_that_does_not_match(guarded):
    fc = fc2.Client(
        endpoint=guarded.info["fc"],
        accessKeyID=DEFAULT_ACCESS_KEY_ID,
        accessKeySecret=DEFAULT_ACCESS_KEY_SECRET,
    )
    other = base64.b64encode(hashlib.md5(b"another body").digest()).decode()
    with pytest.raises(fc2.fc_exceptions.FcError) as info:
        fc.invoke_function("s", "f", payload=b"{}", headers={"Content-MD5": other})
    assert (info.value.status_code, info.value.err_code) == (400, "InvalidArgument")
    assert "Content-MD5" in str(info.value.message)


def test_a_token_with_a_permanent_key_is_refused_by_every_service(guarded):
    key, secret = DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET
    fc = fc2.Client(
        endpoint=guarded.info["fc"], accessKeyID=key, accessKeySecret=secret, securityToken="bogus"
    )
    with pytest.raises(fc2.fc_exceptions.FcError) as info:
        fc.get_service("s")
    assert (info.value.status_code, info.value.err_code) == (403, "InvalidSecurityToken")
    queue = Account(guarded.info["mns"], key, secret, "bogus").get_queue("hostile-probe")
    with pytest.raises(MNSServerException) as mns_info:
        queue.send_message(Message("x"))
    assert mns_info.value.type == "InvalidSecurityToken"
    for kind in ("core", "tea-v3"):
        error = VpcSdk(kind, guarded.host, key, secret, "bogus").error("DescribeRegions")
        assert error.code == "InvalidSecurityToken.MismatchWithAccessKey"


# --- 9. secrets out of ps ----------------------------------------------------------------------
def test_credential_file_keeps_secrets_out_of_the_command_line(guarded):
    cmdline = Path(f"/proc/{guarded.proc.pid}/cmdline").read_bytes().decode()
    assert STS_SECRET not in cmdline
    assert DEFAULT_ACCESS_KEY_SECRET not in cmdline
    sdk = VpcSdk(
        "tea-v3",
        guarded.host,
        access_key_id=STS_ID,
        access_key_secret=STS_SECRET,
        security_token=STS_TOKEN,
    )
    assert sdk.call("DescribeRegions")["Regions"]["Region"]
