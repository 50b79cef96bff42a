"""The scheduler: runs each feed on its own paced loop until the stop event is set.

Pacing. Each feed's interval follows its observed arrival rate, so that a poll normally fits
one page (within ``min_interval_s`` and ``max_interval_s``); the feeds of one rate-limit scope
then share that scope's budget by need: busy feeds get more calls, quiet ones keep at least one
call per ``max_interval_s``. Intervals are jittered so feeds do not fire together.

Errors. A throttle has already paused its scope in the governor, so the next poll simply
waits there; an auth or permission error stops the account or the feature until a human acts
(:mod:`listener.pollers.accounts`); a hashtag over the 30-slot budget waits until a slot frees;
anything else — an error nobody expected included — is retried at the next interval: no poll
ends its feed's loop. Failures are logged on transitions (failing → recovered), not on every
attempt.

Shutdown. Loops wait on the stop event instead of sleeping, and a poll waiting in the governor
(a pause, pacing, a backoff) ends at the stop (:class:`StoppingError`). A poll in flight when
the stop arrives is given ``grace_s`` to finish; after that it is cancelled, which is safe
because a feed's state advances only after its media are stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import structlog

from listener.errors import (
    GraphError,
    HashtagQuotaError,
    LeaseLostError,
    StoppingError,
    StoreUnavailableError,
)
from listener.metrics import Metrics
from listener.pollers.accounts import Accounts
from listener.pollers.feed import Feed, PollResult
from listener.pollers.leasing import Leasing
from listener.pollers.stopping import Wait, wait_for_stop
from listener.ratelimit.adaptive import (
    FeedRate,
    ideal_interval_s,
    observe_rate,
    possibly_missed,
    share_budget,
)
from listener.ratelimit.pacing import first_delay, jittered
from listener.ratelimit.throttle import Scope
from listener.store.feeds import feed_key
from listener.store.store import Store

log = structlog.get_logger("listener.pollers")


@dataclass(frozen=True)
class Pacing:
    """How the scheduler paces feeds."""

    jitter_ratio: float = 0.1
    adaptive: bool = True
    min_interval_s: float = 60.0
    max_interval_s: float = 3600.0
    budget_per_hour: Callable[[Scope], float] = lambda scope: math.inf
    takeover_check_s: float = 30.0
    reshare_s: float = 60.0
    """How often a scope's budget is shared anew between its feeds (at most)."""
    start_polls_per_s: float = 20.0
    """At start-up, due feeds are spread so that about this many start a second (6,100 feeds:
    over 305 s rather than all within the first 30 s), which keeps the first round's polls in
    flight, and the memory they hold, as few as the later rounds'."""


@dataclass
class _Pace:
    """The scheduler's running knowledge of one feed."""

    interval_s: float
    ideal_s: float
    rate: FeedRate = field(default_factory=FeedRate)
    last_poll_at: datetime | None = None
    failing: bool = False
    refused: bool = False


