"""/healthz, /readyz and /metrics of the worker's web app."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import TestClient
from prometheus_client import CollectorRegistry
from pytest_aiohttp import AiohttpClient
from structlog.testing import capture_logs

from listener.metrics import Metrics
from listener.store.mongo import connect
from listener.store.store import Store
from listener.web.server import build_app
from testbed import Secantus


@asynccontextmanager
async def readiness(
    aiohttp_client: AiohttpClient, data_dir: Path
) -> AsyncIterator[tuple[Secantus, TestClient[web.Request, web.Application]]]:
    """A MongoDB the test stops and starts, and a client of a web app whose /readyz asks it."""
    server = Secantus(data_dir)
    server.start()
    try:
        async with connect(server.uri, "ready", timeout_s=0.5) as db:
            registry = CollectorRegistry()
            app = build_app(metrics=Metrics(registry), registry=registry, readiness=Store(db).ping)
            yield server, await aiohttp_client(app)
    finally:
        server.stop()


async def test_readyz_follows_the_database(aiohttp_client: AiohttpClient, data_dir: Path) -> None:
    """/readyz is 200 while MongoDB answers, 503 while it is stopped, 200 again once it is back."""
    async with readiness(aiohttp_client, data_dir) as (server, client):
        assert (await client.get("/readyz")).status == 200
        server.stop()
        down = await client.get("/readyz")
        assert down.status == 503
        assert (await down.json())["status"] == "unavailable"
        assert (await client.get("/healthz")).status == 200
        server.start()
        assert (await client.get("/readyz")).status == 200


async def test_metrics_are_served_in_prometheus_format(
    aiohttp_client: AiohttpClient, store: Store
) -> None:
    """/metrics serves the registry's contract metrics as Prometheus text."""
    registry = CollectorRegistry()
    metrics = Metrics(registry)
    metrics.media_ingested.labels("hashtag_recent", "summerdrop", "new").inc(3)
    client = await aiohttp_client(
        build_app(metrics=metrics, registry=registry, readiness=store.ping)
    )
    response = await client.get("/metrics")
    text = await response.text()
    assert response.status == 200
    assert (
        'listener_media_ingested_total{hashtag="summerdrop",result="new",'
        'source="hashtag_recent"} 3.0' in text
    )
    assert "listener_build_info" in text


async def test_readyz_names_no_host_and_logs_the_outage_once(
    aiohttp_client: AiohttpClient, data_dir: Path
) -> None:
    """While MongoDB is down /readyz answers a generic reason; the driver's error (hosts,
    topology) goes to the log, once per outage, and its end is logged too."""
    async with readiness(aiohttp_client, data_dir) as (server, client):
        server.stop()
        with capture_logs() as logs:
            answers = [await (await client.get("/readyz")).text() for _ in range(2)]
            server.start()
            assert (await client.get("/readyz")).status == 200
    for answer in answers:
        assert json.loads(answer) == {"status": "unavailable", "reason": "MongoDB unavailable"}
        assert "127.0.0.1" not in answer
    [outage] = [e for e in logs if e["event"] == "readyz.unavailable"]
    assert f"127.0.0.1:{server.port}" in outage["error"]
    assert [e["event"] for e in logs if e["event"].startswith("readyz.")] == [
        "readyz.unavailable",
        "readyz.ready",
    ]
