"""The inbox worker on the simulator and a real MongoDB: hydration, identity, crashes."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from listener.contests.settle import settle
from listener.contests.verdicts import Scopes
from listener.enrich.enricher import Enricher
from listener.metrics import Metrics
from listener.models import Sighting, Source, SourceKind, WebhookEvent
from listener.pollers.inbox import STATS_EVERY_S, InboxWorker
from listener.pollers.ingest import Ingestor
from listener.ratelimit.disguise import RUN_OBJECTS
from listener.ratelimit.throttle import Scope
from listener.simulator.webhooks import comments_envelope
from listener.store.mongo import connect
from listener.store.store import Store
from listener.web.payload import event_key, parse_delivery
from testbed import Secantus
from tests.enrichment import FailingScorer
from tests.graphsim import BRAND, NOW, WHO, Graph, poller_context, stoppable_api


def worker(
    graph: Graph,
    store: Store,
    metrics: Metrics,
    *,
    max_attempts: int = 3,
    ingestor: Ingestor | None = None,
    replica: str | None = None,
    **options: Any,
) -> InboxWorker:
    return InboxWorker(
        poller_context(graph, store, metrics, api=options.pop("api", None), ingestor=ingestor),
        accounts_by_ig_id={BRAND.ig_user_id: "brand"},
        mentions_on=["brand"],
        max_attempts=max_attempts,
        lease_s=300,
        replica=replica,
        heartbeat_ttl_s=60,
        **options,
    )


def mention(
    media_id: str, comment_id: str | None = None, ig_user_id: str = BRAND.ig_user_id
) -> WebhookEvent:
    value = {"media_id": media_id} | ({"comment_id": comment_id} if comment_id else {})
    return WebhookEvent(
        key=event_key(ig_user_id, "mentions", value),
        field="mentions",
        ig_user_id=ig_user_id,
        media_id=media_id,
        comment_id=comment_id,
        value=value,
    )


async def run_until_settled(inbox: InboxWorker, count: int) -> None:
    """Run the worker until it has settled ``count`` events, then stop it; it must end cleanly."""
    stop = asyncio.Event()
    running = asyncio.create_task(inbox.run(stop))
    await asyncio.wait_for(inbox.wait_for(lambda: inbox.settled >= count), 20)
    stop.set()
    await asyncio.wait_for(running, 20)


async def work_one(inbox: InboxWorker, store: Store, graph: Graph) -> str:
    claimed = await store.inbox.claim(inbox.name, graph.clock(), timedelta(minutes=5))
    assert claimed is not None
    return await inbox.process(claimed)


async def test_caption_mention_is_hydrated_with_its_author(
    graph: Graph, store: Store, metrics: Metrics
) -> None:
    """A caption mention becomes a media with source mention_media and the author's username."""
    media_id = graph.world.add_post(
        timestamp=NOW - timedelta(minutes=3), caption="hi @brand", username="ana"
    )
    await store.inbox.add([mention(media_id)], graph.clock())
    assert await work_one(worker(graph, store, metrics), store, graph) == "hydrated"
    doc = await store.media.get(media_id)
    assert doc is not None
    assert doc["username"] == "ana"
    assert doc["sources"] == [{"kind": "mention_media", "account": "brand"}]
    assert await store.inbox.count("done") == 1


async def test_comment_mention_stores_the_media_commented_on(
    graph: Graph, store: Store, metrics: Metrics
) -> None:
    """A comment mention stores the media it was left on, with that media's author."""
    media_id = graph.world.add_post(
        timestamp=NOW - timedelta(hours=1), caption="sunset", username="bo"
    )
    comment_id = graph.world.add_comment(media_id, "@brand look", "cy", NOW - timedelta(minutes=1))
    await store.inbox.add([mention(media_id, comment_id)], graph.clock())
    assert await work_one(worker(graph, store, metrics), store, graph) == "hydrated"
    doc = await store.media.get(media_id)
    assert doc is not None
    assert doc["username"] == "bo"
    assert doc["sources"] == [{"kind": "mention_comment", "account": "brand"}]


async def known_authors(store: Store) -> tuple[int, int]:
    """(hashtag media of brand whose author is known, all of them), after a settling pass."""
    identity = (await settle(store.media, Scopes((), ("brand",)), now=NOW)).identities["brand"]
    return identity.known, identity.total


