"""Composition root: builds every resource of the worker, runs it, closes it in reverse order.

Order of start: (simulator, demo only) → MongoDB (embedded server first when configured) →
HTTP client session → governor and Graph client → accounts, quota, feeds, scheduler → web
server. An ``AsyncExitStack`` closes them in exactly the reverse order, whatever fails.

Stop. SIGTERM sets the worker's stop event. Every wait ends there: loops wait on the event,
and the governor's pauses and pacing and the Graph clients' backoffs sleep through
:func:`~listener.pollers.stopping.sleep_unless_stopped`. Work in flight (a poll, an inbox
event) gets half of ``polling.shutdown_grace_s`` to finish, then is cancelled and its inbox
claim given back; lease releases and other shutdown writes take the rest. Whatever still runs
at the grace period is cancelled and logged (``worker.stop_forced``): an unreleased lease or
claim simply expires. Closing the web server and the MongoDB client then takes at most
``CLOSE_TIMEOUT_S`` each. A stop during start-up (waiting for MongoDB) ends the start.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import partial
from typing import get_args

import aiohttp
import structlog
from prometheus_client import CollectorRegistry

from listener.assembly.cluster import leasing as build_leasing
from listener.assembly.cluster import shared_limits
from listener.assembly.graph import GraphClients, app_credentials, graph_clients
from listener.assembly.pollers import all_feeds, comment_feeds, pacing
from listener.assembly.pollers import inbox as build_inbox
from listener.assembly.pollers import scheduler as build_scheduler
from listener.assembly.ratelimit import governor as build_governor
from listener.assembly.ratelimit import policy_for
from listener.assembly.store import open_store
from listener.assembly.web import web_server, webhook_receiver
from listener.contests.campaigns import campaigns, scopes
from listener.contests.comment_settling import CommentSettling
from listener.contests.comments import CommentSettlement
from listener.contests.settle import SettlingPass, settle
from listener.demo import Hosts, graph_hosts
from listener.enrich.enricher import Enricher, Scorer
from listener.enrich.sentiment import (
    FastTextIdentifier,
    Label,
    SentimentPipeline,
    VaderAnalyzer,
)
from listener.errors import ConfigError, GraphError, StoppingError, StoreUnavailableError
from listener.graph.instagram import Credentials, InstagramApi
from listener.graph.tokens import TokenApi, current_token, token_expiries
from listener.logs import remember_secret
from listener.metrics import Metrics
from listener.pollers.accounts import Accounts
from listener.pollers.comment_ingest import CommentIngestor
from listener.pollers.comments import refuse_foreign_posts
from listener.pollers.context import PollerContext
from listener.pollers.feed import Feed
from listener.pollers.inbox import InboxWorker
from listener.pollers.ingest import Ingestor
from listener.pollers.leasing import Leasing
from listener.pollers.quota import HashtagQuota
from listener.pollers.scheduler import Scheduler
from listener.pollers.sharing import SharedLimits
from listener.pollers.stopping import Wait, sleep_unless_stopped, unless_stopped, wait_for_stop
from listener.ratelimit.governor import Governor, Sleep
from listener.ratelimit.throttle import Policy, Scope
from listener.settings import AccountSettings, Settings
from listener.store.store import Store
from listener.web.webhooks import WebhookReceiver

log = structlog.get_logger("listener.app")

INDEX_RETRY_S = 5.0
TOKEN_EXPIRY_INTERVAL_S = 3600.0
STORE_CHECK_INTERVAL_S = 15.0
SETTLE_INTERVAL_S = 60.0
CLOSE_TIMEOUT_S = 1.0
"""After the grace period: what closing the web server and the MongoDB client may take each."""

SettingsLoader = Callable[[], Settings]


def utcnow() -> datetime:
    """The wall clock, in UTC."""
    return datetime.now(UTC)


async def current_credentials(account: AccountSettings, store: Store) -> Credentials:
    """The account's credentials: its renewed token while that stands in for the configured one."""
    # A store that is down gives the configured token: start-up must not need the database.
    configured = account.access_token.get_secret_value()
    token = await current_token(store.tokens, account.name, configured)
    return Credentials(account.name, account.ig_user_id, token)


