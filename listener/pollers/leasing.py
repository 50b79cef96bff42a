"""Work sharing between replicas: each feed is polled by the one replica holding its lease.

A replica holds at most its fair share of the feeds (⌈feeds ÷ live replicas⌉), takes a feed
when it comes due and its lease is free or expired, and renews every lease it holds on a
heartbeat well inside the lease time, whether or not the feed is polling right now. A replica
that dies stops renewing: its leases expire and the others take its feeds over. When replicas
join, the ones above their new share give the surplus back. Lease tokens fence the feed state:
a replica that stalled past its expiry cannot advance a feed another replica now owns.

A feed another replica holds is not read again at every look: the replica remembers the
expiry it read, and past it asks only if the last heartbeat's list of free leases (one read
of the expiry index) names the feed or came before that expiry. Three replicas sharing 6,000
feeds thus look at the store for a feed of another's only when it may have come free.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import socket
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

import structlog

from listener.errors import StoreUnavailableError
from listener.pollers.stopping import wait_for_stop
from listener.store.leases import LeaseRepository

log = structlog.get_logger("listener.pollers")

RELEASE_BATCH = 100
"""Leases over its share a replica gives back per heartbeat (see ``_give_back_surplus``)."""


def replica_name() -> str:
    """A name unique to this process: host, pid and a random suffix."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class Leasing:
    """This replica's leases."""

    def __init__(
        self,
        repository: LeaseRepository,
        *,
        replica: str,
        feeds: int,
        ttl_s: float,
        clock: Callable[[], datetime],
    ) -> None:
        self._repository = repository
        self.replica = replica
        self._feeds = feeds
        self._ttl = timedelta(seconds=ttl_s)
        self._clock = clock
        self._held: dict[str, int] = {}
        self._busy: set[str] = set()
        self._live = 1
        self._foreign: dict[str, datetime] = {}
        """Feeds another replica held at our last look, and the expiry we read then."""
        self._free: set[str] = set()
        self._free_at: datetime | None = None
        """The leases free at the last heartbeat that looked (below our share), and when."""
        self.taken_over: set[str] = set()
        """Feeds taken since their last poll here: their previous owner may have just polled."""

    @property
    def held(self) -> dict[str, int]:
        """Feed key → fencing token of the leases this replica holds."""
        return dict(self._held)

    @property
    def live(self) -> int:
        """Live replicas at the last heartbeat (this one included)."""
        return self._live

    @property
    def share(self) -> int:
        """How many feeds this replica may hold."""
        return max(1, math.ceil(self._feeds / self._live))

    async def hold(self, key: str) -> int | None:
        """The lease of ``key`` (renewed or newly taken): its token, or ``None`` if not ours."""
        now = self._clock()
        token = self._held.get(key)
        if token is not None:
            if await self._repository.renew(key, self.replica, token, now, self._ttl):
                self._busy.add(key)
                return token
            self._lost(key)
        if len(self._held) >= self.share or self._surely_foreign(key, now):
            return None
        taken = await self._repository.take(key, self.replica, now, self._ttl)
        if isinstance(taken, datetime):
            self._foreign[key] = taken
            return None
        token = taken
        self._foreign.pop(key, None)
        self._held[key] = token
        self._busy.add(key)
        self.taken_over.add(key)
        log.info("lease.taken", feed=key, fence=token, replica=self.replica)
        return token

    def _surely_foreign(self, key: str, now: datetime) -> bool:
        """Whether ``key`` is another replica's without asking: its lease was live until an
        expiry still ahead, or a heartbeat after that expiry did not find it free."""
        expires_at = self._foreign.get(key)
        if expires_at is None:
            return False
        if now < expires_at:
            return True
        return self._free_at is not None and self._free_at >= expires_at and key not in self._free

    def done(self, key: str) -> None:
        """The poll of ``key`` is over (the lease is kept)."""
        self._busy.discard(key)

    def lost(self, key: str) -> None:
        """A fenced write said the feed is another replica's now."""
        self._lost(key)

    def _lost(self, key: str) -> None:
        if self._held.pop(key, None) is not None:
            log.warning("lease.lost", feed=key, replica=self.replica)
        self._busy.discard(key)

    async def beat(self) -> None:
        """One heartbeat: say we are alive, renew what we hold, give back what is over our share.

        The renewal is one write for all the leases, stamped when it is sent: a heartbeat that
        took long (a slow store) never writes an expiry that is already past.
        """
        await self._repository.heartbeat(self.replica, self._clock())
        self._live = await self._repository.live_replicas(self._clock(), within=self._ttl)
        held = dict(self._held)
        current = await self._repository.renew_all(self.replica, self._clock(), self._ttl)
        for key, token in held.items():
            if current.get(key) != token and self._held.get(key) == token:
                self._lost(key)  # and not taken again meanwhile
        for key, token in current.items():
            if key not in self._held and key not in held:
                # Ours without our knowing (a take whose answer was lost): keep it, so the
                # feed is polled; a surplus goes back below like any other.
                self._held[key] = token
                log.info("lease.adopted", feed=key, fence=token, replica=self.replica)
        await self._give_back_surplus()
        if len(self._held) < self.share and self._foreign:
            # Below our share with feeds seen held elsewhere: which of them came free?
            now = self._clock()
            self._free = await self._repository.free(now)
            self._free_at = now

    async def _give_back_surplus(self) -> None:
        """Release idle leases above our share, at most ``RELEASE_BATCH`` in one write a beat.

        A replica that was alone holds every feed when others join: giving thousands back in
        one write can outlast the store's time-out when it is busiest (at start); a batch a
        beat hands them over within a few beats instead. A batch whose write failed is found
        again, still ours, by the next beat (adopted) and given back then.
        """
        surplus = min(len(self._held) - self.share, RELEASE_BATCH)
        idle = [key for key in self._held if key not in self._busy][: max(surplus, 0)]
        released = {key: self._held.pop(key) for key in idle}
        await self._repository.release(released, self.replica)
        for key in released:
            log.info("lease.released", feed=key, replica=self.replica, reason="over share")

    async def run(self, stop: asyncio.Event) -> None:
        """Heartbeat every third of the lease time (start to start) until ``stop``; then
        release every lease.

        No heartbeat error ends the loop: a store outage is logged once and waited out, and
        anything unexpected is logged and the next heartbeat tried (a replica that stopped
        renewing would lose all its feeds).
        """
        failing = False
        period_s = self._ttl.total_seconds() / 3
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            began = loop.time()
            try:
                await self.beat()
                failing = False
            except StoreUnavailableError as exc:
                if not failing:
                    log.warning("lease.heartbeat_failed", error=str(exc))
                failing = True
            except Exception as exc:
                log.error("lease.heartbeat_error", kind=type(exc).__name__, error=str(exc))
            # From the start of one heartbeat to the next: a slow one does not delay renewal.
            await wait_for_stop(stop, period_s - (loop.time() - began))
        await self.release_all()

    async def release_all(self) -> None:
        """Give every lease back (a clean shutdown hands feeds over at once)."""
        with contextlib.suppress(StoreUnavailableError):
            await self._repository.release_all(self.replica)
        self._held.clear()
