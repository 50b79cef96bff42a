"""The inbox worker on the simulator and a real MongoDB: hydration, identity, crashes."""

from __future__ import annotations

from datetime import timedelta

import pytest

from listener.contests.settle import settle
from listener.contests.verdicts import Scopes
from listener.metrics import Metrics
from listener.models import Sighting, Source, SourceKind, WebhookEvent
from listener.pollers.accounts import Accounts
from listener.pollers.inbox import InboxWorker
from listener.pollers.ingest import Ingestor
from listener.store.store import Store
from listener.web.payload import event_key
from tests.graphsim import BRAND, NOW, WHO, Graph


def worker(graph: Graph, store: Store, metrics: Metrics, *, max_attempts: int = 3) -> InboxWorker:
    return InboxWorker(
        api=graph.api,
        store=store,
        ingestor=Ingestor(store, metrics),
        accounts=Accounts({"brand": WHO}, metrics=metrics, clock=graph.clock),
        metrics=metrics,
        clock=graph.clock,
        accounts_by_ig_id={BRAND.ig_user_id: "brand"},
        mentions_on=["brand"],
        max_attempts=max_attempts,
        lease_s=300,
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
    assert "Invalid media_id" in event["reason"]


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
