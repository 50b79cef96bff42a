"""Ten thousand hostile requests against the real web app and MongoDB: no 5xx, nothing lost.

Bodies and signatures come from :mod:`tests.web.hostile`, seeded, so a failure replays
exactly. The server runs as the worker runs it: bodies are never inflated.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import CollectorRegistry
from pymongo.asynchronous.database import AsyncDatabase
from structlog.testing import capture_logs

from listener.metrics import Metrics
from listener.store.mongo import Document
from listener.store.store import Store
from listener.web.server import build_app
from listener.web.webhooks import WebhookConfig, WebhookReceiver
from tests.web.hostile import MAX_BYTES, SECRET, Case, Hostile

SEED = 20261129
REQUESTS = 10_000
IN_FLIGHT = 4
ALLOWED = frozenset({200, 400, 403, 413, 415})
NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


async def send_all(http: TestClient[web.Request, web.Application], cases: list[Case]) -> list[int]:
    """POST every case, a few at a time, as Meta and strangers would; the statuses in order."""
    slots = asyncio.Semaphore(IN_FLIGHT)

    async def send(case: Case) -> int:
        async with (
            slots,
            http.post("/webhooks/instagram", data=case.body, headers=case.headers) as response,
        ):
            await response.read()
            return response.status

    return list(await asyncio.gather(*(send(case) for case in cases)))


async def test_hostile_requests_get_no_5xx_and_every_valid_change_is_stored_once(
    aiohttp_client: Callable[..., Awaitable[TestClient[web.Request, web.Application]]],
    store: Store,
    database: AsyncDatabase[Document],
) -> None:
    """Random JSON, deep nesting, huge numbers, bad UTF-8, wrong shapes, forged and missing
    signatures, compressed and oversize bodies: each answered as expected (200, 400, 403, 413
    or 415); every validly signed change of a valid shape is pending exactly once, every
    change MongoDB cannot store or of the wrong shape is a dead letter."""
    registry = CollectorRegistry()
    metrics = Metrics(registry)
    receiver = WebhookReceiver(
        WebhookConfig(verify_token="v", app_secret=SECRET, max_bytes=MAX_BYTES),
        store.inbox,
        metrics,
        lambda: NOW,
    )
    app = build_app(metrics=metrics, registry=registry, readiness=store.ping, webhooks=receiver)
    server = TestServer(app)
    await server.start_server(auto_decompress=False)  # as the worker runs it
    http = await aiohttp_client(server)
    cases = Hostile(SEED).cases(REQUESTS)

    with capture_logs() as logs:
        statuses = await send_all(http, cases)

    assert set(statuses) <= ALLOWED
    wrong = [
        (n, case.kind, status, sorted(case.statuses))
        for n, (case, status) in enumerate(zip(cases, statuses, strict=True))
        if status not in case.statuses
    ]
    assert not wrong, f"{len(wrong)} unexpected answers, first: {wrong[:5]}"
    assert {200, 400, 403, 413, 415} <= set(statuses)
    answered = [case for case, status in zip(cases, statuses, strict=True) if status == 200]
    pending = set().union(*(case.pending for case in answered))
    dead = set().union(*(case.dead for case in answered))
    inbox = database["inbox"]
    stored = {d["_id"]: d["status"] async for d in inbox.find({}, {"status": 1})}
    assert {key for key, status in stored.items() if status == "pending"} == pending
    assert dead <= {key for key, status in stored.items() if status == "dead"}
    assert not [e for e in logs if e["log_level"] in ("error", "critical")]
    assert len(pending) > 1000
    assert len(dead) > 1000
