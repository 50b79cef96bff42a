"""What every feed is to the scheduler, and the page walk every feed shares.

A feed is a source, a rate-limit scope, a target interval and a poll. :func:`ingest_pages`
stores each page before asking for the next, stops at the first page that brings nothing new
or that ends in a run of media already stored (what follows was seen before), or at the page
bound, and only then advances the feed's poll state: a crash in between re-polls, it never
skips.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from listener.errors import LeaseLostError
from listener.graph.wire import TIMESTAMP_RESOLUTION, MediaPage
from listener.models import Media, Sighting, Source
from listener.pollers.context import PollerContext
from listener.ratelimit.throttle import Scope
from listener.store.media import IngestResult


@dataclass(frozen=True)
class PollResult:
    """What one poll did, as the scheduler needs it to pace the next one.

    ``hit_bound``: the poll stopped at its page bound while pages still brought new media.
    ``oldest_new_age_s``: age of the oldest media that was new to us (``None`` if none was).
    ``oldest_read``: the oldest media time on the last page read.
    """

    pages: int
    new: int
    duplicate: int
    hit_bound: bool = False
    oldest_new_age_s: float | None = None
    oldest_read: datetime | None = None


class Feed(Protocol):
    """Something the scheduler polls on an interval."""

    source: Source
    scope: Scope
    interval_s: float
    page_size: int

    @property
    def feature(self) -> str:
        """The feature the feed serves (``hashtag_recent``, ``tags``…): metric label, permission."""
        ...

    async def poll(self, fence: int | None = None) -> PollResult:
        """One poll; raises the error tree's errors on failure.

        ``fence`` is the lease token under which the feed's state may be advanced.
        """
        ...


KNOWN_TAIL = 5
"""A page ending in this many media already stored reached what earlier polls read."""


def _settled(media: Sequence[Media], covered_to: datetime | None) -> bool:
    """Whether all of ``media`` were published before ``covered_to``, the start of the last poll
    that recorded success: only there do known media prove that what follows was read.

    Above it, known media may be a poll's that was cut short (a crash, an error, a lost lease):
    it stored the pages it read and left media it never read below them. Meta's timestamps
    drop the fraction of a second, so a media stamped in the second that poll began may have
    been published after it: only a stamp a whole resolution below ``covered_to`` proves it.
    """
    return covered_to is not None and all(
        m.timestamp + TIMESTAMP_RESOLUTION <= covered_to for m in media
    )


def _known_tail(page: MediaPage, result: IngestResult) -> bool:
    """Whether the page ends in a run of known media: the rest of the listing is older still.

    Feeds list newest first, give or take a few places (recent_media is "not always in
    chronological order"), so a run of known media at the end of a page means the next page
    would bring nothing new: reading it costs a call and finds nothing.
    """
    if len(page.media) < KNOWN_TAIL:
        return False
    known = set(result.duplicate)
    return all(media.id in known for media in page.media[-KNOWN_TAIL:])


@dataclass
class _Tally:
    """What a walk has read so far."""

    pages: int = 0
    new: int = 0
    duplicate: int = 0
    oldest_new: datetime | None = None
    oldest_read: datetime | None = None
    more_unread: bool = False

    def add(self, page: MediaPage, result: IngestResult) -> None:
        """Count one stored page."""
        self.pages += 1
        self.new += len(result.new)
        self.duplicate += len(result.duplicate)
        fresh = set(result.new)
        for media in page.media:
            if media.id in fresh and (self.oldest_new is None or media.timestamp < self.oldest_new):
                self.oldest_new = media.timestamp
        if page.media:
            self.oldest_read = min(m.timestamp for m in page.media)

    def catching_up(self, catch_up_to: datetime | None) -> bool:
        """Whether the walk is still above the backlog's floor ``catch_up_to``."""
        return (
            catch_up_to is not None
            and self.oldest_read is not None
            and self.oldest_read >= catch_up_to
        )


def next_link(page: MediaPage) -> bool:
    """Whether Meta has a page after ``page``: it says so with a ``next`` link."""
    return page.paging.next is not None


def _done(page: MediaPage, result: IngestResult, covered_to: datetime | None) -> bool:
    """Whether the page shows that what follows was read before."""
    return (not result.new and _settled(page.media, covered_to)) or (
        _known_tail(page, result) and _settled(page.media[-KNOWN_TAIL:], covered_to)
    )


async def ingest_pages(
    pages: AsyncGenerator[MediaPage, None],
    *,
    context: PollerContext,
    source: Source,
    max_pages: int,
    more: Callable[[MediaPage], bool] = next_link,
    fence: int | None = None,
    catch_up_to: datetime | None = None,
) -> PollResult:
    """Store pages from ``pages`` until one brings nothing new; then advance the feed state.

    ``more`` tells whether Meta has a page after this one (a ``next`` link by default).
    ``catch_up_to``: the previous poll stopped at its page bound with older media unread, down
    to this time; known media above it are that poll's, not the end of what is new, so the
    walk goes on until it is below it.
    """
    store, clock = context.store, context.clock
    started = clock()
    covered_to = (await store.feeds.state(source)).covered_to
    tally = _Tally()
    async with aclosing(pages) as walk:
        async for page in walk:
            now = clock()
            result = await context.ingestor.ingest([Sighting(m, source, now) for m in page.media])
            tally.add(page, result)
            catching_up = tally.catching_up(catch_up_to)
            done = _done(page, result, covered_to)
            # More pages after a page that was still new: only the page bound stopped us.
            tally.more_unread = more(page) and (not done or catching_up)
            if done and not catching_up:
                break
    now = clock()
    context.metrics.poll_pages.labels(source.kind.value, source.account).inc(tally.pages)
    if not await store.feeds.record_success(
        source, now=now, new=tally.new, pages=tally.pages, fence=fence, covered_to=started
    ):
        raise LeaseLostError(f"feed {source.kind.value}:{source.account} is another replica's now")
    oldest_new = tally.oldest_new
    return PollResult(
        pages=tally.pages,
        new=tally.new,
        duplicate=tally.duplicate,
        hit_bound=tally.pages >= max_pages and tally.more_unread,
        oldest_new_age_s=None if oldest_new is None else (now - oldest_new).total_seconds(),
        oldest_read=tally.oldest_read,
    )


class PagedFeed:
    """What the hashtag and ``/tags`` feeds share: a source, a scope, an interval, page bounds,
    and the page walk of :func:`ingest_pages` on the shared :class:`PollerContext`."""

    def __init__(
        self,
        context: PollerContext,
        *,
        source: Source,
        scope: Scope,
        interval_s: float,
        page_size: int,
        max_pages: int,
    ) -> None:
        self._context = context
        self.source = source
        self.scope = scope
        self.interval_s = interval_s
        self.page_size = page_size
        self.max_pages = max_pages

    @property
    def feature(self) -> str:
        """The bounded ``poller`` metric label, also the feature permissions are checked for."""
        return self.source.kind.value

    async def _ingest(
        self,
        walk: AsyncGenerator[MediaPage, None],
        *,
        fence: int | None,
        max_pages: int,
        more: Callable[[MediaPage], bool] = next_link,
        catch_up_to: datetime | None = None,
    ) -> PollResult:
        """Store ``walk``'s pages as :func:`ingest_pages` does, for this feed."""
        return await ingest_pages(
            walk,
            context=self._context,
            source=self.source,
            max_pages=max_pages,
            fence=fence,
            more=more,
            catch_up_to=catch_up_to,
        )
