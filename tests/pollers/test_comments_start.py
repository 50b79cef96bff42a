"""The worker's start with comment giveaways: a permalink that is not the account's refuses it."""

from __future__ import annotations

import pytest

from listener.app import start
from listener.errors import ConfigError
from listener.settings import Settings
from tests.test_app import quiet_settings

FOREIGN = "https://www.instagram.com/p/NotTheBrands/"


def giveaway(mongo_uri: str, post: str) -> Settings:
    """A worker whose account listens to comments, with a comment giveaway on ``post``."""
    settings = quiet_settings(mongo_uri, mentions=False)
    document = settings.model_dump()
    document["accounts"][0]["comments"] = True
    document["graph"]["app_secret"] = "demo-app-secret"
    document["simulator"]["comments_per_hour"] = 0  # no demo giveaway posts: only what is there
    document["campaigns"] = [
        {
            "id": "giveaway",
            "account": "brand",
            "kind": "comments",
            "posts": [post],
            "starts_at": "2026-11-01T00:00:00Z",
            "ends_at": "2026-12-31T00:00:00Z",
        }
    ]
    return Settings.model_validate(document)


async def test_a_permalink_not_among_the_accounts_media_refuses_the_start(mongo_uri: str) -> None:
    """The start resolves the giveaway's permalink through the account's media: not there, a
    one-line ConfigError (exit code 2) naming it."""
    with pytest.raises(ConfigError) as refused:
        async with start(giveaway(mongo_uri, FOREIGN)):
            pass
    assert str(refused.value) == (
        f"campaign post {FOREIGN} is not among account 'brand''s media: give one of its own "
        "posts (a permalink or a media id)"
    )
    assert "\n" not in str(refused.value)


async def test_a_giveaway_by_media_id_starts_without_a_listing_problem(mongo_uri: str) -> None:
    """A post given as a media id is not resolved at the start: the worker starts."""
    async with start(giveaway(mongo_uri, "17900000000000001")) as worker:
        assert worker.feeds == 1
