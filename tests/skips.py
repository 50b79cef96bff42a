"""Skips in CI are failures: with ``LISTENER_TEST_NO_SKIP=1`` (``.ci/run`` sets it) a test or a
module that skips fails instead, naming what it skipped for.

A test that skips where a tool is missing (Debian's ``promtool``, ``openssl``) passes quietly on a
machine without it. Locally that is a convenience; in CI it would hide a missing install step, and
a green run would prove less than it says.
"""

from __future__ import annotations

import os
from collections.abc import Generator

import pytest

NO_SKIP = "LISTENER_TEST_NO_SKIP"


def _forbidden() -> bool:
    return os.environ.get(NO_SKIP) == "1"


def _fail(report: pytest.TestReport | pytest.CollectReport) -> None:
    longrepr = report.longrepr
    reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
    report.outcome = "failed"
    report.longrepr = f"skipped ({reason}), and {NO_SKIP}=1 forbids skips: install what it needs"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A skipped test (not an expected failure) fails when skips are forbidden."""
    report = yield
    if _forbidden() and report.skipped and not hasattr(report, "wasxfail"):
        _fail(report)
    return report


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(
    collector: pytest.Collector,
) -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
    """A module that skips as a whole fails when skips are forbidden."""
    report = yield
    if _forbidden() and report.skipped:
        _fail(report)
    return report