def sentiment_scorer() -> Scorer:
    """The sentiment pipeline: VADER behind emoji, hashtag and language handling.

    Built once at start-up: it loads VADER's lexicon and checks and loads the language model
    (together about 8 MiB and a few hundredths of a second).
    """
    return SentimentPipeline(VaderAnalyzer(), identifier=FastTextIdentifier())


@dataclass(kw_only=True, frozen=True)
class Worker:
    """A started worker: handles to look at (tests do), :meth:`serve` to run it."""

    settings: Settings
    store: Store
    metrics: Metrics
    registry: CollectorRegistry
    api: InstagramApi
    accounts: Accounts
    quota: HashtagQuota
    governor: Governor
    scheduler: Scheduler
    feeds: int
    """How many feeds this worker may poll (its leases decide which, when)."""
    webhooks: WebhookReceiver | None = None
    web_port: int = 0
    """The port the web server listens on, once it does."""
    graph_base_url: str
    loader: SettingsLoader | None = None
    clock: Callable[[], datetime] = utcnow
    token_api: TokenApi | None = None
    inbox: InboxWorker | None = None
    leasing: Leasing | None = None
    shared_limits: SharedLimits | None = None
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    """Set once :meth:`serve`'s stop is: the event the worker's own waits end on."""
    grace_s: float = 5.0
    comment_settling: CommentSettling | None = None
    comment_ingestor: CommentIngestor | None = None
    """Where polled and delivered comments are stored; it tells the settling what changed."""

    async def serve(self, stop: asyncio.Event, reload: asyncio.Event | None = None) -> None:
        """Poll until ``stop`` is set; re-read tokens whenever ``reload`` is set.

        After the stop, whatever still runs at ``grace_s`` is cancelled (see the module).
        """
        relay = asyncio.create_task(_relay(stop, self.stopping), name="stop:relay")
        try:
            await self._serve(self.stopping, reload)
        finally:
            relay.cancel()

    async def _serve(self, stop: asyncio.Event, reload: asyncio.Event | None) -> None:
        # Leases are released only once the last poll has ended: released earlier, another
        # replica could start a feed whose poll is still running here.
        polls_over = asyncio.Event()
        async with asyncio.TaskGroup() as group:
            tasks = [
                group.create_task(_ensure_indexes(self.store, stop), name="store:indexes"),
                group.create_task(self._poll(stop, polls_over), name="scheduler"),
            ]
            for job, every_s in (
                (self._watch_store, STORE_CHECK_INTERVAL_S),
                (self._watch_token_expiry, TOKEN_EXPIRY_INTERVAL_S),
                (self.settle, SETTLE_INTERVAL_S),
            ):
                tasks.append(
                    group.create_task(_every(stop, every_s, job), name=job.__name__.strip("_"))
                )
            if self.inbox is not None:
                tasks.append(group.create_task(self.inbox.run(stop), name="inbox"))
            if self.leasing is not None:
                tasks.append(group.create_task(self.leasing.run(polls_over), name="leases"))
            if self.shared_limits is not None:
                tasks.append(
                    group.create_task(self.shared_limits.run(stop), name="ratelimits:sync")
                )
            if reload is not None:
                tasks.append(group.create_task(self._reloads(stop, reload), name="reload"))
            group.create_task(self._within_grace(stop, tasks), name="stop:grace")

    async def _within_grace(self, stop: asyncio.Event, tasks: list[asyncio.Task[None]]) -> None:
        """Once ``stop`` is set, give the worker's tasks ``grace_s``; then cancel what is left."""
        await stop.wait()
        log.info("worker.stopping", grace_s=self.grace_s)
        _, unfinished = await asyncio.wait(tasks, timeout=self.grace_s)
        if unfinished:
            log.warning(
                "worker.stop_forced",
                grace_s=self.grace_s,
                unfinished=sorted(task.get_name() for task in unfinished),
            )
            for task in unfinished:
                task.cancel()

    async def _poll(self, stop: asyncio.Event, over: asyncio.Event) -> None:
        try:
            with contextlib.suppress(StoppingError):
                await self._reconcile_quota()
            await self.scheduler.run(stop)
        finally:
            over.set()

    async def _reconcile_quota(self) -> None:
        """Fold Meta's record of each account's spent hashtags into the shared slot ledger."""
        for account in self.settings.accounts:
            if not account.hashtags:
                continue
            try:
                if not await self.quota.claim_reconcile(account.name):
                    log.info("quota.reconcile_skipped", account=account.name, by="another replica")
                    continue
                searched = await self.api.recently_searched_hashtags(
                    self.accounts.who(account.name)
                )
                ledger = await self.quota.reconcile(account.name, searched)
            except (GraphError, StoreUnavailableError) as exc:
                log.warning("quota.reconcile_failed", account=account.name, error=str(exc))
                continue
            log.info(
                "quota.reconciled",
                account=account.name,
                listed_by_meta=len(searched),
                remaining=ledger.remaining(self.clock()),
            )

    async def _watch_store(self) -> None:
        """Keep ``listener_store_up`` current whether or not anything calls ``/readyz``."""
        try:
            await self.store.ping()
        except StoreUnavailableError:
            self.metrics.store_up.set(0)
            raise
        self.metrics.store_up.set(1)

    async def _watch_token_expiry(self) -> None:
        """Keep ``listener_token_expiry_timestamp_seconds`` current."""
        if self.token_api is None:
            return
        expiries = await token_expiries(
            self.token_api,
            self.settings.accounts,
            app=app_credentials(self.settings),
            tokens=self.store.tokens,
        )
        for account, expires_at in expiries.items():
            self.metrics.token_expiry.labels(account).set(expires_at)

    async def settle(self) -> SettlingPass:
        """One periodic settling pass: contest verdicts, then the identity and entrant gauges.

        Its cost follows what changed since the last pass, not what is stored
        (:mod:`listener.contests.settle`).
        """
        result = await settle(self.store.media, scopes(self.settings), now=self.clock())
        for campaign in result.campaigns:
            self.metrics.contest_author_known.labels(campaign.campaign).set(
                campaign.author_known_ratio
            )
            if campaign.changed:
                log.info(
                    "contests.settled",
                    campaign=campaign.campaign,
                    changed=campaign.changed,
                    eligible=campaign.eligible,
                    full=campaign.full,
                )
        for account in self.settings.accounts:
            if account.hashtags:
                identity = result.identities[account.name]
                self.metrics.identity_known.labels(account.name).set(identity.ratio)
        if self.comment_settling is not None:
            giveaways = await self.comment_settling.settle()
            self._count_comment_giveaways(giveaways)
            for giveaway in giveaways:
                if giveaway.written:
                    log.info(
                        "contests.settled",
                        campaign=giveaway.campaign,
                        changed=giveaway.written,
                        eligible=giveaway.eligible,
                    )
        return result

    def _count_comment_giveaways(self, giveaways: Iterable[CommentSettlement]) -> None:
        """Comment giveaways in the contest metrics: entries now, and first verdicts given."""
        for giveaway in giveaways:
            entries = self.metrics.comment_contest_entries
            entries.labels(giveaway.campaign, "true").set(giveaway.eligible)
            entries.labels(giveaway.campaign, "false").set(giveaway.judged - giveaway.eligible)
            verdicts = self.metrics.contest_entries
            verdicts.labels(giveaway.campaign, "true").inc(giveaway.first_eligible)
            verdicts.labels(giveaway.campaign, "false").inc(giveaway.first_ineligible)

    async def _reloads(self, stop: asyncio.Event, reload: asyncio.Event) -> None:
        while not stop.is_set():
            waiter = asyncio.ensure_future(reload.wait())
            stopper = asyncio.ensure_future(stop.wait())
            await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            stopper.cancel()
            if stop.is_set():
                return
            reload.clear()
            await self.reload_tokens()

    async def reload_tokens(self) -> list[str]:
        """Re-read the configuration and take the accounts' new tokens (SIGHUP)."""
        if self.loader is None:
            log.warning("config.reload_unavailable", reason="started without a config loader")
            return []
        try:
            fresh = self.loader()
        except ConfigError as exc:
            log.error("config.reload_failed", error=str(exc))
            return []
        remember_secret(*fresh.secrets())
        changed = self.accounts.replace(
            {a.name: await current_credentials(a, self.store) for a in fresh.accounts}
        )
        log.info("config.reloaded", tokens_changed=len(changed))
        return changed


