"""Hashtag feeds against the simulator and a real MongoDB wire server."""

from __future__ import annotations

from datetime import timedelta

import pytest
from structlog.testing import capture_logs

from listener.errors import TransientError
from listener.graph.instagram import HashtagEdge
from listener.metrics import Metrics
from listener.models import SourceKind
from listener.pollers.catchup import CATCH_UP_LIMIT
from listener.pollers.hashtags import HashtagFeed, HashtagIds
from listener.pollers.quota import HashtagQuota
from listener.store.store import Store
from tests.graphsim import NOW, WHO, Graph, poller_context


def feed(
    graph: Graph,
    store: Store,
    metrics: Metrics,
    hashtag: str,
    edge: HashtagEdge = "recent_media",
    *,
    ids: HashtagIds | None = None,
    max_pages: int = 10,
) -> HashtagFeed:
    return HashtagFeed(
        poller_context(graph, store, metrics),
        ids=ids or HashtagIds(graph.api, store, graph.clock),
        quota=HashtagQuota(store, metrics, graph.clock),
        account="brand",
        hashtag=hashtag,
        edge=edge,
        interval_s=60,
        page_size=50,
        max_pages=max_pages,
    )


def ingested(metrics: Metrics, source: str, hashtag: str, result: str) -> float:
    value = metrics.registry.get_sample_value(
        "listener_media_ingested_total", {"source": source, "hashtag": hashtag, "result": result}
    )
    return value or 0.0


async def test_one_document_with_three_sources(
    graph: Graph, store: Store, metrics: Metrics
) -> None:
    """One media from recent_media, top_media and a second hashtag: one document, 3 sources."""
    media_id = graph.world.add_post(
        hashtags=["summerdrop", "sunset"], timestamp=NOW - timedelta(hours=1), like_count=500
    )
    ids = HashtagIds(graph.api, store, graph.clock)
    polled: list[tuple[str, HashtagEdge]] = [
        ("summerdrop", "recent_media"),
        ("summerdrop", "top_media"),
        ("sunset", "recent_media"),
    ]
    for tag, edge in polled:
        await feed(graph, store, metrics, tag, edge, ids=ids).poll()
    assert await store.media.count() == 1
    doc = await store.media.get(media_id)
    assert doc is not None
    assert {(s["kind"], s["hashtag"]) for s in doc["sources"]} == {
        ("hashtag_recent", "summerdrop"),
        ("hashtag_top", "summerdrop"),
        ("hashtag_recent", "sunset"),
    }
    assert "username" not in doc
    assert ingested(metrics, "hashtag_recent", "summerdrop", "new") == 1
    assert ingested(metrics, "hashtag_top", "summerdrop", "duplicate") == 1


async def test_paging_reaches_the_last_page(graph: Graph, store: Store, metrics: Metrics) -> None:
    """120 media over three pages of 50 are all stored by one poll, which then stops by itself."""
    for minute in range(120):
        graph.world.add_post(hashtags=["summerdrop"], timestamp=NOW - timedelta(minutes=minute + 1))
    result = await feed(graph, store, metrics, "summerdrop").poll()
    assert (result.pages, result.new) == (3, 120)
    assert await store.media.count() == 120


async def test_poll_stops_at_the_first_page_with_nothing_new(
    graph: Graph, store: Store, metrics: Metrics
) -> None:
    """A second poll that finds only known media reads one page, not the whole feed."""
    for minute in range(120):
        graph.world.add_post(hashtags=["summerdrop"], timestamp=NOW - timedelta(minutes=minute + 1))
    hashtag_feed = feed(graph, store, metrics, "summerdrop")
    await hashtag_feed.poll()
    graph.clock.advance(timedelta(minutes=1))
    again = await hashtag_feed.poll()
    assert (again.pages, again.new, again.duplicate) == (1, 0, 50)


async def test_page_bound_is_respected(graph: Graph, store: Store, metrics: Metrics) -> None:
    """With max_pages=2 a poll reads at most two pages even when more are new."""
    for minute in range(120):
        graph.world.add_post(hashtags=["summerdrop"], timestamp=NOW - timedelta(minutes=minute + 1))
    result = await feed(graph, store, metrics, "summerdrop", max_pages=2).poll()
    assert (result.pages, result.new) == (2, 100)


