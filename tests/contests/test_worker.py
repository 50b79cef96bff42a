"""The worker's side of contests: the contest metrics from its settling pass."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from listener.app import start
from listener.contests.comment_settling import CommentSettling
from listener.metrics import Metrics
from listener.models import Comment, CommentSource
from listener.settings import Settings
from listener.store.mongo import Document
from listener.store.store import Store
from tests.contests.campaign import HASHTAG, TAGS, ingest, media

SUMMER: dict[str, Any] = {
    "id": "summer",
    "account": "brand",
    "hashtags": ["summerdrop"],
    "starts_at": "2026-06-01T00:00:00Z",
    "ends_at": "2026-07-01T00:00:00Z",
}


def quiet_settings(
    mongo_uri: str,
    database: AsyncDatabase[Document],
    hashtags: tuple[str, ...] = (),
    *,
    campaign: dict[str, Any] = SUMMER,
    comments: bool = False,
) -> Settings:
    """The worker on the test database and a quiet in-process simulator with ``campaign``;
    account ``brand`` polls ``hashtags`` and, with ``comments``, reads its posts' comments."""
    return Settings(
        store={"mongodb_uri": mongo_uri, "database": database.name},
        server={"port": 0},
        simulator={"enabled": True, "posts_per_hour": 0, "mentions_per_hour": 0},
        graph={"app_secret": "demo-app-secret"},
        accounts=[
            {
                "name": "brand",
                "ig_user_id": "17841400000000001",
                "access_token": "demo-token",
                "username": "brand",
                "hashtags": list(hashtags),
                "comments": comments,
            }
        ],
        campaigns=[campaign],
    )


async def test_the_worker_exports_the_share_of_entrants_with_a_known_author(
    mongo_uri: str, database: AsyncDatabase[Document], metrics: Metrics
) -> None:
    """After its settling pass the gauge is known entrants / entrants, per campaign."""
    settings = quiet_settings(mongo_uri, database)
    await ingest(
        settings,
        database,
        metrics,
        [
            (media("1", minutes=1, caption="#summerdrop"), HASHTAG),
            (media("2", minutes=2, caption="#summerdrop", username="zoe"), TAGS),
            (media("3", minutes=3, caption="#summerdrop"), HASHTAG),
            (media("4", minutes=4, caption="no tag", username="yan"), TAGS),
        ],
    )
    async with start(settings) as worker:
        gauge = ("listener_contest_author_known_ratio", {"campaign": "summer"})
        assert worker.registry.get_sample_value(*gauge) is None
        await worker.settle()
        assert worker.registry.get_sample_value(*gauge) == pytest.approx(1 / 3)


async def test_the_worker_exports_the_share_of_hashtag_media_with_a_known_author(
    mongo_uri: str, database: AsyncDatabase[Document], metrics: Metrics
) -> None:
    """After its settling pass the identity gauge is known / all hashtag media of the account."""
    settings = quiet_settings(mongo_uri, database, hashtags=("summerdrop",))
    await ingest(
        settings,
        database,
        metrics,
        [
            (media("1", minutes=1, caption="#summerdrop"), HASHTAG),
            (media("2", minutes=2, caption="#summerdrop"), HASHTAG),
            (media("1", minutes=1, caption="#summerdrop", username="zoe"), TAGS),
            (media("3", minutes=3, caption="#summerdrop", username="yan"), TAGS),
        ],
    )
    async with start(settings) as worker:
        gauge = ("listener_hashtag_media_author_known_ratio", {"account": "brand"})
        await worker.settle()
        assert worker.registry.get_sample_value(*gauge) == pytest.approx(1 / 2)


def giveaway_settings(
    mongo_uri: str, database: AsyncDatabase[Document], post: str = "17900000000000001"
) -> Settings:
    """:func:`quiet_settings` with comments read and giveaway ``winter`` on ``post``."""
    winter = {
        **SUMMER,
        "id": "winter",
        "hashtags": [],
        "kind": "comments",
        "posts": [post],
        "starts_at": "2026-12-01T00:00:00Z",
        "ends_at": "2026-12-08T00:00:00Z",
        "min_mentions": 1,
    }
    return quiet_settings(mongo_uri, database, campaign=winter, comments=True)


POST = "17900000000000001"
T0 = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def comment(comment_id: str, text: str, username: str, minutes: int) -> Comment:
    """A top-level comment on the giveaway's post."""
    return Comment(comment_id, POST, "brand", text, username, "9", T0 + timedelta(minutes=minutes))


async def test_the_worker_counts_comment_giveaway_entries_once(
    mongo_uri: str, database: AsyncDatabase[Document]
) -> None:
    """Each settling pass sets the entries gauge; first verdicts are counted once, not per pass."""
    settings = giveaway_settings(mongo_uri, database)
    store = Store(database)
    await store.ensure_indexes()
    await store.comments.ingest(
        [comment("1", "me @ana", "zoe", 1), comment("2", "no tag", "yan", 2)],
        CommentSource.POLL,
        T0,
    )
    async with start(settings) as worker:
        sample = worker.registry.get_sample_value
        await worker.settle()
        await worker.settle()
        gauge = "listener_comment_contest_entries"
        assert sample(gauge, {"campaign": "winter", "eligible": "true"}) == 1
        assert sample(gauge, {"campaign": "winter", "eligible": "false"}) == 1
        counter = "listener_contest_entries_total"
        assert sample(counter, {"campaign": "winter", "eligible": "true"}) == 1
        assert sample(counter, {"campaign": "winter", "eligible": "false"}) == 1
        assert worker.comment_ingestor is not None
        await worker.comment_ingestor.ingest([comment("3", "@bo", "wu", 3)], CommentSource.POLL, T0)
        await worker.settle()
        assert sample(gauge, {"campaign": "winter", "eligible": "true"}) == 2
        assert sample(counter, {"campaign": "winter", "eligible": "true"}) == 2


async def test_the_worker_skips_a_giveaway_whose_permalink_is_not_resolved_yet(
    mongo_uri: str, database: AsyncDatabase[Document]
) -> None:
    """A permalink the pollers have not resolved (Meta was down at start) leaves the giveaway
    unsettled, not the pass: the worker's comment settling skips it."""
    settings = giveaway_settings(mongo_uri, database, "https://www.instagram.com/p/NotYet1/")
    store = Store(database)
    await store.ensure_indexes()
    assert await CommentSettling(store, settings, set).settle() == []


async def test_comment_series_start_at_zero_for_accounts_that_read_comments(
    mongo_uri: str, database: AsyncDatabase[Document]
) -> None:
    """An account with comments = true has its comment series from the start, at 0."""
    async with start(giveaway_settings(mongo_uri, database)) as worker:
        sample = worker.registry.get_sample_value
        ingested = {"account": "brand", "source": "comments_webhook", "result": "new"}
        assert sample("listener_comments_ingested_total", ingested) == 0
        labels = {"account": "brand", "label": "unsupported"}
        assert sample("listener_comment_sentiment_total", labels) == 0
