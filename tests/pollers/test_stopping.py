"""How a feed waits for its next turn: until the delay passes or the stop comes, whichever first."""

from __future__ import annotations

import asyncio

from listener.pollers.stopping import wait_for_stop


async def test_a_wait_after_the_stop_returns_true_at_once() -> None:
    """A stop already set ends a wait of an hour before it starts."""
    stop = asyncio.Event()
    stop.set()
    assert await asyncio.wait_for(wait_for_stop(stop, 3600), timeout=10)


async def test_a_wait_without_a_stop_returns_false_when_its_delay_has_passed() -> None:
    """No stop: the wait ends with its delay (here none), saying the worker is not stopping."""
    assert not await wait_for_stop(asyncio.Event(), 0)


async def test_a_stop_during_a_wait_ends_it() -> None:
    """A stop set while a feed waits an hour wakes the feed, which sees it."""
    stop = asyncio.Event()
    asyncio.get_running_loop().call_soon(stop.set)
    assert await asyncio.wait_for(wait_for_stop(stop, 3600), timeout=10)
