"""Hashtag feeds: ``recent_media`` and ``top_media`` of one hashtag for one account.

A poll takes the hashtag's slot of the account's 30-in-7-days budget, resolves its id once
(kept in MongoDB for good), then walks the edge's pages,
storing each page before asking for the next. It stops at the first page that brings nothing
new (what follows was seen before) or at the page bound, and only then advances the feed's
poll state: a crash in between re-polls, it never skips.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

import structlog

from listener.graph.instagram import Credentials, HashtagEdge, InstagramApi
from listener.metrics import Metrics
from listener.models import Source, SourceKind
from listener.pollers.accounts import Accounts
from listener.pollers.feed import PollResult, ingest_pages
from listener.pollers.ingest import Ingestor
from listener.pollers.quota import HashtagQuota
from listener.ratelimit.throttle import APP_SCOPE
from listener.store.store import Store

log = structlog.get_logger("listener.pollers")

CATCH_UP_LIMIT = 5
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


EDGE_KIND: dict[HashtagEdge, SourceKind] = {
    "recent_media": SourceKind.HASHTAG_RECENT,
    "top_media": SourceKind.HASHTAG_TOP,
}


class HashtagIds:
    """Hashtag name → id, from MongoDB or else from ``ig_hashtag_search``, once per name."""

    def __init__(self, api: InstagramApi, store: Store, clock: Callable[[], datetime]) -> None:
        self._api = api
        self._store = store
        self._clock = clock
        self._known: dict[str, str] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def resolve(self, who: Credentials, name: str) -> str:
        """The id of ``name``; concurrent callers for one name share a single lookup."""
        if name in self._known:
            return self._known[name]
        async with self._locks.setdefault(name, asyncio.Lock()):
            if name not in self._known:
                stored = await self._store.feeds.hashtag_id(name)
                if stored is None:
                    stored = await self._api.hashtag_id(who, name)
                    await self._store.feeds.save_hashtag_id(name, stored, self._clock())
                    log.info("hashtag.resolved", hashtag=name, hashtag_id=stored)
                self._known[name] = stored
        return self._known[name]


class HashtagFeed:
    """One hashtag edge polled for one account."""

    scope = APP_SCOPE  # hashtag endpoints spend Meta's platform (app-wide) rate limit

    def __init__(
        self,
        *,
        api: InstagramApi,
        store: Store,
        ingestor: Ingestor,
        ids: HashtagIds,
        quota: HashtagQuota,
        accounts: Accounts,
        metrics: Metrics,
        account: str,
        hashtag: str,
        edge: HashtagEdge,
        interval_s: float,
        page_size: int,
        max_pages: int,
        clock: Callable[[], datetime],
    ) -> None:
        self._api = api
        self._store = store
        self._ingestor = ingestor
        self._ids = ids
        self._quota = quota
        self._accounts = accounts
        self._metrics = metrics
        self._edge: HashtagEdge = edge
        self._max_pages = max_pages
        self._clock = clock
        self.page_size = page_size
        self.interval_s = interval_s
        self.hashtag = hashtag
        self.source = Source(EDGE_KIND[edge], account, hashtag)
        self._catch_up_to: datetime | None = None
        self._last_pages = 0

    @property
    def feature(self) -> str:
        """The bounded ``poller`` metric label, also the feature permissions are checked for."""
        return self.source.kind.value

    async def poll(self, fence: int | None = None) -> PollResult:
        """Fetch and store pages until nothing new arrives or the page bound; then advance state.

        The hashtag's slot is taken first: no hashtag call, not even the id lookup, reaches
        Meta for a tag the account's 30-in-7-days budget cannot pay.
        """
        who = self._accounts.who(self.source.account)
        await self._quota.spend(who.account, self.hashtag)
        hashtag_id = await self._ids.resolve(who, self.hashtag)
        bound = catch_up_bound(
            self._max_pages, self._last_pages if self._catch_up_to is not None else None
        )
        walk = self._api.hashtag_media(
            who, hashtag_id, self._edge, page_size=self.page_size, max_pages=bound
        )
        result = await ingest_pages(
            walk,
            source=self.source,
            store=self._store,
            ingestor=self._ingestor,
            metrics=self._metrics,
            clock=self._clock,
            max_pages=bound,
            fence=fence,
            catch_up_to=self._catch_up_to,
        )
        # Stopped by the page bound with older new media unread: the next poll must read past
        # this poll's pages, down to where this one stopped, before known media mean "done".
        self._last_pages = result.pages
        if result.hit_bound and bound >= self._max_pages * CATCH_UP_LIMIT:
            # The backlog outgrew what a poll may read: what lies below stays unread (the
            # poll counted as possibly missed), and the feed goes back to reading what is new.
            log.warning(
                "feed.catch_up_abandoned",
                feed=f"{self.source.kind.value}:{self.source.account}:{self.hashtag}",
                pages=result.pages,
            )
            self._catch_up_to = None
        elif result.hit_bound:
            marks = [t for t in (self._catch_up_to, result.oldest_read) if t is not None]
            self._catch_up_to = min(marks) if marks else None
        elif self._catch_up_to is None or (
            result.oldest_read is not None and result.oldest_read < self._catch_up_to
        ):
            self._catch_up_to = None
        if self._edge != "recent_media":
            # Only recent_media has a 24 h edge; top media may be old and still new to us.
            result = replace(result, oldest_new_age_s=None)
        return result
