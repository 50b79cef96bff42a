"""The scheduler against the simulator: what each error class does to an account and its feeds."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import timedelta

import aiohttp
import pytest
from structlog.testing import capture_logs

from listener.enrich.enricher import Enricher
from listener.graph.client import GraphClient, RetryPolicy
from listener.graph.instagram import Credentials, InstagramApi
from listener.metrics import Metrics
from listener.pollers.feed import Feed
from listener.pollers.hashtags import HashtagFeed, HashtagIds
from listener.pollers.ingest import Ingestor
from listener.pollers.quota import HashtagQuota
from listener.pollers.scheduler import Pacing, Scheduler
from listener.store.store import Store
from tests.enrichment import FailingScorer
from tests.graphsim import (
    BRAND,
    NOW,
    OTHER,
    WHO,
    WHO_OTHER,
    Graph,
    poller_context,
    stoppable_api,
)

FAST = Pacing(jitter_ratio=0.0, adaptive=False, start_polls_per_s=math.inf)
"""Every feed starts at once: with 10 ms intervals, the start-up pace's spread (a tenth of a
second for two feeds) would let one feed poll several times before the other's first poll."""


class Rig:
    """Feeds, accounts and quota wired as the worker wires them, on fast intervals."""

    def __init__(
        self,
        graph: Graph,
        store: Store,
        metrics: Metrics,
        who: Sequence[Credentials],
        api: InstagramApi | None = None,
    ) -> None:
        self.graph = graph
        self.api = api or graph.api
        self.store = store
        self.metrics = metrics
        self.context = poller_context(graph, store, metrics, api=self.api, who=tuple(who))
        self.accounts = self.context.accounts
        self.quota = HashtagQuota(store, metrics, graph.clock)
        self.ids = HashtagIds(self.api, store, graph.clock)

    def feed(self, account: str, hashtag: str, ingestor: Ingestor | None = None) -> HashtagFeed:
        context = self.context if ingestor is None else replace(self.context, ingestor=ingestor)
        return HashtagFeed(
            context,
            ids=self.ids,
            quota=self.quota,
            account=account,
            hashtag=hashtag,
            edge="recent_media",
            interval_s=0.01,
            page_size=50,
            max_pages=2,
        )

    async def run_until(
        self, feeds: Sequence[Feed], done: Callable[[Scheduler], bool]
    ) -> Scheduler:
        scheduler = Scheduler(
            feeds,
            store=self.store,
            metrics=self.metrics,
            accounts=self.accounts,
            pacing=FAST,
            clock=self.graph.clock,
        )
        stop = asyncio.Event()
        task = asyncio.create_task(scheduler.run(stop))
        await asyncio.wait_for(scheduler.wait_for(lambda: done(scheduler)), 20)
        stop.set()
        await task
        return scheduler


@pytest.fixture
def rig(graph: Graph, store: Store, metrics: Metrics) -> Rig:
    """Two accounts, brand and other."""
    graph.world.add_post(hashtags=["summerdrop", "sunset"], timestamp=NOW - timedelta(minutes=5))
    return Rig(graph, store, metrics, [WHO, WHO_OTHER])


def polls(metrics: Metrics, account: str, outcome: str) -> float:
    value = metrics.registry.get_sample_value(
        "listener_polls_total", {"poller": "hashtag_recent", "account": account, "outcome": outcome}
    )
    return value or 0.0


async def test_dead_token_stops_only_its_account(rig: Rig, metrics: Metrics) -> None:
    """An expired token: one error log, no more calls for that account, the other keeps polling."""
    rig.graph.world.expire_token(BRAND.ig_user_id)
    feeds = [rig.feed("brand", "summerdrop"), rig.feed("other", "sunset")]
    with capture_logs() as logs:
        await rig.run_until(feeds, lambda s: polls(metrics, "other", "ok") >= 5)
    failures = [e for e in logs if e["event"] == "account.auth_failed"]
    assert len(failures) == 1
    assert failures[0]["account"] == "brand"
    assert rig.graph.world.stats.count(ig_user_id=BRAND.ig_user_id) == 1
    expiry = metrics.registry.get_sample_value(
        "listener_token_expiry_timestamp_seconds", {"account": "brand"}
    )
    assert expiry is not None
    assert expiry <= rig.graph.clock().timestamp()


async def test_replaced_token_resumes_the_account(rig: Rig, metrics: Metrics) -> None:
    """After the token is replaced (reload), the stopped account calls Meta again."""
    bad = Credentials("brand", BRAND.ig_user_id, "EAAB-revoked")
    rig.accounts.replace({"brand": bad})
    feeds = [rig.feed("brand", "summerdrop")]
    await rig.run_until(feeds, lambda s: s.polls_done >= 3)
    assert rig.accounts.blocked("brand", "hashtag_recent") is not None
    assert rig.accounts.replace({"brand": WHO}) == ["brand"]
    assert rig.accounts.blocked("brand", "hashtag_recent") is None
    await rig.run_until(feeds, lambda s: polls(metrics, "brand", "ok") >= 1)


