"""The deployment zip, built for FC's python3.10 on linux x86_64 whatever Python builds it.

Built twice per session (pip takes a while; pure wheels are cached in build/wheelhouse): with a
Python other than 3.10 (pyenv's 3.11 here) running tools/package.py, and in-process with this
venv's 3.10. The two zips must be the same bytes (no trace of the build machine's Python), every
wheel inside must be for cp310 / abi3 manylinux x86_64 or pure, and the zip, unpacked, must run
in a fresh python3.10 with no access to the repository (`python -I -S`: no site-packages, no
PYTHON* variables; cwd outside the repo) against localcloud: a valid direct request is created,
an invalid one rejected.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
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


def _other_python() -> str:
    """An interpreter that is not 3.10: pyenv's 3.11 / 3.12, else one on PATH."""
    root = os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv"))
    found = sorted(glob.glob(f"{root}/versions/3.1[12]*/bin/python3.1[12]"))
    found += [shutil.which(n) or "" for n in ("python3.11", "python3.12", "python3.13", "python3")]
    for candidate in filter(None, found):
        version = subprocess.run(
            [candidate, "-c", "import sys; print(sys.version_info[:2] != (3, 10))"],
            capture_output=True,
            text=True,
        )
        if version.stdout.strip() == "True":
            return candidate
    pytest.fail("no Python other than 3.10 found (pyenv 3.11 or python3.11 on PATH)")


@pytest.fixture(scope="session")
def built_zip(tmp_path_factory):
    """(zip built by another Python, zip built by 3.10 in-process, its staging directory)."""
    other = tmp_path_factory.mktemp("other") / "function.zip"
    result = subprocess.run(
        [_other_python(), str(ROOT / "tools" / "package.py"), "--output", str(other)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    assert re.fullmatch(
        rf"{re.escape(str(other))}: \d+ bytes \([0-9.]+ MiB\), \d+ files, sha256 [0-9a-f]{{64}}\n",
        result.stdout,
    )
    staging = tmp_path_factory.mktemp("staging") / "root"
    output = tmp_path_factory.mktemp("build") / "function.zip"
    package.build(output, staging=staging)
    return other, output, staging


def test_another_python_builds_the_same_zip_for_fc(built_zip):
    other, output, _ = built_zip
    assert other.read_bytes() == output.read_bytes()
    with zipfile.ZipFile(other) as archive:
        names = archive.namelist()
        wheels = {n: archive.read(n).decode() for n in names if n.endswith(".dist-info/WHEEL")}
    assert "rpds_py" in " ".join(wheels)  # the binary dependency the issue was about
    for name, text in wheels.items():
        tags = re.findall(r"^Tag: (\S+)$", text, re.MULTILINE)
        assert tags, name
        assert any(_fc_compatible(tag) for tag in tags), (name, tags)
    shared = [n for n in names if n.endswith(".so")]
    assert shared
    for name in shared:
        assert re.search(r"\.(cpython-310-x86_64-linux-gnu|abi3)\.so$", name), name
    assert not [n for n in names if re.search(r"cp3(?!10)\d|cpython-3(?!10)\d", n)]
    assert not [n for n in names if re.search(r"(darwin|win_amd64|aarch64|musllinux)", n)]


def _fc_compatible(tag: str) -> bool:
    """A wheel tag FC's CPython 3.10 on manylinux x86_64 (glibc 2.17 or newer) can import."""
    python, abi, platform = tag.split("-")
    if platform == "any":
        return abi == "none" and re.fullmatch(r"py3|py2\.py3|py310|cp310|py2", python) is not None
    glibc = re.fullmatch(r"manylinux(?:_2_(\d+)|1|2010|2014)_x86_64", platform)
    old_enough = glibc is not None and (glibc[1] is None or int(glibc[1]) <= 17)
    abi_ok = (python, abi) == ("cp310", "cp310") or (
        abi == "abi3" and re.fullmatch(r"cp3\d+", python) and int(python[3:]) <= 10
    )
    return bool(old_enough and abi_ok)


def test_zip_holds_the_function_its_schemas_and_its_dependencies(built_zip):
    _, output, _ = built_zip
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
    _, output, staging = built_zip
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


@pytest.mark.parametrize(
    ("request_body", "expected"),
    [
        (
            {"RegionId": "cn-shanghai", "IpAddress": "203.0.113.200", "Name": "packaged"},
            "vpc.customergateway.created",
        ),
        ({"RegionId": "cn-shanghai", "IpAddress": "203.0.113.999"}, "vpc.customergateway.failed"),
    ],
)
def test_unpacked_zip_runs_in_a_fresh_python310_against_localcloud(
    built_zip, cloud, tmp_path, request_body, expected
):
    other, _, _ = built_zip  # the zip another Python built
    unpacked = tmp_path / "code"
    with zipfile.ZipFile(other) as archive:
        archive.extractall(unpacked)
    interpreter = sys.executable
    version = subprocess.run(
        [interpreter, "-I", "-S", "-c", "import sys; print(sys.version_info[:2])"],
        capture_output=True,
        text=True,
    )
    assert version.stdout.strip() == "(3, 10)"  # FC's runtime
    environment = {
        "VPC_ENDPOINT": cloud.base_url,
        "MNS_ENDPOINT": cloud.base_url,
        "SUCCESS_DESTINATION": f"acs:mns:::/topics/{TOPIC}",
        "FAILURE_DESTINATION": f"acs:mns:::/topics/{TOPIC}",
        "PATH": "/usr/bin:/bin",
    }
    completed = subprocess.run(
        [
            interpreter,
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
        input=json.dumps(request_body).encode(),
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr.decode()
    out = completed.stdout.decode().splitlines()
    [result_line] = [line for line in out if line.startswith("RESULT ")]
    event = json.loads(result_line.removeprefix("RESULT "))
    assert event["type"] == expected
    assert [o.event for o in cloud.outcomes()] == [event]
    assert len(cloud.gateways()) == (1 if expected.endswith("created") else 0)
    assert any(json.loads(line)["event"] == "invocation summary" for line in out[:-1])
