"""The 30-hashtag quota against the simulator and a real MongoDB: Meta never sees a 31st tag."""

from __future__ import annotations

from datetime import timedelta

import pytest

from listener.errors import HashtagQuotaError
from listener.metrics import Metrics
from listener.pollers.hashtags import HashtagFeed, HashtagIds
from listener.pollers.quota import HashtagQuota
from listener.store.store import Store
from tests.graphsim import BRAND, NOW, WHO, Graph, poller_context


def feeds(graph: Graph, store: Store, metrics: Metrics, tags: list[str]) -> list[HashtagFeed]:
    context = poller_context(graph, store, metrics)
    quota = HashtagQuota(store, metrics, graph.clock)
    ids = HashtagIds(graph.api, store, graph.clock)
    return [
        HashtagFeed(
            context,
            ids=ids,
            quota=quota,
            account="brand",
            hashtag=tag,
            edge="recent_media",
            interval_s=60,
            page_size=50,
            max_pages=1,
        )
        for tag in tags
    ]


def remaining(metrics: Metrics) -> float | None:
    return metrics.registry.get_sample_value(
        "listener_hashtag_quota_remaining", {"account": "brand"}
    )


async def test_meta_never_sees_a_31st_tag(graph: Graph, store: Store, metrics: Metrics) -> None:
    """Five tags spent elsewhere (reconciled from Meta) leave 25; the last five never leave."""
    for tag in ["x1", "x2", "x3", "x4", "x5"]:
        graph.world.spend_hashtag(BRAND.ig_user_id, graph.world.hashtag_id(tag), graph.clock())
    quota = HashtagQuota(store, metrics, graph.clock)
    await quota.reconcile("brand", await graph.api.recently_searched_hashtags(WHO))
    tags = [f"tag{i}" for i in range(30)]
    refused = []
    for feed in feeds(graph, store, metrics, tags):
        try:
            await feed.poll()
        except HashtagQuotaError as exc:
            refused.append((feed.hashtag, exc))
    assert [tag for tag, _ in refused] == tags[25:]
    assert "31st distinct hashtag" in str(refused[0][1])
    assert len(graph.world.distinct_hashtags(BRAND.ig_user_id, graph.clock())) == 30
    assert graph.world.stats.count(outcome="client_error") == 0
    assert remaining(metrics) == 0


async def test_reuse_is_free_and_a_slot_frees_after_seven_days(
    graph: Graph, store: Store, metrics: Metrics
) -> None:
    """A spent tag is polled again without a new slot; a refused one starts once a slot frees."""
    thirty = feeds(graph, store, metrics, [f"tag{i}" for i in range(30)])
    for feed in thirty:
        await feed.poll()
    await thirty[0].poll()
    [late] = feeds(graph, store, metrics, ["latecomer"])
    with pytest.raises(HashtagQuotaError) as caught:
        await late.poll()
    first_spent = NOW  # tag0 took the first slot at the start
    assert abs(caught.value.next_free_at - (first_spent + timedelta(days=7))) < timedelta(seconds=1)
    graph.clock.now = caught.value.next_free_at + timedelta(seconds=1)
    await late.poll()
    assert "latecomer" in graph.world.distinct_hashtags(BRAND.ig_user_id, graph.clock())


async def test_replicas_cannot_both_take_the_last_slot(
    store: Store, metrics: Metrics, graph: Graph
) -> None:
    """Two quota shells on one database (two replicas) racing for slot 30: exactly one wins."""
    first = HashtagQuota(store, metrics, graph.clock)
    for i in range(29):
        await first.spend("brand", f"tag{i}")
    second = HashtagQuota(store, metrics, graph.clock)
    outcomes = []
    for quota, tag in [(first, "a"), (second, "b")]:
        try:
            await quota.spend("brand", tag)
            outcomes.append(tag)
        except HashtagQuotaError:
            outcomes.append("refused")
    assert outcomes == ["a", "refused"]
    ledger = await second.ledger("brand")
    assert len(ledger.active(graph.clock())) == 30


async def test_replicas_starting_together_reconcile_once(
    store: Store, metrics: Metrics, graph: Graph
) -> None:
    """Of three replicas starting within the hour, one asks Meta; an hour later one may again."""
    quotas = [HashtagQuota(store, metrics, graph.clock) for _ in range(3)]
    claims = [await quota.claim_reconcile("brand") for quota in quotas]
    assert claims == [True, False, False]
    graph.clock.advance(timedelta(minutes=61))
    assert await quotas[2].claim_reconcile("brand") is True


async def test_a_reconcile_claim_leaves_the_ledger_usable(
    store: Store, metrics: Metrics, graph: Graph
) -> None:
    """The claim creates the account's document; slots are then admitted and reconciled into it."""
    quota = HashtagQuota(store, metrics, graph.clock)
    assert await quota.claim_reconcile("brand") is True
    await quota.spend("brand", "summerdrop")
    ledger = await quota.reconcile("brand", [])
    assert set(ledger.active(graph.clock())) == {"summerdrop"}
