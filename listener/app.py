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
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial

import aiohttp
import structlog
from aiohttp import web
from prometheus_client import CollectorRegistry

from listener.assembly.graph import app_credentials, graph_clients
from listener.assembly.store import open_store
from listener.contests.campaigns import campaigns, scopes
from listener.contests.settle import SettlingPass, settle
from listener.demo import graph_hosts
from listener.enrich.enricher import Enricher, Scorer
from listener.enrich.sentiment import FastTextIdentifier, SentimentPipeline, VaderAnalyzer
from listener.errors import ConfigError, GraphError, StoppingError, StoreUnavailableError
from listener.graph.instagram import Credentials, HashtagEdge, InstagramApi
from listener.graph.tokens import TokenApi, current_token, token_expiries
from listener.logs import remember_secret
from listener.metrics import Metrics
from listener.pollers.accounts import Accounts
from listener.pollers.feed import Feed
from listener.pollers.hashtags import HashtagFeed, HashtagIds
from listener.pollers.inbox import InboxWorker
from listener.pollers.ingest import Ingestor
from listener.pollers.leasing import Leasing, replica_name
from listener.pollers.quota import HashtagQuota
from listener.pollers.scheduler import Pacing, Scheduler
from listener.pollers.sharing import SharedLimits
from listener.pollers.stopping import sleep_unless_stopped, unless_stopped
from listener.pollers.tags import TagsFeed
from listener.ratelimit.governor import Governor
from listener.ratelimit.throttle import (
    Policy,
    Scope,
    buc_budget_per_hour,
    platform_budget_per_hour,
)
from listener.ratelimit.usage import Usage
from listener.settings import AccountSettings, PollingSettings, Settings
from listener.store.store import Store
from listener.web.server import build_app
from listener.web.webhooks import WebhookConfig, WebhookReceiver

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


def policy_for(
    settings: Settings, replicas: Callable[[], int] = lambda: 1
) -> Callable[[Scope], Policy]:
    """Each scope's budget and thresholds, from the settings (Meta's formulas by default).

    The budget is Meta's for the whole app (or account); ``replicas`` live replicas share it.
    """
    limits = settings.ratelimit
    app_budget = limits.app_calls_per_hour or platform_budget_per_hour(limits.app_users)
    account_budget = limits.account_calls_per_hour or buc_budget_per_hour(
        limits.account_impressions_24h
    )

    def policy(scope: Scope) -> Policy:
        budget = app_budget if scope.kind == "app" else account_budget
        return Policy(
            budget_per_hour=budget / max(replicas(), 1),
            soft_threshold=limits.soft_threshold,
            default_pause_s=limits.default_pause_s,
        )

    return policy


@dataclass
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
    web_port: int
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
        return result

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


def tags_feeds(
    polling: PollingSettings,
    configured: Sequence[AccountSettings],
    *,
    api: InstagramApi,
    store: Store,
    ingestor: Ingestor,
    accounts: Accounts,
    metrics: Metrics,
    clock: Callable[[], datetime],
) -> list[Feed]:
    """One ``/tags`` feed per configured account that asks for it."""
    return [
        TagsFeed(
            api=api,
            store=store,
            ingestor=ingestor,
            accounts=accounts,
            metrics=metrics,
            account=account.name,
            interval_s=polling.tags_interval_s,
            page_size=polling.page_size,
            max_pages=polling.max_pages,
            clock=clock,
        )
        for account in configured
        if account.tags
    ]


