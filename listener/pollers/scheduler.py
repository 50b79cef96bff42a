"""The scheduler: runs each feed on its own paced loop until the stop event is set.

Loops wait on the stop event instead of sleeping, so shutdown never waits out an interval.
A poll in flight when the stop arrives is given ``grace_s`` to finish; after that it is
cancelled, which is safe because a feed's state advances only after its media are stored.
Failures are logged on transitions (failing → recovered), not on every attempt.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Protocol

import structlog

from listener.errors import GraphError, StoreUnavailableError
from listener.metrics import Metrics
from listener.models import Source
from listener.ratelimit.pacing import first_delay, jittered
from listener.store.feeds import feed_key
from listener.store.store import Store

log = structlog.get_logger("listener.pollers")


class Feed(Protocol):
    """Something that can be polled on an interval."""

    source: Source
    interval_s: float

    @property
    def poller(self) -> str:
        """The bounded ``poller`` metric label."""
        ...

    async def poll(self) -> Any:
        """One poll; raises :class:`GraphError` or :class:`StoreUnavailableError` on failure."""
        ...


class Scheduler:
    """Owns one task per feed."""

    def __init__(
        self,
        feeds: Sequence[Feed],
        *,
        store: Store,
        metrics: Metrics,
        jitter_ratio: float,
        clock: Callable[[], datetime],
        rng: random.Random | None = None,
        grace_s: float = 5.0,
    ) -> None:
        self._feeds = feeds
        self._store = store
        self._metrics = metrics
        self._jitter = jitter_ratio
        self._clock = clock
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not security
        self._grace_s = grace_s
        self._progress = asyncio.Condition()
        self.polls_done = 0

    async def wait_for(self, predicate: Callable[[], bool]) -> None:
        """Return once ``predicate()`` holds, checked after every poll (for tests and tools)."""
        async with self._progress:
            await self._progress.wait_for(predicate)

    async def run(self, stop: asyncio.Event) -> None:
        """Poll every feed until ``stop`` is set; returns once every loop has ended."""
        tasks = [
            asyncio.create_task(self._loop(feed, stop), name=f"feed:{feed_key(feed.source)}")
            for feed in self._feeds
        ]
        if not tasks:
            await stop.wait()
            return
        try:
            await stop.wait()
            _, pending = await asyncio.wait(tasks, timeout=self._grace_s)
            for task in pending:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _loop(self, feed: Feed, stop: asyncio.Event) -> None:
        try:
            last = (await self._store.feeds.state(feed.source)).last_success_at
        except StoreUnavailableError:
            last = None
        delay = first_delay(
            feed.interval_s,
            self._jitter,
            self._rng.random(),
            last_success_at=last,
            now=self._clock(),
        )
        failing = False
        while not await _wait(stop, delay):
            failing = await self._poll_once(feed, failing)
            async with self._progress:
                self.polls_done += 1
                self._progress.notify_all()
            delay = jittered(feed.interval_s, self._jitter, self._rng.random())

    async def _poll_once(self, feed: Feed, failing: bool) -> bool:
        """One poll with its metrics and transition logs; returns whether the feed is failing."""
        account = feed.source.account
        try:
            result = await feed.poll()
        except (GraphError, StoreUnavailableError) as exc:
            self._metrics.polls.labels(feed.poller, account, "failed").inc()
            if not failing:
                log.warning(
                    "poll.failed",
                    feed=feed_key(feed.source),
                    error=str(exc),
                    kind=type(exc).__name__,
                )
            with contextlib.suppress(StoreUnavailableError):
                await self._store.feeds.record_failure(
                    feed.source, now=self._clock(), error=str(exc)
                )
            return True
        self._metrics.polls.labels(feed.poller, account, "ok").inc()
        self._metrics.last_poll_success.labels(feed.poller, account).set(self._clock().timestamp())
        if failing:
            log.info("poll.recovered", feed=feed_key(feed.source))
        log.debug("poll.done", feed=feed_key(feed.source), result=repr(result))
        return False


async def _wait(stop: asyncio.Event, delay_s: float) -> bool:
    """Wait up to ``delay_s`` for ``stop``; True if it was set."""
    try:
        await asyncio.wait_for(stop.wait(), timeout=max(delay_s, 0.0))
    except TimeoutError:
        return stop.is_set()
    return True
