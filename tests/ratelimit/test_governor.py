"""The governor against the simulator: pauses with zero calls, per-account scopes, slowing down.

Time is virtual (see tests/graphsim.py): a pause is waited out by moving the shared clock, so
the simulator's call log shows exactly which calls fell inside it.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from structlog.testing import capture_logs

from listener.errors import ThrottledError
from listener.ratelimit.governor import Governor
from listener.ratelimit.throttle import APP_SCOPE, Policy, Scope
from listener.simulator import SimulatorConfig
from listener.simulator.clock import ManualClock
from tests.graphsim import BRAND, NOW, WHO, WHO_OTHER, Graph


def calls_between(
    graph: Graph, start: datetime, end: datetime, ig_user_id: str | None = None
) -> int:
    return sum(
        1
        for call in graph.world.stats.log
        if start < call.at < end and (ig_user_id is None or call.ig_user_id == ig_user_id)
    )


async def test_app_throttle_pauses_with_zero_calls(graph: Graph) -> None:
    """After code 4 the app scope gets no call until the pause ends, then calls resume."""
    throttled_at = graph.clock()
    graph.world.throttle("app", 4, minutes=4, now=throttled_at)
    with pytest.raises(ThrottledError):
        await graph.api.hashtag_id(WHO, "summerdrop")
    assert graph.governor.paused(APP_SCOPE)
    pause_end = throttled_at + timedelta(seconds=300)  # Meta gives no regain time for the app
    assert await graph.api.hashtag_id(WHO, "summerdrop")
    assert graph.clock() >= pause_end
    assert calls_between(graph, throttled_at, pause_end) == 0
    assert not graph.governor.paused(APP_SCOPE)


async def test_buc_throttle_waits_for_metas_regain_time(graph: Graph) -> None:
    """An 80002 throttle pauses that account until estimated_time_to_regain_access, no sooner."""
    throttled_at = graph.clock()
    graph.world.throttle(BRAND.ig_user_id, 80002, minutes=20, now=throttled_at)
    with pytest.raises(ThrottledError) as caught:
        await graph.api.recently_searched_hashtags(WHO)
    assert caught.value.retry_after_s == pytest.approx(1200, abs=60)
    await graph.api.recently_searched_hashtags(WHO)
    assert graph.clock() >= throttled_at + timedelta(minutes=19)
    assert (
        calls_between(graph, throttled_at, throttled_at + timedelta(minutes=19), BRAND.ig_user_id)
        == 0
    )


async def test_other_accounts_keep_working_while_one_is_throttled(graph: Graph) -> None:
    """A throttled account's scope blocks only that account: another one calls without waiting."""
    graph.world.throttle(BRAND.ig_user_id, 80002, minutes=20, now=graph.clock())
    with pytest.raises(ThrottledError):
        await graph.api.recently_searched_hashtags(WHO)
    before = graph.clock()
    assert await graph.api.recently_searched_hashtags(WHO_OTHER) == []
    assert graph.clock() == before
    assert graph.governor.paused(Scope("buc", "brand"))
    assert not graph.governor.paused(Scope("buc", "other"))


async def test_user_throttle_stops_that_accounts_hashtag_calls(graph: Graph) -> None:
    """Code 17 (user limit) on a hashtag call pauses that account, not the app's other users."""
    graph.world.throttle(BRAND.ig_user_id, 17, minutes=2, now=graph.clock())
    with pytest.raises(ThrottledError):
        await graph.api.hashtag_id(WHO, "summerdrop")
    before = graph.clock()
    await graph.api.hashtag_id(WHO_OTHER, "summerdrop")
    assert graph.clock() - before < timedelta(seconds=1)  # only the app's call spacing
    await graph.api.hashtag_id(WHO, "summerdrop")
    assert graph.clock() >= before + timedelta(seconds=120)


async def test_user_pause_is_logged_when_it_begins_and_when_it_ends(graph: Graph) -> None:
    """Code 17 twice (the second only lengthens the pause): paused, extended, resumed, once each."""
    graph.world.throttle(BRAND.ig_user_id, 17, minutes=2, now=graph.clock())
    with capture_logs() as logs:
        with pytest.raises(ThrottledError):
            await graph.api.hashtag_id(WHO, "summerdrop")
        graph.governor.observe_throttle("ig_hashtag_search", "brand", 17, 7200.0)
        await graph.api.hashtag_id(WHO, "summerdrop")
        await graph.api.hashtag_id(WHO, "sunset")
    user = [(e["event"], e["scope"]) for e in logs if e.get("scope") == "user:brand"]
    assert user == [
        ("ratelimit.paused", "user:brand"),
        ("ratelimit.pause_extended", "user:brand"),
        ("ratelimit.resumed", "user:brand"),
    ]


