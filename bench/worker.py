"""The worker as a contender: its scheduler, governor and hashtag feeds on a scenario.

Built from the worker's own factories (:mod:`listener.assembly`): its `GraphClient`,
`Governor`, `HashtagFeed` and `Scheduler`, on the simulator and a real MongoDB wire server,
with every wait and sleep on :class:`~listener.simulator.clock.VirtualTime`, so 36 hours run
in seconds. Two pacings: ``adaptive`` (the worker's default) and ``naive``, a fixed
round-robin (``Pacing(adaptive=False)``) at the interval a user would pick for the budget.

The account's ``/tags`` feed runs beside the hashtag feeds, as in ``app.py``: it is what spends
the account's Business Use Case scope, so a BUC throttle has something to refuse.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Final, Literal

import aiohttp
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from bench.harness import (
    ACCOUNT,
    ACCOUNT_NAME,
    API_VERSION,
    APP_SECRET,
    BUC_CALLS_PER_HOUR,
    DeadlineSleep,
    Progress,
    eligible_media,
    first_seen,
    fresh_database,
    hours_since_start,
    simulator_config,
    stall_guard,
)
from bench.measures import RunRecord, attribute
from bench.scenarios import START, Scenario, Throttle
from listener.assembly.graph import graph_client
from listener.assembly.pollers import hashtag_feeds, pacing, scheduler, tags_feeds
from listener.assembly.ratelimit import governor as build_governor
from listener.graph.client import RetryPolicy
from listener.graph.instagram import Credentials, InstagramApi
from listener.metrics import Metrics
from listener.pollers.accounts import Accounts
from listener.pollers.context import PollerContext
from listener.pollers.feed import PollResult
from listener.pollers.hashtags import HashtagFeed
from listener.pollers.ingest import Ingestor
from listener.pollers.quota import HashtagQuota
from listener.ratelimit.throttle import Policy, Scope
from listener.settings import AccountSettings, GraphSettings, PollingSettings
from listener.simulator import World, serve
from listener.simulator.clock import ManualClock, VirtualTime
from listener.store.store import Store

Mode = Literal["adaptive", "naive"]

INITIAL_INTERVAL_S: Final = 300.0  # the worker's default hashtag_interval_s: adaptive starts there
PROGRESS_EVERY_H: Final = 6.0
WHO: Final = Credentials(ACCOUNT_NAME, ACCOUNT.ig_user_id, ACCOUNT.access_token)


class RecordedFeed:
    """A feed that notes when each of its polls begins; the store tells what each brought."""

    def __init__(self, inner: HashtagFeed, clock: Callable[[], datetime]) -> None:
        self._inner = inner
        self._clock = clock
        self.source = inner.source
        self.scope = inner.scope
        self.interval_s = inner.interval_s
        self.page_size = inner.page_size
        self.hashtag = inner.hashtag
        self.starts: list[datetime] = []

    @property
    def feature(self) -> str:
        """The wrapped feed's feature."""
        return self._inner.feature

    async def poll(self, fence: int | None = None) -> PollResult:
        """The wrapped feed's poll, its start noted."""
        self.starts.append(self._clock())
        return await self._inner.poll(fence)


class TaskSeededRandom(random.Random):
    """The scheduler's jitter, drawn from one seeded stream per asyncio task (per feed loop).

    The scheduler shares one ``Random`` between its feed loops, and which loop draws first at
    start-up depends on which MongoDB read returns first; one stream per task keeps each
    feed's jitter the same from run to run, so a scenario replays identically.
    """

    def __init__(self, seed: int) -> None:
        super().__init__(seed)
        self._base = seed
        self._streams: dict[str, random.Random] = {}

    def random(self) -> float:
        """The next draw of the calling task's own stream."""
        task = asyncio.current_task()
        name = task.get_name() if task is not None else ""
        stream = self._streams.get(name)
        if stream is None:
            stream = self._streams[name] = random.Random(f"{self._base}|{name}")
        return stream.random()


def policy(scenario: Scenario) -> Callable[[Scope], Policy]:
    """The governor's policy: the scenario's Platform budget; Meta's BUC budget otherwise."""

    def of(scope: Scope) -> Policy:
        budget = scenario.budget_per_hour if scope.kind == "app" else BUC_CALLS_PER_HOUR
        return Policy(budget_per_hour=float(budget))

    return of


