"""The tags feed: media in which an account is photo-tagged (``/tags``), with their authors.

``/tags`` is one of the two ways to learn who posted a media (hashtag edges never say), so
these sightings fill in ``username`` on media first seen under a hashtag. It is metered by the
account's business-use-case pool.
"""

from __future__ import annotations

from listener.graph.wire import MediaPage
from listener.models import Source, SourceKind
from listener.pollers.context import PollerContext
from listener.pollers.feed import PagedFeed, PollResult
from listener.ratelimit.throttle import Scope


class TagsFeed(PagedFeed):
    """``/tags`` of one account."""

    def __init__(
        self,
        context: PollerContext,
        *,
        account: str,
        interval_s: float,
        page_size: int,
        max_pages: int,
    ) -> None:
        super().__init__(
            context,
            source=Source(SourceKind.TAGS, account),
            scope=Scope("buc", account),
            interval_s=interval_s,
            page_size=page_size,
            max_pages=max_pages,
        )

    async def poll(self, fence: int | None = None) -> PollResult:
        """Walk ``/tags`` newest first until a page brings nothing new or the page bound."""
        who = self._context.accounts.who(self.source.account)
        walk = self._context.api.tagged_media(
            who, page_size=self.page_size, max_pages=self.max_pages
        )
        result = await self._ingest(walk, fence=fence, max_pages=self.max_pages, more=self._more)
        # Tagged media may be old when first tagged: their age says nothing about a window.
        return PollResult(result.pages, result.new, result.duplicate, result.hit_bound, None)

    def _more(self, page: MediaPage) -> bool:
        # /tags never sends `next`: a full page with an `after` cursor may have a successor.
        return page.paging.cursors.after is not None and len(page.media) >= self.page_size
