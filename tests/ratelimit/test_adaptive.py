"""Adaptive polling: rate smoothing, ideal intervals, sharing a budget, signs of missed media."""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Callable

import pytest

from listener.pollers.feed import KNOWN_TAIL
from listener.ratelimit.adaptive import (
    FeedRate,
    ideal_interval_s,
    observe_rate,
    possibly_missed,
    share_budget,
)


@pytest.mark.parametrize(
    ("prev", "new_media", "elapsed_s", "alpha", "expected"),
    [
        pytest.param(FeedRate(), 10, 100.0, 0.3, FeedRate(0.1, 1), id="first-sample-as-is"),
        pytest.param(FeedRate(), 0, 100.0, 0.3, FeedRate(0.0, 1), id="first-sample-quiet"),
        pytest.param(FeedRate(0.1, 1), 40, 100.0, 0.3, FeedRate(0.19, 2), id="ewma"),
        pytest.param(FeedRate(0.1, 5), 0, 100.0, 0.3, FeedRate(0.07, 6), id="quiet-poll-decays"),
        pytest.param(FeedRate(0.1, 5), 40, 100.0, 1.0, FeedRate(0.4, 6), id="alpha-1-no-memory"),
        pytest.param(FeedRate(0.1, 5), 40, 0.0, 0.3, FeedRate(0.1, 5), id="zero-elapsed-ignored"),
        pytest.param(FeedRate(0.1, 5), 40, -3.0, 0.3, FeedRate(0.1, 5), id="clock-back-ignored"),
        pytest.param(
            FeedRate(0.1, 5), 40, float("nan"), 0.3, FeedRate(0.1, 5), id="nan-elapsed-ignored"
        ),
        pytest.param(
            FeedRate(0.1, 5), 40, float("inf"), 0.3, FeedRate(0.1, 5), id="inf-elapsed-ignored"
        ),
        pytest.param(FeedRate(0.1, 5), -1, 100.0, 0.3, FeedRate(0.1, 5), id="negative-ignored"),
        pytest.param(FeedRate(), 5, 0.0, 0.3, FeedRate(), id="first-poll-no-elapsed"),
    ],
)
def test_observe_rate_is_an_ewma_of_arrivals(
    prev: FeedRate, new_media: int, elapsed_s: float, alpha: float, expected: FeedRate
) -> None:
    """The first sample is taken as is, then an average weighted by alpha; timeless polls skip."""
    result = observe_rate(prev, new_media, elapsed_s, alpha)
    assert result.samples == expected.samples
    assert result.rate_per_s == pytest.approx(expected.rate_per_s)


@pytest.mark.parametrize("alpha", [0.0, -0.1, 1.5])
def test_observe_rate_rejects_alpha_outside_unit_interval(alpha: float) -> None:
    """An alpha of 0 would never learn and above 1 would overshoot: both are configuration bugs."""
    with pytest.raises(ValueError, match="alpha"):
        observe_rate(FeedRate(), 1, 1.0, alpha)


