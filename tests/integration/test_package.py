"""The deployment zip: built once per session (pip install takes a while), inspected, unpacked,
and run from the unpacked directory in a fresh interpreter with no access to the repository
(`python -I -S`: no site-packages, no PYTHON* variables; cwd outside the repo) against
localcloud. It must produce a created outcome."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from localcloud.credentials import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET

from .conftest import TOPIC

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
import package  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def built_zip(tmp_path_factory):
    staging = tmp_path_factory.mktemp("staging") / "root"
    output = tmp_path_factory.mktemp("build") / "function.zip"
    package.build(output, staging=staging)
    return output, staging


def test_zip_holds_the_function_its_schemas_and_its_dependencies(built_zip):
    output, _ = built_zip
    with zipfile.ZipFile(output) as archive:
        names = archive.namelist()
        infos = archive.infolist()
        schema = archive.read("schemas/provisioning-request.schema.json")
    assert names == sorted(names)
    assert {
        "index.py",
        "cgw_provisioner/app.py",
        "schemas/provisioning-outcome.schema.json",
        "aliyunsdkcore/client.py",
        "aliyunsdkvpc/__init__.py",
        "mns/account.py",
        "fc2/client.py",
        "jsonschema/__init__.py",
        "structlog/__init__.py",
    } <= set(names)
    assert json.loads(schema)["$schema"].startswith("https://json-schema.org/")
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert not [n for n in names if n.startswith(("tests/", "localcloud/", "bin/", "tools/"))]
    assert all(info.date_time == (1980, 1, 1, 0, 0, 0) for info in infos)


def test_zip_is_deterministic(built_zip, tmp_path):
    output, staging = built_zip
    again = package.write_zip(staging, tmp_path / "again.zip")
    assert again.read_bytes() == output.read_bytes()


RUNNER = """
import json, sys
sys.path.insert(0, sys.argv[1])
import index
for name in ("index", "aliyunsdkcore", "mns", "structlog", "jsonschema"):
    module = sys.modules.get(name) or __import__(name)
    assert module.__file__.startswith(sys.argv[1]), (name, module.__file__)

class Box:
    def __init__(self, **fields):
        self.__dict__.update(fields)

context = Box(
    request_id="packaged-1", region=sys.argv[2], account_id=sys.argv[3],
    credentials=Box(access_key_id=sys.argv[4], access_key_secret=sys.argv[5], security_token=""),
    function=Box(name="create-customer-gateway", handler="index.handler", memory=256,
                 timeout=20),
    service=Box(name="cgw-provisioner", qualifier="LATEST", log_project="", log_store=""),
)
index.initializer(context)
result = index.handler(sys.stdin.buffer.read(), context)
print("RESULT " + json.dumps(result))
"""


def test_unpacked_zip_runs_in_a_fresh_interpreter_against_localcloud(built_zip, cloud, tmp_path):
    output, _ = built_zip
    unpacked = tmp_path / "code"
    with zipfile.ZipFile(output) as archive:
        archive.extractall(unpacked)
    environment = {
        "VPC_ENDPOINT": cloud.base_url,
        "MNS_ENDPOINT": cloud.base_url,
        "SUCCESS_DESTINATION": f"acs:mns:::/topics/{TOPIC}",
        "FAILURE_DESTINATION": f"acs:mns:::/topics/{TOPIC}",
        "PATH": "/usr/bin:/bin",
    }
    request = {"RegionId": "cn-shanghai", "IpAddress": "203.0.113.200", "Name": "packaged"}
    completed = subprocess.run(
        [
            sys.executable,
            "-I",
            "-S",
            "-c",
            RUNNER,
            str(unpacked),
            cloud.region,
            cloud.account_id,
            DEFAULT_ACCESS_KEY_ID,
            DEFAULT_ACCESS_KEY_SECRET,
        ],
        input=json.dumps(request).encode(),
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr.decode()
    out = completed.stdout.decode().splitlines()
    [result_line] = [line for line in out if line.startswith("RESULT ")]
    event = json.loads(result_line.removeprefix("RESULT "))
    assert event["type"] == "vpc.customergateway.created"
    assert [o.event for o in cloud.outcomes()] == [event]
    assert len(cloud.gateways()) == 1
    assert any(json.loads(line)["event"] == "invocation summary" for line in out[:-1])
