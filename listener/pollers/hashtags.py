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
from contextlib import aclosing
from datetime import datetime

import structlog

from listener.graph.instagram import Credentials, HashtagEdge, InstagramApi
from listener.metrics import Metrics
from listener.models import Sighting, Source, SourceKind
from listener.pollers.accounts import Accounts
from listener.pollers.feed import PollResult
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


class HashtagFeed:
    """One hashtag edge polled for one account."""

    scope = APP_SCOPE  # hashtag endpoints spend Meta's platform (app-wide) rate limit

    def __init__(
        self,
        *,
        api: InstagramApi,
        store: Store,
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

    @property
    def feature(self) -> str:
        """The bounded ``poller`` metric label, also the feature permissions are checked for."""
        return self.source.kind.value

    async def poll(self) -> PollResult:
        """Fetch and store pages until nothing new arrives or the page bound; then advance state.

        The hashtag's slot is taken first: no hashtag call, not even the id lookup, reaches
        Meta for a tag the account's 30-in-7-days budget cannot pay.
        """
        who = self._accounts.who(self.source.account)
        await self._quota.spend(who.account, self.hashtag)
        hashtag_id = await self._ids.resolve(who, self.hashtag)
        pages = new = duplicate = 0
        oldest_new: datetime | None = None
        more_unread = False
        media_pages = self._api.hashtag_media(
            who, hashtag_id, self._edge, page_size=self.page_size, max_pages=self._max_pages
        )
        async with aclosing(media_pages) as walk:
            async for page in walk:
                pages += 1
                now = self._clock()
                result = await self._store.media.ingest(
                    Sighting(media, self.source, now) for media in page.media
                )
                self._count(len(result.new), len(result.duplicate))
                new += len(result.new)
                duplicate += len(result.duplicate)
                fresh = set(result.new)
                for media in page.media:
                    if media.id in fresh and (oldest_new is None or media.timestamp < oldest_new):
                        oldest_new = media.timestamp
                # More pages after a page that was still new: only the page bound stopped us.
                more_unread = bool(result.new) and page.paging.next is not None
                if not result.new:
                    break
        now = self._clock()
        self._metrics.poll_pages.labels(self.feature, who.account).inc(pages)
        await self._store.feeds.record_success(self.source, now=now, new=new, pages=pages)
        return PollResult(
            pages=pages,
            new=new,
            duplicate=duplicate,
            hit_bound=pages >= self._max_pages and more_unread,
            oldest_new_age_s=None if oldest_new is None else (now - oldest_new).total_seconds(),
        )

    def _count(self, new: int, duplicate: int) -> None:
        labels = (self.source.kind.value, self.source.metric_hashtag)
        if new:
            self._metrics.media_ingested.labels(*labels, "new").inc(new)
        if duplicate:
            self._metrics.media_ingested.labels(*labels, "duplicate").inc(duplicate)