async def test_author_of_a_hashtag_media_is_recovered(
    graph: Graph, store: Store, metrics: Metrics
) -> None:
    """A media first stored from a hashtag (no author) gets its username from a later mention."""
    media_id = graph.world.add_post(
        timestamp=NOW - timedelta(minutes=10),
        hashtags=["summerdrop"],
        caption="#summerdrop @brand",
        username="dee",
    )
    hashtag_page = await anext(
        aiter(
            graph.api.hashtag_media(
                WHO, graph.world.hashtag_id("summerdrop"), "recent_media", page_size=50, max_pages=1
            )
        )
    )
    source = Source(SourceKind.HASHTAG_RECENT, "brand", "summerdrop")
    await store.media.ingest([Sighting(m, source, graph.clock()) for m in hashtag_page.media])
    before = await store.media.get(media_id)
    assert before is not None
    assert "username" not in before
    assert await known_authors(store) == (0, 1)
    await store.inbox.add([mention(media_id)], graph.clock())
    await work_one(worker(graph, store, metrics), store, graph)
    after = await store.media.get(media_id)
    assert after is not None
    assert after["username"] == "dee"
    assert len(after["sources"]) == 2
    assert await known_authors(store) == (1, 1)


async def test_a_crash_between_claim_and_store_reruns_the_event(
    graph: Graph, store: Store, metrics: Metrics
) -> None:
    """A worker that claimed and died leaves a claim that expires; another worker finishes it."""
    media_id = graph.world.add_post(
        timestamp=NOW - timedelta(minutes=3), caption="@brand", username="ed"
    )
    await store.inbox.add([mention(media_id)], graph.clock())
    dead_worker = await store.inbox.claim("crashed", graph.clock(), timedelta(minutes=5))
    assert dead_worker is not None
    survivor = worker(graph, store, metrics)
    assert await store.inbox.claim(survivor.name, graph.clock(), timedelta(minutes=5)) is None
    graph.clock.advance(timedelta(minutes=6))
    assert await work_one(survivor, store, graph) == "hydrated"
    assert await store.media.get(media_id) is not None
    event = await store.inbox.get(mention(media_id).key)
    assert event is not None
    assert (event["status"], event["attempts"]) == ("done", 2)
    # The crashed worker's late settle is refused: it no longer holds the claim.
    assert not await store.inbox.done(dead_worker, "crashed", graph.clock(), {})


async def test_transient_failures_retry_with_backoff_then_dead_letter(
    graph: Graph, store: Store, metrics: Metrics
) -> None:
    """A mention Meta keeps failing is retried later, then set aside with its reason."""
    media_id = graph.world.add_post(timestamp=NOW - timedelta(minutes=3), caption="@brand")
    await store.inbox.add([mention(media_id)], graph.clock())
    inbox = worker(graph, store, metrics, max_attempts=2)
    graph.world.inject_faults("code_2", count=6, endpoint="mentioned_media")
    assert await work_one(inbox, store, graph) == "retried"
    assert await store.inbox.claim(inbox.name, graph.clock(), timedelta(minutes=5)) is None
    graph.clock.advance(timedelta(seconds=31))
    assert await work_one(inbox, store, graph) == "dead"
    event = await store.inbox.get(mention(media_id).key)
    assert event is not None
    assert event["status"] == "dead"
    assert "gave up after 2 attempts" in event["reason"]


async def test_unreadable_media_is_a_dead_letter_at_once(
    graph: Graph, store: Store, metrics: Metrics
) -> None:
    """Meta saying the media cannot be read (deleted) settles the event dead, with the reason."""
    await store.inbox.add([mention("17999999999999999")], graph.clock())
    assert await work_one(worker(graph, store, metrics), store, graph) == "dead"
    event = await store.inbox.get(mention("17999999999999999").key)
    assert event is not None
    assert event["reason"].startswith("media 17999999999999999 is gone or private at Meta")