@pytest.mark.parametrize(
    ("rate", "fill", "default_s", "expected"),
    [
        pytest.param(FeedRate(), 0.8, 300.0, 300.0, id="unknown-rate-default"),
        pytest.param(FeedRate(), 0.8, 99_999.0, 3600.0, id="unknown-rate-default-clamped-high"),
        pytest.param(FeedRate(), 0.8, 1.0, 60.0, id="unknown-rate-default-clamped-low"),
        pytest.param(FeedRate(0.0, 3), 0.8, 300.0, 3600.0, id="silent-feed-max"),
        pytest.param(FeedRate(0.1, 3), 0.8, 300.0, 400.0, id="40-expected-at-400s"),
        pytest.param(FeedRate(0.1, 3), 1.0, 300.0, 500.0, id="full-page"),
        pytest.param(FeedRate(0.5, 3), 0.8, 300.0, 80.0, id="busy"),
        pytest.param(FeedRate(1.0, 3), 0.8, 300.0, 60.0, id="very-busy-clamped-min"),
        pytest.param(FeedRate(0.001, 3), 0.8, 300.0, 3600.0, id="quiet-clamped-max"),
    ],
)
def test_ideal_interval_fits_one_page_per_poll(
    rate: FeedRate, fill: float, default_s: float, expected: float
) -> None:
    """Interval = fill × page_size / rate, clamped; unknown rate → default; silence → max."""
    got = ideal_interval_s(rate, page_size=50, fill=fill, min_s=60, max_s=3600, default_s=default_s)
    assert got == pytest.approx(expected)


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(
            lambda: ideal_interval_s(FeedRate(), page_size=50, min_s=0, max_s=10, default_s=5),
            id="min-zero",
        ),
        pytest.param(
            lambda: ideal_interval_s(FeedRate(), page_size=50, min_s=20, max_s=10, default_s=5),
            id="min-above-max",
        ),
        pytest.param(
            lambda: ideal_interval_s(FeedRate(), page_size=0, min_s=1, max_s=10, default_s=5),
            id="no-page",
        ),
        pytest.param(
            lambda: ideal_interval_s(
                FeedRate(), page_size=50, fill=0.0, min_s=1, max_s=10, default_s=5
            ),
            id="fill-zero",
        ),
        pytest.param(lambda: share_budget({"a": 0.0}, 10, max_interval_s=60), id="need-zero"),
        pytest.param(lambda: share_budget({"a": -5.0}, 10, max_interval_s=60), id="need-negative"),
        pytest.param(
            lambda: share_budget({"a": float("nan")}, 10, max_interval_s=60), id="need-nan"
        ),
        pytest.param(lambda: share_budget({"a": 60.0}, 0, max_interval_s=60), id="budget-zero"),
        pytest.param(lambda: share_budget({"a": 60.0}, 10, max_interval_s=0), id="max-zero"),
    ],
)
def test_nonsense_arguments_are_rejected(call: Callable[[], object]) -> None:
    """Arguments that have no meaningful answer raise ValueError instead of returning junk."""
    with pytest.raises(ValueError):  # noqa: PT011 - each case has its own message; any will do
        call()


def _calls(intervals: dict[str, float]) -> float:
    """Calls per hour the intervals spend together."""
    return sum(3600.0 / interval for interval in intervals.values())


# Needs used by the stretch cases: a busy feed (100 calls/h), a middling one (10/h), a quiet one
# (1/h). With max_interval_s 3600 each has a floor of 1 call/h; beyond it they want 99, 9 and 0.
NEEDS = {"busy": 36.0, "mid": 360.0, "quiet": 3600.0}


@pytest.mark.parametrize(
    ("needs", "budget", "max_interval_s", "expected"),
    [
        pytest.param({}, 100.0, 3600.0, {}, id="no-feeds"),
        pytest.param({"a": 60.0, "b": 120.0}, 100.0, 600.0, {"a": 60.0, "b": 120.0}, id="fits"),
        pytest.param({"a": 60.0, "b": 120.0}, 90.0, 600.0, {"a": 60.0, "b": 120.0}, id="exact"),
        pytest.param(
            {"a": 60.0, "slow": 7200.0}, 100.0, 600.0, {"a": 60.0, "slow": 7200.0}, id="fits-slow"
        ),
        pytest.param(
            NEEDS,
            56.0,
            3600.0,
            {
                "busy": 3600.0 / (1 + 53 * 99 / 108),
                "mid": 3600.0 / (1 + 53 * 9 / 108),
                "quiet": 3600.0,
            },
            id="stretched-in-proportion-beyond-floor",
        ),
        pytest.param(
            {"a": 60.0, "b": 60.0}, 60.0, 3600.0, {"a": 120.0, "b": 120.0}, id="equal-needs-halved"
        ),
        pytest.param(
            NEEDS, 3.0, 3600.0, dict.fromkeys(NEEDS, 3600.0), id="budget-pays-floors-only"
        ),
        pytest.param(NEEDS, 2.0, 3600.0, dict.fromkeys(NEEDS, 5400.0), id="floors-unaffordable"),
        pytest.param(
            {"a": 10.0, "huge": 9000.0},
            10.0,
            3600.0,
            {"a": 3600.0 / 9, "huge": 3600.0},
            id="need-beyond-max-gets-the-floor",
        ),
    ],
)
def test_share_budget_table(
    needs: dict[str, float], budget: float, max_interval_s: float, expected: dict[str, float]
) -> None:
    """Fitting needs are unchanged; otherwise floors first, the rest in proportion to demand."""
    assert share_budget(needs, budget, max_interval_s=max_interval_s) == pytest.approx(expected)