async def test_repeated_next_link_ends_the_walk(
    graph: Graph, store: Store, metrics: Metrics
) -> None:
    """A next link repeating the request just made ends the poll cleanly."""
    for minute in range(120):
        graph.world.add_post(hashtags=["summerdrop"], timestamp=NOW - timedelta(minutes=minute + 1))
    graph.world.inject_faults("repeat_page", count=5, endpoint="recent_media")
    result = await feed(graph, store, metrics, "summerdrop").poll()
    assert result.pages <= 2
    assert result.new == 50


async def test_media_older_than_a_day_never_come_from_recent_media(
    graph: Graph, store: Store, metrics: Metrics
) -> None:
    """A 25-hour-old media is not returned by recent_media, so it is never stored from there."""
    old = graph.world.add_post(hashtags=["summerdrop"], timestamp=NOW - timedelta(hours=25))
    fresh = graph.world.add_post(hashtags=["summerdrop"], timestamp=NOW - timedelta(hours=23))
    await feed(graph, store, metrics, "summerdrop").poll()
    assert await store.media.get(old) is None
    assert await store.media.get(fresh) is not None


async def test_hashtag_id_is_resolved_once_and_kept(
    graph: Graph, store: Store, metrics: Metrics
) -> None:
    """Feeds share one lookup; after a restart (new resolver) the id comes from MongoDB."""
    ids = HashtagIds(graph.api, store, graph.clock)
    await feed(graph, store, metrics, "summerdrop", "recent_media", ids=ids).poll()
    await feed(graph, store, metrics, "summerdrop", "top_media", ids=ids).poll()
    await feed(
        graph, store, metrics, "summerdrop", ids=HashtagIds(graph.api, store, graph.clock)
    ).poll()
    searches = graph.world.stats.count(endpoint="ig_hashtag_search")
    assert searches == 1
    assert await store.feeds.hashtag_id("summerdrop") == graph.world.hashtag_id("summerdrop")


async def test_state_advances_only_after_the_store_write(
    graph: Graph, store: Store, metrics: Metrics
) -> None:
    """A failure on page two keeps page one's media but leaves the feed's state where it was."""
    for minute in range(120):
        graph.world.add_post(hashtags=["summerdrop"], timestamp=NOW - timedelta(minutes=minute + 1))
    hashtag_feed = feed(graph, store, metrics, "summerdrop")
    await HashtagIds(graph.api, store, graph.clock).resolve(WHO, "summerdrop")
    graph.world.inject_faults("http_500", count=3, endpoint="recent_media", skip=1)
    with pytest.raises(TransientError):
        await hashtag_feed.poll()
    assert await store.media.count() == 50
    assert (await store.feeds.state(hashtag_feed.source)).last_success_at is None
    assert hashtag_feed.source.kind is SourceKind.HASHTAG_RECENT


async def test_a_walk_cut_short_within_the_second_of_the_last_success_is_read_on(
    graph: Graph, store: Store, metrics: Metrics
) -> None:
    """Media published in the same second as the last successful poll began, but after it,
    carry Meta's whole-second timestamp at or below that start: when a later poll stored only
    their first page before failing, the next poll still reads past that page to the rest."""
    graph.world.add_post(hashtags=["summerdrop"], timestamp=NOW - timedelta(minutes=10))
    graph.clock.advance(timedelta(milliseconds=300))
    hashtag_feed = feed(graph, store, metrics, "summerdrop")
    await hashtag_feed.poll()  # succeeds: its start, 12:00:00.3, is the feed's covered_to
    for n in range(120):  # a burst, all within 12:00:00.4-12:00:00.64, stamped 12:00:00
        graph.world.add_post(
            hashtags=["summerdrop"], timestamp=NOW + timedelta(milliseconds=400 + 2 * n)
        )
    graph.clock.advance(timedelta(milliseconds=600))
    graph.world.inject_faults("http_500", count=3, endpoint="recent_media", skip=1)
    with pytest.raises(TransientError):
        await hashtag_feed.poll()  # stores the burst's first page, then fails
    assert await store.media.count() == 51
    graph.clock.advance(timedelta(minutes=1))
    await hashtag_feed.poll()
    assert await store.media.count() == 121


