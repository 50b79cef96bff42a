"""A simulator on loopback with a hand-moved clock, and the worker's Graph API pointed at it.

Waiting is virtual: the governor's and the retries' sleeps move the shared clock instead of
passing real time, so a one-hour pause takes no time and is exactly measurable.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest

from listener.graph.client import GraphClient, RetryPolicy
from listener.graph.instagram import Credentials, InstagramApi
from listener.metrics import Metrics
from listener.pollers.accounts import Accounts
from listener.pollers.context import PollerContext
from listener.pollers.ingest import Ingestor
from listener.pollers.stopping import sleep_unless_stopped
from listener.ratelimit.governor import Governor, Sleep
from listener.ratelimit.throttle import Policy
from listener.simulator import SimAccount, SimulatorConfig, World, serve
from listener.simulator.clock import ManualClock
from listener.store.store import Store

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
BRAND = SimAccount(
    ig_user_id="17841400000000001", access_token="tok-brand-secret", username="brand"
)
OTHER = SimAccount(
    ig_user_id="17841400000000002", access_token="tok-other-secret", username="other"
)
WHO = Credentials("brand", BRAND.ig_user_id, BRAND.access_token)
WHO_OTHER = Credentials("other", OTHER.ig_user_id, OTHER.access_token)
APP_SECRET = "app-secret-for-tests"


@dataclass
class Graph:
    """A running simulator and the worker's API pointed at it."""

    world: World
    clock: ManualClock
    api: InstagramApi
    base_url: str
    client: GraphClient
    governor: Governor
    sleeps: list[float]


class VirtualSleep:
    """An injected ``sleep`` that moves the manual clock and records each wait."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.sleeps: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.clock.advance(timedelta(seconds=seconds))
        await asyncio.sleep(0)


@pytest.fixture
def budget_per_hour() -> float:
    """Every scope's budget: generous, so tests see pacing only where they ask for it.

    Calls 0.1 ms apart are below the governor's 1 ms resolution, so it never sleeps between
    them: a backoff jittered down to a few milliseconds is not followed by a spacing sleep.
    A test about pacing parametrizes ``budget_per_hour`` with the budget it needs.
    """
    return 36_000_000.0


@pytest.fixture
def clock() -> ManualClock:
    """The simulator's and the pollers' shared clock, moved by hand."""
    return ManualClock(NOW)


@pytest.fixture
def sim_config() -> SimulatorConfig:
    """A quiet world: no generated history, only the posts a test adds."""
    return SimulatorConfig(
        accounts=(BRAND, OTHER),
        default_rate_per_hour=0.0,
        backfill_hours=0.0,
        tag_rate_per_hour=0.0,
        app_secret=APP_SECRET,
    )


@pytest.fixture
async def graph(
    sim_config: SimulatorConfig, clock: ManualClock, metrics: Metrics, budget_per_hour: float
) -> AsyncIterator[Graph]:
    """The simulator on loopback and an InstagramApi that signs with the app secret."""
    async with serve(sim_config, clock=clock) as running, aiohttp.ClientSession() as session:
        sleep = VirtualSleep(clock)
        api, client, governor = governed_api(
            session,
            running.base_url,
            clock=clock,
            metrics=metrics,
            sleep=sleep,
            budget_per_hour=budget_per_hour,
        )
        yield Graph(running.world, clock, api, running.base_url, client, governor, sleep.sleeps)


def governed_api(
    session: aiohttp.ClientSession,
    base_url: str,
    *,
    clock: Callable[[], datetime],
    metrics: Metrics,
    sleep: Sleep,
    budget_per_hour: float,
) -> tuple[InstagramApi, GraphClient, Governor]:
    """The worker's Graph API on ``base_url``: a governor (both test accounts) and a client
    signing with the app secret, both sleeping through ``sleep``."""
    governor = Governor(
        lambda scope: Policy(budget_per_hour=budget_per_hour, default_pause_s=300.0),
        clock=clock,
        sleep=sleep,
        accounts_by_ig_id={BRAND.ig_user_id: "brand", OTHER.ig_user_id: "other"},
    )
    client = GraphClient(
        session,
        base_url=base_url,
        api_version="v25.0",
        app_secret=APP_SECRET,
        timeout_s=5,
        metrics=metrics,
        governor=governor,
        retry=RetryPolicy(max_attempts=3, initial_s=1.0, max_s=8.0),
        sleep=sleep,
    )
    return InstagramApi(client), client, governor


@asynccontextmanager
async def stoppable_api(
    graph: Graph, metrics: Metrics, stop: asyncio.Event, waiting: asyncio.Event
) -> AsyncIterator[tuple[InstagramApi, Governor]]:
    """The API on the simulator with the worker's waits: real sleeps that end at ``stop``.

    ``waiting`` is set whenever a call begins to wait (a pause, pacing, a backoff).
    """

    async def sleep(seconds: float) -> None:
        waiting.set()
        await sleep_unless_stopped(stop, seconds)

    async with aiohttp.ClientSession() as session:
        api, _, governor = governed_api(
            session,
            graph.base_url,
            clock=graph.clock,
            metrics=metrics,
            sleep=sleep,
            budget_per_hour=36_000_000.0,
        )
        yield api, governor


def poller_context(
    graph: Graph,
    store: Store,
    metrics: Metrics,
    *,
    api: InstagramApi | None = None,
    ingestor: Ingestor | None = None,
    who: tuple[Credentials, ...] = (WHO,),
) -> PollerContext:
    """What the pollers share, on the simulator's API and clock: the accounts of ``who``, and
    an ingestor without enrichment unless one is given."""
    return PollerContext(
        api=api or graph.api,
        store=store,
        ingestor=ingestor or Ingestor(store, metrics),
        accounts=Accounts({c.account: c for c in who}, metrics=metrics, clock=graph.clock),
        metrics=metrics,
        clock=graph.clock,
    )
