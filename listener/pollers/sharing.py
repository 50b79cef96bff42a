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
from dataclasses import dataclass
from datetime import datetime

import structlog

from listener.errors import StoreUnavailableError
from listener.ratelimit.governor import Governor
from listener.ratelimit.throttle import Scope
from listener.store.ratelimits import RateLimitRepository

log = structlog.get_logger("listener.pollers")

USAGE_FRESH_S = 600.0
"""Usage older than this says nothing about now (Meta's windows roll)."""
REPUBLISH_S = USAGE_FRESH_S / 2
"""An unchanged usage above zero is published again this often, so it never reads as stale
while it still holds."""


@dataclass(frozen=True)
class Published:
    """What this replica last published of a scope, and when."""

    paused_until: datetime | None
    usage_ratio: float
    at: datetime


def worth_publishing(
    last: Published | None, *, paused_until: datetime | None, usage_ratio: float, now: datetime
) -> bool:
    """Whether a scope's state says something the shared copy does not say already.

    A pause or a usage that changed since this replica last published it; a usage above zero
    about to go stale; nothing for a scope never throttled nor used (no document is the same
    as a zero one to every reader).
    """
    if last is None:
        return paused_until is not None or usage_ratio > 0.0
    if paused_until != last.paused_until or usage_ratio != last.usage_ratio:
        return True
    return usage_ratio > 0.0 and (now - last.at).total_seconds() >= REPUBLISH_S


class SharedLimits:
    """Keeps the governor and the ``ratelimits`` collection in step.

    A sync writes only the scopes whose state changed since this replica last published them
    (in one write), so an agency's hundred idle scopes cost one read every few seconds, not a
    hundred writes.
    """

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
        self._published: dict[str, Published] = {}

    async def sync(self) -> None:
        """Publish ours, merge theirs."""
        now = self._clock()
        changed = {
            scope.key: Published(state.paused_until, state.usage_ratio, now)
            for scope, state in self._governor.scopes()
            if worth_publishing(
                self._published.get(scope.key),
                paused_until=state.paused_until,
                usage_ratio=state.usage_ratio,
                now=now,
            )
        }
        await self._repository.publish_many(
            {key: (p.paused_until, p.usage_ratio) for key, p in changed.items()}, now=now
        )
        self._published.update(changed)
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
