"""Demo mode: the Graph API hosts the worker and the commands talk to.

With ``[simulator] enabled`` (``make run``), :func:`graph_hosts` starts the project's Graph API
simulator in-process and points both hosts at it; otherwise it yields the configured hosts and
the simulator is never imported.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial

import structlog

from listener.ratelimit.throttle import buc_budget_per_hour, platform_budget_per_hour
from listener.settings import Settings

log = structlog.get_logger("listener.demo")


@dataclass(frozen=True)
class Hosts:
    """The Graph API hosts: Facebook Login's and Instagram Login's."""

    facebook: str
    instagram: str
    deliver_webhooks: Callable[[str], object] | None = None
    """Demo only: start the simulator's signed ``mentions`` deliveries to a URL."""


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
        deliver = partial(running.deliver_webhooks, mentions_per_hour=demo.mentions_per_hour)
        yield Hosts(running.base_url, running.base_url, deliver if media else None)
