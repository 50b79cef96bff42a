"""How the worker's waits end at the stop event: one place for every way of waiting.

Loops wait for their next turn with :func:`wait_for_stop`; the governor's pauses and pacing and
the Graph client's backoffs sleep through :func:`sleep_unless_stopped`, which abandons the call
with :class:`~listener.errors.StoppingError`; work that may run on after the stop for a grace
period (an inbox event, the start-up's reads) runs under :func:`unless_stopped`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from listener.errors import StoppingError

T = TypeVar("T")

Wait = Callable[[asyncio.Event, float], Awaitable[bool]]
"""Waits up to a delay for the stop event; True if it was set (injected for virtual time)."""


async def wait_for_stop(stop: asyncio.Event, delay_s: float) -> bool:
    """Wait up to ``delay_s`` for ``stop``; True if it was set.

    A deadline on the waiting task itself rather than ``asyncio.wait_for``, which wraps the
    wait in a task of its own: thousands of feeds wait here at any moment.
    """
    try:
        async with asyncio.timeout(max(delay_s, 0.0)):
            await stop.wait()
    except TimeoutError:
        return stop.is_set()
    return True


async def sleep_unless_stopped(stop: asyncio.Event, delay_s: float) -> None:
    """Sleep ``delay_s``; raise :class:`StoppingError` at once when ``stop`` is set.

    The governor's pauses and pacing and the Graph client's backoffs sleep through this in the
    worker, so an hour's pause never holds a stop: the call is abandoned, not failed.
    """
    if stop.is_set() or await wait_for_stop(stop, delay_s):
        raise StoppingError("the worker is stopping")


async def unless_stopped(stop: asyncio.Event, work: Awaitable[T], *, grace_s: float = 0.0) -> T:
    """The result of ``work``; once ``stop`` is set it gets ``grace_s`` more to finish, then it
    is cancelled and :class:`StoppingError` raised. Its own errors propagate."""

    async def awaited() -> T:
        return await work

    # A task of its own, whatever ``work`` is: cancelling a gather() would end it with a
    # CancelledError for a result instead of cancelled.
    task = asyncio.create_task(awaited())
    stopped = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if not task.done():
            await asyncio.wait({task}, timeout=grace_s)
    finally:
        stopped.cancel()
        if not task.done():
            task.cancel()
            await asyncio.wait({task})
    if task.cancelled():
        raise StoppingError("the worker is stopping")
    return task.result()
