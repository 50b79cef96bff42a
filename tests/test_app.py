"""The whole worker in-process on embedded defaults: simulator → pollers → store → /metrics."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import aiohttp

from listener.app import start
from listener.settings import Settings, StoreSettings
from listener.store import inbox, media
from listener.store.mongo import connect


def demo_settings(tmp_path: Path) -> Settings:
    return Settings(
        store={"mongodb_uri": "embedded", "embedded_path": tmp_path / "data"},  # type: ignore[arg-type]
        server={"port": 0},  # type: ignore[arg-type]
        polling={"hashtag_interval_s": 5},  # type: ignore[arg-type]
        ratelimit={"app_users": 100},  # type: ignore[arg-type]
        simulator={"enabled": True, "posts_per_hour": 120, "mentions_per_hour": 3600},  # type: ignore[arg-type]
        graph={"app_secret": "demo-app-secret"},  # type: ignore[arg-type]
        accounts=[
            {
                "name": "brand",
                "ig_user_id": "17841400000000001",
                "access_token": "demo-token",
                "hashtags": ["summerdrop", "sunset"],
            }
        ],  # type: ignore[list-item]
        campaigns=[
            {
                "id": "summer",
                "account": "brand",
                "hashtags": ["summerdrop"],
                "starts_at": "2020-01-01T00:00:00Z",
                "ends_at": "2100-01-01T00:00:00Z",
            }
        ],  # type: ignore[list-item]
    )


async def test_worker_ingests_and_exposes_metrics(tmp_path: Path) -> None:
    """On the simulator and the embedded store the worker stores media and shows it."""
    settings = demo_settings(tmp_path)
    stop = asyncio.Event()
    async with start(settings) as worker:
        serving = asyncio.create_task(worker.serve(stop))
        await asyncio.wait_for(
            worker.scheduler.wait_for(lambda: worker.scheduler.polls_done >= 4), 30
        )
        assert await worker.store.media.count() > 0
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{worker.web_port}/metrics") as response:
                text = await response.text()
            async with http.get(f"http://127.0.0.1:{worker.web_port}/readyz") as ready:
                assert ready.status == 200
        assert (
            'listener_media_ingested_total{hashtag="summerdrop",result="new",source="hashtag_recent"}'
            in text
        )
        assert "demo-token" not in text
        assert 'listener_sentiment_total{hashtag="summerdrop",label=' in text
        assert 'listener_contest_entries_total{campaign="summer",eligible="false"}' in text
        assert (
            'listener_last_poll_success_timestamp_seconds{account="brand",poller="hashtag_recent"}'
            in text
        )
        # Signed mention webhooks from the simulator land as media with their authors.
        assert worker.inbox is not None
        inbox = worker.inbox
        await asyncio.wait_for(inbox.wait_for(lambda: inbox.settled >= 1), 30)
        mentioned = await worker.store.media.find_one(
            {"sources.kind": {"$in": ["mention_media", "mention_comment"]}}
        )
        assert mentioned is not None
        assert mentioned["username"]
        stop.set()
        await asyncio.wait_for(serving, 10)


async def test_indexes_exist_before_anything_writes(tmp_path: Path, mongo_uri: str) -> None:
    """Once start() returns (webhooks arriving, serve() not yet polling) every index exists."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    settings = demo_settings(tmp_path).model_copy(
        update={"store": StoreSettings(mongodb_uri=mongo_uri, database=name)}  # type: ignore[arg-type]
    )
    async with connect(mongo_uri, name, timeout_s=5) as db:
        try:
            async with start(settings):
                for collection, indexes in (("media", media.INDEXES), ("inbox", inbox.INDEXES)):
                    made = await db[collection].index_information()
                    assert {i.document["name"] for i in indexes} <= set(made), collection
        finally:
            await db.client.drop_database(name)  # once the worker has stopped writing
