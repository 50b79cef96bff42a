"""Composition root: builds every resource of the worker, runs it, closes it in reverse order.

Order of start: (simulator, demo only) → MongoDB (embedded server first when configured) →
HTTP client session → Graph client → feeds → web server → scheduler. An ``AsyncExitStack``
closes them in exactly the reverse order, whatever fails.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

import aiohttp
import structlog
from aiohttp import web
from prometheus_client import CollectorRegistry

from listener.errors import StoreUnavailableError
from listener.graph.client import GraphClient
from listener.graph.instagram import Credentials, HashtagEdge, InstagramApi
from listener.metrics import Metrics
from listener.pollers.hashtags import HashtagFeed, HashtagIds
from listener.pollers.scheduler import Feed, Scheduler
from listener.settings import AccountSettings, Settings
from listener.store.mongo import connect, embedded_server
from listener.store.store import Store
from listener.web.server import build_app

log = structlog.get_logger("listener.app")

INDEX_RETRY_S = 5.0


def utcnow() -> datetime:
    """The wall clock, in UTC."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class Worker:
    """A started worker: handles to look at (tests do) and :meth:`serve` to run it."""

    store: Store
    metrics: Metrics
    registry: CollectorRegistry
    scheduler: Scheduler
    web_port: int
    graph_base_url: str

    async def serve(self, stop: asyncio.Event) -> None:
        """Poll and keep the indexes in place until ``stop`` is set."""
        async with asyncio.TaskGroup() as group:
            group.create_task(_ensure_indexes(self.store, stop), name="store:indexes")
            group.create_task(self.scheduler.run(stop), name="scheduler")


def credentials(account: AccountSettings) -> Credentials:
    """The Graph credentials of a configured account."""
    return Credentials(account.name, account.ig_user_id, account.access_token.get_secret_value())


def hashtag_feeds(
    settings: Settings,
    *,
    api: InstagramApi,
    store: Store,
    metrics: Metrics,
    clock: Callable[[], datetime],
) -> list[Feed]:
    """One feed per account × hashtag × edge (``top_media`` when enabled)."""
    ids = HashtagIds(api, store, clock)
    edges: list[HashtagEdge] = ["recent_media"]
    if settings.polling.top_media:
        edges.append("top_media")
    polling = settings.polling
    return [
        HashtagFeed(
            api=api,
            store=store,
            ids=ids,
            metrics=metrics,
            who=credentials(account),
            hashtag=hashtag,
            edge=edge,
            interval_s=polling.hashtag_interval_s,
            page_size=polling.page_size,
            max_pages=polling.max_pages,
            clock=clock,
        )
        for account in settings.accounts
        for hashtag in account.hashtags
        for edge in edges
    ]


@asynccontextmanager
async def _graph_base_url(settings: Settings) -> AsyncIterator[str]:
    """The Graph API host: the configured one, or an in-process simulator in demo mode."""
    if not settings.simulator.enabled:
        yield settings.graph.base_url
        return
    from listener import simulator  # noqa: PLC0415 - demo only; the worker path never needs it

    config = simulator.SimulatorConfig(
        seed=settings.simulator.seed,
        accounts=tuple(
            simulator.SimAccount(
                ig_user_id=a.ig_user_id,
                access_token=a.access_token.get_secret_value(),
                username=a.name,
            )
            for a in settings.accounts
        ),
        default_rate_per_hour=settings.simulator.posts_per_hour,
        backfill_hours=settings.simulator.backfill_hours,
        app_secret=settings.graph.app_secret.get_secret_value() or None,
    )
    async with simulator.serve(config) as running:
        log.info("simulator.started", base_url=running.base_url)
        yield running.base_url


@asynccontextmanager
async def _database_uri(settings: Settings) -> AsyncIterator[str]:
    if settings.store.embedded:
        async with embedded_server(settings.store.embedded_path) as uri:
            yield uri
    else:
        yield settings.store.mongodb_uri.get_secret_value()


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
    registry: CollectorRegistry | None = None,
    clock: Callable[[], datetime] = utcnow,
    rng: random.Random | None = None,
) -> AsyncIterator[Worker]:
    """Start every resource and yield the worker; everything is closed on exit."""
    registry = registry or CollectorRegistry()
    metrics = Metrics(registry)
    async with AsyncExitStack() as stack:
        base_url = await stack.enter_async_context(_graph_base_url(settings))
        uri = await stack.enter_async_context(_database_uri(settings))
        database = await stack.enter_async_context(
            connect(uri, settings.store.database, timeout_s=settings.store.timeout_s)
        )
        store = Store(database)
        session = await stack.enter_async_context(aiohttp.ClientSession())
        graph = GraphClient(
            session,
            base_url=base_url,
            api_version=settings.graph.api_version,
            app_secret=settings.graph.app_secret.get_secret_value(),
            timeout_s=settings.graph.timeout_s,
            metrics=metrics,
        )
        api = InstagramApi(graph)
        feeds = hashtag_feeds(settings, api=api, store=store, metrics=metrics, clock=clock)
        scheduler = Scheduler(
            feeds,
            store=store,
            metrics=metrics,
            jitter_ratio=settings.polling.jitter_ratio,
            clock=clock,
            rng=rng,
        )
        runner = web.AppRunner(
            build_app(metrics=metrics, registry=registry, readiness=store.ping),
            access_log=None,
            handle_signals=False,
        )
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        site = web.TCPSite(runner, settings.server.host, settings.server.port)
        await site.start()
        port = runner.addresses[0][1]
        log.info("server.started", host=settings.server.host, port=port, feeds=len(feeds))
        yield Worker(store, metrics, registry, scheduler, port, base_url)
    log.info("worker.stopped")


async def run(settings: Settings, *, stop: asyncio.Event) -> None:
    """The long-running worker: start everything, run until ``stop``, close everything."""
    async with start(settings) as worker:
        await worker.serve(stop)
