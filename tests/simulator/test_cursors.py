"""Paging cursors by table: round trips, malformed and foreign cursors, the after-only rule."""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from listener.simulator.endpoints import cursors
from listener.simulator.endpoints.cursors import Position
from listener.simulator.errors import GraphError
from tests.simulator.harness import BRAND, START, Client


def raw(text: str | bytes) -> str:
    """A cursor carrying ``text`` as the simulator encodes its cursors (unpadded urlsafe)."""
    data = text.encode() if isinstance(text, str) else text
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def as_after(cursor: str) -> object:
    """Read ``cursor`` as a hashtag edge's ``after``."""
    return cursors.hashtag_position(cursor, None)


def as_page_token(cursor: str) -> object:
    """Read ``cursor`` as a hashtag edge's ``page_token``."""
    return cursors.hashtag_position(None, cursor)


def as_offset(cursor: str) -> object:
    """Read ``cursor`` as ``recently_searched_hashtags``' ``after``."""
    return cursors.decode_offset(cursor, "after")


def as_key(cursor: str) -> object:
    """Read ``cursor`` as ``/tags``' ``after``."""
    return cursors.decode_key(cursor, "after")


Reader = Callable[[str], object]
READERS: dict[str, tuple[Reader, str]] = {  # kind → (reader, the parameter it reports)
    "snapshot": (as_after, "after"),
    "page": (as_page_token, "page_token"),
    "offset": (as_offset, "after"),
    "key": (as_key, "after"),
}
ISSUED = {  # kind → a cursor of that kind as the simulator issues it
    "snapshot": cursors.snapshot_cursor(3),
    "page": cursors.page_token(3, 50),
    "offset": cursors.offset_cursor(3),
    "key": cursors.key_cursor((1764417600, "17900000000000003")),
}


@pytest.mark.parametrize(
    ("cursor", "reader", "expected"),
    [
        (cursors.snapshot_cursor(7), as_after, Position(7, None)),
        (cursors.page_token(7, 50), as_page_token, Position(7, 50)),
        (cursors.page_token(0, 0), as_page_token, Position(0, 0)),
        (cursors.offset_cursor(0), as_offset, 0),
        (cursors.offset_cursor(30), as_offset, 30),
        (
            cursors.key_cursor((1764417600, "17900000000000003")),
            as_key,
            (1764417600, "17900000000000003"),
        ),
        (cursors.key_cursor((0, "id:with:colons")), as_key, (0, "id:with:colons")),
        (cursors.key_cursor(cursors.TOP_KEY), as_key, cursors.TOP_KEY),
    ],
)
def test_issued_cursor_reads_back_as_what_it_names(
    cursor: str, reader: Reader, expected: object
) -> None:
    """Every cursor the simulator issues decodes to the position it was made from."""
    assert reader(cursor) == expected


@pytest.mark.parametrize(
    ("cursor", "kind"),
    [
        ("x", "offset"),  # not base64: one character too many
        ("!!!!", "offset"),  # no base64 alphabet at all
        (raw(b"\xff\xfe:1"), "offset"),  # not UTF-8
        (raw(""), "offset"),
        (raw("offset"), "offset"),
        (raw("offset:"), "offset"),
        (raw("offset:-1"), "offset"),
        (raw("offset:1.5"), "offset"),
        (raw("offset:²"), "offset"),  # a digit to str.isdigit, not to int()
        (raw("offset:٣"), "offset"),  # an Arabic-Indic three: decimal, but not ASCII
        (raw("offset:1:2"), "offset"),
        (raw("OFFSET:1"), "offset"),
        (raw("snapshot:x"), "snapshot"),
        (raw("snapshot:1:2"), "snapshot"),
        (raw("snapshot: 1"), "snapshot"),
        (raw("page:1"), "page"),
        (raw("page:1:x"), "page"),
        (raw("page::1"), "page"),
        (raw("key:abc:1"), "key"),
        (raw("key:1"), "key"),
        (raw("key:²:1"), "key"),
        (raw("1764417600:17900000000000003"), "key"),  # no kind at all
    ],
)
def test_malformed_cursor_is_code_100_naming_its_parameter(cursor: str, kind: str) -> None:
    """A cursor that is not what the simulator issues is refused with 100 for its parameter."""
    reader, name = READERS[kind]
    with pytest.raises(GraphError) as caught:
        reader(cursor)
    assert (caught.value.code, caught.value.http_status) == (100, 400)
    assert f"The {name} cursor" in caught.value.message


@pytest.mark.parametrize(
    ("issued", "read_as"),
    [(issued, read_as) for issued in ISSUED for read_as in READERS if issued != read_as],
)
def test_cursor_of_another_kind_is_refused(issued: str, read_as: str) -> None:
    """A cursor is only ever read as the kind it was issued as, never misread as another."""
    reader, name = READERS[read_as]
    with pytest.raises(GraphError) as caught:
        reader(ISSUED[issued])
    assert caught.value.code == 100
    assert f"The {name} cursor" in caught.value.message


@pytest.mark.parametrize(
    ("after", "page_token", "expected"),
    [
        (cursors.snapshot_cursor(4), None, Position(4, None)),  # after alone: page two
        (None, cursors.page_token(4, 75), Position(4, 75)),
        (cursors.snapshot_cursor(4), cursors.page_token(4, 75), Position(4, 75)),
        (cursors.snapshot_cursor(5), cursors.page_token(4, 75), "after"),  # two snapshots
        (cursors.snapshot_cursor(4), raw("page:4:x"), "page_token"),
        (raw("snapshot:x"), cursors.page_token(4, 75), "after"),
    ],
)
def test_after_only_rule(after: str | None, page_token: str | None, expected: object) -> None:
    """``after`` alone means the page after the first; with a page_token both name one snapshot."""
    if isinstance(expected, Position):
        assert cursors.hashtag_position(after, page_token) == expected
        return
    with pytest.raises(GraphError) as caught:
        cursors.hashtag_position(after, page_token)
    assert f"The {expected} cursor" in caught.value.message


def test_hashtag_position_needs_a_cursor() -> None:
    """Asking for a position with neither cursor is a programming error, not a Graph answer."""
    with pytest.raises(ValueError, match="after cursor or a page_token"):
        cursors.hashtag_position(None, None)


async def test_non_ascii_digit_in_a_cursor_is_code_100_over_http(sim: Client) -> None:
    """A cursor whose number int() cannot read answers 100, not a server error."""
    path = f"/{BRAND.ig_user_id}/recently_searched_hashtags"
    reply = await sim.get(path, after=raw("offset:²"))
    assert (reply.status, reply.error["code"]) == (400, 100)


async def test_hashtag_page_token_is_refused_as_a_tags_cursor(sim: Client) -> None:
    """A hashtag edge's page_token sent to /tags as ``after`` is refused, not read as a place."""
    for minutes in range(3):
        sim.world.add_post(hashtags=["summerdrop"], timestamp=START - timedelta(minutes=minutes))
    first = await sim.media("summerdrop", limit="1")
    page_token = parse_qs(urlsplit(first.body["paging"]["next"]).query)["page_token"][0]
    reply = await sim.get(f"/{BRAND.ig_user_id}/tags", after=page_token)
    assert (reply.status, reply.error["code"]) == (400, 100)
