"""The cluster parts: feed leases shared between replicas, and their rate-limit spending."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from listener.pollers.feed import Feed
from listener.pollers.leasing import Leasing, replica_name
from listener.pollers.sharing import SharedLimits
from listener.ratelimit.governor import Governor
from listener.settings import Settings
from listener.store.store import Store


def leasing(
    *,
    settings: Settings,
    store: Store,
    feeds: Sequence[Feed],
    clock: Callable[[], datetime],
) -> Leasing:
    """This replica's leases on ``feeds``: a fair share of them, renewed within the TTL."""
    return Leasing(
        store.leases,
        replica=settings.cluster.replica or replica_name(),
        feeds=len(feeds),
        ttl_s=settings.cluster.lease_ttl_s,
        clock=clock,
    )


def shared_limits(
    *, settings: Settings, governor: Governor, store: Store, clock: Callable[[], datetime]
) -> SharedLimits:
    """What every replica has spent of each rate-limit scope, synchronised through the store."""
    return SharedLimits(governor, store.ratelimits, clock=clock, every_s=settings.cluster.sync_s)
