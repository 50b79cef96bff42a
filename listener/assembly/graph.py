"""The Graph API clients, built from the settings: the governed one and the token one."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import aiohttp

from listener.demo import Hosts
from listener.graph.client import GraphClient, RetryPolicy
from listener.graph.instagram import InstagramApi
from listener.graph.tokens import TokenApi
from listener.metrics import Metrics
from listener.ratelimit.governor import Governor, Sleep
from listener.settings import GraphSettings, Settings


def app_credentials(settings: Settings) -> tuple[str, str] | None:
    """The app id and secret, when both are set (``debug_token`` and the exchange need them)."""
    app_id, secret = settings.graph.app_id, settings.graph.app_secret.get_secret_value()
    return (app_id, secret) if app_id and secret else None


def graph_client(
    *,
    session: aiohttp.ClientSession,
    graph: GraphSettings,
    metrics: Metrics,
    base_url: str,
    retry: RetryPolicy,
    governor: Governor | None = None,
    sleep: Sleep = asyncio.sleep,
) -> GraphClient:
    """One Graph client on ``base_url``; with a ``governor``, every call asks it first.

    ``graph`` gives the API version, the app secret and the timeout (its hosts are
    ``base_url``'s business): a benchmark or a test builds one of its own.
    """
    return GraphClient(
        session,
        base_url=base_url,
        api_version=graph.api_version,
        app_secret=graph.app_secret.get_secret_value(),
        timeout_s=graph.timeout_s,
        metrics=metrics,
        governor=governor,
        retry=retry,
        sleep=sleep,
    )


def retry_policy(settings: Settings) -> RetryPolicy:
    """The backoff of transient failures, from ``[ratelimit]``."""
    limits = settings.ratelimit
    return RetryPolicy(limits.max_attempts, limits.backoff_initial_s, limits.backoff_max_s)


def token_api(
    *,
    session: aiohttp.ClientSession,
    settings: Settings,
    metrics: Metrics,
    hosts: Hosts,
    retry: RetryPolicy,
    clock: Callable[[], datetime],
    sleep: Sleep = asyncio.sleep,
) -> TokenApi:
    """The token endpoints on both hosts.

    Token calls (debug_token, exchange, refresh) are rare and outside both rate-limit families,
    so they bypass the governor.
    """
    facebook, instagram = (
        graph_client(
            session=session,
            graph=settings.graph,
            metrics=metrics,
            base_url=host,
            retry=retry,
            sleep=sleep,
        )
        for host in (hosts.facebook, hosts.instagram)
    )
    return TokenApi(facebook, instagram, clock=clock)


@dataclass(frozen=True)
class GraphClients:
    """What speaks to Meta: the Instagram endpoints (governed) and the token endpoints."""

    instagram: InstagramApi
    tokens: TokenApi


def graph_clients(
    *,
    session: aiohttp.ClientSession,
    settings: Settings,
    metrics: Metrics,
    hosts: Hosts,
    clock: Callable[[], datetime],
    governor: Governor | None = None,
    sleep: Sleep = asyncio.sleep,
) -> GraphClients:
    """Both clients on one retry policy; ``sleep`` waits out backoffs (and the governor's)."""
    retry = retry_policy(settings)
    facebook = graph_client(
        session=session,
        graph=settings.graph,
        metrics=metrics,
        base_url=hosts.facebook,
        retry=retry,
        governor=governor,
        sleep=sleep,
    )
    tokens = token_api(
        session=session,
        settings=settings,
        metrics=metrics,
        hosts=hosts,
        retry=retry,
        clock=clock,
        sleep=sleep,
    )
    return GraphClients(InstagramApi(facebook), tokens)