@pytest.mark.parametrize("seed", range(200))
def test_share_budget_properties(seed: int) -> None:
    """On random feeds: within budget, floors respected, busier → shorter, never below need."""
    rng = random.Random(seed)
    max_interval_s = rng.choice([600.0, 1800.0, 3600.0])
    needs = {
        f"f{i}": rng.choice([rng.uniform(10, max_interval_s), rng.uniform(10, 60)])
        for i in range(rng.randint(1, 40))
    }
    if rng.random() < 0.1:
        needs["slow"] = max_interval_s * 3
    budget = rng.uniform(1, 1.2 * _calls(needs))
    result = share_budget(needs, budget, max_interval_s=max_interval_s)

    assert result.keys() == needs.keys()
    if _calls(needs) <= budget:
        assert result == needs
        return
    assert _calls(result) == pytest.approx(budget, rel=1e-9)
    floors_paid = len(needs) * 3600.0 / max_interval_s <= budget
    for feed, interval in result.items():
        if floors_paid:
            assert interval <= max_interval_s * (1 + 1e-12)
            if needs[feed] <= max_interval_s:
                assert interval >= needs[feed] * (1 - 1e-12)
        else:
            assert interval == pytest.approx(len(needs) * 3600.0 / budget)
    for a, b in itertools.permutations(needs, 2):
        if needs[a] < needs[b]:
            assert result[a] <= result[b] * (1 + 1e-12)


@pytest.mark.parametrize(
    ("hit_page_bound", "oldest_new_age_s", "kwargs", "expected"),
    [
        pytest.param(False, None, {}, False, id="nothing-new"),
        pytest.param(True, None, {}, False, id="bound-hit-but-nothing-new"),
        pytest.param(True, 60.0, {}, True, id="bound-hit-still-finding-new"),
        pytest.param(False, 600.0, {}, False, id="all-fresh"),
        pytest.param(False, 82_799.0, {}, False, id="just-outside-margin"),
        pytest.param(False, 82_800.0, {}, True, id="at-margin-edge"),
        pytest.param(False, 86_000.0, {}, True, id="near-24h-edge"),
        pytest.param(False, 90_000.0, {}, True, id="past-window"),
        pytest.param(False, 500.0, {"window_s": 1000, "margin_s": 600}, True, id="custom-window"),
        pytest.param(False, 399.0, {"window_s": 1000, "margin_s": 600}, False, id="custom-inside"),
    ],
)
def test_possibly_missed(
    hit_page_bound: bool,
    oldest_new_age_s: float | None,
    kwargs: dict[str, float],
    expected: bool,
) -> None:
    """Missed media is suspected at the page bound with new media, or near the 24 h edge."""
    got = possibly_missed(
        hit_page_bound=hit_page_bound, oldest_new_age_s=oldest_new_age_s, **kwargs
    )
    assert got is expected


def test_default_fill_leaves_a_known_tail_on_a_busy_page() -> None:
    """At the default target, arrivals two standard deviations above the mean still leave the
    page's last ``KNOWN_TAIL`` media stored, so the poll stops after one page."""
    rate = FeedRate(1.0 / 12.0, 5)  # 300 an hour
    interval = ideal_interval_s(rate, page_size=50, min_s=1, max_s=86_400, default_s=60)
    expected = rate.rate_per_s * interval * 1.1  # the longest jittered interval
    assert expected + 2 * math.sqrt(expected) + KNOWN_TAIL <= 50
