"""What the scheduler's own bookkeeping costs as feeds grow: sharing a budget runs per period,
not per poll, and start-up reads every feed's state in one query, not one per feed."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest

from listener.metrics import Metrics
from listener.models import Source, SourceKind
from listener.pollers.accounts import Accounts
from listener.pollers.feed import PollResult
from listener.pollers.scheduler import Pacing, Scheduler
from listener.ratelimit.adaptive import share_budget
from listener.ratelimit.throttle import Scope
from listener.simulator.clock import ManualClock, VirtualTime
from listener.store.store import Store
from tests.graphsim import NOW

FEEDS = 40
HOURS = 2
RESHARE_S = 600.0


@dataclass
class QuietFeed:
    """A hashtag feed of the app's scope that never finds anything new."""

    source: Source
    scope: Scope = field(default_factory=lambda: Scope("app"))
    interval_s: float = 60.0
    page_size: int = 50
    clock: ManualClock | None = None
    polled_at: list[datetime] = field(default_factory=list)

    @property
    def feature(self) -> str:
        return "hashtag_recent"

    async def poll(self, fence: int | None = None) -> PollResult:
        if self.clock is not None:
            self.polled_at.append(self.clock())
        return PollResult(pages=1, new=0, duplicate=0)


def quiet_feeds() -> list[QuietFeed]:
    return [QuietFeed(Source(SourceKind.HASHTAG_RECENT, "brand", f"tag{n}")) for n in range(FEEDS)]


async def run(
    store: Store, metrics: Metrics, feeds: list[QuietFeed], *, start_polls_per_s: float = 20.0
) -> Scheduler:
    clock = ManualClock(NOW)
    for feed in feeds:
        feed.clock = clock
    virtual = VirtualTime(clock, actors=len(feeds), until=NOW + timedelta(hours=HOURS))
    polls = Scheduler(
        feeds,
        store=store,
        metrics=metrics,
        accounts=Accounts({}, metrics=metrics, clock=clock),
        pacing=Pacing(
            min_interval_s=60,
            max_interval_s=900,
            budget_per_hour=lambda scope: 10_000.0,
            reshare_s=RESHARE_S,
            start_polls_per_s=start_polls_per_s,
        ),
        clock=clock,
        wait=virtual.wait,
        rng=random.Random(7),
    )
    await polls.run(virtual.stop)
    return polls


async def test_the_budget_is_shared_once_a_period_not_after_every_poll(
    store: Store, metrics: Metrics, monkeypatch: pytest.MonkeyPatch
) -> None:
    """40 feeds of one scope over 2 hours: hundreds of polls, but the scope's budget is shared
    (a walk over all 40) at most once per ``reshare_s``, and quiet feeds still slow down."""
    shares: list[int] = []

    def counted(needs: Any, budget: float, *, max_interval_s: float) -> dict[str, float]:
        shares.append(len(needs))
        return share_budget(needs, budget, max_interval_s=max_interval_s)

    monkeypatch.setattr("listener.pollers.scheduler.share_budget", counted)
    feeds = quiet_feeds()
    polls = await run(store, metrics, feeds)
    assert polls.polls_done >= 4 * FEEDS
    assert 1 <= len(shares) <= HOURS * 3600 / RESHARE_S + 1
    assert all(size == FEEDS for size in shares)
    assert all(polls.interval_s(feed) == 900 for feed in feeds)


async def test_start_up_reads_every_feeds_state_in_one_query(
    store: Store, metrics: Metrics, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The feeds' last successes come from one query at start, not from one read per feed."""
    feeds = quiet_feeds()
    for feed in feeds[:10]:
        await store.feeds.record_success(feed.source, now=NOW, new=0, pages=1)
    reads: list[str] = []
    one, many = store.feeds.state, store.feeds.states

    async def state(source: Source) -> Any:
        reads.append("one")
        return await one(source)

    async def states(sources: Any) -> Any:
        reads.append("many")
        return await many(sources)

    monkeypatch.setattr(store.feeds, "state", state)
    monkeypatch.setattr(store.feeds, "states", states)
    await run(store, metrics, feeds)
    assert reads == ["many"]
    # Polled just now (at NOW): those 10 wait an interval (60 s ± 10 %) for their first poll;
    # the others poll within the jitter.
    first = [feed.polled_at[0] - NOW for feed in feeds]
    assert all(wait >= timedelta(seconds=54) for wait in first[:10])
    assert all(wait <= timedelta(seconds=6) for wait in first[10:])


async def test_many_feeds_start_at_the_start_up_pace_not_all_in_the_jitter_window(
    store: Store, metrics: Metrics
) -> None:
    """40 feeds at 1 a second: their first polls spread over 40 s, not the 6 s jitter window of
    a 60 s interval, so the first round holds a few polls in flight, not all of them."""
    feeds = quiet_feeds()
    await run(store, metrics, feeds, start_polls_per_s=1.0)
    first = sorted((feed.polled_at[0] - NOW).total_seconds() for feed in feeds)
    assert first[-1] > 6
    assert first[-1] <= FEEDS
    in_any_10_s = max(sum(1 for t in first if start <= t < start + 10) for start in first)
    assert in_any_10_s < FEEDS / 2
