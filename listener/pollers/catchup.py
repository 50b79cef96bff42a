"""Catching up on a backlog: how far a hashtag poll reads, and what it leaves for the next one.

A poll stopped by its page bound with new media still below leaves a backlog. Cursors cannot
skip ahead, so the next poll reads the previous one's pages again before it reaches the unread
ones, and known media above the backlog's floor mean "that poll's", not "the end of what is
new". Pure: the feed keeps a :class:`CatchUp` and replaces it after every poll.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

CATCH_UP_LIMIT: Final = 5
"""A poll catching up on a backlog reads at most this many times the page bound."""


def catch_up_bound(max_pages: int, last_pages: int | None) -> int:
    """The page bound of a poll: ``max_pages``, or more while catching up on a backlog.

    ``last_pages`` is how many pages the previous poll read when it stopped at its bound with
    new media still below (``None`` when not catching up). Cursors cannot skip ahead, so the
    next poll reads those pages again before it reaches the unread ones: it may read them plus
    ``max_pages`` more, which keeps every poll's progress at ``max_pages`` pages, up to
    :data:`CATCH_UP_LIMIT` times the bound.
    """
    if last_pages is None:
        return max_pages
    return min(max_pages + last_pages, max_pages * CATCH_UP_LIMIT)


@dataclass(frozen=True)
class CatchUp:
    """Where a feed stands on its backlog.

    ``to``: older media are unread down to this time (``None``: no backlog). ``last_pages``:
    how many pages the last poll read. ``abandoned``: the last poll gave the backlog up, as it
    outgrew what a poll may read.
    """

    to: datetime | None = None
    last_pages: int = 0
    abandoned: bool = False

    def bound(self, max_pages: int) -> int:
        """The page bound of the next poll."""
        return catch_up_bound(max_pages, self.last_pages if self.to is not None else None)


def after_poll(
    state: CatchUp,
    *,
    max_pages: int,
    pages: int,
    hit_bound: bool,
    oldest_read: datetime | None,
) -> CatchUp:
    """The backlog after a poll of ``state.bound(max_pages)`` pages that read ``pages``.

    Stopped by the bound with older new media unread: the next poll must read past this one's
    pages, down to the lower of the old floor and where this one stopped. Stopped by the bound
    at the catch-up limit: what lies below stays unread and the feed goes back to reading what
    is new. Not stopped by the bound: the backlog is read once the poll went below its floor.
    """
    if hit_bound and state.bound(max_pages) >= max_pages * CATCH_UP_LIMIT:
        return CatchUp(None, pages, abandoned=True)
    if hit_bound:
        marks = [t for t in (state.to, oldest_read) if t is not None]
        return CatchUp(min(marks) if marks else None, pages)
    if state.to is None or (oldest_read is not None and oldest_read < state.to):
        return CatchUp(None, pages)
    return CatchUp(state.to, pages)
