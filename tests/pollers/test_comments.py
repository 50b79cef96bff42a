"""The comments poller against the simulator and a real MongoDB: full reads, resumption,
incremental polls, the page-order safeguard, and bad input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from structlog.testing import capture_logs

from listener.metrics import Metrics
from listener.pollers.accounts import Accounts
from listener.pollers.comment_ingest import CommentIngestor
from listener.pollers.comments import CommentsFeed, Progress, may_stop
from listener.pollers.context import PollerContext
from listener.pollers.ingest import Ingestor
from listener.store.store import Store
from tests.enrichment import CountingScorer
from tests.graphsim import BRAND, NOW, OTHER, WHO, Graph

T = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def feed(
    graph: Graph,
    store: Store,
    metrics: Metrics,
    *,
    posts: tuple[str, ...] = (),
    permalinks: dict[str, str] | None = None,
    recent: int = 10,
    read_pages: int = 200,
) -> CommentsFeed:
    context = PollerContext(
        api=graph.api,
        store=store,
        ingestor=Ingestor(store, metrics),
        accounts=Accounts({"brand": WHO}, metrics=metrics, clock=graph.clock),
        metrics=metrics,
        clock=graph.clock,
    )
    return CommentsFeed(
        context,
        ingestor=CommentIngestor(store, metrics, CountingScorer()),
        account="brand",
        posts=posts,
        permalinks=permalinks or {},
        recent=recent,
        interval_s=300,
        read_pages=read_pages,
    )


def brand_post(graph: Graph, **extra: object) -> str:
    return graph.world.add_post(
        timestamp=NOW - timedelta(hours=2),
        caption="Giveaway!",
        owner=BRAND.ig_user_id,
        **extra,  # type: ignore[arg-type]  # the tests pass add_post keywords of its own types
    )


def calls(graph: Graph, endpoint: str) -> int:
    return graph.world.stats.count(endpoint)


async def stored_ids(store: Store, media_id: str) -> list[str]:
    return [d["_id"] async for d in store.comments.stream({"media_id": media_id}, sort=[])]


async def test_a_post_is_read_completely_page_by_page(
    graph: Graph, store: Store, metrics: Metrics
) -> None:
    """120 comments: one listing call, three comment pages, every comment stored once."""
    media_id = brand_post(graph)
    ids = graph.world.publish_comments(media_id, 120, start=NOW - timedelta(hours=1))
    result = await feed(graph, store, metrics).poll()
    assert sorted(await stored_ids(store, media_id)) == sorted(ids)
    assert (result.pages, result.new, result.hit_bound) == (4, 120, False)
    assert (calls(graph, "media"), calls(graph, "comments")) == (1, 3)


async def read_once(graph: Graph, store: Store, metrics: Metrics) -> tuple[str, CommentsFeed]:
    """A post with 120 comments, read in full five minutes ago: its id and the feed."""
    media_id = brand_post(graph)
    graph.world.publish_comments(media_id, 120, start=NOW - timedelta(hours=1))
    comments = feed(graph, store, metrics)
    await comments.poll()
    graph.clock.advance(timedelta(minutes=5))
    return media_id, comments


async def test_a_stored_comment_has_its_author_and_timestamp(
    graph: Graph, store: Store, metrics: Metrics
) -> None:
    """A polled comment carries username, user id, the real timestamp and its sentiment."""
    media_id = brand_post(graph)
    comment_id = graph.world.add_comment(
        media_id, "love it @ana", "fan.1", NOW - timedelta(hours=1)
    )
    await feed(graph, store, metrics).poll()
    stored = await store.comments.get(comment_id)
    assert stored is not None
    assert (stored["username"], stored["timestamp"]) == ("fan.1", NOW - timedelta(hours=1))
    assert stored["user_id"]
    assert stored["sources"] == ["comments_poll"]
    assert stored["sentiment"]["label"] == "positive"


async def test_a_later_poll_reads_only_the_new_page(
    graph: Graph, store: Store, metrics: Metrics
) -> None:
    """After a full read, three new comments cost one comment page: its tail is known."""
    media_id, comments = await read_once(graph, store, metrics)
    for n in range(3):
        graph.world.add_comment(media_id, f"me too {n}", f"late.{n}", graph.clock())
    before = calls(graph, "comments")
    result = await comments.poll()
    assert (result.new, calls(graph, "comments") - before) == (3, 1)


async def test_a_read_cut_short_resumes_from_its_cursor(
    graph: Graph, store: Store, metrics: Metrics
) -> None:
    """A read bounded at 2 pages is taken up by a fresh feed (a restart) where it stopped."""
    media_id = brand_post(graph)
    ids = graph.world.publish_comments(media_id, 300, start=NOW - timedelta(hours=1))
    first = await feed(graph, store, metrics, read_pages=2).poll()
    assert (first.new, first.hit_bound) == (100, True)
    second = await feed(graph, store, metrics).poll()
    assert (second.new, second.duplicate, second.hit_bound) == (200, 0, False)
    assert sorted(await stored_ids(store, media_id)) == sorted(ids)
    assert calls(graph, "comments") == 6  # each page once


async def test_a_full_read_stays_within_the_call_bound(
    graph: Graph, store: Store, metrics: Metrics
) -> None:
    """5,000 comments over polls of 40 pages: calls ≤ 1.10 × ⌈5,000 ÷ 50⌉ + 1 per poll."""
    media_id = brand_post(graph)
    ids = graph.world.publish_comments(media_id, 5000, start=NOW - timedelta(hours=2))
    comments = feed(graph, store, metrics, read_pages=40)
    polls = 0
    while True:
        polls += 1
        result = await comments.poll()
        if not result.hit_bound:
            break
    assert len(await stored_ids(store, media_id)) == len(set(ids)) == 5000
    total = calls(graph, "comments") + calls(graph, "media")
    assert total <= 1.10 * 100 + polls


async def test_a_comment_out_of_page_order_is_not_lost(
    graph: Graph, store: Store, metrics: Metrics
) -> None:
    """A new comment listed deep among old ones (the order Meta does not promise) is found:
    the first page is all known, but the stored count is below comments_count, so it reads on."""
    media_id, comments = await read_once(graph, store, metrics)
    hidden = graph.world.add_comment(
        media_id, "late, listed early", "odd", NOW - timedelta(hours=2)
    )
    result = await comments.poll()
    assert result.new == 1
    assert await store.comments.get(hidden) is not None


async def test_a_poll_with_nothing_new_stops_at_the_first_page(
    graph: Graph, store: Store, metrics: Metrics
) -> None:
    """Nothing new and the count matches: one comment call."""
    _, comments = await read_once(graph, store, metrics)
    before = calls(graph, "comments")
    await comments.poll()
    assert calls(graph, "comments") - before == 1


async def test_campaign_permalinks_are_resolved_once_and_kept(
    graph: Graph, store: Store, metrics: Metrics
) -> None:
    """A campaign post given as a permalink is read even when it is not among the recent posts,
    and its media id is kept in comment_posts."""
    old = brand_post(graph)
    for hour in range(3):
        graph.world.add_post(timestamp=NOW - timedelta(minutes=hour), owner=BRAND.ig_user_id)
    post = graph.world.post(old)
    assert post is not None
    graph.world.publish_comments(old, 10, start=NOW - timedelta(hours=1))
    comments = feed(graph, store, metrics, permalinks={post.shortcode: post.permalink}, recent=1)
    result = await comments.poll()
    assert result.new == 10
    assert await store.comment_polls.resolutions("brand") == {post.shortcode: old}


async def test_a_post_with_comments_turned_off_is_skipped_and_logged_once(
    graph: Graph, store: Store, metrics: Metrics
) -> None:
    """No comment call for a post whose comments are off; one log line over two polls."""
    media_id = brand_post(graph, comments_enabled=False)
    comments = feed(graph, store, metrics)
    with capture_logs() as logs:
        await comments.poll()
        await comments.poll()
    assert calls(graph, "comments") == 0
    assert [e for e in logs if e["event"] == "comments.turned_off"] == [
        {
            "event": "comments.turned_off",
            "account": "brand",
            "media_id": media_id,
            "log_level": "info",
        }
    ]


async def test_a_post_that_is_not_the_accounts_is_skipped(
    graph: Graph, store: Store, metrics: Metrics
) -> None:
    """A campaign media id of another account answers 100/33: skipped, the others read."""
    theirs = graph.world.add_post(timestamp=NOW - timedelta(hours=1), owner=OTHER.ig_user_id)
    ours = brand_post(graph)
    graph.world.publish_comments(ours, 5, start=NOW - timedelta(hours=1))
    with capture_logs() as logs:
        result = await feed(graph, store, metrics, posts=(theirs,)).poll()
    assert result.new == 5
    assert [e["media_id"] for e in logs if e["event"] == "comments.post_unavailable"] == [theirs]


COVERED = Progress(covered_to=T, full_at=T, base_stored=10, base_count=10)
BEFORE, AFTER = T - timedelta(minutes=1), T + timedelta(minutes=1)


def case(
    tail_new: int,
    times: list[datetime | None],
    progress: Progress,
    stored: int,
    count: int | None,
    *,
    now: datetime = T,
) -> dict[str, object]:
    """may_stop's arguments."""
    return {
        "tail_new": tail_new,
        "tail_times": times,
        "progress": progress,
        "stored": stored,
        "comments_count": count,
        "now": now,
    }