def hashtag_feeds(
    polling: PollingSettings,
    configured: Sequence[AccountSettings],
    *,
    api: InstagramApi,
    store: Store,
    ingestor: Ingestor,
    quota: HashtagQuota,
    accounts: Accounts,
    metrics: Metrics,
    clock: Callable[[], datetime],
) -> list[Feed]:
    """One feed per configured account × hashtag × edge (``top_media`` when enabled)."""
    ids = HashtagIds(api, store, clock)
    edges: list[HashtagEdge] = ["recent_media"]
    if polling.top_media:
        edges.append("top_media")
    return [
        HashtagFeed(
            api=api,
            store=store,
            ingestor=ingestor,
            ids=ids,
            quota=quota,
            accounts=accounts,
            metrics=metrics,
            account=account.name,
            hashtag=hashtag,
            edge=edge,
            interval_s=polling.hashtag_interval_s,
            page_size=polling.page_size,
            max_pages=polling.max_pages,
            clock=clock,
        )
        for account in configured
        for hashtag in account.hashtags
        for edge in edges
    ]


def webhook_receiver(
    settings: Settings,
    store: Store,
    metrics: Metrics,
    clock: Callable[[], datetime],
    *,
    arrived: asyncio.Event,
) -> WebhookReceiver | None:
    """The webhook receiver, or ``None`` when no account listens to a webhook field.

    Only a worker that mounts it can receive deliveries, so only then does ``graph.app_secret``
    matter (:meth:`Settings.worker_refusal`); unsigned deliveries are taken only when
    ``server.webhook_unsigned`` says so, with a warning at every start.
    """
    if not settings.receives_webhooks:
        return None
    server = settings.server
    if server.webhook_unsigned:
        log.warning(
            "webhook.unsigned",
            reason="server.webhook_unsigned = true: signatures are not checked, anyone who "
            "reaches the port can fill the inbox; for demos only",
        )
    return WebhookReceiver(
        WebhookConfig(
            verify_token=server.webhook_verify_token.get_secret_value(),
            app_secret=settings.graph.app_secret.get_secret_value(),
            max_bytes=server.webhook_max_bytes,
            unsigned=server.webhook_unsigned,
        ),
        store.inbox,
        metrics,
        clock,
        arrived=arrived,
    )


def export_usage(metrics: Metrics, scope: Scope, usage: Usage) -> None:
    """Set the usage-ratio gauges from one answer's usage header."""
    for name, value in usage.metrics().items():
        metrics.rate_limit_usage.labels(scope.kind, scope.account, name).set(value)


