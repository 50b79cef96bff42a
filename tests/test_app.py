"""The whole worker in-process on embedded defaults: simulator → pollers → store → /metrics."""

from __future__ import annotations

import asyncio
import gzip
import io
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import structlog
from pymongo.asynchronous.database import AsyncDatabase
from structlog.testing import capture_logs

from listener.app import start
from listener.errors import ConfigError
from listener.logs import configure_logging
from listener.settings import Settings, StoreSettings
from listener.simulator import SimAccount, SimulatorConfig, serve
from listener.simulator.webhooks import mentions_envelope, signature
from listener.store import inbox, media
from listener.store.mongo import Document, connect
from listener.web.payload import event_key
from listener.web.signature import sign
from tests.web.test_webhooks import DELIVERY

BRAND_ID = "17841400000000001"
E2E_SECRET = "e2e-app-secret"


def demo_settings(tmp_path: Path) -> Settings:
    return Settings(
        store={"mongodb_uri": "embedded", "embedded_path": tmp_path / "data"},
        server={"port": 0},
        polling={"hashtag_interval_s": 5, "min_interval_s": 5},
        ratelimit={"app_users": 100},
        simulator={"enabled": True, "posts_per_hour": 120, "mentions_per_hour": 3600},
        graph={"app_secret": "demo-app-secret"},
        accounts=[
            {
                "name": "brand",
                "ig_user_id": "17841400000000001",
                "access_token": "demo-token",
                "hashtags": ["summerdrop", "sunset"],
            }
        ],
        campaigns=[
            {
                "id": "summer",
                "account": "brand",
                "hashtags": ["summerdrop"],
                "starts_at": "2020-01-01T00:00:00Z",
                "ends_at": "2100-01-01T00:00:00Z",
            }
        ],
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


async def test_a_gone_post_never_pauses_the_account(
    mongo_uri: str, database: AsyncDatabase[Document]
) -> None:
    """With the worker running, a mention of a deleted post is a dead letter with its reason;
    the account's other mention is hydrated, /tags keeps being polled, nothing is throttled."""
    config = SimulatorConfig(
        accounts=(SimAccount(ig_user_id=BRAND_ID, access_token="e2e-token", username="brand"),),
        default_rate_per_hour=0.0,
        backfill_hours=0.0,
        tag_rate_per_hour=0.0,
        app_secret=E2E_SECRET,
        buc_calls_per_hour=100_000,
    )
    async with serve(config) as sim, aiohttp.ClientSession() as http:
        world = sim.world
        now = datetime.now(UTC)
        world.add_post(timestamp=now - timedelta(hours=1), tagged_accounts=[BRAND_ID])
        gone = world.add_post(timestamp=now - timedelta(minutes=5), caption="@brand", username="a")
        live = world.add_post(timestamp=now - timedelta(minutes=4), caption="@brand", username="b")
        world.withdraw_post(gone)
        settings = Settings(
            store={"mongodb_uri": mongo_uri, "database": database.name},
            server={"port": 0},
            graph={"base_url": sim.base_url, "app_secret": E2E_SECRET},
            polling={"tags_interval_s": 1, "min_interval_s": 0.5, "jitter_ratio": 0},
            accounts=[{"name": "brand", "ig_user_id": BRAND_ID, "access_token": "e2e-token"}],
        )
        stop = asyncio.Event()
        async with start(settings) as worker:
            serving = asyncio.create_task(worker.serve(stop))
            scheduler, inbox = worker.scheduler, worker.inbox
            assert inbox is not None
            await asyncio.wait_for(scheduler.wait_for(lambda: scheduler.polls_done >= 1), 30)
            url = f"http://127.0.0.1:{worker.web_port}/webhooks/instagram"
            for media_id in (gone, live):
                body = json.dumps(mentions_envelope(BRAND_ID, media_id, None, now)).encode()
                headers = {"X-Hub-Signature-256": signature(body, E2E_SECRET)}
                async with http.post(url, data=body, headers=headers) as response:
                    assert response.status == 200
            await asyncio.wait_for(inbox.wait_for(lambda: inbox.settled >= 2), 30)
            settled_at = datetime.now(UTC)
            polls = scheduler.polls_done
            await asyncio.wait_for(scheduler.wait_for(lambda: scheduler.polls_done > polls), 30)
            dead = await worker.store.inbox.get(event_key(BRAND_ID, "mentions", {"media_id": gone}))
            assert dead is not None
            assert dead["status"] == "dead"
            assert f"media {gone} is gone or private" in dead["reason"]
            hydrated = await worker.store.media.get(live)
            assert hydrated is not None
            assert hydrated["username"] == "b"
            assert world.stats.count("tags", since=settled_at) >= 1
            throttled = worker.registry.get_sample_value(
                "listener_throttled", {"scope": "buc", "account": "brand"}
            )
            assert throttled == 0.0
            assert not any(worker.governor.paused(scope) for scope, _ in worker.governor.scopes())
            stop.set()
            await asyncio.wait_for(serving, 10)


def quiet_settings(mongo_uri: str, *, mentions: bool = True, **sections: Any) -> Settings:
    """A worker on the in-process simulator (no media, no webhooks of its own) and the test
    server, whose one account polls nothing: only what a test sends happens."""
    return Settings(
        store={"mongodb_uri": mongo_uri, "database": f"t_{uuid.uuid4().hex[:12]}"},
        server={"port": 0, **sections.pop("server", {})},
        simulator={
            "enabled": True,
            "posts_per_hour": 0,
            "mentions_per_hour": 0,
            "backfill_hours": 0,
        },
        accounts=[
            {
                "name": "brand",
                "ig_user_id": "17841400000000001",
                "access_token": "demo-token",
                "tags": False,
                "mentions": mentions,
            }
        ],
        **sections,
    )


async def deliver(worker_port: int, body: bytes, headers: dict[str, str]) -> int:
    """POST one webhook delivery to the worker; its status."""
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"http://127.0.0.1:{worker_port}/webhooks/instagram", data=body, headers=headers
        ) as answer,
    ):
        return answer.status


