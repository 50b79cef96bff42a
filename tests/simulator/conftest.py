"""Fixtures for simulator tests: a real loopback simulator on a hand-moved clock, and a client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import replace
from typing import Any

import aiohttp
import pytest

from listener.simulator import ManualClock, SimulatorConfig, serve
from tests.simulator.harness import BRAND, OTHER, START, Client

# A quiet world: two accounts, no generated media; tests add what they need.
QUIET = SimulatorConfig(
    accounts=(BRAND, OTHER),
    default_rate_per_hour=0.0,
    tag_rate_per_hour=0.0,
)

Launch = Callable[..., Awaitable[Client]]


@pytest.fixture
def clock() -> ManualClock:
    """The simulator's clock, moved by hand."""
    return ManualClock(START)


@pytest.fixture
async def launch(clock: ManualClock) -> AsyncIterator[Launch]:
    """Start a simulator on loopback with the quiet config, changed by keyword overrides."""
    async with AsyncExitStack() as stack:
        session = await stack.enter_async_context(aiohttp.ClientSession())

        async def start(**overrides: Any) -> Client:
            running = await stack.enter_async_context(
                serve(replace(QUIET, **overrides), clock=clock)
            )
            return Client(session, running, clock)

        yield start


@pytest.fixture
async def sim(launch: Launch) -> Client:
    """A quiet simulator and a client for it."""
    return await launch()
