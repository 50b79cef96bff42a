"""Rate-limit state shared between replicas, so that three replicas do not spend three budgets.

Every few seconds each replica publishes the pauses and usage its governor learnt from Meta
and merges in what the others published: a throttle seen by one replica pauses the scope for
all. Each replica's budget is the scope's budget divided by the live replicas (see
:func:`listener.assembly.ratelimit.policy_for`), and the feeds themselves are split by leases.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import datetime

import structlog

from listener.errors import StoreUnavailableError
from listener.ratelimit.governor import Governor
from listener.ratelimit.throttle import Scope
from listener.store.ratelimits import RateLimitRepository

log = structlog.get_logger("listener.pollers")

USAGE_FRESH_S = 600.0
"""Usage older than this says nothing about now (Meta's windows roll)."""


class SharedLimits:
    """Keeps the governor and the ``ratelimits`` collection in step."""

    def __init__(
        self,
        governor: Governor,
        repository: RateLimitRepository,
        *,
        clock: Callable[[], datetime],
        every_s: float = 2.0,
    ) -> None:
        self._governor = governor
        self._repository = repository
        self._clock = clock
        self._every_s = every_s

    async def sync(self) -> None:
        """Publish ours, merge theirs."""
        now = self._clock()
        for scope, state in self._governor.scopes():
            await self._repository.publish(
                scope.key, paused_until=state.paused_until, usage_ratio=state.usage_ratio, now=now
            )
        for key, shared in (await self._repository.read()).items():
            age_s = (now - shared.updated_at).total_seconds()
            fresh_usage = shared.usage_ratio if age_s < USAGE_FRESH_S else 0.0
            self._governor.merge(
                Scope.parse(key), paused_until=shared.paused_until, usage_ratio=fresh_usage
            )

    async def run(self, stop: asyncio.Event) -> None:
        """Sync until ``stop``."""
        while not stop.is_set():
            with contextlib.suppress(StoreUnavailableError):
                await self.sync()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self._every_s)