async def _relay(source: asyncio.Event, target: asyncio.Event) -> None:
    """Set ``target`` once ``source`` is set."""
    await source.wait()
    target.set()


async def _every(stop: asyncio.Event, every_s: float, job: Callable[[], Awaitable[object]]) -> None:
    """Run ``job`` now and then every ``every_s`` until ``stop``; a store outage skips a turn."""
    while not stop.is_set():
        with contextlib.suppress(StoreUnavailableError, StoppingError):
            await job()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=every_s)


async def _first_indexes(store: Store) -> None:
    """Make the indexes, and so their collections, before anything can write to them.

    The webhook receiver, the pollers and the inbox worker all start after this. SecantusDB (the
    embedded store) deadlocks when ``createIndexes`` and an insert both create one collection:
    both commands hang and the server cannot stop. If MongoDB is down now, this one attempt
    waits out ``store.timeout_s`` (a stop ends the wait) and ``_ensure_indexes`` keeps trying
    and says so.
    """
    with contextlib.suppress(StoreUnavailableError):
        await store.ensure_indexes()


async def _ensure_indexes(store: Store, stop: asyncio.Event) -> None:
    """Create indexes, retrying while MongoDB is down (start-up must not need the database)."""
    failing = False
    while not stop.is_set():
        try:
            await store.ensure_indexes()
        except StoreUnavailableError as exc:
            if not failing:
                log.warning("store.unavailable", error=str(exc))
                failing = True
            try:
                await asyncio.wait_for(stop.wait(), timeout=INDEX_RETRY_S)
            except TimeoutError:
                continue
        else:
            log.info("store.ready" if not failing else "store.recovered")
            return