def test_garbled_usage_headers_are_logged_when_they_begin_and_counted_always() -> None:
    """An unreadable usage header on every answer: one warning, not one per call, all counted."""
    garbled: list[int] = []
    governor = Governor(
        lambda scope: Policy(budget_per_hour=3600.0),
        clock=lambda: NOW,
        on_garbled=garbled.append,
    )
    readable = {"x-app-usage": '{"call_count": 10, "total_cputime": 1, "total_time": 1}'}
    with capture_logs() as logs:
        for headers in [{"x-app-usage": "{oops"}] * 3 + [readable] + [{"x-app-usage": "[]"}] * 2:
            governor.observe_headers("brand", headers)
    assert [e["event"] for e in logs] == ["ratelimit.header_garbled"] * 2
    assert len(garbled) == 5


@pytest.fixture
def sim_config(sim_config: SimulatorConfig) -> SimulatorConfig:
    """A small platform budget, so that usage climbs 5 points a call."""
    return replace(sim_config, app_calls_per_hour=20)


@pytest.mark.parametrize("budget_per_hour", [360_000.0])  # calls 10 ms apart: measurable
async def test_soft_threshold_stretches_the_pace(graph: Graph) -> None:
    """Above 75 % reported usage the gap between calls grows in proportion to the usage."""
    for _ in range(19):
        await graph.api.hashtag_id(WHO, "summerdrop")
    base = graph.sleeps[0]
    # Calls 2..15 see usage up to 75 %: base spacing. Later ones see 80 %, 85 %, 90 %.
    assert graph.sleeps[:14] == pytest.approx([base] * 14)
    stretched = graph.sleeps[15:]
    assert all(later > earlier for earlier, later in itertools.pairwise(stretched))
    assert stretched[-1] > 3 * base


def standalone(clock: ManualClock, garbled: list[int] | None = None) -> Governor:
    """A governor on a hand-moved clock, BRAND known by its IG user id."""
    return Governor(
        lambda scope: Policy(budget_per_hour=3600, default_pause_s=300.0),
        clock=clock,
        accounts_by_ig_id={BRAND.ig_user_id: "brand"},
        on_garbled=None if garbled is None else garbled.append,
    )


@pytest.mark.parametrize("business_first", [True, False], ids=["business-first", "account-first"])
def test_buc_usage_under_two_ids_reads_the_highest(*, business_first: bool) -> None:
    """One answer listing the business and the account: the account's scope takes the worst."""
    governor = standalone(ManualClock(NOW))
    business = (
        "1784000000000999",
        [
            {
                "type": "instagram",
                "call_count": 91,
                "total_time": 5,
                "estimated_time_to_regain_access": 4,
            }
        ],
    )
    account = (BRAND.ig_user_id, [{"type": "instagram", "call_count": 12, "total_time": 30}])
    entries = dict([business, account] if business_first else [account, business])
    regain = governor.observe_headers("brand", {"x-business-use-case-usage": json.dumps(entries)})
    assert governor.state(Scope("buc", "brand")).usage_ratio == pytest.approx(0.91)
    assert regain == 240.0


def test_header_problems_are_all_counted_and_logged_on_change() -> None:
    """Every garbled answer is counted; the same problem again is not logged again."""
    garbled: list[int] = []
    governor = standalone(ManualClock(NOW), garbled)
    odd = {"x-app-usage": '{"call_count":5,"shiny":1}'}
    with capture_logs() as logs:
        for _ in range(3):
            governor.observe_headers("brand", odd)
        governor.observe_headers("brand", {"x-app-usage": '{"call_count":5}'})
        governor.observe_headers("brand", odd)
    assert garbled == [1, 1, 1, 1]
    assert [e["event"] for e in logs].count("ratelimit.header_garbled") == 2


def test_object_missing_is_judged_in_the_calls_scope() -> None:
    """The governor keeps each scope's run: a success between misses starts it afresh."""
    clock = ManualClock(NOW)
    governor = standalone(clock)
    assert not governor.observe_missing("mentioned_media", "brand", "m1").throttle
    assert not governor.observe_missing("mentioned_media", "brand", "m2").throttle
    governor.observe_success("tags", "brand")
    assert not governor.observe_missing("mentioned_media", "brand", "m3").throttle
    assert not governor.observe_missing("mentioned_media", "brand", "m4").throttle
    assert governor.observe_missing("mentioned_comment", "brand", "c5").throttle
