"""The comments poller: the comments of an account's own posts, read page by page.

One feed per account with ``comments = true``. A poll lists the account's media
(``/{ig-user-id}/media``, newest first: one call for the usual ``polling.comment_posts``), which
gives each post's ``comments_count`` and ``is_comment_enabled`` and resolves the campaigns'
permalinks (kept in ``comment_posts``), then reads the top-level comments of the campaign
posts and of the most recent posts (``/{ig-media-id}/comments``, 50 a page).

**Reads.** Each page is stored before the next is asked for, and the page's ``after`` cursor is
saved with the post's progress (``comment_polls``): a poll cut short (a crash, the stop, the
per-poll page bound :data:`READ_PAGES`) resumes from there, so a 50,000-comment post costs
⌈50,000 ÷ 50⌉ comment calls once, plus the media listing once per poll. A read resumed from a
cursor always goes on to the end.

**Later polls read only what is new, whatever the page order.** Meta does not document the
order of comment pages (tools describe newest first). A read from the first page stops early
at a page that brought nothing new only when :func:`may_stop` says so: every comment on it was
published before the last read that covered the post began, *and* either the post's stored
comments reach its ``comments_count`` (nothing can be missing) or a full read ended less than
:data:`FULL_READ_EVERY_S` ago. Otherwise it reads on to the end. If the order is not newest
first, a comment is therefore never lost: at worst it waits for the next full read.

**Bad input.** A post with comments turned off is not read (logged once, and again when they
are back on); a post Meta no longer serves to the account (deleted, or not the account's:
100/33) is skipped, logged once. A permission error (code 10/200: no manage-comments
permission) ends the poll and the scheduler turns the account's ``comments`` feature off,
stated once (:mod:`listener.pollers.accounts`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

import structlog

from listener.errors import (
    BadRequestError,
    ConfigError,
    GraphError,
    LeaseLostError,
    ObjectUnavailableError,
    StoreUnavailableError,
)
from listener.graph.instagram import Credentials, InstagramApi
from listener.graph.wire import CommentPage
from listener.models import CommentSource, Source, SourceKind
from listener.pollers.comment_ingest import CommentIngestor
from listener.pollers.context import PollerContext
from listener.pollers.feed import PollResult
from listener.ratelimit.throttle import Scope
from listener.settings import shortcode

log = structlog.get_logger("listener.pollers")

COMMENTS_PAGE: Final = 50
"""Comments per page: the most the comments edge gives."""
MEDIA_PAGE: Final = 50
"""Media per page of the account's listing."""
READ_PAGES: Final = 200
"""Comment pages one poll reads of one post (10,000 comments); the rest on the next poll."""
FULL_READ_EVERY_S: Final = 24 * 3600.0
"""How long early stops are trusted without the count check after a full read ends."""


@dataclass(frozen=True)
class Post:
    """A post whose comments are read, as the media listing described it (when it did)."""

    media_id: str
    comments_count: int | None = None
    enabled: bool = True


@dataclass(frozen=True)
class Progress:
    """A post's stored read progress (``comment_polls``)."""

    cursor: str | None = None
    """The ``after`` cursor of the last page stored by an unfinished read."""
    started_at: datetime | None = None
    """When that unfinished read began."""
    covered_to: datetime | None = None
    """When the last read that covered the post (to the end, or to a trusted stop) began."""
    full_at: datetime | None = None
    """When the last read that went to the end finished."""
    base_stored: int | None = None
    """Comments of the post stored when that full read finished."""
    base_count: int | None = None
    """The post's ``comments_count`` as listed before that full read."""

    @classmethod
    def of(cls, document: Mapping[str, object]) -> Progress:
        """The progress a ``comment_polls`` document holds."""

        def moment(key: str) -> datetime | None:
            value = document.get(key)
            return value if isinstance(value, datetime) else None

        def number(key: str) -> int | None:
            value = document.get(key)
            return value if isinstance(value, int) else None

        cursor = document.get("cursor")
        return cls(
            cursor=cursor if isinstance(cursor, str) else None,
            started_at=moment("started_at"),
            covered_to=moment("covered_to"),
            full_at=moment("full_at"),
            base_stored=number("base_stored"),
            base_count=number("base_count"),
        )


KNOWN_TAIL: Final = 5
"""A page ending in this many known, covered comments reached what earlier reads stored."""


def may_stop(
    *,
    tail_new: int,
    tail_times: Sequence[datetime | None],
    progress: Progress,
    stored: int,
    comments_count: int | None,
    now: datetime,
    full_every: timedelta = timedelta(seconds=FULL_READ_EVERY_S),
) -> bool:
    """Whether a read from the first page may stop after this page (pure; see the module).

    ``tail_new``/``tail_times``: how many of the last :data:`KNOWN_TAIL` comments of the page
    were new, and their times. ``stored``: comments of the post in the store now, replies
    included (``comments_count`` counts them too). The count check compares growth since the
    last full read: every comment Meta counts since then must be one stored since then.
    """
    covered_to = progress.covered_to
    if tail_new or covered_to is None or progress.full_at is None:
        return False
    if not all(t is not None and t <= covered_to for t in tail_times):
        return False
    if now - progress.full_at >= full_every:
        return False
    if comments_count is None or progress.base_count is None or progress.base_stored is None:
        return True  # a post the listing did not show: the recent full read vouches
    return stored - progress.base_stored >= comments_count - progress.base_count


