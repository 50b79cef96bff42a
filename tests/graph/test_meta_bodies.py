"""Every Graph API parser against the bodies Meta really sent (tests/fixtures/meta)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from listener.errors import (
    BadRequestError,
    GraphError,
    MalformedResponseError,
    ObjectUnavailableError,
)
from listener.graph.instagram import AUTHORED_MEDIA_FIELDS
from listener.graph.tokens import parse_debug_token
from listener.graph.wire import (
    error_from_answer,
    parse_comment_media,
    parse_id_list,
    parse_media_page,
    parse_mentioned_comment,
    parse_mentioned_media,
)
from tests import metabodies

HASHTAG_PAGES = [
    "pyfacebook/hashtags/hashtag_recent_medias_p1.json",
    "pyfacebook/hashtags/hashtag_recent_medias_p2.json",
    "pyfacebook/hashtags/hashtag_recent_medias_fields_p1.json",
    "pyfacebook/hashtags/hashtag_recent_medias_fields_p2.json",
    "pyfacebook/hashtags/hashtag_top_medias_fields_p1.json",
    "pyfacebook/hashtags/hashtag_top_medias_fields_p2.json",
    "pyfacebook/hashtags/hashtag_recent_medias_default_p1.excerpt.json",
    "pyfacebook/hashtags/hashtag_recent_medias_default_p2.excerpt.json",
]
TAGS_PAGES = [
    "pyfacebook/users/tagged_medias.json",
    "pyfacebook/medias/tags_medias.json",
    "pyfacebook/medias/tags_medias_p1.json",
    "pyfacebook/medias/tags_medias_p2.json",
    "pyfacebook/mentions/tagged_user_medias_p1.json",
]
STAMP = "2026-11-29T10:15:00+0000"


def with_timestamps(page: Any) -> Any:
    """The page as the worker's request gets it: every item also carries ``timestamp``."""
    asked = copy.deepcopy(page)
    for item in asked["data"]:
        item.setdefault("timestamp", STAMP)
    return asked


@pytest.mark.parametrize("name", HASHTAG_PAGES)
def test_hashtag_pages_as_captured_keep_their_paging_and_reject_undated_items(name: str) -> None:
    """Captured without timestamp (not asked): each item is rejected by name, the page stands."""
    captured = metabodies.body(name)
    page = parse_media_page(captured, endpoint="recent_media")
    assert page.media == []
    assert page.rejected == ["timestamp: Field required"] * len(captured["data"])
    assert page.paging.next == captured.get("paging", {}).get("next")


@pytest.mark.parametrize("name", HASHTAG_PAGES)
def test_hashtag_pages_with_the_timestamp_the_worker_asks_for_are_read(name: str) -> None:
    """With timestamp (which the worker asks for), every captured item becomes a media."""
    captured = metabodies.body(name)
    page = parse_media_page(with_timestamps(captured), endpoint="recent_media")
    assert page.rejected == []
    assert [m.id for m in page.media] == [item["id"] for item in captured["data"]]
    for media, item in zip(page.media, captured["data"], strict=True):
        assert (media.media_type, media.like_count, media.comments_count) == (
            item["media_type"],
            item["like_count"],
            item["comments_count"],
        )
        assert media.caption == item.get("caption", "")
        assert media.permalink == item.get("permalink")
        assert media.username is None


@pytest.mark.parametrize("name", TAGS_PAGES)
def test_tags_pages_are_read_whole(name: str) -> None:
    """/tags pages: every captured media is read, '+0000' times in UTC, authors where given."""
    captured = metabodies.body(name)
    page = parse_media_page(captured, endpoint="tags")
    assert page.rejected == []
    assert [m.id for m in page.media] == [item["id"] for item in captured["data"]]
    assert [m.username for m in page.media] == [item.get("username") for item in captured["data"]]
    assert all(m.timestamp.tzinfo is UTC for m in page.media)
    after = captured.get("paging", {}).get("cursors", {}).get("after")
    assert page.paging.cursors.after == after
    assert page.paging.next is None


@pytest.mark.parametrize(
    ("name", "ids"),
    [
        ("pyfacebook/hashtags/hashtag_search.json", ["17843421130029320"]),
        ("pyfacebook/users/hashtag_search.json", ["17841562426109234"]),
        (
            "pyfacebook/hashtags/recently_searched_hashtags.json",
            ["17841562447105233", "17843826142012701", "17843761288040806"],
        ),
        (
            "pyfacebook/users/recently_searched_hashtags.json",
            ["17841562426109234", "17842331632070897"],
        ),
    ],
)
def test_id_lists(name: str, ids: list[str]) -> None:
    """ig_hashtag_search and recently_searched_hashtags answers read as their ids."""
    assert parse_id_list(metabodies.body(name), endpoint="ig_hashtag_search") == ids