@asynccontextmanager
async def start(
    settings: Settings,
    *,
    loader: SettingsLoader | None = None,
    registry: CollectorRegistry | None = None,
    clock: Callable[[], datetime] = utcnow,
    sleep: Sleep | None = None,
    wait: Wait = wait_for_stop,
    rng: random.Random | None = None,
    stop: asyncio.Event | None = None,
) -> AsyncIterator[Worker]:
    """Start every resource and yield the worker; everything is closed on exit.

    ``stop`` (the one :meth:`Worker.serve` will get) ends waits during start-up too: a stop
    while the start waits for MongoDB raises :class:`StoppingError` after closing what was
    opened. The seams: ``clock`` is the wall clock; ``sleep`` waits out the governor's pauses
    and the Graph clients' backoffs (by default a sleep that ends at ``stop``); ``wait`` is how
    the scheduler and the inbox wait for their next turn; ``rng`` draws the scheduler's jitter.
    """
    refusal = settings.worker_refusal()
    if refusal is not None:
        raise ConfigError(refusal)
    registry = registry or CollectorRegistry()
    stopping = stop or asyncio.Event()
    seams = Seams(sleep=sleep or partial(sleep_unless_stopped, stopping), wait=wait, rng=rng)
    async with AsyncExitStack() as stack:
        hosts = await stack.enter_async_context(graph_hosts(settings, media=True))
        store = await stack.enter_async_context(_ready_store(settings, stopping))
        session = await stack.enter_async_context(aiohttp.ClientSession())
        metrics = Metrics(registry)
        metrics.start_comment_series(
            (a.name for a in settings.accounts if a.comments), get_args(Label)
        )
        parts = Parts(settings=settings, store=store, metrics=metrics, clock=clock)
        worker = await build_worker(
            parts, session=session, hosts=hosts, loader=loader, stopping=stopping, seams=seams
        )
        port = await stack.enter_async_context(_web_server(worker))
        log.info("server.started", host=settings.server.host, port=port, feeds=worker.feeds)
        if hosts.deliver_webhooks is not None:
            hosts.deliver_webhooks(f"http://127.0.0.1:{port}/webhooks/instagram")
        yield replace(worker, web_port=port)
    log.info("worker.stopped")


