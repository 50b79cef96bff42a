"""What every contender's run is built on: the simulated world, a fresh database, progress lines.

The simulator is the project's own (`listener.simulator`), served on loopback with a
:class:`~listener.simulator.clock.ManualClock`; the store is a real MongoDB wire server
(SecantusDB, started by :mod:`testbed`), one fresh database per contender run, dropped
afterwards.
"""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

from pymongo.asynchronous.database import AsyncDatabase

from bench.scenarios import START, Scenario
from listener.simulator import SimAccount, SimulatorConfig, World
from listener.simulator.clock import VirtualTime
from listener.store.mongo import Document, connect

ACCOUNT: Final = SimAccount(
    ig_user_id="17841400000000001",
    access_token="bench-token",  # a simulator token, not a secret
    username="brand",
)
ACCOUNT_NAME: Final = "brand"
APP_SECRET: Final = "bench-app-secret"  # the simulator checks appsecret_proof with it
API_VERSION: Final = "v25.0"
RECENT_WINDOW: Final = timedelta(hours=24)
STALL_LIMIT_S: Final = 60.0  # real seconds without virtual progress before a run is failed
BUC_CALLS_PER_HOUR: Final = 4800  # the simulator's default: the BUC scope is never the limit here


def simulator_config(scenario: Scenario) -> SimulatorConfig:
    """The scenario's world: its hashtags and budget, no backfill and no cross-posting."""
    return SimulatorConfig(
        seed=scenario.seed,
        accounts=(ACCOUNT,),
        hashtag_rates=dict(scenario.rates),
        default_rate_per_hour=0.0,
        backfill_hours=0.0,
        cross_post_ratio=0.0,
        tag_rate_per_hour=scenario.tags_per_hour,
        app_secret=APP_SECRET,
        app_calls_per_hour=scenario.budget_per_hour,
        buc_calls_per_hour=BUC_CALLS_PER_HOUR,
    )


def eligible_media(world: World, scenario: Scenario) -> dict[str, dict[str, datetime]]:
    """Per hashtag, the media published after the start whose 24 h window closed by the end,
    with their publication times."""
    last = scenario.end - RECENT_WINDOW
    eligible: dict[str, dict[str, datetime]] = {}
    for tag in scenario.tags:
        tag_id = world.hashtag_id(tag)
        media: dict[str, datetime] = {}
        at = last
        while at > START:  # each listing covers the 24 h before `at`
            listed = world.recent_media(tag_id, at)
            media.update((p.id, p.timestamp) for p in listed if START < p.timestamp <= last)
            at -= RECENT_WINDOW
        eligible[tag] = media
    return eligible


@asynccontextmanager
async def fresh_database(
    mongo_uri: str, label: str, *, timeout_s: float = 30.0
) -> AsyncIterator[AsyncDatabase[Document]]:
    """A database of its own for one run, dropped afterwards."""
    name = f"bench_{label}_{uuid.uuid4().hex[:8]}"
    async with connect(mongo_uri, name, timeout_s=timeout_s) as database:
        try:
            yield database
        finally:
            await database.client.drop_database(name)


async def first_seen(database: AsyncDatabase[Document]) -> list[tuple[str, str | None, datetime]]:
    """(media id, hashtag, first_seen_at) of every stored media.

    The hashtag is that of the source that stored the media first (``sources`` keeps the order
    of sightings), ``None`` when it came first through ``/tags``: a hashtag poll that met it
    later found it known. Read straight from the ``media`` documents the worker wrote.
    """
    found: list[tuple[str, str | None, datetime]] = []
    cursor = database["media"].find({}, {"first_seen_at": 1, "sources": 1})
    async for doc in cursor:
        sources = doc.get("sources") or [{}]
        hashtag = sources[0].get("hashtag")
        tag = None if hashtag is None else str(hashtag)
        found.append((str(doc["_id"]), tag, doc["first_seen_at"]))
    return found


@dataclass
class Progress:
    """Progress lines on stderr: what runs, how far in virtual time, how long in wall time."""

    label: str
    started: float = field(default_factory=time.perf_counter)
    cpu_started: float = field(default_factory=time.process_time)

    def say(self, text: str) -> None:
        """One line, prefixed with the run and the wall time so far."""
        wall = time.perf_counter() - self.started
        print(f"[bench {wall:6.1f}s] {self.label}: {text}", file=sys.stderr, flush=True)

    def elapsed(self) -> float:
        """Wall seconds since the run began."""
        return time.perf_counter() - self.started

    def cpu(self) -> float:
        """CPU seconds this process spent since the run began (SecantusDB runs in another)."""
        return time.process_time() - self.cpu_started


class DeadlineSleep:
    """The virtual ``sleep`` for the worker's governor and retries, that ends with the run.

    Once the run's deadline has passed, virtual time stops; a governor still waiting out a
    pause would then spin without end, so its next sleep ends the actor as a shutdown
    cancellation would.
    """

    def __init__(self, virtual: VirtualTime) -> None:
        self._virtual = virtual

    async def __call__(self, seconds: float) -> None:
        if self._virtual.stop.is_set():
            raise asyncio.CancelledError
        await self._virtual.sleep(seconds)


async def stall_guard(virtual: VirtualTime, limit_s: float = STALL_LIMIT_S) -> None:
    """Fail the run if virtual time stands still for ``limit_s`` real seconds.

    Virtual time moves only while every actor waits: an actor that died (the scheduler keeps
    a feed loop's exception to itself until shutdown) or blocks would freeze the run for ever.
    """
    seen = virtual.clock()
    while not virtual.stop.is_set():
        try:
            await asyncio.wait_for(virtual.stop.wait(), timeout=limit_s)
        except TimeoutError:
            if virtual.clock() == seen:
                raise RuntimeError(
                    f"virtual time stalled at {seen.isoformat()} for {limit_s:g} s: "
                    "an actor died or never waits"
                ) from None
            seen = virtual.clock()


def hours_since_start(now: datetime) -> float:
    """Virtual hours since the scenarios' start."""
    return (now - START).total_seconds() / 3600.0
