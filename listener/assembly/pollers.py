"""The pollers as the worker runs them: the feeds (hashtags, tags, comments), the webhook inbox
and the scheduler."""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

from listener.graph.instagram import HashtagEdge
from listener.metrics import Metrics
from listener.pollers.accounts import Accounts
from listener.pollers.comment_events import CommentEvents
from listener.pollers.comment_ingest import CommentIngestor
from listener.pollers.comments import CommentsFeed
from listener.pollers.context import PollerContext
from listener.pollers.feed import Feed
from listener.pollers.hashtags import HashtagFeed, HashtagIds
from listener.pollers.inbox import InboxWorker
from listener.pollers.leasing import Leasing
from listener.pollers.quota import HashtagQuota
from listener.pollers.scheduler import Pacing, Scheduler
from listener.pollers.stopping import Wait, wait_for_stop
from listener.pollers.tags import TagsFeed
from listener.ratelimit.throttle import Scope
from listener.settings import AccountSettings, PollingSettings, Settings, shortcode
from listener.store.store import Store


def tags_feeds(
    *,
    polling: PollingSettings,
    configured: Sequence[AccountSettings],
    context: PollerContext,
) -> list[Feed]:
    """One ``/tags`` feed per configured account that asks for it."""
    return [
        TagsFeed(
            context,
            account=account.name,
            interval_s=polling.tags_interval_s,
            page_size=polling.page_size,
            max_pages=polling.max_pages,
        )
        for account in configured
        if account.tags
    ]


def hashtag_feeds(
    *,
    polling: PollingSettings,
    configured: Sequence[AccountSettings],
    context: PollerContext,
    quota: HashtagQuota,
) -> list[HashtagFeed]:
    """One feed per configured account × hashtag × edge (``top_media`` when enabled)."""
    ids = HashtagIds(context.api, context.store, context.clock)
    edges: list[HashtagEdge] = ["recent_media"]
    if polling.top_media:
        edges.append("top_media")
    return [
        HashtagFeed(
            context,
            ids=ids,
            quota=quota,
            account=account.name,
            hashtag=hashtag,
            edge=edge,
            interval_s=polling.hashtag_interval_s,
            page_size=polling.page_size,
            max_pages=polling.max_pages,
        )
        for account in configured
        for hashtag in account.hashtags
        for edge in edges
    ]


def all_feeds(
    *,
    polling: PollingSettings,
    configured: Sequence[AccountSettings],
    context: PollerContext,
    quota: HashtagQuota,
) -> list[Feed]:
    """Every feed of the configured accounts: the hashtag feeds, then the ``/tags`` feeds."""
    hashtags = hashtag_feeds(polling=polling, configured=configured, context=context, quota=quota)
    return [*hashtags, *tags_feeds(polling=polling, configured=configured, context=context)]


def pacing(
    *,
    polling: PollingSettings,
    budget_per_hour: Callable[[Scope], float],
    takeover_check_s: float = Pacing.takeover_check_s,
) -> Pacing:
    """How the scheduler paces the feeds, from ``[polling]``."""
    return Pacing(
        jitter_ratio=polling.jitter_ratio,
        adaptive=polling.adaptive,
        min_interval_s=polling.min_interval_s,
        max_interval_s=polling.max_interval_s,
        budget_per_hour=budget_per_hour,
        takeover_check_s=takeover_check_s,
    )


def scheduler(
    *,
    feeds: Sequence[Feed],
    store: Store,
    metrics: Metrics,
    accounts: Accounts,
    pacing: Pacing,
    clock: Callable[[], datetime],
    rng: random.Random | None = None,
    wait: Wait | None = None,
    grace_s: float = 5.0,
    leasing: Leasing | None = None,
) -> Scheduler:
    """The scheduler of ``feeds``; ``rng`` draws the jitter, ``wait`` waits between polls."""
    return Scheduler(
        feeds,
        store=store,
        metrics=metrics,
        accounts=accounts,
        pacing=pacing,
        clock=clock,
        rng=rng,
        grace_s=grace_s,
        wait=wait,
        leasing=leasing,
    )


def inbox(
    *,
    settings: Settings,
    context: PollerContext,
    accounts_by_ig_id: Mapping[str, str],
    replica: str,
    wait: Wait = wait_for_stop,
    comment_ingestor: CommentIngestor | None = None,
) -> InboxWorker:
    """The webhook inbox worker (mentions; comments on the accounts' own posts when
    ``comment_ingestor`` is given); in-flight events get half the shutdown grace to finish.

    ``wait`` waits between claims (and for the stop)."""
    polling = settings.polling
    comments = (
        None
        if comment_ingestor is None
        else CommentEvents(
            api=context.api,
            ingestor=comment_ingestor,
            accounts=context.accounts,
            comments_on=[a.name for a in settings.accounts if a.comments],
        )
    )
    return InboxWorker(
        context,
        accounts_by_ig_id=accounts_by_ig_id,
        mentions_on=[a.name for a in settings.accounts if a.mentions],
        max_attempts=polling.inbox_max_attempts,
        lease_s=polling.inbox_claim_s,
        workers=polling.inbox_workers,
        finish_s=polling.shutdown_grace_s / 2,
        replica=replica,
        heartbeat_ttl_s=settings.cluster.lease_ttl_s,
        wait=wait,
        comments=comments,
    )


def comment_feeds(
    *, settings: Settings, context: PollerContext, ingestor: CommentIngestor
) -> list[Feed]:
    """One comments poller per account with ``comments = true``: its comment campaigns' posts
    (media ids as given, permalinks by shortcode) and its ``polling.comment_posts`` newest."""
    feeds: list[Feed] = []
    for account in settings.accounts:
        if not account.comments:
            continue
        posts = [p for c in settings.campaigns if c.account == account.name for p in c.posts]
        codes = {p: shortcode(p) for p in posts}
        feeds.append(
            CommentsFeed(
                context,
                ingestor=ingestor,
                account=account.name,
                posts=[p for p, code in codes.items() if code is None],
                permalinks={code: p for p, code in codes.items() if code is not None},
                recent=settings.polling.comment_posts,
                interval_s=settings.polling.comments_interval_s,
                listing_pages=settings.polling.max_pages,
            )
        )
    return feeds