class Scheduler:
    """Owns one task per feed."""

    def __init__(
        self,
        feeds: Sequence[Feed],
        *,
        store: Store,
        metrics: Metrics,
        accounts: Accounts,
        pacing: Pacing,
        clock: Callable[[], datetime],
        rng: random.Random | None = None,
        grace_s: float = 5.0,
        wait: Wait | None = None,
        leasing: Leasing | None = None,
    ) -> None:
        self._feeds = list(feeds)
        self._store = store
        self._metrics = metrics
        self._accounts = accounts
        self._pacing = pacing
        self._clock = clock
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not security
        self._grace_s = grace_s
        self._wait = wait or wait_for_stop
        self._leasing = leasing
        self._paces = {
            feed_key(f.source): _Pace(interval_s=f.interval_s, ideal_s=f.interval_s)
            for f in self._feeds
        }
        self._groups: dict[Scope, list[Feed]] = {}
        for f in self._feeds:
            self._groups.setdefault(f.scope, []).append(f)
        self._shared_at: dict[Scope, datetime] = {}
        self._progress = asyncio.Condition()
        self.polls_done = 0

    def interval_s(self, feed: Feed) -> float:
        """The interval the feed currently gets (before jitter)."""
        return self._paces[feed_key(feed.source)].interval_s

    async def wait_for(self, predicate: Callable[[], bool]) -> None:
        """Return once ``predicate()`` holds, checked after every poll (for tests and tools)."""
        async with self._progress:
            await self._progress.wait_for(predicate)

    async def run(self, stop: asyncio.Event) -> None:
        """Poll every feed until ``stop`` is set; returns once every loop has ended."""
        # One read for every feed's last success, rather than one per feed task at once.
        with contextlib.suppress(StoreUnavailableError):
            states = await self._store.feeds.states([f.source for f in self._feeds])
            for key, state in states.items():
                self._paces[key].last_poll_at = state.last_success_at
        tasks = [
            asyncio.create_task(self._loop(feed, stop), name=f"feed:{feed_key(feed.source)}")
            for feed in self._feeds
        ]
        try:
            await stop.wait()
            if tasks:
                _, pending = await asyncio.wait(tasks, timeout=self._grace_s)
                for task in pending:
                    task.cancel()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _loop(self, feed: Feed, stop: asyncio.Event) -> None:
        pace = self._paces[feed_key(feed.source)]
        delay = first_delay(
            feed.interval_s,
            self._pacing.jitter_ratio,
            self._rng.random(),
            last_success_at=pace.last_poll_at,
            now=self._clock(),
            min_spread_s=len(self._feeds) / self._pacing.start_polls_per_s,
        )
        while not await self._wait(stop, delay):
            delay = await self._turn(feed, pace)
            async with self._progress:
                self.polls_done += 1
                self._progress.notify_all()

    async def _turn(self, feed: Feed, pace: _Pace) -> float:
        """One poll with its bookkeeping; returns the delay before the next."""
        account = feed.source.account
        if self._accounts.blocked(account, feed.feature) is not None:
            return self._next_delay(pace)
        fence: int | None = None
        key = feed_key(feed.source)
        if self._leasing is not None:
            try:
                fence = await self._leasing.hold(key)
            except StoreUnavailableError as exc:
                self._failed(feed, pace, exc)
                return self._next_delay(pace)
            if fence is None:
                # Another replica's feed: look again later, in case it stops renewing.
                return min(self._next_delay(pace), self._pacing.takeover_check_s)
            if key in self._leasing.taken_over:
                self._leasing.taken_over.discard(key)
                wait = await self._not_before(feed, pace)
                if wait > 0:
                    self._leasing.done(key)
                    return wait
        try:
            return await self._poll(feed, pace, fence)
        finally:
            if self._leasing is not None:
                self._leasing.done(key)

    async def _not_before(self, feed: Feed, pace: _Pace) -> float:
        """Seconds until a feed just taken over is due: its last owner may have just polled."""
        try:
            last = (await self._store.feeds.state(feed.source)).last_success_at
        except StoreUnavailableError:
            return 0.0
        if last is None:
            return 0.0
        pace.last_poll_at = last
        return max(pace.interval_s - (self._clock() - last).total_seconds(), 0.0)

    async def _poll(self, feed: Feed, pace: _Pace, fence: int | None) -> float:
        try:
            result = await feed.poll(fence)
        except HashtagQuotaError as exc:
            if not pace.refused:
                log.warning("hashtag.refused", feed=feed_key(feed.source), reason=str(exc))
                pace.refused = True
            wait = (exc.next_free_at - self._clock()).total_seconds()
            return max(wait, self._pacing.min_interval_s)
        except LeaseLostError:
            if self._leasing is not None:
                self._leasing.lost(feed_key(feed.source))
            return self._pacing.takeover_check_s
        except StoppingError:
            return 0.0  # the loop sees the stop next; the feed's state was not advanced
        except Exception as exc:  # Graph, store, or a surprise: the loop goes on
            self._failed(feed, pace, exc)
            return self._next_delay(pace)
        self._succeeded(feed, pace, result)
        return self._next_delay(pace)

    def _failed(self, feed: Feed, pace: _Pace, exc: Exception) -> None:
        account = feed.source.account
        self._metrics.polls.labels(feed.feature, account, "failed").inc()
        if isinstance(exc, GraphError) and self._accounts.report(account, feed.feature, exc):
            return
        if not pace.failing:
            log.warning(
                "poll.failed", feed=feed_key(feed.source), kind=type(exc).__name__, error=str(exc)
            )
            pace.failing = True

    def _succeeded(self, feed: Feed, pace: _Pace, result: PollResult) -> None:
        account = feed.source.account
        now = self._clock()
        self._metrics.polls.labels(feed.feature, account, "ok").inc()
        self._metrics.last_poll_success.labels(feed.feature, account).set(now.timestamp())
        if pace.failing or pace.refused:
            log.info("poll.recovered", feed=feed_key(feed.source))
        pace.failing = pace.refused = False
        edge_age = result.oldest_new_age_s if pace.last_poll_at is not None else None
        if possibly_missed(hit_page_bound=result.hit_bound, oldest_new_age_s=edge_age):
            self._metrics.feed_possibly_missed.labels(
                feed.feature, account, feed.source.metric_hashtag
            ).inc()
            log.info(
                "feed.possibly_missed",
                feed=feed_key(feed.source),
                hit_bound=result.hit_bound,
                oldest_new_age_s=edge_age,
            )
        if pace.last_poll_at is not None:
            elapsed = (now - pace.last_poll_at).total_seconds()
            pace.rate = observe_rate(pace.rate, result.new, elapsed)
        pace.last_poll_at = now
        self._repace(feed)
        log.debug("poll.done", feed=feed_key(feed.source), pages=result.pages, new=result.new)

    def _repace(self, feed: Feed) -> None:
        """Recompute the ideal interval of ``feed``; share its scope's budget anew when due.

        Sharing walks every feed of the scope, so it runs once per ``reshare_s`` rather than
        after every poll (6,000 feeds share the app's budget in an agency). Between shares a
        feed may slow down on its own, never speed up: what the last share gave stands.
        """
        pacing = self._pacing
        pace = self._paces[feed_key(feed.source)]
        if not pacing.adaptive:
            return
        pace.ideal_s = ideal_interval_s(
            pace.rate,
            page_size=feed.page_size,
            min_s=pacing.min_interval_s,
            max_s=pacing.max_interval_s,
            default_s=feed.interval_s,
        )
        now = self._clock()
        shared_at = self._shared_at.get(feed.scope)
        if shared_at is None or (now - shared_at).total_seconds() >= pacing.reshare_s:
            self._shared_at[feed.scope] = now
            self._share(feed.scope)
            return
        if pace.ideal_s > pace.interval_s:
            pace.interval_s = pace.ideal_s
            self._show_interval(feed, pace)

    def _share(self, scope: Scope) -> None:
        """Share ``scope``'s budget between its feeds by need."""
        pacing = self._pacing
        group = self._groups[scope]
        needs: dict[str, float] = {}
        pages: dict[str, int] = {}
        for member in group:
            key = feed_key(member.source)
            state = self._paces[key]
            # A poll of k pages costs k calls: share the budget in calls, not in polls.
            expected = state.rate.rate_per_s * state.ideal_s / member.page_size
            pages[key] = max(1, math.ceil(expected))
            needs[key] = state.ideal_s / pages[key]
        budget = pacing.budget_per_hour(scope)
        shared = (
            needs
            if math.isinf(budget)
            else share_budget(needs, budget, max_interval_s=pacing.max_interval_s)
        )
        for member in group:
            key = feed_key(member.source)
            self._paces[key].interval_s = shared[key] * pages[key]
            self._show_interval(member, self._paces[key])

    def _show_interval(self, feed: Feed, pace: _Pace) -> None:
        self._metrics.feed_interval.labels(
            feed.feature, feed.source.account, feed.source.metric_hashtag
        ).set(pace.interval_s)

    def _next_delay(self, pace: _Pace) -> float:
        return jittered(pace.interval_s, self._pacing.jitter_ratio, self._rng.random())