async def test_a_gone_post_is_dead_and_the_account_carries_on(
    graph: Graph, store: Store, metrics: Metrics
) -> None:
    """A mention of a deleted post is a dead letter; no scope pauses, the next mention hydrates."""
    gone = graph.world.add_post(
        timestamp=NOW - timedelta(minutes=5), caption="@brand", username="a"
    )
    live = graph.world.add_post(
        timestamp=NOW - timedelta(minutes=4), caption="@brand", username="b"
    )
    graph.world.withdraw_post(gone)
    inbox = worker(graph, store, metrics)
    await store.inbox.add([mention(gone)], graph.clock())
    assert await work_one(inbox, store, graph) == "dead"
    await store.inbox.add([mention(live)], graph.clock())
    assert await work_one(inbox, store, graph) == "hydrated"
    event = await store.inbox.get(mention(gone).key)
    assert event is not None
    assert (event["status"], event["attempts"]) == ("dead", 1)
    assert f"media {gone} is gone or private" in event["reason"]
    assert not any(graph.governor.paused(scope) for scope, _ in graph.governor.scopes())
    assert graph.sleeps == []


async def test_a_disguised_throttle_with_usage_evidence_is_retried_not_dead(
    graph: Graph, store: Store, metrics: Metrics
) -> None:
    """100/33 with the usage headers at the limit is a throttle: the event waits, never dies."""
    media_id = graph.world.add_post(timestamp=NOW - timedelta(minutes=3), caption="@brand")
    graph.world.throttle(BRAND.ig_user_id, 80002, minutes=20, now=graph.clock(), disguised=True)
    await store.inbox.add([mention(media_id)], graph.clock())
    assert await work_one(worker(graph, store, metrics), store, graph) == "retried"
    assert graph.governor.paused(Scope("buc", "brand"))
    event = await store.inbox.get(mention(media_id).key)
    assert event is not None
    assert event["status"] == "pending"
    assert "read as a throttle: usage at" in event["last_error"]


async def test_several_different_gone_objects_in_a_row_are_a_throttle(
    graph: Graph, store: Store, metrics: Metrics
) -> None:
    """Three different objects answered missing in a row, quickly: the third pauses the scope."""
    posts = [
        graph.world.add_post(timestamp=NOW - timedelta(minutes=9 - i), caption="@brand")
        for i in range(RUN_OBJECTS)
    ]
    for media_id in posts:
        graph.world.withdraw_post(media_id)
    inbox = worker(graph, store, metrics)
    outcomes = []
    for media_id in posts:
        await store.inbox.add([mention(media_id)], graph.clock())
        outcomes.append(await work_one(inbox, store, graph))
        graph.clock.advance(timedelta(seconds=5))
    assert outcomes == ["dead"] * (RUN_OBJECTS - 1) + ["retried"]
    assert graph.governor.paused(Scope("buc", "brand"))


async def test_comment_mention_without_media_in_the_answer_reads_the_comment_node(
    graph: Graph, store: Store, metrics: Metrics
) -> None:
    """mentioned_comment without media (the captured shape): the media comes from the comment."""
    graph.world.config = replace(graph.world.config, mentioned_comment_media=False)
    media_id = graph.world.add_post(timestamp=NOW - timedelta(hours=1), caption="x", username="bo")
    comment_id = graph.world.add_comment(media_id, "@brand look", "cy", NOW - timedelta(minutes=1))
    await store.inbox.add([mention(media_id, comment_id)], graph.clock())
    assert await work_one(worker(graph, store, metrics), store, graph) == "hydrated"
    doc = await store.media.get(media_id)
    assert doc is not None
    assert (doc["username"], doc["sources"]) == (
        "bo",
        [{"kind": "mention_comment", "account": "brand"}],
    )
    assert graph.world.stats.count("comment") == 1


async def test_comments_change_without_a_media_id_keeps_the_comment_and_finds_its_media(
    graph: Graph, store: Store, metrics: Metrics
) -> None:
    """An album comment's change ({text, id}, no media) is hydrated through the comment id."""
    media_id = graph.world.add_post(
        timestamp=NOW - timedelta(hours=1),
        caption="album",
        username="al",
        media_type="CAROUSEL_ALBUM",
    )
    comment_id = graph.world.add_comment(media_id, "@brand nice", "cy", NOW - timedelta(minutes=1))
    envelope = comments_envelope(BRAND.ig_user_id, comment_id, "@brand nice", NOW)
    [event] = parse_delivery(json.dumps(envelope).encode()).events
    assert (event.problem, event.comment_id, event.media_id) == (None, comment_id, None)
    await store.inbox.add([event], graph.clock())
    assert await work_one(worker(graph, store, metrics), store, graph) == "hydrated"
    assert (await store.media.get(media_id)) is not None


