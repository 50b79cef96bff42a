"""Wire models and the mapping of Meta's error bodies onto the error tree."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from listener.errors import (
    AuthError,
    BadRequestError,
    GraphPermissionError,
    MalformedResponseError,
    ObjectUnavailableError,
    ThrottledError,
    TransientError,
)
from listener.graph.wire import error_from_answer, parse_id_list, parse_media_page


def body(code: int, subcode: int | None = None, **extra: Any) -> dict[str, Any]:
    error: dict[str, Any] = {
        "message": "m",
        "type": "OAuthException",
        "code": code,
        "fbtrace_id": "T1",
    }
    if subcode is not None:
        error["error_subcode"] = subcode
    error.update(extra)
    return {"error": error}


@pytest.mark.parametrize(
    ("status", "answer", "kind"),
    [
        (400, body(4), ThrottledError),
        (400, body(17), ThrottledError),
        (400, body(32), ThrottledError),
        (400, body(613), ThrottledError),
        (400, body(613, 1996), ThrottledError),
        (400, body(80002), ThrottledError),
        (400, body(100, 33), ObjectUnavailableError),
        (400, body(190, 463), AuthError),
        (400, body(190, 467), AuthError),
        (400, body(102), AuthError),
        (403, body(10), GraphPermissionError),
        (403, body(200), GraphPermissionError),
        (403, body(299), GraphPermissionError),
        (500, body(1), TransientError),
        (400, body(1, 1446036, is_transient=False), BadRequestError),
        (500, body(1, is_transient=False), BadRequestError),
        (503, body(2, is_transient=False), BadRequestError),
        (503, body(2, is_transient=True), TransientError),
        (400, body(36000, 2207004, is_transient=True), TransientError),
        (500, body(12345), TransientError),
        (400, body(100), BadRequestError),
        (400, body(24), BadRequestError),
        (502, "<html>Bad gateway</html>", TransientError),
        (429, None, TransientError),
        (404, {"not": "an error body"}, BadRequestError),
    ],
)
def test_error_classes(status: int, answer: Any, kind: type[Exception]) -> None:
    """Each Graph error code and HTTP status lands in the class that says what to do."""
    error = error_from_answer(status, answer, endpoint="recent_media")
    assert type(error) is kind


def test_error_keeps_meta_identifiers() -> None:
    """code, error_subcode and fbtrace_id survive the mapping and appear in the text."""
    error = error_from_answer(400, body(190, 463), endpoint="tags")
    assert (error.code, error.subcode, error.fbtrace_id, error.endpoint) == (190, 463, "T1", "tags")
    assert "code=190" in str(error)
    assert "fbtrace_id=T1" in str(error)


def test_throttle_carries_retry_after() -> None:
    """A throttle error keeps the regain time it was given."""
    error = error_from_answer(400, body(80002), endpoint="tags", retry_after_s=600)
    assert isinstance(error, ThrottledError)
    assert error.retry_after_s == 600


def test_media_page_tolerates_unknown_fields_and_offsets() -> None:
    """Unknown fields are ignored; Meta's '+0000' timestamps become UTC datetimes."""
    page = parse_media_page(
        {
            "data": [
                {
                    "id": "1",
                    "timestamp": "2026-11-29T10:15:00+0000",
                    "caption": "hi #x",
                    "brand_new_field": {"a": 1},
                }
            ],
            "paging": {"cursors": {"after": "A"}, "next": "https://x/next", "extra": 1},
        },
        endpoint="recent_media",
    )
    assert page.media[0].timestamp == datetime(2026, 11, 29, 10, 15, tzinfo=UTC)
    assert page.media[0].username is None
    assert page.paging.cursors.after == "A"


def test_bad_item_is_rejected_without_losing_the_page() -> None:
    """One media of the wrong shape is reported; the others on the page are kept."""
    page = parse_media_page(
        {"data": [{"id": "1", "timestamp": "2026-11-29T10:15:00+0000"}, {"id": "2"}, "junk"]},
        endpoint="recent_media",
    )
    assert [m.id for m in page.media] == ["1"]
    assert len(page.rejected) == 2


@pytest.mark.parametrize("answer", [{"data": "oops"}, [], "text", {"paging": {}}, None])
def test_page_of_wrong_shape_is_malformed(answer: Any) -> None:
    """A body that is not {data: [...]} raises MalformedResponseError, a retryable error."""
    with pytest.raises(MalformedResponseError):
        parse_media_page(answer, endpoint="recent_media")


def test_id_list() -> None:
    """ig_hashtag_search answers are read as a list of ids; anything else is malformed."""
    assert parse_id_list({"data": [{"id": "17843857450040591"}]}, endpoint="s") == [
        "17843857450040591"
    ]
    with pytest.raises(MalformedResponseError):
        parse_id_list({"data": [{"id": 5}]}, endpoint="s")


@pytest.mark.parametrize(
    "item",
    [
        {"like_count": 2**63},
        {"comments_count": -(2**63) - 1},
        {"like_count": [12]},
        {"caption": 5},
        {"id": 17918195224117851},
        {"timestamp": "yesterday"},
    ],
    ids=[
        "likes-beyond-64-bits",
        "comments-beyond-64-bits",
        "likes-list",
        "caption-int",
        "id-int",
        "timestamp-text",
    ],
)
def test_an_item_with_a_value_mongodb_or_the_model_cannot_hold_is_rejected(
    item: dict[str, Any],
) -> None:
    """A count beyond 64 bits or a field of the wrong type rejects that item, not the page."""
    good = {"id": "1", "timestamp": "2026-11-29T10:15:00+0000", "like_count": 2**63 - 1}
    page = parse_media_page({"data": [good, good | {"id": "2"} | item]}, endpoint="tags")
    assert [m.id for m in page.media] == ["1"]
    assert len(page.rejected) == 1
