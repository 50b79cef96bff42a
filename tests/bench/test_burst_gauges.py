"""The burst benchmark's judge of the inbox gauges against the store's truth (pure)."""

from __future__ import annotations

import pytest

from bench.burst import check_gauges

# (time, depth, oldest received_at) read from the store at 0, 2, 4, ... s
TRUTH = [(0.0, 0, None), (2.0, 100, 1.0), (4.0, 300, 1.0), (6.0, 200, 3.0), (8.0, 0, None)]


@pytest.mark.parametrize(
    ("scrape", "expected"),
    [
        ((7.0, 250.0, 3.0), (1, 0, 0)),  # between two reads of the truth, a refresh ago
        ((7.0, 300.0, 1.5), (1, 0, 0)),  # the depth and age of an earlier moment of the period
        ((7.0, 900.0, 3.0), (1, 1, 0)),  # a depth the store never had
        ((7.0, 250.0, 40.0), (1, 0, 1)),  # an age nothing waited that long for
        ((8.0, 0.0, 0.0), (1, 0, 0)),  # nothing waiting: depth and age 0
        ((9.5, 0.0, 0.0), (0, 0, 0)),  # after the last read of the truth: not judged
    ],
)
def test_a_scrape_is_right_when_it_equals_the_truth_at_a_moment_of_its_refresh_period(
    scrape: tuple[float, float, float], expected: tuple[int, int, int]
) -> None:
    """A scrape is judged against the truth of the refresh period before it, and only there."""
    assert check_gauges(TRUTH, [scrape], refresh_s=5.0, slack_s=0.0) == expected
