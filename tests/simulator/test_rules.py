"""The pure rules behind the API: the 30-hashtag ledger and rolling-hour usage, by table."""

from __future__ import annotations

from datetime import timedelta

import pytest

from listener.simulator.ledger import HASHTAG_LIMIT, HashtagLedger
from listener.simulator.usage import RollingCalls, ScriptedThrottle, minutes_until, with_throttle
from tests.simulator.harness import START

DAY = timedelta(days=1)


def test_ledger_refuses_the_31st_but_not_a_repeat() -> None:
    """Thirty distinct tags fit; a 31st does not; a spent tag can always be used again."""
    ledger = HashtagLedger()
    assert all(ledger.spend("u", f"t{i}", START) for i in range(HASHTAG_LIMIT))
    assert not ledger.spend("u", "t30", START)
    assert ledger.spend("u", "t0", START + DAY)
    assert ledger.spend("other-user", "t30", START)


@pytest.mark.parametrize(
    ("offset", "frees"),
    [(timedelta(days=7) - timedelta(seconds=1), False), (timedelta(days=7), True)],
)
def test_ledger_slot_frees_seven_days_after_first_use(offset: timedelta, frees: bool) -> None:
    """A slot is busy until exactly 7 days after first use; re-use at day 6 does not extend it."""
    ledger = HashtagLedger()
    ledger.spend("u", "first", START)
    for i in range(HASHTAG_LIMIT - 1):
        ledger.spend("u", f"t{i}", START + DAY)
    ledger.spend("u", "first", START + 6 * DAY)
    assert ledger.spend("u", "new", START + offset) is frees


@pytest.mark.parametrize(
    ("calls", "budget", "expected"),
    [(0, 10, (0, 0, 0)), (1, 10, (10, 6, 4)), (5, 10, (50, 30, 20)), (10, 10, (100, 60, 40))],
)
def test_usage_percentages(calls: int, budget: int, expected: tuple[int, int, int]) -> None:
    """Usage is whole-number percentages of the hourly budget, call_count the highest."""
    window = RollingCalls()
    for _ in range(calls):
        window.add(START)
    usage = window.usage(budget, START)
    assert (usage.call_count, usage.total_time, usage.total_cputime) == expected
    assert usage.exhausted is (calls >= budget)


def test_usage_regain_time_is_when_the_oldest_call_ages_out() -> None:
    """At the budget, regain minutes count to the moment the oldest call leaves the hour."""
    window = RollingCalls()
    window.add(START)
    window.add(START + timedelta(minutes=30))
    usage = window.usage(2, START + timedelta(minutes=45))
    assert usage.regain_minutes == 15
    assert window.usage(2, START + timedelta(hours=1)).call_count == 50


@pytest.mark.parametrize(
    ("seconds", "minutes"), [(-5, 0), (0, 0), (1, 1), (60, 1), (61, 2), (600, 10)]
)
def test_minutes_until_rounds_up(seconds: int, minutes: int) -> None:
    """Regain minutes round up and never go negative."""
    assert minutes_until(START + timedelta(seconds=seconds), START) == minutes


def test_scripted_throttle_shows_full_usage_until_it_ends() -> None:
    """While a scripted throttle runs, call_count reads at least 100 and regain is set."""
    usage = RollingCalls().usage(10, START)
    throttle = ScriptedThrottle(code=4, until=START + timedelta(minutes=5))
    during = with_throttle(usage, throttle, START)
    assert (during.call_count, during.regain_minutes) == (100, 5)
    assert with_throttle(usage, throttle, START + timedelta(minutes=5)) == usage