@dataclass(frozen=True)
class PostRead:
    """What reading one post's comments did in one poll."""

    calls: int
    new: int
    duplicate: int
    unfinished: bool


class CommentsFeed:
    """The comments of one account's campaign posts and most recent posts."""

    def __init__(
        self,
        context: PollerContext,
        *,
        ingestor: CommentIngestor,
        account: str,
        posts: Sequence[str],
        permalinks: Mapping[str, str],
        recent: int,
        interval_s: float,
        read_pages: int = READ_PAGES,
        listing_pages: int = 10,
    ) -> None:
        """``posts``: campaign posts given as media ids; ``permalinks``: shortcode → permalink
        of those given as permalinks; ``recent``: how many of the newest posts to read too.
        ``ingestor``: the comments' own (the context's stores media)."""
        self._api = context.api
        self._store = context.store
        self._ingestor = ingestor
        self._accounts = context.accounts
        self._metrics = context.metrics
        clock = context.clock
        self._posts = tuple(dict.fromkeys(posts))
        self._permalinks = dict(permalinks)
        self._recent = recent
        self._clock = clock
        self._read_pages = read_pages
        self._listing_pages = listing_pages
        self._turned_off: set[str] = set()
        self._unavailable: set[str] = set()
        self._unresolved_logged = False
        self.unresolved: list[str] = []
        """Campaign permalinks the last listing read did not find among the account's media."""
        self.page_size = COMMENTS_PAGE
        self.interval_s = interval_s
        self.scope = Scope("buc", account)
        self.source = Source(SourceKind.COMMENTS, account)

    @property
    def feature(self) -> str:
        """The bounded ``poller`` metric label, also the feature permissions are checked for."""
        return self.source.kind.value

    @property
    def has_permalinks(self) -> bool:
        """Whether a campaign post is given as a permalink (resolved through the listing)."""
        return bool(self._permalinks)

    @property
    def account(self) -> str:
        """The account whose posts are read."""
        return self.source.account

    async def poll(self, fence: int | None = None) -> PollResult:
        """List the account's media, then read the comments of each post due."""
        started = self._clock()
        targets, calls = await self.targets()
        new = duplicate = 0
        unfinished = False
        for post in targets:
            if not self._readable(post):
                continue
            try:
                read = await self.read(post)
            except ObjectUnavailableError as exc:
                if post.media_id not in self._unavailable:
                    self._unavailable.add(post.media_id)
                    log.warning(
                        "comments.post_unavailable",
                        account=self.account,
                        media_id=post.media_id,
                        error=str(exc),
                    )
                continue
            self._unavailable.discard(post.media_id)
            calls += read.calls
            new += read.new
            duplicate += read.duplicate
            unfinished = unfinished or read.unfinished
        now = self._clock()
        self._metrics.poll_pages.labels(self.feature, self.account).inc(calls)
        if not await self._store.feeds.record_success(
            self.source, now=now, new=new, pages=calls, fence=fence, covered_to=started
        ):
            raise LeaseLostError(f"feed comments:{self.account} is another replica's now")
        return PollResult(pages=calls, new=new, duplicate=duplicate, hit_bound=unfinished)

    def _readable(self, post: Post) -> bool:
        """Whether the post's comments are on; a change either way is logged once."""
        if not post.enabled:
            if post.media_id not in self._turned_off:
                self._turned_off.add(post.media_id)
                log.info("comments.turned_off", account=self.account, media_id=post.media_id)
            return False
        if post.media_id in self._turned_off:
            self._turned_off.discard(post.media_id)
            log.info("comments.turned_on", account=self.account, media_id=post.media_id)
        return True

    async def targets(self) -> tuple[list[Post], int]:
        """The posts to read (campaign posts first), and the listing calls it took.

        Reads the listing until it holds the ``recent`` newest posts and every campaign
        permalink not resolved before (resolutions are kept), or it ends.
        """
        known = await self._store.comment_polls.resolutions(self.account)
        wanted = {code for code in self._permalinks if code not in known}
        listed: dict[str, Post] = {}
        newest: list[str] = []
        found: dict[str, str] = {}
        calls = 0
        if self._recent or wanted or self._posts or self._permalinks:
            who = self._accounts.who(self.account)
            pages = self._api.own_media(who, page_size=MEDIA_PAGE, max_pages=self._listing_pages)
            async with aclosing(pages) as walk:
                async for page in walk:
                    calls += 1
                    for media in page.media:
                        enabled = page.comments_enabled.get(media.id, True)
                        listed[media.id] = Post(media.id, media.comments_count, enabled)
                        if len(newest) < self._recent:
                            newest.append(media.id)
                        code = shortcode(media.permalink) if media.permalink else None
                        if code in wanted:
                            found[code] = media.id
                            wanted.discard(code)
                    if len(newest) >= self._recent and not wanted:
                        break
        if found:
            await self._store.comment_polls.save_resolutions(self.account, found)
            known = {**known, **found}
        self.unresolved = sorted(self._permalinks[c] for c in wanted)
        if wanted and not self._unresolved_logged:
            self._unresolved_logged = True
            log.error(
                "comments.post_not_found",
                account=self.account,
                permalinks=self.unresolved,
                action="fix the campaign's posts: they are not among the account's media",
            )
        campaign = [*self._posts, *(known[c] for c in self._permalinks if c in known)]
        order = dict.fromkeys([*campaign, *newest])
        return [listed.get(media_id, Post(media_id)) for media_id in order], calls

    async def read(self, post: Post) -> PostRead:
        """Read the post's comments from its saved cursor, or from the first page (see module)."""
        polls = self._store.comment_polls
        progress = Progress.of(await polls.load(post.media_id))
        resuming = progress.cursor is not None
        started = progress.started_at if resuming and progress.started_at else self._clock()
        who = self._accounts.who(self.account)
        after = progress.cursor
        calls = new = duplicate = 0
        while calls < self._read_pages:
            try:
                page = await self._api.comment_page(
                    who, post.media_id, page_size=COMMENTS_PAGE, after=after
                )
            except BadRequestError:
                if after is None:
                    raise
                # A cursor Meta no longer takes: read again from the first page next time.
                log.warning("comments.cursor_refused", account=self.account, media_id=post.media_id)
                await polls.save(post.media_id, {"cursor": None, "started_at": None})
                return PostRead(calls + 1, new, duplicate, unfinished=True)
            calls += 1
            now = self._clock()
            result = await self._ingestor.ingest(page.comments, CommentSource.POLL, now)
            new += len(result.new)
            duplicate += len(result.duplicate)
            if _last(page):
                stored = await self._store.comments.count_on(post.media_id)
                fields = _finished(started) | {"full_at": now, "base_stored": stored}
                fields["base_count"] = post.comments_count
                await polls.save(post.media_id, fields)
                return PostRead(calls, new, duplicate, unfinished=False)
            if not resuming and await self._may_stop(post, page, set(result.new), progress, now):
                await polls.save(post.media_id, _finished(started))
                return PostRead(calls, new, duplicate, unfinished=False)
            after = page.paging.cursors.after
            await polls.save(
                post.media_id, {"account": self.account, "cursor": after, "started_at": started}
            )
        return PostRead(calls, new, duplicate, unfinished=True)

    async def _may_stop(
        self, post: Post, page: CommentPage, new: set[str], progress: Progress, now: datetime
    ) -> bool:
        tail = page.comments[-KNOWN_TAIL:]
        tail_new = sum(c.id in new for c in tail)
        if tail_new or not tail:
            return False
        return may_stop(
            tail_new=tail_new,
            tail_times=[c.timestamp for c in tail],
            progress=progress,
            stored=await self._store.comments.count_on(post.media_id),
            comments_count=post.comments_count,
            now=now,
        )