@pytest.mark.parametrize(
    ("arguments", "stop"),
    [
        (case(0, [BEFORE], COVERED, 10, 10), True),  # known and covered, nothing counted since
        (case(0, [BEFORE], COVERED, 13, 13), True),  # three counted since, three stored since
        (case(1, [BEFORE], COVERED, 11, 11), False),  # something new at the end of the page
        (case(0, [AFTER], COVERED, 10, 10), False),  # known, but not from a covering read
        (case(0, [None], COVERED, 10, 10), False),  # a comment without a time proves nothing
        (case(0, [BEFORE], Progress(covered_to=T), 10, 10), False),  # never read to the end
        (case(0, [BEFORE], COVERED, 10, 11), False),  # counted since but not stored: read on
        (case(0, [BEFORE], COVERED, 12, 11), True),  # deleted since: still all stored
        (case(0, [BEFORE], COVERED, 10, 10, now=T + timedelta(days=2)), False),  # full read due
        (case(0, [BEFORE], COVERED, 10, None), True),  # not listed: the recent full read vouches
    ],
)
def test_may_stop(arguments: dict[str, Any], stop: bool) -> None:
    """A read stops early only at a known, covered tail, every comment counted since the last
    full read stored, and that full read not older than a day."""
    assert may_stop(**arguments) is stop
