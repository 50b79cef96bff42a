"""The agency-scale benchmark runs end to end at its smallest size and renders its tables.

Figures belong to bench/RESULTS.md; this test checks only that both runs complete and that the
section carries both tables with a verdict on every goal.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import agency

pytestmark = pytest.mark.slow

TINY = agency.Plan(accounts=1, tags=2, soak_s=3, warmup_s=1, run_s=3, baseline_s=0)


def test_tiny_agency_run_renders_both_tables(tmp_path: Path) -> None:
    """One account × two hashtags in one replica and in three: both tables, every goal judged."""
    text = agency.report(TINY, tmp_path)
    assert text.startswith("## Agency scale: 1 accounts × 2 hashtags, 4 feeds")
    assert "5 feeds in all" in text
    assert "### One replica" in text
    assert f"### {agency.REPLICAS} replicas on one database" in text
    verdicts = text.count("**met**") + text.count("**not met**")
    assert verdicts >= 7


def sample(at: float, calls: int, cpu_s: float) -> agency.Sample:
    return agency.Sample(at=at, rss_kib=(1,), cpu_s=(cpu_s,), calls=calls, db_cpu_s=0.0)


@pytest.mark.parametrize(
    ("calls_per_s", "expected_pct", "expected_ms"),
    [
        ((10, 5, 0.5, 20), 2.0, 3.0),  # 2 % fixed, 3 ms a call: 0.3 % per call a second
        ((1, 2, 3), 0.0, 10.0),  # all of it the calls
    ],
)
def test_idle_cost_is_the_cpu_line_at_no_call(
    calls_per_s: tuple[float, ...], expected_pct: float, expected_ms: float
) -> None:
    """10 s intervals whose CPU is a fixed share plus a cost per call: the line gives back both."""
    samples, calls, cpu = [sample(0, 0, 0.0)], 0, 0.0
    for n, rate in enumerate(calls_per_s, start=1):
        calls += int(rate * 10)
        cpu += (expected_pct / 100 + rate * expected_ms / 1000) * 10
        samples.append(sample(n * 10, calls, cpu))
    idle = agency.idle_cost(samples, warmup_s=0)
    assert idle is not None
    assert idle.pct == pytest.approx(expected_pct, abs=1e-9)
    assert idle.ms_per_call == pytest.approx(expected_ms)
    assert idle.intervals == len(calls_per_s)


def test_idle_cost_needs_calls_that_vary() -> None:
    """The same call rate in every interval leaves the line undetermined: no estimate."""
    samples = [sample(n * 10, n * 50, n * 1.0) for n in range(5)]
    assert agency.idle_cost(samples, warmup_s=0) is None
