"""The /tags feed against the simulator: cursor paging without next, authors kept."""

from __future__ import annotations

from datetime import timedelta

from listener.metrics import Metrics
from listener.pollers.tags import TagsFeed
from listener.store.store import Store
from tests.graphsim import BRAND, NOW, Graph, poller_context


def tags_feed(graph: Graph, store: Store, metrics: Metrics, max_pages: int = 10) -> TagsFeed:
    return TagsFeed(
        poller_context(graph, store, metrics),
        account="brand",
        interval_s=600,
        page_size=25,
        max_pages=max_pages,
    )


async def test_all_pages_are_read_from_after_cursors(
    graph: Graph, store: Store, metrics: Metrics
) -> None:
    """60 tagged media over three pages (no next links) are all stored, with their authors."""
    for minute in range(60):
        graph.world.add_post(
            timestamp=NOW - timedelta(minutes=minute + 1),
            username=f"user{minute}",
            tagged_accounts=[BRAND.ig_user_id],
        )
    result = await tags_feed(graph, store, metrics).poll()
    assert (result.new, result.pages) == (60, 4)  # the fourth page comes back empty
    docs = [await store.media.get(i) for i in await store.media.ids()]
    assert all(d is not None and d["username"].startswith("user") for d in docs)
    assert all(
        d is not None and d["sources"] == [{"kind": "tags", "account": "brand"}] for d in docs
    )


async def test_second_poll_reads_one_page(graph: Graph, store: Store, metrics: Metrics) -> None:
    """A later poll stops at the first page that ends in media already stored."""
    for minute in range(60):
        graph.world.add_post(
            timestamp=NOW - timedelta(minutes=minute + 1), tagged_accounts=[BRAND.ig_user_id]
        )
    feed = tags_feed(graph, store, metrics)
    await feed.poll()
    graph.world.add_post(timestamp=NOW, tagged_accounts=[BRAND.ig_user_id])
    graph.clock.advance(timedelta(seconds=1))
    again = await feed.poll()
    assert (again.pages, again.new) == (1, 1)  # the page ends in known media: stop there


async def test_repeated_cursor_ends_the_walk(graph: Graph, store: Store, metrics: Metrics) -> None:
    """When Meta hands back the cursor just used, the walk stops instead of looping."""
    for minute in range(60):
        graph.world.add_post(
            timestamp=NOW - timedelta(minutes=minute + 1), tagged_accounts=[BRAND.ig_user_id]
        )
    graph.world.inject_faults("repeat_page", count=5, endpoint="tags", skip=1)
    result = await tags_feed(graph, store, metrics).poll()
    assert result.pages <= 3
    assert result.new >= 25
