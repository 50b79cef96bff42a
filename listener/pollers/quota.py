"""The hashtag quota: every hashtag call first takes (or re-uses) one of the account's 30 slots.

The ledger arithmetic is pure (:mod:`listener.ratelimit.ledger`); this shell keeps each
account's ledger in memory, admits new tags through MongoDB with compare-and-swap so replicas
share one ledger, reconciles with Meta's ``recently_searched_hashtags`` at start-up (once for
replicas that start together), and
exports the slots left. A tag beyond the budget is refused here and never reaches Meta.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

import structlog

from listener.errors import HashtagQuotaError
from listener.metrics import Metrics
from listener.ratelimit.ledger import Admitted, Ledger
from listener.store.store import Store

log = structlog.get_logger("listener.pollers")

_SWAP_ATTEMPTS = 20
RECONCILE_FRESH_S = 3600.0
"""A reconcile by any replica in the last hour serves a replica that starts now."""


class HashtagQuota:
    """Admits hashtags per account against the rolling 7-day budget of 30."""

    def __init__(self, store: Store, metrics: Metrics, clock: Callable[[], datetime]) -> None:
        self._store = store
        self._metrics = metrics
        self._clock = clock
        self._ledgers: dict[str, Ledger] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def spend(self, account: str, tag: str) -> None:
        """Take or re-use ``tag``'s slot; :class:`HashtagQuotaError` if none is left."""
        now = self._clock()
        cached = self._ledgers.get(account)
        if cached is not None and tag in cached.active(now):
            return
        async with self._locks.setdefault(account, asyncio.Lock()):
            for _ in range(_SWAP_ATTEMPTS):
                ledger, version = await self._store.slots.load(account)
                verdict = ledger.admit(tag, now)
                if not isinstance(verdict, Admitted):
                    self._remember(account, ledger, now)
                    raise HashtagQuotaError(verdict.reason, next_free_at=verdict.next_free_at)
                if not verdict.spent or await self._store.slots.swap(
                    account, verdict.ledger, version, now
                ):
                    self._remember(account, verdict.ledger, now)
                    if verdict.spent:
                        log.info(
                            "hashtag.slot_spent",
                            account=account,
                            hashtag=tag,
                            remaining=verdict.ledger.remaining(now),
                        )
                    return
        raise HashtagQuotaError(
            f"hashtag {tag!r}: the slot ledger of {account!r} kept changing under us",
            next_free_at=now,
        )

    async def claim_reconcile(self, account: str) -> bool:
        """Whether this replica should reconcile ``account`` now: True for one of the replicas
        that ask within :data:`RECONCILE_FRESH_S` of each other (the ledger is shared, so one
        reading of Meta's list serves all)."""
        return await self._store.slots.claim_reconcile(account, self._clock(), RECONCILE_FRESH_S)

    async def reconcile(self, account: str, searched_ids: list[str]) -> Ledger:
        """Fold Meta's list of hashtags the account spent into the shared ledger."""
        known = await self._store.feeds.hashtag_ids()
        async with self._locks.setdefault(account, asyncio.Lock()):
            for _ in range(_SWAP_ATTEMPTS):
                now = self._clock()
                ledger, version = await self._store.slots.load(account)
                merged = ledger.reconcile(known, searched_ids, now)
                if merged.active(now) == ledger.active(now) or await self._store.slots.swap(
                    account, merged, version, now
                ):
                    self._remember(account, merged, now)
                    return merged
        return merged

    async def ledger(self, account: str) -> Ledger:
        """The account's ledger as stored now."""
        ledger, _ = await self._store.slots.load(account)
        self._remember(account, ledger, self._clock())
        return ledger

    def _remember(self, account: str, ledger: Ledger, now: datetime) -> None:
        self._ledgers[account] = ledger
        self._metrics.hashtag_quota_remaining.labels(account).set(ledger.remaining(now))