@pytest.mark.parametrize(
    ("event", "outcome"),
    [
        (mention("1", ig_user_id="999"), "dead"),
        (WebhookEvent(key="k1", field="story_insights", ig_user_id=BRAND.ig_user_id), "skipped"),
    ],
)
async def test_events_not_ours_are_settled_with_a_reason(
    graph: Graph, store: Store, metrics: Metrics, event: WebhookEvent, outcome: str
) -> None:
    """An unknown account or an unhandled field is settled (dead or skipped), not retried."""
    await store.inbox.add([event], graph.clock())
    assert await work_one(worker(graph, store, metrics), store, graph) == outcome


async def test_dead_token_defers_without_spending_attempts(
    graph: Graph, store: Store, metrics: Metrics
) -> None:
    """With the account's token dead, events wait for a new token instead of dying."""
    media_id = graph.world.add_post(timestamp=NOW - timedelta(minutes=3), caption="@brand")
    await store.inbox.add([mention(media_id)], graph.clock())
    graph.world.expire_token(BRAND.ig_user_id)
    inbox = worker(graph, store, metrics, max_attempts=1)
    assert await work_one(inbox, store, graph) == "deferred"
    event = await store.inbox.get(mention(media_id).key)
    assert event is not None
    assert (event["status"], event["attempts"]) == ("pending", 0)


async def test_an_outage_is_logged_once_by_all_loops_and_its_end_once(
    graph: Graph, metrics: Metrics, tmp_path: Path
) -> None:
    """MongoDB down under two inbox loops: one store_unavailable, then one store_recovered."""
    server = Secantus(tmp_path / "db")  # its port, with nothing listening yet
    turns = 0
    failed_a_while = asyncio.Event()

    async def turn(stop: asyncio.Event, delay_s: float) -> bool:
        nonlocal turns
        turns += 1
        if turns >= 8:
            failed_a_while.set()
        await asyncio.sleep(0)
        return stop.is_set()

    async with connect(server.uri, "inbox_outage", timeout_s=0.3) as database:
        store = Store(database)
        inbox = worker(graph, store, metrics, workers=2, wait=turn)
        stop = asyncio.Event()
        with capture_logs() as logs:
            running = asyncio.create_task(inbox.run(stop))
            await asyncio.wait_for(failed_a_while.wait(), 60)
            server.start()
            try:
                # The test's own client: the worker's may take a few tries to see the server.
                async with connect(server.uri, "inbox_outage", timeout_s=10) as test_db:
                    await Store(test_db).inbox.add([mention("m-1", ig_user_id="9")], graph.clock())
                await asyncio.wait_for(inbox.wait_for(lambda: inbox.settled >= 1), 60)
                stop.set()
                await asyncio.wait_for(running, 60)
            finally:
                server.stop()
    events = [e["event"] for e in logs if e["event"].startswith("inbox.store")]
    assert events == ["inbox.store_unavailable", "inbox.store_recovered"]


async def test_an_event_waiting_out_a_pause_is_given_back_at_the_stop(
    graph: Graph, store: Store, metrics: Metrics
) -> None:
    """At the stop, an event waiting out an hour's pause is pending again, its attempt returned."""
    stop, waiting = asyncio.Event(), asyncio.Event()
    async with stoppable_api(graph, metrics, stop, waiting) as (api, governor):
        governor.observe_throttle("mentioned_media", "brand", 80002, 3600.0)
        await store.inbox.add([mention("m-paused")], graph.clock())
        inbox = worker(graph, store, metrics, api=api)
        with capture_logs() as logs:
            running = asyncio.create_task(inbox.run(stop))
            await asyncio.wait_for(waiting.wait(), 20)
            stop.set()
            await asyncio.wait_for(running, 20)
    doc = await store.inbox.get(mention("m-paused").key)
    assert doc is not None
    assert (doc["status"], doc["attempts"], doc["available_at"]) == ("pending", 0, NOW)
    assert [e["event"] for e in logs if e["event"].startswith("inbox.")] == ["inbox.released"]


