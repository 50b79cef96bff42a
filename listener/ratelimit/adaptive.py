"""Adaptive polling arithmetic: how often each hashtag feed should be polled (pure).

``recent_media`` only returns media "published within 24 hours of query execution", at most
50 a page, and not in chronological order (reference §1c). A feed polled too rarely needs many
pages per poll and can lose media off the 24 h edge; one polled too often wastes the app's
Platform budget, which every hashtag call of the app shares. So each feed's arrival rate is
tracked, turned into the interval at which one poll normally fits one page, and the intervals
of all feeds are stretched together when their sum would overspend the budget.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

RECENT_MEDIA_WINDOW_S: Final = 86_400.0


@dataclass(frozen=True)
class FeedRate:
    """A feed's smoothed arrival rate of new media per second, and how many polls it rests on."""

    rate_per_s: float = 0.0
    samples: int = 0


def observe_rate(prev: FeedRate, new_media: int, elapsed_s: float, alpha: float = 0.3) -> FeedRate:
    """The rate after a poll found ``new_media`` new items ``elapsed_s`` after the previous one.

    An exponentially weighted moving average with weight ``alpha`` on the new sample; the first
    sample is taken as is, since there is nothing yet to average it with. A poll with no
    elapsed time (the first poll of a feed, or a clock step backwards) carries no rate and is
    ignored, as is a negative count.
    """
    if not 0.0 < alpha <= 1.0:
        raise ValueError(f"alpha must be in (0, 1], not {alpha}")
    if not (math.isfinite(elapsed_s) and elapsed_s > 0) or new_media < 0:
        return prev
    sample = new_media / elapsed_s
    if prev.samples == 0:
        return FeedRate(sample, 1)
    return FeedRate(alpha * sample + (1.0 - alpha) * prev.rate_per_s, prev.samples + 1)


def ideal_interval_s(
    rate: FeedRate,
    *,
    page_size: int,
    fill: float = 0.6,
    min_s: float,
    max_s: float,
    default_s: float,
) -> float:
    """The poll interval at which one poll normally reads one page and stops there.

    That is when the expected new media, rate × interval, is ``fill`` × ``page_size``. The
    headroom below a full page is what lets that page end in media already stored, which is
    how a poll knows it can stop without reading another page: at 30 of 50, arrivals two
    standard deviations above the mean (Poisson, ±11) and the ±10 % jitter on the interval
    still leave the page's last few media known. A fuller target saves polls but pays a
    second page on a poll in three or so. Clamped to [``min_s``, ``max_s``]. A feed with no
    rate yet polls at ``default_s`` (the configured target, clamped too); a feed with a rate of
    zero at ``max_s``.
    """
    if not 0 < min_s <= max_s:
        raise ValueError(f"need 0 < min_s <= max_s, not min_s={min_s}, max_s={max_s}")
    if page_size <= 0 or not 0.0 < fill <= 1.0:
        raise ValueError(f"need page_size > 0 and fill in (0, 1], not {page_size}, {fill}")
    if rate.samples == 0:
        return _clamp(default_s, min_s, max_s)
    if rate.rate_per_s <= 0:
        return max_s
    return _clamp(fill * page_size / rate.rate_per_s, min_s, max_s)


def share_budget(
    needs: Mapping[str, float],
    budget_calls_per_hour: float,
    *,
    max_interval_s: float,
) -> dict[str, float]:
    """Each feed's poll interval in seconds, so that all of them together fit the budget.

    ``needs`` are the feeds' ideal intervals in seconds. If their calls per hour (3600 / interval
    each) fit the budget they are returned unchanged. Otherwise every feed first gets one call
    per ``max_interval_s``, so that a quiet feed is never starved; the rest of the budget goes
    to the feeds in proportion to the calls they want beyond that floor, so busy feeds get more
    and none gets more than it asked for. Then no interval exceeds ``max_interval_s``, and none
    is shorter than its need unless the need itself exceeds ``max_interval_s``. If the budget
    cannot even pay the floors, all feeds share it equally.
    """
    if not (math.isfinite(budget_calls_per_hour) and budget_calls_per_hour > 0):
        raise ValueError(f"budget_calls_per_hour must be positive, not {budget_calls_per_hour}")
    if not (math.isfinite(max_interval_s) and max_interval_s > 0):
        raise ValueError(f"max_interval_s must be positive, not {max_interval_s}")
    bad = sorted(feed for feed, need in needs.items() if not (math.isfinite(need) and need > 0))
    if bad:
        raise ValueError(f"needs must be positive intervals in seconds; not so for {bad}")
    if not needs:
        return {}

    wanted = {feed: 3600.0 / need for feed, need in needs.items()}
    if sum(wanted.values()) <= budget_calls_per_hour:
        return {feed: float(need) for feed, need in needs.items()}

    floor = 3600.0 / max_interval_s
    if floor * len(needs) >= budget_calls_per_hour:
        equal = 3600.0 * len(needs) / budget_calls_per_hour
        return dict.fromkeys(needs, equal)

    spare = budget_calls_per_hour - floor * len(needs)
    beyond = {feed: max(0.0, calls - floor) for feed, calls in wanted.items()}
    # Positive: the wanted calls exceed the budget, so the calls beyond the floors exceed `spare`;
    # for the same reason each feed's share of `spare` stays below what it wants.
    total_beyond = sum(beyond.values())
    return {feed: 3600.0 / (floor + spare * beyond[feed] / total_beyond) for feed in needs}


def possibly_missed(
    *,
    hit_page_bound: bool,
    oldest_new_age_s: float | None,
    window_s: float = RECENT_MEDIA_WINDOW_S,
    margin_s: float = 3600.0,
) -> bool:
    """Whether a poll may have lost media: a sign the feed should be polled more often.

    True when the poll stopped at its page bound while still finding new media (more may lie
    on pages it did not read), or when the oldest new media it found was already within
    ``margin_s`` of the ``window_s`` edge (older ones may have fallen out of the window before
    the poll came). ``oldest_new_age_s`` is ``None`` when the poll found nothing new.
    """
    if oldest_new_age_s is None:
        return False
    return hit_page_bound or oldest_new_age_s >= window_s - margin_s


def _clamp(value: float, low: float, high: float) -> float:
    return min(max(value, low), high)
