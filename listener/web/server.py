"""HTTP routes of the worker: ``/metrics``, ``/healthz``, ``/readyz``, ``/webhooks/instagram``.

Handlers are thin: ``/readyz`` asks one injected check and maps its failure to 503 — a
dependency that is down is never a 500. Its answer names no host, topology or driver text
(any caller can read it); the failure itself is logged, once per outage.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog
from aiohttp import web
from prometheus_client import CollectorRegistry
from prometheus_client.aiohttp import make_aiohttp_handler

from listener.errors import StoreUnavailableError
from listener.metrics import Metrics
from listener.web.webhooks import WebhookReceiver, add_routes

log = structlog.get_logger("listener.web")

ReadinessCheck = Callable[[], Awaitable[None]]
"""Raises :class:`StoreUnavailableError` when the worker cannot do its job."""

READINESS_KEY: web.AppKey[ReadinessCheck] = web.AppKey("readiness")
METRICS_KEY = web.AppKey("metrics", Metrics)
READINESS_TIMEOUT_S = 3.0
NOT_READY = "MongoDB unavailable"


@dataclass
class _Readiness:
    """Whether the last ``/readyz`` failed: its failures are logged on the transition only."""

    failing: bool = False


READINESS_STATE = web.AppKey("readiness_state", _Readiness)


async def healthz(request: web.Request) -> web.Response:
    """200 while the process runs."""
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """200 while MongoDB answers, else 503 with a generic reason (the details are logged)."""
    metrics = request.app[METRICS_KEY]
    state = request.app[READINESS_STATE]
    try:
        await asyncio.wait_for(request.app[READINESS_KEY](), timeout=READINESS_TIMEOUT_S)
    except (StoreUnavailableError, TimeoutError) as exc:
        metrics.store_up.set(0)
        if not state.failing:
            log.warning("readyz.unavailable", error=str(exc) or "MongoDB did not answer in time")
            state.failing = True
        return web.json_response({"status": "unavailable", "reason": NOT_READY}, status=503)
    metrics.store_up.set(1)
    if state.failing:
        log.info("readyz.ready")
        state.failing = False
    return web.json_response({"status": "ready"})


def build_app(
    *,
    metrics: Metrics,
    registry: CollectorRegistry,
    readiness: ReadinessCheck,
    webhooks: WebhookReceiver | None = None,
) -> web.Application:
    """The worker's web application."""
    max_bytes = webhooks.config.max_bytes if webhooks is not None else 1024**2
    app = web.Application(client_max_size=max_bytes)
    app[METRICS_KEY] = metrics
    app[READINESS_KEY] = readiness
    app[READINESS_STATE] = _Readiness()
    app.router.add_get("/metrics", make_aiohttp_handler(registry))
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    if webhooks is not None:
        add_routes(app, webhooks)
    return app
