"""A simulator on loopback with a hand-moved clock, and the worker's Graph API pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import aiohttp
import pytest

from listener.graph.client import GraphClient
from listener.graph.instagram import Credentials, InstagramApi
from listener.metrics import Metrics
from listener.simulator import SimAccount, SimulatorConfig, World, serve
from listener.simulator.clock import ManualClock

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
BRAND = SimAccount(
    ig_user_id="17841400000000001", access_token="tok-brand-secret", username="brand"
)
WHO = Credentials("brand", BRAND.ig_user_id, BRAND.access_token)
APP_SECRET = "app-secret-for-tests"


@dataclass
class Graph:
    """A running simulator and the worker's API pointed at it."""

    world: World
    clock: ManualClock
    api: InstagramApi
    base_url: str
    client: GraphClient


@pytest.fixture
def clock() -> ManualClock:
    """The simulator's and the pollers' shared clock, moved by hand."""
    return ManualClock(NOW)


@pytest.fixture
def sim_config() -> SimulatorConfig:
    """A quiet world: no generated history, only the posts a test adds."""
    return SimulatorConfig(
        accounts=(BRAND,),
        default_rate_per_hour=0.0,
        backfill_hours=0.0,
        tag_rate_per_hour=0.0,
        app_secret=APP_SECRET,
    )


@pytest.fixture
async def graph(
    sim_config: SimulatorConfig, clock: ManualClock, metrics: Metrics
) -> AsyncIterator[Graph]:
    """The simulator on loopback and an InstagramApi that signs with the app secret."""
    async with serve(sim_config, clock=clock) as running, aiohttp.ClientSession() as session:
        client = GraphClient(
            session,
            base_url=running.base_url,
            api_version="v25.0",
            app_secret=APP_SECRET,
            timeout_s=5,
            metrics=metrics,
        )
        yield Graph(running.world, clock, InstagramApi(client), running.base_url, client)