async def _direct(
    virtual: VirtualTime, world: World, scenario: Scenario, progress: Progress
) -> None:
    """The actor that scripts the throttles at their virtual times and reports progress."""
    clock = virtual.clock
    events: list[tuple[datetime, Throttle | None]] = [(t.starts, t) for t in scenario.throttles]
    hour = PROGRESS_EVERY_H
    while hour < scenario.hours:
        events.append((START + timedelta(hours=hour), None))
        hour += PROGRESS_EVERY_H
    for at, throttle in sorted(events, key=lambda event: event[0]):
        await virtual.sleep((at - clock()).total_seconds())
        if virtual.stop.is_set():
            return
        if throttle is None:
            progress.say(f"{hours_since_start(clock()):.0f} h of {scenario.hours:g} h")
            continue
        scope = "app" if throttle.scope == "app" else ACCOUNT.ig_user_id
        world.throttle(scope, throttle.code, throttle.minutes, clock())
    # Stay an actor until the deadline: virtual time moves only while every actor waits.
    await virtual.sleep((scenario.end - clock()).total_seconds() + 1.0)


async def run(scenario: Scenario, mode: Mode, *, mongo_uri: str) -> RunRecord:
    """Run the worker with ``mode`` pacing for the scenario's virtual hours."""
    contender = f"listener ({mode})"
    progress = Progress(f"{scenario.name}/{contender}")
    progress.say(f"start: {len(scenario.rates)} feeds, {scenario.budget_per_hour} calls/h")
    clock = ManualClock(START)
    metrics = Metrics(CollectorRegistry())
    interval_s = INITIAL_INTERVAL_S if mode == "adaptive" else scenario.naive_interval_s
    async with (
        serve(simulator_config(scenario), clock=clock) as sim,
        fresh_database(mongo_uri, f"{scenario.name}_{mode}") as database,
        aiohttp.ClientSession() as session,
    ):
        store = Store(database)  # no secondary indexes: they serve reads, not the pollers
        # Actors: the hashtag feeds, the /tags feed and the script of throttles.
        virtual = VirtualTime(clock, actors=len(scenario.rates) + 2, until=scenario.end)
        sleep = DeadlineSleep(virtual)
        rules = policy(scenario)
        governor = build_governor(
            metrics=metrics,
            policy=rules,
            accounts_by_ig_id={WHO.ig_user_id: WHO.account},
            clock=clock,
            sleep=sleep,
        )
        client = graph_client(
            session=session,
            graph=GraphSettings(
                api_version=API_VERSION, app_secret=SecretStr(APP_SECRET), timeout_s=30
            ),
            metrics=metrics,
            base_url=sim.base_url,
            retry=RetryPolicy(),
            governor=governor,
            sleep=sleep,
        )
        api = InstagramApi(client)
        accounts = Accounts({WHO.account: WHO}, metrics=metrics, clock=clock)
        quota = HashtagQuota(store, metrics, clock)
        # The worker's own feed builders, on one account configured for the scenario.
        polling = PollingSettings(
            hashtag_interval_s=interval_s,
            tags_interval_s=scenario.tags_interval_s,
            page_size=scenario.page_size,
            max_pages=scenario.max_pages,
            top_media=False,
            adaptive=mode == "adaptive",
        )
        configured = [
            AccountSettings(
                name=WHO.account,
                ig_user_id=WHO.ig_user_id,
                access_token=SecretStr(WHO.token),
                hashtags=list(scenario.tags),
                mentions=False,
            )
        ]
        context = PollerContext(
            api=api,
            store=store,
            ingestor=Ingestor(store, metrics),
            accounts=accounts,
            metrics=metrics,
            clock=clock,
        )
        feeds = [
            RecordedFeed(feed, clock)
            for feed in hashtag_feeds(
                polling=polling, configured=configured, context=context, quota=quota
            )
        ]
        tags = tags_feeds(polling=polling, configured=configured, context=context)
        polls = scheduler(
            feeds=[*feeds, *tags],
            store=store,
            metrics=metrics,
            accounts=accounts,
            pacing=pacing(
                polling=polling, budget_per_hour=lambda scope: rules(scope).budget_per_hour
            ),
            clock=clock,
            rng=TaskSeededRandom(scenario.seed),
            wait=virtual.wait,
        )
        async with asyncio.TaskGroup() as group:
            group.create_task(polls.run(virtual.stop), name="bench:scheduler")
            group.create_task(_direct(virtual, sim.world, scenario, progress), name="bench:script")
            group.create_task(stall_guard(virtual), name="bench:stall-guard")
        seen = await first_seen(database)
        calls = list(sim.world.stats.log)
        by_hashtag = [(tag, at) for _, tag, at in seen if tag is not None]
        attributed = attribute({f.hashtag: f.starts for f in feeds}, by_hashtag, calls)
        captured = frozenset(media_id for media_id, _, _ in seen)
        eligible = eligible_media(sim.world, scenario)
    progress.say(f"done: {len(calls)} calls, {len(captured)} media")
    return RunRecord(
        contender=contender,
        scenario=scenario,
        ig_user_id=ACCOUNT.ig_user_id,
        calls=calls,
        polls=attributed,
        captured=captured,
        eligible=eligible,
        wall_s=progress.elapsed(),
        cpu_s=progress.cpu(),
    )
