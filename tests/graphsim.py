"""A simulator on loopback with a hand-moved clock, and the worker's Graph API pointed at it.

Waiting is virtual: the governor's and the retries' sleeps move the shared clock instead of
passing real time, so a one-hour pause takes no time and is exactly measurable.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest

from listener.graph.client import GraphClient, RetryPolicy
from listener.graph.instagram import Credentials, InstagramApi
from listener.metrics import Metrics
from listener.ratelimit.governor import Governor
from listener.ratelimit.throttle import Policy
from listener.simulator import SimAccount, SimulatorConfig, World, serve
from listener.simulator.clock import ManualClock

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
        governor = Governor(
            lambda scope: Policy(budget_per_hour=budget_per_hour, default_pause_s=300.0),
            clock=clock,
            sleep=sleep,
            accounts_by_ig_id={BRAND.ig_user_id: "brand", OTHER.ig_user_id: "other"},
        )
        client = GraphClient(
            session,
            base_url=running.base_url,
            api_version="v25.0",
            app_secret=APP_SECRET,
            timeout_s=5,
            metrics=metrics,
            governor=governor,
            retry=RetryPolicy(max_attempts=3, initial_s=1.0, max_s=8.0),
            sleep=sleep,
        )
        yield Graph(
            running.world,
            clock,
            InstagramApi(client),
            running.base_url,
            client,
            governor,
            sleep.sleeps,
        )
