"""When a feed polls next: pure functions of intervals, jitter and time.

Randomness comes in as a number in [0, 1) so that tables can pin every case.
"""

from __future__ import annotations

from datetime import datetime


def jittered(interval_s: float, jitter_ratio: float, u: float) -> float:
    """``interval_s`` spread evenly over ±``jitter_ratio`` of itself (``u`` uniform in [0, 1))."""
    return interval_s * (1.0 + jitter_ratio * (2.0 * u - 1.0))


def first_delay(
    interval_s: float,
    jitter_ratio: float,
    u: float,
    *,
    last_success_at: datetime | None,
    now: datetime,
    min_spread_s: float = 0.0,
) -> float:
    """Seconds before a feed's first poll after start-up.

    A feed polled recently waits out the rest of its interval (a restart does not spend the
    budget again); a feed never polled, or overdue, starts within the jitter window so that
    many feeds do not fire at the same instant, or within ``min_spread_s`` when that is longer
    (the scheduler's start-up pace: thousands of feeds would otherwise start in one window).
    """
    spread = max(interval_s * jitter_ratio, min_spread_s) * u
    if last_success_at is None:
        return spread
    remaining = interval_s - (now - last_success_at).total_seconds()
    return max(remaining, 0.0) + spread
