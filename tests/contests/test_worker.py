"""The worker's side of contests: listener_contest_author_known_ratio from its settling pass."""

from __future__ import annotations

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from listener.app import start
from listener.metrics import Metrics
from listener.settings import Settings
from listener.store.mongo import Document
from tests.contests.campaign import HASHTAG, TAGS, ingest, media


def quiet_settings(
    mongo_uri: str, database: AsyncDatabase[Document], hashtags: tuple[str, ...] = ()
) -> Settings:
    """The worker on the test database and a quiet in-process simulator, campaign ``summer``;
    account ``brand`` polls ``hashtags``."""
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
                "hashtags": list(hashtags),
            }
        ],
        campaigns=[
            {
                "id": "summer",
                "account": "brand",
                "hashtags": ["summerdrop"],
                "starts_at": "2026-06-01T00:00:00Z",
                "ends_at": "2026-07-01T00:00:00Z",
            }
        ],
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
