"""Build the deployment zip: build/function.zip (FC python3.10, code at the zip root).

    python tools/package.py [--output build/function.zip] [--requirements requirements.txt]

Contents: functions/create_customer_gateway (index.py, cgw_provisioner/, and schemas/*.json as
real files: the `schemas` symlink is followed), plus `pip install -r requirements.txt --target`
into the zip root. Never tests, localcloud, caches (__pycache__, *.pyc) or pip's bin/ scripts.
The zip is deterministic: entries sorted, fixed timestamps and permissions.
"""

from __future__ import annotations

import argparse
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
FC_PYTHON = (3, 10)
_EPOCH = (1980, 1, 1, 0, 0, 0)
_SKIP_DIRS = {"__pycache__", ".pytest_cache", ".mypy_cache", "tests", "bin"}
_SKIP_SUFFIXES = (".pyc", ".pyo")


class PackagingError(RuntimeError):
    """The package cannot be built (pip failed, or the function tree is not as expected)."""


def install_requirements(requirements: Path, target: Path) -> None:
    """pip install -r requirements --target (pinned versions; the interpreter's platform)."""
    if sys.version_info[:2] != FC_PYTHON:
        print(
            f"warning: building with Python {sys.version_info[0]}.{sys.version_info[1]}; "
            "FC runs python3.10 (binary wheels such as rpds-py must match it)",
            file=sys.stderr,
        )
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-compile",
        "--no-warn-script-location",
        "--target",
        str(target),
        "-r",
        str(requirements),
    ]
    environment = {k: v for k, v in os.environ.items() if k not in ("PIP_USER",)}
    result = subprocess.run(command, env=environment, capture_output=True, text=True)
    if result.returncode != 0:
        raise PackagingError(f"pip install failed:\n{result.stdout}\n{result.stderr}")


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
) -> Path:
    """Install the requirements and the function into `staging` (a temp dir if None), zip it."""
    with tempfile.TemporaryDirectory(prefix="cgw-package-") as scratch:
        staging = staging or Path(scratch) / "root"
        staging.mkdir(parents=True, exist_ok=True)
        install_requirements(requirements, staging)
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
    print(f"{path} ({path.stat().st_size // 1024} KiB, {count} files)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
