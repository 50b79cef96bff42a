"""Pacing: jittered intervals and the first poll after start-up, pinned by tables."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from listener.ratelimit.pacing import first_delay, jittered

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("interval", "ratio", "u", "expected"),
    [
        (300, 0.1, 0.5, 300.0),
        (300, 0.1, 0.0, 270.0),
        (300, 0.1, 0.999999, 329.99994),
        (300, 0.0, 0.9, 300.0),
        (10, 0.5, 0.25, 7.5),
    ],
)
def test_jittered(interval: float, ratio: float, u: float, expected: float) -> None:
    """The interval is spread evenly over ±ratio of itself."""
    assert jittered(interval, ratio, u) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("last_age_s", "u", "expected"),
    [
        (None, 0.0, 0.0),  # never polled: at once
        (None, 0.5, 15.0),  # never polled: within the jitter window
        (100, 0.0, 200.0),  # polled 100 s ago: wait out the interval
        (100, 0.5, 215.0),
        (300, 0.0, 0.0),  # exactly due
        (5000, 0.0, 0.0),  # overdue: at once, not negative
    ],
)
def test_first_delay(last_age_s: float | None, u: float, expected: float) -> None:
    """A restart does not poll again a feed polled recently, and never waits negative time."""
    last = None if last_age_s is None else NOW - timedelta(seconds=last_age_s)
    assert first_delay(300, 0.1, u, last_success_at=last, now=NOW) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("last_age_s", "min_spread_s", "u", "expected"),
    [
        (None, 305.0, 0.5, 152.5),  # 6,100 feeds at 20 a second: over 305 s, not 30 s
        (None, 0.05, 0.5, 15.0),  # one feed: the jitter window is the longer
        (100, 305.0, 0.5, 352.5),  # polled 100 s ago: the rest of the interval, then spread
        (5000, 305.0, 1.0, 305.0),  # overdue: within the spread
    ],
)
def test_first_delay_spreads_many_feeds_over_the_start_up_window(
    last_age_s: float | None, min_spread_s: float, u: float, expected: float
) -> None:
    """The start-up window is the jitter window or ``min_spread_s``, whichever is longer."""
    last = None if last_age_s is None else NOW - timedelta(seconds=last_age_s)
    delay = first_delay(300, 0.1, u, last_success_at=last, now=NOW, min_spread_s=min_spread_s)
    assert delay == pytest.approx(expected)