def _last(page: CommentPage) -> bool:
    """Whether no page follows this one."""
    return not page.paging.next or not page.paging.cursors.after


def _finished(started: datetime) -> dict[str, object]:
    """The progress fields of a read that covered the post."""
    return {"cursor": None, "started_at": None, "covered_to": started}


async def refuse_foreign_posts(feeds: Sequence[object]) -> None:
    """At the worker's start: resolve each comments poller's campaign permalinks (kept for
    good); :class:`ConfigError` (one line, exit 2) naming a permalink that is not among the
    account's media. A Graph error here is logged, not fatal: the poller resolves later."""
    for feed in feeds:
        if not isinstance(feed, CommentsFeed) or not feed.has_permalinks:
            continue
        try:
            await feed.targets()
        except (GraphError, StoreUnavailableError) as exc:
            log.warning("comments.resolve_failed", account=feed.account, error=str(exc))
            continue
        if feed.unresolved:
            raise ConfigError(not_theirs(feed.account, feed.unresolved))


async def foreign_permalinks(
    api: InstagramApi, who: Credentials, permalinks: Sequence[str], *, max_pages: int
) -> list[str]:
    """The ``permalinks`` that are not among the account's media (``listener check``)."""
    wanted = {code: p for p in permalinks if (code := shortcode(p)) is not None}
    pages = api.own_media(who, page_size=MEDIA_PAGE, max_pages=max_pages)
    async with aclosing(pages) as walk:
        async for page in walk:
            for media in page.media:
                wanted.pop((shortcode(media.permalink) if media.permalink else None) or "", None)
            if not wanted:
                break
    return sorted(wanted.values())


def not_theirs(account: str, permalinks: Sequence[str]) -> str:
    """The one-line problem of campaign permalinks that are not the account's."""
    return (
        f"campaign post {permalinks[0]} is not among account {account!r}'s media: give one of "
        "its own posts (a permalink or a media id)"
    )
