"""The comment-giveaway benchmark runs end to end at a tiny size and renders its section.

Figures belong to bench/RESULTS.md; this checks only what must hold at any size: the post read
completely, within the call bound, and a draw that verifies.
"""

from __future__ import annotations

from pathlib import Path

from bench import comments, runner
from bench.comments import CALLS_GOAL, giveaway, render


async def test_a_small_giveaway_is_read_completely_and_its_draw_verifies(
    mongo_uri: str, tmp_path: Path
) -> None:
    """300 comments, some webhooks dropped: none missing or duplicated, calls within 1.10 ×
    the bound, the export and the draw run, and the draw verifies."""
    result = await giveaway(mongo_uri, 300, tmp_path)
    assert result.problems == []
    assert (result.comments, result.stored, result.missing, result.duplicated) == (300, 300, 0, 0)
    assert result.differ == 0
    assert 0 < result.dropped < result.comments
    assert result.delivered == result.comments - result.dropped
    assert result.ratio <= CALLS_GOAL
    assert result.entrants > 0
    assert result.draw_verified
    text = render([result], 1.0)
    assert text.startswith("## Comment giveaway")
    assert "| 300 |" in text


def test_the_benchmark_is_registered_under_its_heading() -> None:
    """`python -m bench --only comments` runs it, and its section is found by its heading."""
    registered = {b.name: b.heading for b in runner.BENCHMARKS}
    assert registered["comments"] == "## Comment giveaway"
    assert comments.QUICK_SIZES < comments.SIZES