def throttled_samples(governor: Governor) -> list[tuple[tuple[str, ...], float]]:
    """``listener_throttled`` at scrape time: 1 for each scope paused now, else 0."""
    return [
        ((scope.kind, scope.account), 1.0 if governor.paused(scope) else 0.0)
        for scope, _ in governor.scopes()
    ]


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
    rng: random.Random | None = None,
    stop: asyncio.Event | None = None,
) -> AsyncIterator[Worker]:
    """Start every resource and yield the worker; everything is closed on exit.

    ``stop`` (the one :meth:`Worker.serve` will get) ends waits during start-up too: a stop
    while the start waits for MongoDB raises :class:`StoppingError` after closing what was
    opened.
    """
    refusal = settings.worker_refusal()
    if refusal is not None:
        raise ConfigError(refusal)
    registry = registry or CollectorRegistry()
    metrics = Metrics(registry)
    grace_s = settings.polling.shutdown_grace_s
    stopping = stop or asyncio.Event()
    sleep = partial(sleep_unless_stopped, stopping)
    async with AsyncExitStack() as stack:
        hosts = await stack.enter_async_context(graph_hosts(settings, media=True))
        base_url = hosts.facebook
        store = await stack.enter_async_context(
            open_store(settings, close_timeout_s=CLOSE_TIMEOUT_S)
        )
        await unless_stopped(stopping, _first_indexes(store))
        session = await stack.enter_async_context(aiohttp.ClientSession())
        feed_count = sum(
            len(a.hashtags) * (2 if settings.polling.top_media else 1) + int(a.tags)
            for a in settings.accounts
        )
        leasing = Leasing(
            store.leases,
            replica=settings.cluster.replica or replica_name(),
            feeds=feed_count,
            ttl_s=settings.cluster.lease_ttl_s,
            clock=clock,
        )
        policy = policy_for(settings, replicas=lambda: leasing.live)
        governor = Governor(
            policy,
            clock=clock,
            sleep=sleep,
            accounts_by_ig_id={a.ig_user_id: a.name for a in settings.accounts},
            on_usage=partial(export_usage, metrics),
            on_garbled=metrics.usage_header_problems.inc,
        )
        metrics.throttled.source = partial(throttled_samples, governor)
        graph = graph_clients(
            session=session,
            settings=settings,
            metrics=metrics,
            hosts=hosts,
            clock=clock,
            governor=governor,
            sleep=sleep,
        )
        api, tokens = graph.instagram, graph.tokens
        # At once, not one after another: with MongoDB down each waits its timeout.
        credentials = await unless_stopped(
            stopping, asyncio.gather(*(current_credentials(a, store) for a in settings.accounts))
        )
        accounts = Accounts({c.account: c for c in credentials}, metrics=metrics, clock=clock)
        quota = HashtagQuota(store, metrics, clock)
        ingestor = Ingestor(store, metrics, Enricher(sentiment_scorer(), campaigns(settings)))
        feeds = hashtag_feeds(
            settings.polling,
            settings.accounts,
            api=api,
            store=store,
            ingestor=ingestor,
            quota=quota,
            accounts=accounts,
            metrics=metrics,
            clock=clock,
        ) + tags_feeds(
            settings.polling,
            settings.accounts,
            api=api,
            store=store,
            ingestor=ingestor,
            accounts=accounts,
            metrics=metrics,
            clock=clock,
        )
        polling = settings.polling
        inbox = InboxWorker(
            api=api,
            store=store,
            ingestor=ingestor,
            accounts=accounts,
            metrics=metrics,
            clock=clock,
            accounts_by_ig_id={a.ig_user_id: a.name for a in settings.accounts},
            mentions_on=[a.name for a in settings.accounts if a.mentions],
            max_attempts=polling.inbox_max_attempts,
            lease_s=polling.inbox_claim_s,
            workers=polling.inbox_workers,
            finish_s=grace_s / 2,
            replica=leasing.replica,
            heartbeat_ttl_s=settings.cluster.lease_ttl_s,
        )
        receiver = webhook_receiver(settings, store, metrics, clock, arrived=inbox.arrived)
        scheduler = Scheduler(
            feeds,
            store=store,
            metrics=metrics,
            accounts=accounts,
            pacing=Pacing(
                jitter_ratio=settings.polling.jitter_ratio,
                adaptive=settings.polling.adaptive,
                min_interval_s=settings.polling.min_interval_s,
                max_interval_s=settings.polling.max_interval_s,
                budget_per_hour=lambda scope: policy(scope).budget_per_hour,
                takeover_check_s=settings.cluster.lease_ttl_s / 2,
            ),
            clock=clock,
            rng=rng,
            grace_s=grace_s / 2,
            leasing=leasing,
        )
        runner = web.AppRunner(
            build_app(metrics=metrics, registry=registry, readiness=store.ping, webhooks=receiver),
            access_log=None,
            handle_signals=False,
            shutdown_timeout=CLOSE_TIMEOUT_S,  # a delivery still in flight after the grace
            auto_decompress=False,  # compressed bodies are refused (415), never inflated
        )
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        site = web.TCPSite(runner, settings.server.host, settings.server.port)
        await site.start()
        port = runner.addresses[0][1]
        log.info("server.started", host=settings.server.host, port=port, feeds=len(feeds))
        if hosts.deliver_webhooks is not None:
            hosts.deliver_webhooks(f"http://127.0.0.1:{port}/webhooks/instagram")
        worker = Worker(
            settings,
            store,
            metrics,
            registry,
            api,
            accounts,
            quota,
            governor,
            scheduler,
            port,
            base_url,
            loader,
            clock,
            tokens,
            inbox,
            leasing,
            SharedLimits(governor, store.ratelimits, clock=clock, every_s=settings.cluster.sync_s),
            stopping=stopping,
            grace_s=grace_s,
        )
        yield worker
    log.info("worker.stopped")


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