@asynccontextmanager
async def _ready_store(settings: Settings, stopping: asyncio.Event) -> AsyncIterator[Store]:
    """The store, its indexes made once (a stop during that attempt ends the start)."""
    async with open_store(settings, close_timeout_s=CLOSE_TIMEOUT_S) as store:
        await unless_stopped(stopping, _first_indexes(store))
        yield store


def _web_server(worker: Worker) -> AbstractAsyncContextManager[int]:
    """The worker's web server: its metrics, readiness and webhook receiver."""
    return web_server(
        settings=worker.settings,
        store=worker.store,
        metrics=worker.metrics,
        registry=worker.registry,
        webhooks=worker.webhooks,
        close_timeout_s=CLOSE_TIMEOUT_S,  # a delivery still in flight after the grace
    )


@dataclass(frozen=True, kw_only=True)
class Parts:
    """What every part of the worker is built on."""

    settings: Settings
    store: Store
    metrics: Metrics
    clock: Callable[[], datetime]


@dataclass(frozen=True, kw_only=True)
class Seams:
    """How the worker sleeps, waits and draws (its clock is in :class:`Parts`)."""

    sleep: Sleep
    wait: Wait
    rng: random.Random | None


async def build_worker(
    parts: Parts,
    *,
    session: aiohttp.ClientSession,
    hosts: Hosts,
    loader: SettingsLoader | None,
    stopping: asyncio.Event,
    seams: Seams,
) -> Worker:
    """The worker's parts on an open store and HTTP session; the web server comes after."""
    settings, store, metrics, clock = parts.settings, parts.store, parts.metrics, parts.clock
    by_ig_id = {a.ig_user_id: a.name for a in settings.accounts}
    # The budget is shared by the live replicas the leasing (built below) counts as it runs.
    policy = policy_for(settings, replicas=lambda: leasing.live)
    governor, graph = _governed_graph(
        parts, session=session, hosts=hosts, policy=policy, by_ig_id=by_ig_id, sleep=seams.sleep
    )
    scorer = sentiment_scorer()
    context = await _poller_context(parts, graph.instagram, stopping, scorer)
    quota = HashtagQuota(store, metrics, clock)
    comment_ingestor = CommentIngestor(store, metrics, scorer)
    feeds = _feeds(settings, context=context, quota=quota, comment_ingestor=comment_ingestor)
    leasing = build_leasing(settings=settings, store=store, feeds=feeds, clock=clock)
    await unless_stopped(stopping, refuse_foreign_posts(feeds))  # before other calls to Meta
    inbox = build_inbox(
        settings=settings,
        context=context,
        accounts_by_ig_id=by_ig_id,
        replica=leasing.replica,
        wait=seams.wait,
        comment_ingestor=comment_ingestor,
    )
    return Worker(
        settings=settings,
        store=store,
        metrics=metrics,
        registry=metrics.registry,
        api=graph.instagram,
        accounts=context.accounts,
        quota=quota,
        governor=governor,
        scheduler=_scheduler(
            parts, feeds=feeds, context=context, policy=policy, leasing=leasing, seams=seams
        ),
        feeds=len(feeds),
        webhooks=webhook_receiver(
            settings=settings, store=store, metrics=metrics, clock=clock, arrived=inbox.arrived
        ),
        graph_base_url=hosts.facebook,
        loader=loader,
        clock=clock,
        token_api=graph.tokens,
        inbox=inbox,
        leasing=leasing,
        shared_limits=shared_limits(settings=settings, governor=governor, store=store, clock=clock),
        stopping=stopping,
        grace_s=settings.polling.shutdown_grace_s,
        comment_settling=CommentSettling(store, settings, comment_ingestor.take_changed),
        comment_ingestor=comment_ingestor,
    )


