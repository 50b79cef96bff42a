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
