"""Field tables by table: the names each node type accepts, and what rendering shows (pure)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from listener.simulator import SimulatorConfig, World
from listener.simulator.endpoints import fields
from listener.simulator.endpoints.hashtags import HASHTAG_FIELDS
from listener.simulator.endpoints.mentions import USER_FIELDS
from listener.simulator.fieldexpansion import parse_fields
from tests.simulator.harness import START

HASHTAG_MEDIA = {
    "caption",
    "children",
    "comments_count",
    "id",
    "like_count",
    "media_type",
    "media_url",
    "permalink",
    "timestamp",
}


@pytest.mark.parametrize(
    ("accepted", "expected"),
    [
        (fields.HASHTAG_MEDIA_FIELDS, HASHTAG_MEDIA),
        (fields.FULL_MEDIA_FIELDS, HASHTAG_MEDIA | {"username", "owner", "shortcode", "comments"}),
        (fields.CHILD_FIELDS, {"id", "media_type", "media_url", "timestamp"}),
        (fields.COMMENT_FIELDS, {"id", "text", "timestamp", "like_count", "username", "media"}),
        (HASHTAG_FIELDS, {"id", "name"}),
        (USER_FIELDS, {"id", "username", "mentioned_media", "mentioned_comment"}),
    ],
)
def test_each_node_type_accepts_its_documented_fields(
    accepted: frozenset[str], expected: set[str]
) -> None:
    """The getter tables accept exactly the field names Meta documents for each node type."""
    assert accepted == expected


@pytest.mark.parametrize(
    ("media_type", "hide_like_count", "asked", "shown"),
    [
        ("IMAGE", False, "caption", ["caption", "id"]),  # id last when not asked for
        ("IMAGE", False, "id,caption", ["id", "caption"]),  # else where asked
        ("IMAGE", False, "owner", ["username", "id"]),  # owner answers as username
        ("IMAGE", False, "username,owner", ["username", "id"]),
        ("IMAGE", True, "like_count,comments_count", ["comments_count", "id"]),  # hidden likes
        ("IMAGE", False, "like_count", ["like_count", "id"]),
        ("CAROUSEL_ALBUM", False, "media_url,media_type", ["media_type", "id"]),  # no album URL
        ("VIDEO", False, "media_url", ["media_url", "id"]),
        ("IMAGE", False, "children", ["id"]),  # only albums have children
        ("CAROUSEL_ALBUM", False, "children", ["children", "id"]),
    ],
)
def test_media_shows_only_what_is_asked_and_present(
    media_type: str, hide_like_count: bool, asked: str, shown: list[str]
) -> None:
    """A media shows the asked fields Meta has for it, in the order asked, and always its id."""
    world = World(SimulatorConfig(), START)
    media_id = world.add_post(
        timestamp=START - timedelta(minutes=1),
        media_type=media_type,
        hide_like_count=hide_like_count,
        like_count=3,
    )
    assert list(fields.media(world, media_id, parse_fields(asked))) == shown


def test_album_children_show_their_asked_fields() -> None:
    """An album's children are images of the album's time, each with its id."""
    world = World(SimulatorConfig(), START)
    album = world.add_post(timestamp=START - timedelta(minutes=1), media_type="CAROUSEL_ALBUM")
    shown = fields.media(world, album, parse_fields("children{media_type,timestamp}"))
    children = shown["children"]
    assert isinstance(children, dict)
    assert [list(child) for child in children["data"]] == [["media_type", "timestamp", "id"]] * 2
    assert {child["media_type"] for child in children["data"]} == {"IMAGE"}
    assert {child["timestamp"] for child in children["data"]} == {"2026-11-29T11:59:00+0000"}
