"""The whole worker in-process on embedded defaults: simulator → pollers → store → /metrics."""

from __future__ import annotations

import asyncio
import io
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import structlog
from structlog.testing import capture_logs

from listener.app import start
from listener.errors import ConfigError
from listener.logs import configure_logging
from listener.settings import Settings
from listener.web.signature import sign
from tests.web.test_webhooks import DELIVERY


def demo_settings(tmp_path: Path) -> Settings:
    return Settings(
        store={"mongodb_uri": "embedded", "embedded_path": tmp_path / "data"},  # type: ignore[arg-type]
        server={"port": 0},  # type: ignore[arg-type]
        polling={"hashtag_interval_s": 5, "min_interval_s": 5},  # type: ignore[arg-type]
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


def quiet_settings(mongo_uri: str, *, mentions: bool = True, **sections: Any) -> Settings:
    """A worker on the in-process simulator (no media, no webhooks of its own) and the test
    server, whose one account polls nothing: only what a test sends happens."""
    return Settings(
        store={"mongodb_uri": mongo_uri, "database": f"t_{uuid.uuid4().hex[:12]}"},  # type: ignore[arg-type]
        server={"port": 0, **sections.pop("server", {})},  # type: ignore[arg-type]
        simulator={  # type: ignore[arg-type]
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
        ],  # type: ignore[list-item]
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
