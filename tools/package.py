"""Build the deployment zip: build/function.zip, for FC's python3.10 on linux x86_64, on any
build machine (any Python 3, any OS).

    python tools/package.py [--output build/function.zip] [--requirements requirements.txt]

Contents: functions/create_customer_gateway (index.py, cgw_provisioner/, and schemas/*.json as
real files: the `schemas` symlink is followed), plus the requirements and their dependencies,
installed for the target platform, never for the host:
1. `pip wheel --no-deps` of the pinned requirements into build/wheelhouse (some, e.g. aliyun-fc2,
   are published as source only; each must build to a pure `none-any` wheel);
2. `pip install --target` with `--platform` (manylinux 2.17 and older, x86_64), `--python-version
   3.10`, `--implementation cp`, `--only-binary=:all:`: binary dependencies (rpds-py,
   cryptography, ...) come as cp310 / abi3 manylinux wheels whatever Python runs this.
Never tests, localcloud, caches (__pycache__, *.pyc) or pip's bin/ scripts. The zip is
deterministic: entries sorted, fixed timestamps and permissions. Prints its size and sha256.
Stdlib only (and pip), so any Python 3.8+ can run it.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FUNCTION_DIR = ROOT / "functions" / "create_customer_gateway"
REQUIREMENTS = ROOT / "requirements.txt"
OUTPUT = ROOT / "build" / "function.zip"
WHEELHOUSE = ROOT / "build" / "wheelhouse"
FC_PYTHON = (3, 10)
# FC 2.0's python3.10 runtime: CPython 3.10 on linux x86_64. manylinux2014 is glibc 2.17; the
# older tags are the same promise for older glibc (pip takes only the tags it is given).
PLATFORMS = (
    "manylinux_2_17_x86_64",
    "manylinux2014_x86_64",
    "manylinux_2_12_x86_64",
    "manylinux2010_x86_64",
    "manylinux_2_5_x86_64",
    "manylinux1_x86_64",
)
_EPOCH = (1980, 1, 1, 0, 0, 0)
_SKIP_DIRS = {"__pycache__", ".pytest_cache", ".mypy_cache", "tests", "bin"}
_SKIP_SUFFIXES = (".pyc", ".pyo")


class PackagingError(RuntimeError):
    """The package cannot be built (pip failed, or the function tree is not as expected)."""


def _pip(subcommand: str, *arguments: str) -> None:
    """Run this interpreter's pip quietly; PackagingError with pip's output if it fails."""
    command = [sys.executable, "-m", "pip", subcommand, "--quiet", "--disable-pip-version-check"]
    environment = {k: v for k, v in os.environ.items() if k not in ("PIP_USER", "PIP_TARGET")}
    result = subprocess.run([*command, *arguments], env=environment, capture_output=True, text=True)
    if result.returncode != 0:
        raise PackagingError(f"pip {subcommand} failed:\n{result.stdout}\n{result.stderr}")


def build_pure_wheels(requirements: Path, wheelhouse: Path) -> list[Path]:
    """The pinned requirements as wheels (built from source where only source is published);
    each must be pure Python, or it could not be used for another platform."""
    wheelhouse.mkdir(parents=True, exist_ok=True)
    _pip("wheel", "--no-deps", "--wheel-dir", str(wheelhouse), "-r", str(requirements))
    wheels = sorted(wheelhouse.glob("*.whl"))
    impure = [w.name for w in wheels if not w.name.endswith("-none-any.whl")]
    if impure:
        raise PackagingError(
            f"{', '.join(impure)}: a binary wheel in {wheelhouse}; only pure wheels may be built "
            "here (a binary dependency must come from PyPI as a manylinux wheel)"
        )
    return wheels


def install_requirements(requirements: Path, target: Path, wheelhouse: Path = WHEELHOUSE) -> None:
    """pip install -r requirements --target, for CPython 3.10 on manylinux x86_64 only."""
    build_pure_wheels(requirements, wheelhouse)
    platforms = [option for tag in PLATFORMS for option in ("--platform", tag)]
    _pip(
        "install",
        "--no-compile",
        "--no-warn-script-location",
        "--no-warn-conflicts",
        "--target",
        str(target),
        *platforms,
        "--python-version",
        f"{FC_PYTHON[0]}.{FC_PYTHON[1]}",
        "--implementation",
        "cp",
        "--only-binary=:all:",
        "--find-links",
        str(wheelhouse),
        "-r",
        str(requirements),
    )


def drop_unshipped_records(staging: Path) -> None:
    """Leave out of each .dist-info/RECORD the files the zip does not ship (pip's bin/ scripts,
    recorded as ../../bin/...): their shebang names the build machine's Python, and the zip must
    not depend on it."""
    for record in sorted(staging.glob("*.dist-info/RECORD")):
        lines = record.read_text(encoding="utf-8").splitlines(keepends=True)
        kept = [line for line in lines if not line.startswith(("../", "bin/"))]
        if kept != lines:
            record.write_text("".join(kept), encoding="utf-8")


def stage_function(function_dir: Path, target: Path) -> None:
    """Copy the function (following the schemas symlink) into the staging root."""
    if not (function_dir / "index.py").is_file():
        raise PackagingError(f"{function_dir} has no index.py")
    for source in _files(function_dir):
        destination = target / source.relative_to(function_dir)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, destination)  # a symlinked file becomes a real file
    if not list((target / "schemas").glob("*.json")):
        raise PackagingError("no schemas/*.json next to index.py (is the symlink broken?)")


def write_zip(staging: Path, output: Path) -> Path:
    """Zip the staging tree deterministically."""
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_suffix(".zip.partial")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for path in _files(staging):
            name = path.relative_to(staging).as_posix()
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            mode = 0o755 if os.access(path, os.X_OK) and path.suffix in ("", ".so") else 0o644
            info.external_attr = (stat.S_IFREG | mode) << 16
            info.create_system = 3  # unix, so the permissions above are honoured
            archive.writestr(info, path.read_bytes())
    partial.replace(output)
    return output


def build(
    output: Path = OUTPUT,
    requirements: Path = REQUIREMENTS,
    function_dir: Path = FUNCTION_DIR,
    staging: Path | None = None,
    wheelhouse: Path = WHEELHOUSE,
) -> Path:
    """Install the requirements and the function into `staging` (a temp dir if None), zip it."""
    with tempfile.TemporaryDirectory(prefix="cgw-package-") as scratch:
        staging = staging or Path(scratch) / "root"
        staging.mkdir(parents=True, exist_ok=True)
        install_requirements(requirements, staging, wheelhouse)
        drop_unshipped_records(staging)
        stage_function(function_dir, staging)
        return write_zip(staging, output)


def _files(root: Path) -> list[Path]:
    """Every file under root, sorted, symlinks followed, caches and tests left out."""
    found = []
    for directory, subdirectories, files in os.walk(root, followlinks=True):
        subdirectories[:] = sorted(d for d in subdirectories if d not in _SKIP_DIRS)
        for name in sorted(files):
            if not name.endswith(_SKIP_SUFFIXES):
                found.append(Path(directory) / name)
    return sorted(found, key=lambda p: p.relative_to(root).as_posix())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, default=OUTPUT)
    parser.add_argument("--requirements", type=Path, default=REQUIREMENTS)
    arguments = parser.parse_args(argv)
    try:
        path = build(arguments.output, arguments.requirements)
    except PackagingError as error:
        print(f"package: {error}", file=sys.stderr)
        return 1
    with zipfile.ZipFile(path) as archive:
        count = len(archive.namelist())
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    size = path.stat().st_size
    print(f"{path}: {size} bytes ({size / 2**20:.1f} MiB), {count} files, sha256 {digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