async def test_an_unexpected_failure_dead_letters_its_event_and_the_worker_goes_on(
    graph: Graph, store: Store, metrics: Metrics
) -> None:
    """An error nobody expected while handling one event makes it a dead letter naming the
    error; the worker keeps running and hydrates the next event."""
    broken = graph.world.add_post(timestamp=NOW - timedelta(minutes=3), caption="@brand boom")
    fine = graph.world.add_post(timestamp=NOW - timedelta(minutes=2), caption="@brand fine")
    await store.inbox.add([mention(broken)], graph.clock())
    graph.clock.advance(timedelta(seconds=1))
    await store.inbox.add([mention(fine)], graph.clock())
    ingestor = Ingestor(store, metrics, Enricher(FailingScorer("boom"), []))
    inbox = worker(graph, store, metrics, ingestor=ingestor)
    with capture_logs() as logs:
        await run_until_settled(inbox, 2)
    dead = await store.inbox.get(mention(broken).key)
    assert dead is not None
    assert dead["status"] == "dead"
    assert "ValueError: the model broke on this caption" in dead["reason"]
    assert await store.media.ids() == {fine}
    assert [e["event"] for e in logs].count("inbox.event_failed") == 1


async def test_a_mention_whose_media_mongodb_cannot_hold_is_a_dead_letter(
    graph: Graph, store: Store, metrics: Metrics
) -> None:
    """A mentioned media MongoDB would refuse (a lone surrogate) settles its event as dead."""
    media_id = graph.world.add_post(timestamp=NOW - timedelta(minutes=3), caption="@brand \ud83d")
    await store.inbox.add([mention(media_id)], graph.clock())
    assert await work_one(worker(graph, store, metrics), store, graph) == "dead"
    event = await store.inbox.get(mention(media_id).key)
    assert event is not None
    assert "cannot be stored: a string is not valid Unicode" in event["reason"]
    assert await store.media.count() == 0


async def test_a_dead_replicas_claim_is_taken_over_at_the_heartbeat_ttl(
    graph: Graph, store: Store, metrics: Metrics
) -> None:
    """Replica a claims a mention and dies; replica b hydrates it once a heartbeat TTL has
    passed, long before a's five-minute claim would expire."""
    media_id = graph.world.add_post(timestamp=NOW - timedelta(minutes=3), caption="@brand")
    await store.inbox.add([mention(media_id)], graph.clock())
    await store.leases.heartbeat("replica-a", graph.clock())
    assert await store.inbox.claim("replica-a", graph.clock(), timedelta(minutes=5)) is not None
    graph.clock.advance(timedelta(seconds=61))
    await store.leases.heartbeat("replica-b", graph.clock())
    await run_until_settled(worker(graph, store, metrics, replica="replica-b"), 1)
    event = await store.inbox.get(mention(media_id).key)
    assert event is not None
    assert (event["status"], event["attempts"]) == ("done", 2)


async def test_the_gauges_refresh_on_a_fixed_period_however_long_their_read_takes(
    graph: Graph, store: Store, metrics: Metrics, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read of the inbox's stats that takes 4 s is followed by a wait of the period's other
    11 s, not 15: the gauges are as fresh as STATS_EVERY_S promises. The age is taken at the
    read's middle: the event arrived as the read began, so 2 s, not the 4 s at its end."""
    read = store.inbox.stats

    async def slow_read() -> Any:
        graph.clock.advance(timedelta(seconds=4))
        return await read()

    monkeypatch.setattr(store.inbox, "stats", slow_read)
    stop = asyncio.Event()
    waits: list[float] = []

    async def record(stopping: asyncio.Event, seconds: float) -> None:
        waits.append(seconds)
        stopping.set()

    await store.inbox.add([mention("17900000000000001")], graph.clock())
    await worker(graph, store, metrics, wait=record)._watch(stop)
    assert waits == [STATS_EVERY_S - 4]
    assert metrics.registry.get_sample_value("listener_inbox_depth") == 1
    assert metrics.registry.get_sample_value("listener_inbox_oldest_pending_age_seconds") == 2
