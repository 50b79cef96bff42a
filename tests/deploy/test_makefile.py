"""`make install` on a fresh machine's Python: a Debian python3 without python3-venv (no
ensurepip) still gets its .venv/, and a python3 without pip gets one line saying what to install.

The Makefile runs for real in a copy of the project, with a stub ``python3`` in front of this
machine's interpreter that refuses what the missing Debian packages would not provide. uv
installs from its cache (offline): ``make install`` has filled it, as it does in CI.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UV = ROOT / ".tools" / "bin" / "uv"
PROJECT_FILES = ("Makefile", "pyproject.toml", "uv.lock", "README.md", "LICENSE")
PROJECT_DIRS = ("listener", "requirements")

pytestmark = pytest.mark.slow

STUB = """#!/bin/sh
# {python} as Debian ships it without {missing}.
if [ "$1" = "-m" ]; then
    case "$2" in
        {refused})
            echo "/usr/bin/python3: No module named $2" >&2
            exit 1 ;;
    esac
fi
exec {python} "$@"
"""


def project_copy(tmp_path: Path) -> Path:
    """What `make install` reads, copied with its timestamps into a folder of its own."""
    copy = tmp_path / "project"
    copy.mkdir()
    for name in PROJECT_FILES:
        shutil.copy2(ROOT / name, copy / name)
    for name in PROJECT_DIRS:
        shutil.copytree(ROOT / name, copy / name, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def stub_python(tmp_path: Path, missing: str, refused: str) -> Path:
    """A ``python3`` that runs this interpreter but refuses the modules ``refused`` names."""
    stub = tmp_path / "bin" / "python3"
    stub.parent.mkdir()
    real = Path(sys.base_prefix) / "bin" / "python3"
    stub.write_text(
        STUB.format(python=real, missing=missing, refused=refused),
        encoding="utf-8",
    )
    stub.chmod(0o755)
    return stub


def make(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`make` in ``project``, offline for uv, as a top-level make (not one `make test` ran)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("UV_", "VIRTUAL_ENV", "MAKE", "MFLAGS"))
    }
    env["UV_OFFLINE"] = "1"
    return subprocess.run(
        ["make", "--no-print-directory", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_install_needs_no_ensurepip(tmp_path: Path) -> None:
    """Without ensurepip (`python3 -m venv` fails), make still builds a working .venv/."""
    assert UV.exists(), f"{UV} is missing: run make install"
    project = project_copy(tmp_path)
    python = stub_python(tmp_path, "python3-venv", "venv|ensurepip")
    refused = subprocess.run(
        [python, "-m", "venv", tmp_path / "plain"], capture_output=True, check=False
    )
    assert refused.returncode != 0  # the stub stands for such a machine

    tools = UV.parent.parent
    result = make(project, "install", f"PYTHON={python}", f"TOOLS={tools}", "-o", str(UV))

    assert result.returncode == 0, result.stdout + result.stderr
    installed = subprocess.run(
        [project / ".venv" / "bin" / "python", "-c", "import listener.cli, aiohttp, secantus"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert installed.returncode == 0, installed.stderr
    assert (project / ".venv" / "bin" / "pytest").exists()  # the dev extra


def test_install_without_pip_says_what_to_install(tmp_path: Path) -> None:
    """A python3 without pip stops make with one line naming the package that provides it."""
    project = project_copy(tmp_path)
    python = stub_python(tmp_path, "python3-pip", "pip|venv|ensurepip")

    result = make(project, "install", f"PYTHON={python}", f"TOOLS={tmp_path / 'tools'}")

    assert result.returncode != 0
    ours = [
        line for line in result.stderr.splitlines() if not re.match(r"make(\[\d+\])?: \*\*\*", line)
    ]
    assert len(ours) == 1, result.stderr
    assert "pip" in ours[0]
    assert "apt-get install python3-pip" in ours[0]
    assert not (project / ".venv").exists()
