"""Adaptive pacing over hours of virtual time: intervals follow arrival rates within the budget."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import aiohttp
import pytest
from pydantic import SecretStr

from listener.assembly.graph import graph_client
from listener.assembly.pollers import hashtag_feeds, pacing, scheduler
from listener.assembly.ratelimit import governor as build_governor
from listener.graph.client import RetryPolicy
from listener.graph.instagram import InstagramApi
from listener.metrics import Metrics
from listener.pollers.hashtags import HashtagFeed
from listener.pollers.quota import HashtagQuota
from listener.pollers.scheduler import Scheduler
from listener.ratelimit.throttle import Policy
from listener.settings import AccountSettings, GraphSettings, PollingSettings
from listener.simulator import SimulatorConfig
from listener.simulator.clock import VirtualTime
from listener.store.store import Store
from tests.graphsim import APP_SECRET, WHO, Graph, poller_context

HOURS = 6


@pytest.fixture
def sim_config(sim_config: SimulatorConfig) -> SimulatorConfig:
    """A busy hashtag (600 posts an hour) and a quiet one (6 an hour)."""
    return replace(
        sim_config,
        hashtag_rates={"busy": 600.0, "quiet": 6.0},
        cross_post_ratio=0.0,
        app_calls_per_hour=100_000,
    )


async def run(
    graph: Graph, store: Store, metrics: Metrics, *, budget: float, max_pages: int
) -> tuple[Scheduler, list[HashtagFeed]]:
    """The worker's scheduler and hashtag feeds, from its own factories, for ``HOURS`` of
    virtual time."""
    start = graph.clock()
    virtual = VirtualTime(graph.clock, actors=2, until=start + timedelta(hours=HOURS))
    governor = build_governor(
        metrics=metrics,
        policy=lambda scope: Policy(budget_per_hour=budget),
        accounts_by_ig_id={WHO.ig_user_id: WHO.account},
        clock=graph.clock,
        sleep=virtual.sleep,
    )
    polling = PollingSettings(
        hashtag_interval_s=600, page_size=50, max_pages=max_pages, top_media=False
    )
    configured = [
        AccountSettings(
            name=WHO.account,
            ig_user_id=WHO.ig_user_id,
            access_token=SecretStr(WHO.token),
            hashtags=["busy", "quiet"],
            tags=False,
            mentions=False,
        )
    ]
    async with aiohttp.ClientSession() as session:
        client = graph_client(
            session=session,
            graph=GraphSettings(app_secret=SecretStr(APP_SECRET), timeout_s=5),
            metrics=metrics,
            base_url=graph.base_url,
            retry=RetryPolicy(max_attempts=2),
            governor=governor,
            sleep=virtual.sleep,
        )
        context = poller_context(graph, store, metrics, api=InstagramApi(client))
        feeds = hashtag_feeds(
            polling=polling,
            configured=configured,
            context=context,
            quota=HashtagQuota(store, metrics, graph.clock),
        )
        polls = scheduler(
            feeds=feeds,
            store=store,
            metrics=metrics,
            accounts=context.accounts,
            pacing=pacing(polling=polling, budget_per_hour=lambda scope: budget),
            clock=graph.clock,
            wait=virtual.wait,
        )
        await polls.run(virtual.stop)
    return polls, feeds


def missed(metrics: Metrics, hashtag: str) -> float:
    value = metrics.registry.get_sample_value(
        "listener_feed_possibly_missed_total",
        {"poller": "hashtag_recent", "account": "brand", "hashtag": hashtag},
    )
    return value or 0.0


async def test_busy_feeds_poll_more_often_and_nothing_is_missed(
    graph: Graph, store: Store, metrics: Metrics
) -> None:
    """With budget to spare, the busy tag polls far more often, and every media is captured."""
    scheduler, (busy, quiet) = await run(graph, store, metrics, budget=600, max_pages=10)
    assert scheduler.interval_s(busy) < scheduler.interval_s(quiet) / 4
    assert 60 <= scheduler.interval_s(busy) <= 600
    end = graph.clock()
    expected = {
        p.id
        for p in graph.world.recent_media(graph.world.hashtag_id("busy"), end)
        if p.timestamp < end - timedelta(minutes=15)
    }
    assert expected <= await store.media.ids()
    assert missed(metrics, "busy") == 0


async def test_tight_budget_is_respected_and_shortfall_is_reported(
    graph: Graph, store: Store, metrics: Metrics
) -> None:
    """At 6 calls an hour and one page a poll, calls keep to the budget; misses are flagged."""
    await run(graph, store, metrics, budget=6, max_pages=1)
    calls = graph.world.stats.count(endpoint="recent_media")
    assert calls <= 6 * HOURS + 2
    assert missed(metrics, "busy") > 0
    assert missed(metrics, "quiet") == 0
