"""/healthz, /readyz and /metrics of the worker's web app."""

from __future__ import annotations

from pathlib import Path

from prometheus_client import CollectorRegistry
from pytest_aiohttp import AiohttpClient

from listener.metrics import Metrics
from listener.store.mongo import connect
from listener.store.store import Store
from listener.web.server import build_app
from tests.mongo import MongoServer


async def test_readyz_follows_the_database(aiohttp_client: AiohttpClient, data_dir: Path) -> None:
    """/readyz is 200 while MongoDB answers, 503 while it is stopped, 200 again once it is back."""
    server = MongoServer(data_dir)
    server.start()
    try:
        async with connect(server.uri, "ready", timeout_s=0.5) as db:
            registry = CollectorRegistry()
            app = build_app(metrics=Metrics(registry), registry=registry, readiness=Store(db).ping)
            client = await aiohttp_client(app)
            assert (await client.get("/readyz")).status == 200
            server.stop()
            down = await client.get("/readyz")
            assert down.status == 503
            assert (await down.json())["status"] == "unavailable"
            assert (await client.get("/healthz")).status == 200
            server.start()
            assert (await client.get("/readyz")).status == 200
    finally:
        server.stop()


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
