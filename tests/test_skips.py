"""tests.skips: a skip fails the run when LISTENER_TEST_NO_SKIP=1, and only then."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.skips import NO_SKIP

ROOT = Path(__file__).resolve().parents[1]

SKIPPING_TEST = """
import shutil
import pytest

@pytest.mark.skipif(shutil.which("no-such-tool") is None, reason="no-such-tool is not installed")
def test_needs_a_tool():
    pass

def test_runs():
    pass

@pytest.mark.xfail(reason="known", strict=True)
def test_known_failure():
    raise AssertionError
"""

SKIPPING_MODULE = """
import pytest

pytest.importorskip("no_such_module")

def test_never_collected():
    pass
"""


def run_pytest(tmp_path: Path, source: str, *, forbid: bool) -> subprocess.CompletedProcess[str]:
    """Run pytest with the plugin on one test file holding ``source``."""
    (tmp_path / "test_subject.py").write_text(source, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != NO_SKIP}
    env["PYTHONPATH"] = str(ROOT)
    if forbid:
        env[NO_SKIP] = "1"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.skips", "-p", "no:cacheprovider", "-q"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("source", "forbid", "exit_code", "summary"),
    [
        (SKIPPING_TEST, False, 0, "1 passed, 1 skipped, 1 xfailed"),
        (SKIPPING_TEST, True, 1, "1 passed, 1 xfailed, 1 error"),
        (SKIPPING_MODULE, False, 5, "1 skipped"),
        (SKIPPING_MODULE, True, 2, "1 error"),
    ],
    ids=["test-allowed", "test-forbidden", "module-allowed", "module-forbidden"],
)
def test_a_skip_fails_only_where_skips_are_forbidden(
    tmp_path: Path, source: str, forbid: bool, exit_code: int, summary: str
) -> None:
    """A skipped test or module passes locally and fails (naming the reason) in CI."""
    result = run_pytest(tmp_path, source, forbid=forbid)
    output = result.stdout + result.stderr
    assert result.returncode == exit_code, output
    assert summary in output, output
    if forbid:
        assert f"{NO_SKIP}=1 forbids skips" in output, output
        assert "not installed" in output or "no_such_module" in output, output
