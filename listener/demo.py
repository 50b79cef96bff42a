"""Demo mode: the Graph API hosts the worker and the commands talk to.

With ``[simulator] enabled`` (``make run``), :func:`graph_hosts` starts the project's Graph API
simulator in-process and points both hosts at it; otherwise it yields the configured hosts and
the simulator is never imported. A comment giveaway whose posts are permalinks gets those posts
published as the account's own, a few comments already under them and, while the worker runs,
a steady stream of new ones with their signed ``comments`` webhooks.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import TYPE_CHECKING

import structlog

from listener.ratelimit.throttle import buc_budget_per_hour, platform_budget_per_hour
from listener.settings import Settings, shortcode

if TYPE_CHECKING:
    from listener.simulator import World

log = structlog.get_logger("listener.demo")


@dataclass(frozen=True)
class Hosts:
    """The Graph API hosts: Facebook Login's and Instagram Login's."""

    facebook: str
    instagram: str
    deliver_webhooks: Callable[[str], object] | None = None
    """Demo only: start the simulator's signed ``mentions`` and ``comments`` deliveries to a
    URL."""


@asynccontextmanager
async def graph_hosts(settings: Settings, *, media: bool = False) -> AsyncIterator[Hosts]:
    """The Graph API hosts: the configured ones, or an in-process simulator in demo mode.

    ``media``: the simulated world publishes media at the configured demo rates (the worker);
    without it the world is quiet (one-shot commands read no media).
    """
    if not settings.simulator.enabled:
        yield Hosts(settings.graph.base_url, settings.graph.instagram_base_url)
        return
    from listener import simulator  # noqa: PLC0415 - demo only; the worker path never needs it

    demo = settings.simulator
    limits = settings.ratelimit
    # Without a seed each run is a new world: ids must not repeat those already stored.
    seed = demo.seed if demo.seed is not None else int(time.time())
    config = simulator.SimulatorConfig(
        seed=seed,
        hashtag_rates={
            tag: demo.posts_per_hour if media else 0.0
            for account in settings.accounts
            for tag in account.hashtags
        },
        accounts=tuple(
            simulator.SimAccount(
                ig_user_id=a.ig_user_id,
                access_token=a.access_token.get_secret_value(),
                username=a.name,
                login=a.login,
            )
            for a in settings.accounts
        ),
        default_rate_per_hour=demo.posts_per_hour if media else 0.0,
        tag_rate_per_hour=simulator.SimulatorConfig.tag_rate_per_hour if media else 0.0,
        backfill_hours=demo.backfill_hours if media else 0.0,
        app_secret=settings.graph.app_secret.get_secret_value() or None,
        app_id=settings.graph.app_id or None,
        app_calls_per_hour=int(platform_budget_per_hour(limits.app_users)),
        buc_calls_per_hour=int(buc_budget_per_hour(limits.account_impressions_24h)),
    )
    async with simulator.serve(config) as running:
        log.info("simulator.started", base_url=running.base_url)
        giveaways = _publish_giveaways(running.world, settings, backfill=media)
        deliver = partial(
            running.deliver_webhooks,
            mentions_per_hour=demo.mentions_per_hour,
            comments_per_hour=demo.comments_per_hour,
            giveaways=giveaways,
        )
        yield Hosts(running.base_url, running.base_url, deliver if media else None)


GIVEAWAY_CAPTION = "🎁 GIVEAWAY! Comment and tag two friends to enter. Winner drawn Friday."
GIVEAWAY_BACKFILL = 12
"""Comments already under a demo giveaway post when the demo starts (one a minute before)."""


def _publish_giveaways(world: World, settings: Settings, *, backfill: bool) -> list[str]:
    """Publish, as the account's own posts, the posts the comment giveaways name by permalink;
    with ``backfill`` (the worker) each already carries a few comments. Their media ids.

    A post's id follows from its shortcode, so every demo run publishes it under the id a
    previous run may have resolved and kept. With ``simulator.comments_per_hour = 0`` the demo
    has no comment giveaway, and publishes nothing: a permalink is then the account's only if
    the world holds it anyway.
    """
    now = world.start
    published: list[str] = []
    if settings.simulator.comments_per_hour <= 0:
        return published
    for campaign in settings.campaigns:
        if campaign.kind != "comments":
            continue
        account = settings.account(campaign.account)
        for post in campaign.posts:
            code = shortcode(post)
            if code is None:
                continue  # a media id: the demo world cannot publish a post under it
            digest = int(hashlib.sha256(code.encode()).hexdigest(), 16)
            media_id = world.add_post(
                timestamp=now - timedelta(hours=1),
                caption=GIVEAWAY_CAPTION,
                username=account.username or account.name,
                owner=account.ig_user_id,
                shortcode=code,
                media_id=f"17{digest % 10**16:016d}",
            )
            if backfill:
                world.publish_comments(
                    media_id,
                    GIVEAWAY_BACKFILL,
                    start=now - timedelta(minutes=GIVEAWAY_BACKFILL),
                    spacing_s=60,
                )
            published.append(media_id)
    return published
