"""Time for the simulator: the wall clock, a manual one that tests move by hand, and virtual
time that jumps ahead whenever every actor of a simulated run is waiting."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """The current UTC time."""
    return datetime.now(UTC)


class ManualClock:
    """A clock that stands still until told to move (inject it into `serve` or `build_app`)."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("ManualClock needs a timezone-aware start")
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> datetime:
        """Move forward by ``delta``; the new time."""
        self.now += delta
        return self.now


class VirtualTime:
    """Discrete-event time for simulated runs: the clock jumps when every actor is waiting.

    Each actor (a feed loop, say) either does real I/O or waits through :meth:`sleep` /
    :meth:`wait`. When all of them wait, the clock jumps to the earliest wake-up and wakes
    whoever is due, so a day of polling runs in seconds and each wait is exactly measured.
    At ``until`` the ``stop`` event is set and every waiter released.
    """

    def __init__(self, clock: ManualClock, *, actors: int, until: datetime | None = None) -> None:
        self.clock = clock
        self.actors = actors
        self.until = until
        self.stop = asyncio.Event()
        self._waiters: list[tuple[datetime, int, asyncio.Future[None]]] = []
        self._count = itertools.count()

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of virtual time."""
        await self._park(seconds)

    async def wait(self, stop: asyncio.Event, seconds: float) -> bool:
        """Wait ``seconds`` of virtual time unless ``stop`` (or the deadline) comes first."""
        if stop.is_set() or self.stop.is_set():
            return True
        await self._park(seconds)
        return stop.is_set() or self.stop.is_set()

    async def _park(self, seconds: float) -> None:
        if self.stop.is_set():
            return
        wake = self.clock.now + timedelta(seconds=max(seconds, 0.0))
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (wake, next(self._count), future))
        self._advance()
        try:
            await future
        except asyncio.CancelledError:
            self._waiters = [w for w in self._waiters if w[2] is not future]
            heapq.heapify(self._waiters)
            raise

    def _advance(self) -> None:
        live = [w for w in self._waiters if not w[2].done()]
        if len(live) < self.actors or not live:
            return
        wake = min(w[0] for w in live)
        if self.until is not None and wake >= self.until:
            self.clock.now = max(self.clock.now, self.until)
            self.stop.set()
            due = live
        else:
            self.clock.now = max(self.clock.now, wake)
            due = [w for w in live if w[0] <= self.clock.now]
        for entry in due:
            if not entry[2].done():
                entry[2].set_result(None)
        self._waiters = [w for w in live if not w[2].done()]
        heapq.heapify(self._waiters)