@pytest.mark.parametrize(
    ("name", "media_id", "username"),
    [
        ("pyfacebook/users/mentioned_media.json", "17889114512354744", None),
        ("pyfacebook/mentions/mention_user_media.json", "18027939643230671", "ikroskun"),
    ],
)
def test_mentioned_media(name: str, media_id: str, username: str | None) -> None:
    """Both captured mentioned_media answers read as their media, extra edges ignored."""
    captured = metabodies.body(name)["mentioned_media"]
    media = parse_mentioned_media(metabodies.body(name), endpoint="mentioned_media")
    assert (media.id, media.username, media.caption) == (media_id, username, captured["caption"])
    assert media.timestamp == datetime.fromisoformat(captured["timestamp"])


def test_mentioned_comment_without_media_is_read() -> None:
    """The capture without media (its client never asked) reads as a comment with no media."""
    comment = parse_mentioned_comment(
        metabodies.body("pyfacebook/users/mentioned_comment.json"), endpoint="mentioned_comment"
    )
    assert (comment.id, comment.text, comment.username, comment.media) == (
        "17967008497439572",
        "@ikroskun good",
        "ikroskun",
        None,
    )


def test_mentioned_comment_with_media_is_read() -> None:
    """The capture asked with media gives the comment and the media it was left on."""
    comment = parse_mentioned_comment(
        metabodies.body("pyfacebook/mentions/mention_user_comment.json"),
        endpoint="mentioned_comment",
    )
    assert comment.media is not None
    assert (comment.id, comment.media.id, comment.media.username) == (
        "17892250648466172",
        "17846368219941692",
        "ikroskun",
    )


def test_comment_node_media() -> None:
    """restfb's comment node (media id only: not asked for more) is refused by name; with the
    media fields the worker asks for, it is read."""
    captured = metabodies.body("restfb/comment.json")
    with pytest.raises(MalformedResponseError, match=r"media\.timestamp"):
        parse_comment_media(captured, endpoint="comment")
    asked = copy.deepcopy(captured)
    asked["media"].update({"timestamp": STAMP, "caption": "album", "username": "al"})
    assert {"timestamp", "caption", "username"} <= set(AUTHORED_MEDIA_FIELDS.split(","))
    media = parse_comment_media(asked, endpoint="comment")
    assert (media.id, media.caption, media.username) == ("987654321", "album", "al")


def test_debug_token_capture() -> None:
    """python-facebook's debug_token answer: valid, its expiry and scopes."""
    info = parse_debug_token(metabodies.body("pyfacebook/base/token_info.json"))
    assert info.is_valid
    assert info.expires_at == datetime.fromtimestamp(1577347200, UTC)
    assert info.scopes == (
        "email",
        "read_insights",
        "manage_pages",
        "pages_show_list",
        "public_profile",
    )
    assert (info.user_id, info.problem) == ("userId", None)


@pytest.mark.parametrize(
    ("name", "status", "kind", "codes"),
    [
        ("restfb/Issue1095.json", 400, BadRequestError, (1, 1446036)),
        ("restfb/oauthExampleError.json", 500, BadRequestError, (1, 1965014)),
        ("pyfacebook/base/error_data.json", 400, BadRequestError, (100, None)),
        ("issues/airbyte-4028-object-missing.json", 400, ObjectUnavailableError, (100, 33)),
    ],
)
def test_captured_error_bodies(
    name: str, status: int, kind: type[GraphError], codes: tuple[int, int | None]
) -> None:
    """Code 1 with is_transient false is final (even on a 5xx); 100/33 is about one object."""
    error = error_from_answer(status, metabodies.body(name), endpoint="mentioned_media")
    assert type(error) is kind
    assert (error.code, error.subcode) == codes
    assert error.fbtrace_id == metabodies.body(name)["error"]["fbtrace_id"]


def test_object_missing_capture_names_its_object() -> None:
    """The captured 100/33 names the object; the error keeps its id."""
    error = error_from_answer(
        400, metabodies.body("issues/airbyte-4028-object-missing.json"), endpoint="user"
    )
    assert isinstance(error, ObjectUnavailableError)
    assert error.object_id == "18066122755137560"
