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
from listener.models import Source, SourceKind
from listener.pollers.catchup import CatchUp, after_poll
from listener.pollers.context import PollerContext
from listener.pollers.feed import PagedFeed, PollResult
from listener.pollers.quota import HashtagQuota
from listener.ratelimit.throttle import APP_SCOPE
from listener.store.store import Store

log = structlog.get_logger("listener.pollers")

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


class HashtagFeed(PagedFeed):
    """One hashtag edge polled for one account."""

    def __init__(
        self,
        context: PollerContext,
        *,
        ids: HashtagIds,
        quota: HashtagQuota,
        account: str,
        hashtag: str,
        edge: HashtagEdge,
        interval_s: float,
        page_size: int,
        max_pages: int,
    ) -> None:
        super().__init__(
            context,
            source=Source(EDGE_KIND[edge], account, hashtag),
            scope=APP_SCOPE,  # hashtag endpoints spend Meta's platform (app-wide) rate limit
            interval_s=interval_s,
            page_size=page_size,
            max_pages=max_pages,
        )
        self._ids = ids
        self._quota = quota
        self._edge: HashtagEdge = edge
        self.hashtag = hashtag
        self._catch_up = CatchUp()

    async def poll(self, fence: int | None = None) -> PollResult:
        """Fetch and store pages until nothing new arrives or the page bound; then advance state.

        The hashtag's slot is taken first: no hashtag call, not even the id lookup, reaches
        Meta for a tag the account's 30-in-7-days budget cannot pay.
        """
        who = self._context.accounts.who(self.source.account)
        await self._quota.spend(who.account, self.hashtag)
        hashtag_id = await self._ids.resolve(who, self.hashtag)
        bound = self._catch_up.bound(self.max_pages)
        walk = self._context.api.hashtag_media(
            who, hashtag_id, self._edge, page_size=self.page_size, max_pages=bound
        )
        result = await self._ingest(
            walk, fence=fence, max_pages=bound, catch_up_to=self._catch_up.to
        )
        self._catch_up = after_poll(
            self._catch_up,
            max_pages=self.max_pages,
            pages=result.pages,
            hit_bound=result.hit_bound,
            oldest_read=result.oldest_read,
        )
        if self._catch_up.abandoned:
            # The backlog outgrew what a poll may read: what lies below stays unread (the
            # poll counted as possibly missed), and the feed goes back to reading what is new.
            log.warning(
                "feed.catch_up_abandoned",
                feed=f"{self.source.kind.value}:{self.source.account}:{self.hashtag}",
                pages=result.pages,
            )
        if self._edge != "recent_media":
            # Only recent_media has a 24 h edge; top media may be old and still new to us.
            result = replace(result, oldest_new_age_s=None)
        return result
