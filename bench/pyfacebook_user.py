"""pyfacebook as a contender: what a user of ``python-facebook-api`` would write for the same job.

A fixed-interval loop over the hashtags, as the library's README suggests using it: the id of
each hashtag once (``api.user.get_hashtag_search``), then the ``recent_media`` edge with the
library's paging: ``GraphAPI.get_connection`` and the ``paging.next`` link's parameters fed back
in, exactly what its ``get_full_connections`` does inside (that helper cannot stop early: it
reads until ``count`` media or the end of the 24 h listing). The loop stops at the first page
that brings nothing new, or at the same page bound as the worker, so both walk alike and the
difference is pacing and throttle handling. ``/tags`` is read every ``tags_interval_s`` with
``api.user.get_tagged_media`` so that the account's BUC scope carries traffic.

The library is synchronous (``requests``): the loop runs in a thread beside the simulator's
event loop and moves the simulator's :class:`ManualClock` itself, round after round, so it
sees the same virtual hours. Errors are caught the way a user would: log and go on with the
next hashtag. pyfacebook's own rate-limit sleep (``time.sleep`` after each call, by
``X-App-Usage``) is redirected to the virtual clock and measured.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any, Final
from unittest import mock
from urllib.parse import parse_qsl, urlparse

from bench.harness import (
    ACCOUNT,
    API_VERSION,
    APP_SECRET,
    Progress,
    eligible_media,
    hours_since_start,
    simulator_config,
)
from bench.measures import Poll, RunRecord
from bench.scenarios import START, Scenario, Throttle
from listener.graph.instagram import AUTHORED_MEDIA_FIELDS, HASHTAG_MEDIA_FIELDS
from listener.simulator import World, serve
from listener.simulator.clock import ManualClock

CONTENDER: Final = "pyfacebook (fixed interval)"
REQUIREMENT: Final = "python-facebook-api"
PROGRESS_EVERY_H: Final = 6.0


def available() -> bool:
    """Whether ``python-facebook-api`` is installed."""
    try:
        import pyfacebook  # type: ignore[import-untyped]  # noqa: F401, PLC0415 - optional
    except ImportError:
        return False
    return True


@dataclass
class _Outcome:
    polls: list[Poll] = field(default_factory=list)
    captured: set[str] = field(default_factory=set)
    errors: Counter[int] = field(default_factory=Counter)  # Graph error codes met
    slept_s: float = 0.0


@contextmanager
def _virtual_sleep(clock: ManualClock, outcome: _Outcome) -> Iterator[None]:
    """pyfacebook's ``time.sleep`` (its rate-limit wait) moves the virtual clock instead."""
    from pyfacebook.api import graph  # type: ignore[import-untyped]  # noqa: PLC0415 - optional

    def sleep(seconds: float) -> None:
        outcome.slept_s += seconds
        clock.advance(timedelta(seconds=seconds))

    with mock.patch.object(graph, "time", SimpleNamespace(sleep=sleep)):
        yield


class _User:
    """The user's polling code: one round over the hashtags, and the ``/tags`` read."""

    def __init__(self, api: Any, scenario: Scenario, clock: ManualClock, outcome: _Outcome):
        self._api = api
        self._scenario = scenario
        self._clock = clock
        self._outcome = outcome
        self._ids: dict[str, str] = {}

    def round(self) -> None:
        """Poll every hashtag once."""
        for tag in self._scenario.tags:
            self._poll(tag)

    def tags(self) -> None:
        """Read the account's ``/tags`` (BUC scope)."""
        from pyfacebook import FacebookError  # noqa: PLC0415 - optional dependency

        try:
            # The worker's field list: pyfacebook's default asks children for fields (permalink,
            # shortcode, thumbnail_url) that the simulator refuses on carousel children.
            found = self._api.user.get_tagged_media(
                fields=AUTHORED_MEDIA_FIELDS, count=25, limit=25, return_json=True
            )
            self._outcome.captured.update(m["id"] for m in found["data"])
        except FacebookError as exc:
            self._outcome.errors[int(exc.code)] += 1

    def _poll(self, tag: str) -> None:
        from pyfacebook import FacebookError  # noqa: PLC0415 - optional dependency

        started = self._clock()
        new = 0
        pages: list[int] = []
        try:
            tag_id = self._ids.get(tag) or self._search(tag)
            args: dict[str, Any] = {
                "user_id": ACCOUNT.ig_user_id,
                "fields": HASHTAG_MEDIA_FIELDS,
                "limit": self._scenario.page_size,
            }
            for _ in range(self._scenario.max_pages):
                page = self._api.get_connection(tag_id, "recent_media", **args)
                fresh = {m["id"] for m in page["data"]} - self._outcome.captured
                self._outcome.captured |= fresh
                new += len(fresh)
                pages.append(len(fresh))
                link = page.get("paging", {}).get("next")
                if not fresh or not link:
                    break
                args = dict(parse_qsl(urlparse(link).query))
        except FacebookError as exc:
            self._outcome.errors[int(exc.code)] += 1
        self._outcome.polls.append(Poll(tag, started, new, tuple(pages)))

    def _search(self, tag: str) -> str:
        found = self._api.user.get_hashtag_search(q=tag, return_json=True)
        self._ids[tag] = str(found["data"][0]["id"])
        return self._ids[tag]