async def test_worker_receiving_webhooks_without_a_secret_refuses_to_start(
    mongo_uri: str,
) -> None:
    """mentions = true and no graph.app_secret: a ConfigError naming the key, nothing started."""
    with pytest.raises(ConfigError, match=r"^graph\.app_secret is empty but accounts\.0\.mentions"):
        async with start(quiet_settings(mongo_uri)):
            pytest.fail("the worker started")


async def test_a_signed_worker_refuses_unsigned_and_wrongly_signed_deliveries(
    mongo_uri: str,
) -> None:
    """With graph.app_secret set, only a delivery signed with it is stored."""
    settings = quiet_settings(mongo_uri, graph={"app_secret": "the-app-secret"})
    async with start(settings) as worker:
        assert await deliver(worker.web_port, DELIVERY, {}) == 403
        wrong = {"X-Hub-Signature-256": sign(DELIVERY, "another-secret")}
        assert await deliver(worker.web_port, DELIVERY, wrong) == 403
        assert await worker.store.inbox.count() == 0
        right = {"X-Hub-Signature-256": sign(DELIVERY, "the-app-secret")}
        assert await deliver(worker.web_port, DELIVERY, right) == 200
        assert await worker.store.inbox.count() == 1


async def test_unsigned_demo_flag_takes_unsigned_deliveries_and_warns_at_every_start(
    mongo_uri: str,
) -> None:
    """server.webhook_unsigned = true starts without a secret, and says so each time it starts."""
    settings = quiet_settings(mongo_uri, server={"webhook_unsigned": True})
    with capture_logs() as logs:
        for _ in range(2):
            async with start(settings) as worker:
                assert await deliver(worker.web_port, DELIVERY, {}) == 200
    warnings = [e for e in logs if e["event"] == "webhook.unsigned"]
    assert len(warnings) == 2
    assert all(e["log_level"] == "warning" for e in warnings)
    assert "for demos only" in warnings[0]["reason"]


async def test_no_account_listening_to_webhooks_mounts_no_receiver(mongo_uri: str) -> None:
    """Without an account listening to a webhook field nothing can be delivered: 404, no secret."""
    async with start(quiet_settings(mongo_uri, mentions=False)) as worker:
        assert await deliver(worker.web_port, DELIVERY, {}) == 404
        assert await worker.store.inbox.count() == 0


async def test_a_token_taken_on_reload_is_scrubbed_from_logs(mongo_uri: str) -> None:
    """SIGHUP's re-read token replaces the account's and is redacted from later log lines."""
    settings = quiet_settings(mongo_uri, mentions=False)
    accounts = [{**settings.accounts[0].model_dump(), "access_token": "EAA-token-put-in-on-reload"}]
    reloaded = Settings(**{**settings.model_dump(), "accounts": accounts})
    out = io.StringIO()
    configure_logging(stream=out, json=True, secrets=settings.secrets())
    async with start(settings, loader=lambda: reloaded) as worker:
        assert await worker.reload_tokens() == ["brand"]
        assert worker.accounts.who("brand").token == "EAA-token-put-in-on-reload"
    structlog.get_logger().warning("poll.failed", error="token EAA-token-put-in-on-reload refused")
    assert "EAA-token-put-in-on-reload" not in out.getvalue()


async def test_the_worker_refuses_compressed_webhook_bodies_unread(
    mongo_uri: str, database: AsyncDatabase[Document]
) -> None:
    """The worker's server never inflates a body: gzip, and brotli it cannot decode, are 415."""
    settings = Settings(
        store={"mongodb_uri": mongo_uri, "database": database.name},
        server={"port": 0},
        graph={"base_url": "http://127.0.0.1:9", "app_secret": E2E_SECRET},
        accounts=[{"name": "brand", "ig_user_id": BRAND_ID, "access_token": "e2e-token"}],
    )
    body = gzip.compress(
        json.dumps(
            mentions_envelope(BRAND_ID, "17918195224117851", None, datetime.now(UTC))
        ).encode()
    )
    async with start(settings) as worker, aiohttp.ClientSession() as http:
        for encoding in ("gzip", "br"):
            async with http.post(
                f"http://127.0.0.1:{worker.web_port}/webhooks/instagram",
                data=body,
                headers={
                    "Content-Encoding": encoding,
                    "X-Hub-Signature-256": signature(body, E2E_SECRET),
                },
            ) as response:
                assert response.status == 415, encoding
        assert await worker.store.inbox.count() == 0


async def test_indexes_exist_before_anything_writes(tmp_path: Path, mongo_uri: str) -> None:
    """Once start() returns (webhooks arriving, serve() not yet polling) every index exists."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    settings = demo_settings(tmp_path).model_copy(
        update={"store": StoreSettings(mongodb_uri=mongo_uri, database=name)}
    )
    async with connect(mongo_uri, name, timeout_s=5) as db:
        try:
            async with start(settings):
                for collection, indexes in (("media", media.INDEXES), ("inbox", inbox.INDEXES)):
                    made = await db[collection].index_information()
                    assert {i.document["name"] for i in indexes} <= set(made), collection
        finally:
            await db.client.drop_database(name)  # once the worker has stopped writing
