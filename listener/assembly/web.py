"""The web server: ``/metrics``, ``/healthz``, ``/readyz`` and the webhook receiver."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime

import structlog
from aiohttp import web
from prometheus_client import CollectorRegistry

from listener.metrics import Metrics
from listener.settings import Settings
from listener.store.store import Store
from listener.web.server import build_app
from listener.web.webhooks import WebhookConfig, WebhookReceiver

log = structlog.get_logger("listener.app")


def webhook_receiver(
    *,
    settings: Settings,
    store: Store,
    metrics: Metrics,
    clock: Callable[[], datetime],
    arrived: asyncio.Event,
) -> WebhookReceiver | None:
    """The webhook receiver, or ``None`` when no account listens to a webhook field.

    Only a worker that mounts it can receive deliveries, so only then does ``graph.app_secret``
    matter (:meth:`Settings.worker_refusal`); unsigned deliveries are taken only when
    ``server.webhook_unsigned`` says so, with a warning at every start.
    """
    if not settings.receives_webhooks:
        return None
    server = settings.server
    if server.webhook_unsigned:
        log.warning(
            "webhook.unsigned",
            reason="server.webhook_unsigned = true: signatures are not checked, anyone who "
            "reaches the port can fill the inbox; for demos only",
        )
    return WebhookReceiver(
        WebhookConfig(
            verify_token=server.webhook_verify_token.get_secret_value(),
            app_secret=settings.graph.app_secret.get_secret_value(),
            max_bytes=server.webhook_max_bytes,
            unsigned=server.webhook_unsigned,
        ),
        store.inbox,
        metrics,
        clock,
        arrived=arrived,
    )


@asynccontextmanager
async def web_server(
    *,
    settings: Settings,
    store: Store,
    metrics: Metrics,
    registry: CollectorRegistry,
    webhooks: WebhookReceiver | None,
    close_timeout_s: float,
) -> AsyncIterator[int]:
    """Serve on ``server.host``/``server.port``; yields the port bound, stops on exit.

    A delivery still in flight when it closes gets ``close_timeout_s``.
    """
    runner = web.AppRunner(
        build_app(metrics=metrics, registry=registry, readiness=store.ping, webhooks=webhooks),
        access_log=None,
        handle_signals=False,
        shutdown_timeout=close_timeout_s,
        auto_decompress=False,  # compressed bodies are refused (415), never inflated
    )
    await runner.setup()
    try:
        site = web.TCPSite(runner, settings.server.host, settings.server.port)
        await site.start()
        yield runner.addresses[0][1]
    finally:
        await runner.cleanup()
