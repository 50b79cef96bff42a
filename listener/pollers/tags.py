"""The tags feed: media in which an account is photo-tagged (``/tags``), with their authors.

``/tags`` is one of the two ways to learn who posted a media (hashtag edges never say), so
these sightings fill in ``username`` on media first seen under a hashtag. It is metered by the
account's business-use-case pool.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from listener.graph.instagram import InstagramApi
from listener.graph.wire import MediaPage
from listener.metrics import Metrics
from listener.models import Source, SourceKind
from listener.pollers.accounts import Accounts
from listener.pollers.feed import PollResult, ingest_pages
from listener.pollers.ingest import Ingestor
from listener.ratelimit.throttle import Scope
from listener.store.store import Store


class TagsFeed:
    """``/tags`` of one account."""

    def __init__(
        self,
        *,
        api: InstagramApi,
        store: Store,
        ingestor: Ingestor,
        accounts: Accounts,
        metrics: Metrics,
        account: str,
        interval_s: float,
        page_size: int,
        max_pages: int,
        clock: Callable[[], datetime],
    ) -> None:
        self._api = api
        self._store = store
        self._ingestor = ingestor
        self._accounts = accounts
        self._metrics = metrics
        self._max_pages = max_pages
        self._clock = clock
        self.page_size = page_size
        self.interval_s = interval_s
        self.scope = Scope("buc", account)
        self.source = Source(SourceKind.TAGS, account)

    @property
    def feature(self) -> str:
        """The bounded ``poller`` metric label, also the feature permissions are checked for."""
        return self.source.kind.value

    async def poll(self, fence: int | None = None) -> PollResult:
        """Walk ``/tags`` newest first until a page brings nothing new or the page bound."""
        who = self._accounts.who(self.source.account)
        walk = self._api.tagged_media(who, page_size=self.page_size, max_pages=self._max_pages)
        result = await ingest_pages(
            walk,
            source=self.source,
            store=self._store,
            ingestor=self._ingestor,
            metrics=self._metrics,
            clock=self._clock,
            max_pages=self._max_pages,
            more=self._more,
            fence=fence,
        )
        # Tagged media may be old when first tagged: their age says nothing about a window.
        return PollResult(result.pages, result.new, result.duplicate, result.hit_bound, None)

    def _more(self, page: MediaPage) -> bool:
        # /tags never sends `next`: a full page with an `after` cursor may have a successor.
        return page.paging.cursors.after is not None and len(page.media) >= self.page_size