def _drive(
    scenario: Scenario, base_url: str, clock: ManualClock, world: World, progress: Progress
) -> _Outcome:
    """The user's loop, run to the scenario's end in virtual time (blocking)."""
    from pyfacebook import IGBusinessApi  # noqa: PLC0415 - optional dependency

    outcome = _Outcome()
    api = IGBusinessApi(
        access_token=ACCOUNT.access_token,
        app_secret=APP_SECRET,
        version=API_VERSION,
        base_url=f"{base_url}/",  # pyfacebook joins base_url + "v25.0/<path>"
        instagram_business_id=ACCOUNT.ig_user_id,
        timeout=30,
    )
    user = _User(api, scenario, clock, outcome)
    events = list(_events(scenario, user, world, clock, progress))
    heapq.heapify(events)
    try:
        with _virtual_sleep(clock, outcome):
            while events:
                at, _, action = heapq.heappop(events)
                if at >= scenario.end:
                    break
                clock.now = max(clock.now, at)
                action()
    finally:
        api.session.close()
    return outcome


def _events(
    scenario: Scenario, user: _User, world: World, clock: ManualClock, progress: Progress
) -> Iterator[tuple[datetime, int, Callable[[], None]]]:
    """Every action of the run at its virtual time: rounds, ``/tags`` reads, throttles."""
    order = itertools.count()

    def every(seconds: float) -> Iterator[datetime]:
        at = START
        while at < scenario.end:
            yield at
            at += timedelta(seconds=seconds)

    def throttle(script: Throttle) -> Callable[[], None]:
        scope = "app" if script.scope == "app" else ACCOUNT.ig_user_id
        return lambda: _script(world, script, scope, clock)

    def report() -> None:
        progress.say(f"{hours_since_start(clock()):.0f} h of {scenario.hours:g} h")

    for script in scenario.throttles:
        yield script.starts, next(order), throttle(script)
    for at in every(scenario.naive_interval_s):
        yield at, next(order), user.round
    for at in every(scenario.tags_interval_s):
        yield at, next(order), user.tags
    for at in every(PROGRESS_EVERY_H * 3600.0):
        if at > START:
            yield at, next(order), report


def _script(world: World, script: Throttle, scope: str, clock: ManualClock) -> None:
    world.throttle(scope, script.code, script.minutes, clock())


async def run(scenario: Scenario) -> RunRecord:
    """Run the pyfacebook user's loop on the scenario."""
    progress = Progress(f"{scenario.name}/{CONTENDER}")
    progress.say(f"start: every {scenario.naive_interval_s:g} s over {len(scenario.rates)} tags")
    clock = ManualClock(START)
    async with serve(simulator_config(scenario), clock=clock) as sim:
        world = sim.world
        outcome = await asyncio.to_thread(_drive, scenario, sim.base_url, clock, world, progress)
        eligible = eligible_media(sim.world, scenario)
        calls = list(sim.world.stats.log)
    progress.say(f"done: {len(calls)} calls, {len(outcome.captured)} media")
    return RunRecord(
        contender=CONTENDER,
        scenario=scenario,
        ig_user_id=ACCOUNT.ig_user_id,
        calls=calls,
        polls=outcome.polls,
        captured=frozenset(outcome.captured),
        eligible=eligible,
        wall_s=progress.elapsed(),
        cpu_s=progress.cpu(),
        slept_s=outcome.slept_s,
    )
