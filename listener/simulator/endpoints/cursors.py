"""Paging cursors: opaque to clients, ``base64("kind:part[:part]")`` to the simulator (pure).

Each kind of cursor names its kind first, so a cursor is only ever read as what it was issued
as; anything else (not base64, another kind, missing or non-decimal parts) is refused with
code 100 naming the parameter it came in:

- ``snapshot:N``: a hashtag edge's ``after``, the same on every page of snapshot ``N``;
- ``page:N:OFFSET``: a hashtag edge's ``page_token``, the position ``next`` carries;
- ``offset:I``: ``recently_searched_hashtags``' ``before``/``after``, an index into the list;
- ``key:EPOCH:MEDIA_ID``: ``/tags``' ``before``/``after``, a place in the newest-first list.

The after-only rule of hashtag edges (reference §1c): ``after`` alone "can still be used to get
the next page", the one after the first; with a ``page_token`` both must name one snapshot.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Final

from listener.simulator import errors

Key = tuple[int, str]  # a post's place in a newest-first list: (epoch seconds, media id)

TOP_KEY: Final[Key] = (253402300799, "")  # above every post (9999-12-31): the list's head
_DECIMAL: Final = re.compile(r"[0-9]+")  # ASCII only: int() reads other digits, isdigit() more


@dataclass(frozen=True)
class Position:
    """Where a hashtag edge's page starts: a snapshot, and an offset (``None``: after page one)."""

    snapshot: int
    offset: int | None


def snapshot_cursor(number: int) -> str:
    """A hashtag edge's ``after`` cursor for snapshot ``number``."""
    return _encode("snapshot", number)


def page_token(number: int, offset: int) -> str:
    """A hashtag edge's ``page_token``: snapshot ``number`` from ``offset`` on."""
    return _encode("page", number, offset)


def hashtag_position(after: str | None, token: str | None) -> Position:
    """The position a hashtag edge's ``after`` and ``page_token`` (at least one given) name."""
    offset: int | None = None
    number: int | None = None
    if token is not None:
        number_text, offset_text = _decode(token, "page", 2, "page_token")
        number, offset = _decimal(number_text, "page_token"), _decimal(offset_text, "page_token")
    if after is not None:
        (after_text,) = _decode(after, "snapshot", 1, "after")
        after_number = _decimal(after_text, "after")
        if number is not None and number != after_number:
            raise errors.invalid_cursor("after")
        number = after_number
    if number is None:
        raise ValueError("a hashtag position needs an after cursor or a page_token")
    return Position(number, offset)


def offset_cursor(offset: int) -> str:
    """An index into a plain list (``recently_searched_hashtags``)."""
    return _encode("offset", offset)


def decode_offset(cursor: str, name: str) -> int:
    """The index an `offset_cursor` names; ``name`` is the parameter it came in."""
    (offset,) = _decode(cursor, "offset", 1, name)
    return _decimal(offset, name)


def key_cursor(key: Key) -> str:
    """A place in a newest-first list of posts (``/tags``)."""
    epoch, media_id = key
    return _encode("key", epoch, media_id)


def decode_key(cursor: str, name: str) -> Key:
    """The place a `key_cursor` names; ``name`` is the parameter it came in."""
    epoch, media_id = _decode(cursor, "key", 2, name)
    return _decimal(epoch, name), media_id


def _encode(kind: str, *parts: object) -> str:
    text = ":".join([kind, *(str(part) for part in parts)])
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _decode(cursor: str, kind: str, arity: int, name: str) -> list[str]:
    """The ``arity`` parts of a cursor of ``kind`` (the last may hold ``:``), else code 100."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise errors.invalid_cursor(name) from None
    found, *parts = text.split(":", arity)
    if found != kind or len(parts) != arity:
        raise errors.invalid_cursor(name)
    return parts


def _decimal(text: str, name: str) -> int:
    if not _DECIMAL.fullmatch(text):
        raise errors.invalid_cursor(name)
    return int(text)