def _feeds(
    settings: Settings,
    *,
    context: PollerContext,
    quota: HashtagQuota,
    comment_ingestor: CommentIngestor,
) -> list[Feed]:
    """Every feed: hashtags and ``/tags`` of each account, then its comments poller."""
    return all_feeds(
        polling=settings.polling, configured=settings.accounts, context=context, quota=quota
    ) + comment_feeds(settings=settings, context=context, ingestor=comment_ingestor)


def _governed_graph(
    parts: Parts,
    *,
    session: aiohttp.ClientSession,
    hosts: Hosts,
    policy: Callable[[Scope], Policy],
    by_ig_id: Mapping[str, str],
    sleep: Sleep,
) -> tuple[Governor, GraphClients]:
    """The governor of ``policy`` and the Graph clients that ask it before every call."""
    metrics, clock = parts.metrics, parts.clock
    governor = build_governor(
        metrics=metrics, policy=policy, accounts_by_ig_id=by_ig_id, clock=clock, sleep=sleep
    )
    graph = graph_clients(
        session=session,
        settings=parts.settings,
        metrics=metrics,
        hosts=hosts,
        clock=clock,
        governor=governor,
        sleep=sleep,
    )
    return governor, graph


async def _poller_context(
    parts: Parts, api: InstagramApi, stopping: asyncio.Event, scorer: Scorer
) -> PollerContext:
    """What every poller shares: the accounts with their current tokens, and the ingestor."""
    settings, store, metrics, clock = parts.settings, parts.store, parts.metrics, parts.clock
    # At once, not one after another: with MongoDB down each waits its timeout.
    credentials = await unless_stopped(
        stopping, asyncio.gather(*(current_credentials(a, store) for a in settings.accounts))
    )
    return PollerContext(
        api=api,
        store=store,
        ingestor=Ingestor(store, metrics, Enricher(scorer, campaigns(settings))),
        accounts=Accounts({c.account: c for c in credentials}, metrics=metrics, clock=clock),
        metrics=metrics,
        clock=clock,
    )


def _scheduler(
    parts: Parts,
    *,
    feeds: Sequence[Feed],
    context: PollerContext,
    policy: Callable[[Scope], Policy],
    leasing: Leasing,
    seams: Seams,
) -> Scheduler:
    """The scheduler of the feeds this replica holds; in-flight polls get half the grace."""
    settings = parts.settings
    return build_scheduler(
        feeds=feeds,
        store=parts.store,
        metrics=parts.metrics,
        accounts=context.accounts,
        pacing=pacing(
            polling=settings.polling,
            budget_per_hour=lambda scope: policy(scope).budget_per_hour,
            takeover_check_s=settings.cluster.lease_ttl_s / 2,
        ),
        clock=parts.clock,
        rng=seams.rng,
        wait=seams.wait,
        grace_s=settings.polling.shutdown_grace_s / 2,
        leasing=leasing,
    )


async def run(
    settings: Settings,
    *,
    stop: asyncio.Event,
    reload: asyncio.Event | None = None,
    loader: SettingsLoader | None = None,
) -> None:
    """The long-running worker: start everything, run until ``stop``, close everything."""
    # Logged once the signal handlers are in place: from here on SIGTERM stops it cleanly.
    log.info(
        "worker.starting", accounts=len(settings.accounts), simulator=settings.simulator.enabled
    )
    try:
        async with start(settings, loader=loader, stop=stop) as worker:
            await worker.serve(stop, reload)
    except StoppingError:
        log.info("worker.stopped", during="start-up")