async def test_poll_stops_where_known_media_begin(
    graph: Graph, store: Store, metrics: Metrics
) -> None:
    """Ten new media on top of 120 known ones cost one page: its tail is already stored."""
    for minute in range(120):
        graph.world.add_post(
            hashtags=["summerdrop"], timestamp=NOW - timedelta(minutes=minute + 10)
        )
    hashtag_feed = feed(graph, store, metrics, "summerdrop")
    await hashtag_feed.poll()
    for minute in range(10):
        graph.world.add_post(hashtags=["summerdrop"], timestamp=NOW - timedelta(seconds=minute + 1))
    graph.clock.advance(timedelta(minutes=1))
    again = await hashtag_feed.poll()
    assert (again.pages, again.new) == (1, 10)


async def test_a_backlog_beyond_the_page_bound_is_caught_up(
    graph: Graph, store: Store, metrics: Metrics
) -> None:
    """After a poll stopped at its bound, later polls read past its pages down to the rest."""
    for minute in range(120):
        graph.world.add_post(
            hashtags=["summerdrop"], timestamp=NOW - timedelta(minutes=minute + 10)
        )
    hashtag_feed = feed(graph, store, metrics, "summerdrop", max_pages=2)
    first = await hashtag_feed.poll()
    assert (first.new, first.hit_bound) == (100, True)
    for second in range(5):
        graph.world.add_post(hashtags=["summerdrop"], timestamp=NOW - timedelta(seconds=second + 1))
    for _ in range(3):
        graph.clock.advance(timedelta(minutes=1))
        await hashtag_feed.poll()
    assert await store.media.count() == 125


async def test_a_backlog_of_several_bounds_is_caught_up_without_loss(
    graph: Graph, store: Store, metrics: Metrics
) -> None:
    """Four bounds' worth of unread media (after a long pause) are all stored within a few polls.

    Each catch-up poll reads the pages it knows again, then a bound's worth of new ones.
    """
    for minute in range(400):
        graph.world.add_post(
            hashtags=["summerdrop"], timestamp=NOW - timedelta(minutes=minute + 10)
        )
    hashtag_feed = feed(graph, store, metrics, "summerdrop", max_pages=2)
    results = []
    for _ in range(CATCH_UP_LIMIT):
        results.append(await hashtag_feed.poll())
        graph.clock.advance(timedelta(minutes=1))
    assert await store.media.count() == 400
    assert [r.hit_bound for r in results][:3] == [True, True, True]
    assert results[-1].hit_bound is False


async def test_a_backlog_beyond_the_catch_up_limit_is_given_up_and_new_media_still_come(
    graph: Graph, store: Store, metrics: Metrics
) -> None:
    """A backlog deeper than the limit allows is abandoned; polls go back to what is new."""
    for minute in range(1200):
        graph.world.add_post(
            hashtags=["summerdrop"], timestamp=NOW - timedelta(seconds=60 * minute + 600)
        )
    hashtag_feed = feed(graph, store, metrics, "summerdrop", max_pages=1)
    pages = [(await hashtag_feed.poll()).pages for _ in range(CATCH_UP_LIMIT)]
    assert pages == [1, 2, 3, 4, 5]
    graph.world.add_post(hashtags=["summerdrop"], timestamp=NOW + timedelta(seconds=30))
    graph.clock.advance(timedelta(minutes=1))
    after = await hashtag_feed.poll()
    assert (after.pages, after.new) == (1, 1)


async def test_media_mongodb_cannot_hold_never_sink_their_page(
    graph: Graph, store: Store, metrics: Metrics
) -> None:
    """Likes beyond 64 bits and a caption with a lone surrogate: those two media are refused
    with a logged reason, the rest of the page is stored and the poll succeeds."""
    good = graph.world.add_post(hashtags=["summerdrop"], timestamp=NOW - timedelta(minutes=3))
    graph.world.add_post(
        hashtags=["summerdrop"], timestamp=NOW - timedelta(minutes=2), like_count=2**64
    )
    graph.world.add_post(
        hashtags=["summerdrop"], timestamp=NOW - timedelta(minutes=1), caption="sun \ud83d"
    )
    with capture_logs() as logs:
        result = await feed(graph, store, metrics, "summerdrop").poll()
    assert (result.new, await store.media.ids()) == (1, {good})
    events = {e["event"]: e for e in logs}
    assert "like_count" in events["media.rejected"]["first"]
    assert "lone surrogate" in events["media.refused"]["reason"]
    assert (await store.feeds.state(feed(graph, store, metrics, "summerdrop").source)).last_new == 1