async def test_missing_permission_turns_the_feature_off(rig: Rig, metrics: Metrics) -> None:
    """A permission error (code 10) stops that feature for that account, naming what it needs."""
    not_ours = Credentials("brand", OTHER.ig_user_id, BRAND.access_token)
    rig.accounts.replace({"brand": not_ours})
    with capture_logs() as logs:
        await rig.run_until(
            [rig.feed("brand", "summerdrop"), rig.feed("other", "sunset")],
            lambda s: polls(metrics, "other", "ok") >= 4,
        )
    disabled = [e for e in logs if e["event"] == "feature.disabled"]
    assert len(disabled) == 1
    assert disabled[0]["feature"] == "hashtag_recent"
    assert "Instagram Public Content Access" in disabled[0]["needs"]
    assert polls(metrics, "brand", "failed") == 1


async def test_bad_request_is_not_retried_and_names_the_trace(
    graph: Graph, store: Store, metrics: Metrics
) -> None:
    """A code-100 answer is one call per poll (no backoff retries), logged with its fbtrace_id."""
    backoffs: list[float] = []

    async def backoff(seconds: float) -> None:
        backoffs.append(seconds)

    async with aiohttp.ClientSession() as session:
        unsigned = GraphClient(  # an app that forgot its secret: the simulator wants a proof
            session,
            base_url=graph.base_url,
            api_version="v25.0",
            app_secret="",
            timeout_s=5,
            metrics=metrics,
            governor=graph.governor,
            retry=RetryPolicy(max_attempts=3),
            sleep=backoff,
        )
        rig = Rig(graph, store, metrics, [WHO], api=InstagramApi(unsigned))
        with capture_logs() as logs:
            await rig.run_until([rig.feed("brand", "summerdrop")], lambda s: s.polls_done >= 2)
    failed = [e for e in logs if e["event"] == "poll.failed"]
    assert len(failed) == 1
    assert "fbtrace_id=" in failed[0]["error"]
    assert failed[0]["kind"] == "BadRequestError"
    assert graph.world.stats.count(endpoint="ig_hashtag_search") == 2
    assert backoffs == []


async def test_a_poll_waiting_out_a_pause_ends_at_the_stop(
    graph: Graph, store: Store, metrics: Metrics
) -> None:
    """A poll waiting out an hour's app pause ends at the stop, not after the grace period,
    and is neither a failure nor a poll done."""
    stop, waiting = asyncio.Event(), asyncio.Event()
    async with stoppable_api(graph, metrics, stop, waiting) as (api, governor):
        governor.observe_throttle("recent_media", "brand", 4, 3600.0)
        rig = Rig(graph, store, metrics, [WHO], api=api)
        scheduler = Scheduler(
            [rig.feed("brand", "summerdrop")],
            store=store,
            metrics=metrics,
            accounts=rig.accounts,
            pacing=FAST,
            clock=graph.clock,
            grace_s=3600.0,  # were the poll to keep waiting, the stop would take an hour
        )
        with capture_logs() as logs:
            running = asyncio.create_task(scheduler.run(stop))
            await asyncio.wait_for(waiting.wait(), 20)
            stop.set()
            await asyncio.wait_for(running, 20)
    assert [e["event"] for e in logs if e["event"].startswith("poll.")] == []
    assert polls(metrics, "brand", "failed") == 0
    assert graph.world.stats.count(endpoint="ig_hashtag_search") == 0


async def test_an_unexpected_error_in_a_poll_never_ends_its_feed(
    rig: Rig, metrics: Metrics, store: Store
) -> None:
    """A poll that raises an error nobody expected (a bug in a model) is a failed poll, logged
    once; the feed keeps polling and recovers once the cause is gone."""
    broken = FailingScorer("#summerdrop")
    ingestor = Ingestor(store, metrics, Enricher(broken, []))
    with capture_logs() as logs:
        await rig.run_until(
            [rig.feed("brand", "summerdrop", ingestor)],
            lambda s: polls(metrics, "brand", "failed") >= 3,
        )
    failures = [e for e in logs if e["event"] == "poll.failed"]
    assert [e["kind"] for e in failures] == ["ValueError"]
    broken.fails_on = "never in a caption"
    await rig.run_until(
        [rig.feed("brand", "summerdrop", ingestor)], lambda s: polls(metrics, "brand", "ok") >= 1
    )
    assert await store.media.count() == 1
