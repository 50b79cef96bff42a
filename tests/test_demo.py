"""The `make run` demo's world: a comment giveaway a new user sees entries of within a minute.

The demo settings (config/demo.toml) are served by :func:`listener.demo.graph_hosts`, as the
worker starts them; these tests read the simulated Graph API and receive its webhooks, the way
the worker's comment poller and webhook receiver would, without the worker.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from listener.demo import GIVEAWAY_BACKFILL, Hosts, graph_hosts
from listener.enrich.contests import mentions
from listener.settings import CampaignSettings, Settings, load_settings

DEMO = Path(__file__).resolve().parents[1] / "config" / "demo.toml"


def demo_settings() -> Settings:
    """config/demo.toml, its comment giveaway coming in fast and no other traffic."""
    settings = load_settings(DEMO)
    simulator = settings.simulator.model_copy(
        update={"seed": 5, "posts_per_hour": 0, "mentions_per_hour": 0, "comments_per_hour": 7200}
    )
    return settings.model_copy(update={"simulator": simulator})


def giveaway(settings: Settings) -> CampaignSettings:
    """The demo's one comment giveaway."""
    (campaign,) = (c for c in settings.campaigns if c.kind == "comments")
    return campaign


@pytest.fixture
async def hosts() -> AsyncIterator[Hosts]:
    """The demo's simulator, as the worker starts it."""
    async with graph_hosts(demo_settings(), media=True) as running:
        yield running


async def graph(session: aiohttp.ClientSession, base: str, path: str, **query: str) -> Any:
    """GET a Graph path on the demo's simulator with the demo account's token."""
    settings = demo_settings()
    (account,) = settings.accounts
    secret = settings.graph.app_secret.get_secret_value()
    token = account.access_token.get_secret_value()
    proof = hmac.new(secret.encode(), token.encode(), hashlib.sha256).hexdigest()
    params = {**query, "access_token": token, "appsecret_proof": proof}
    async with session.get(f"{base}/v25.0/{path}", params=params) as response:
        assert response.status == 200, await response.text()
        return await response.json()


async def giveaway_post(session: aiohttp.ClientSession, hosts: Hosts) -> str:
    """The media id under which the demo published the giveaway's permalink."""
    settings = demo_settings()
    campaign = giveaway(settings)
    ig_user_id = settings.account(campaign.account).ig_user_id
    media = await graph(session, hosts.facebook, f"{ig_user_id}/media", fields="id,permalink")
    (post,) = [m["id"] for m in media["data"] if m["permalink"] == campaign.posts[0]]
    return str(post)


def test_the_demo_config_runs_a_comment_giveaway_by_permalink() -> None:
    """config/demo.toml has a comments campaign on a permalink, its account reading comments."""
    settings = load_settings(DEMO)
    campaign = giveaway(settings)
    assert campaign.posts[0].startswith("https://www.instagram.com/p/")
    assert settings.account(campaign.account).comments


async def test_the_demo_publishes_the_giveaway_post_with_comments_already(hosts: Hosts) -> None:
    """The account's media list the permalink; its comments are there at start, some tagging
    two friends and some not."""
    campaign = giveaway(demo_settings())
    async with aiohttp.ClientSession() as session:
        post = await giveaway_post(session, hosts)
        page = await graph(
            session, hosts.facebook, f"{post}/comments", fields="id,text,username", limit="50"
        )
    texts = [c["text"] for c in page["data"]]
    assert len(texts) >= GIVEAWAY_BACKFILL
    tagged = [len(mentions(t, "brand")) >= campaign.min_mentions for t in texts]
    assert any(tagged)
    assert not all(tagged)


async def test_the_demo_sends_signed_comments_webhooks_for_new_comments(hosts: Hosts) -> None:
    """While it runs, new comments on the giveaway post arrive as signed comments webhooks."""
    settings = demo_settings()
    secret = settings.graph.app_secret.get_secret_value().encode()
    received: asyncio.Queue[tuple[bytes, str]] = asyncio.Queue()

    async def webhook(request: web.Request) -> web.Response:
        await received.put((await request.read(), request.headers["X-Hub-Signature-256"]))
        return web.Response(text="ok")

    async with aiohttp.ClientSession() as session:
        post = await giveaway_post(session, hosts)
    app = web.Application()
    app.router.add_post("/webhooks/instagram", webhook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        assert hosts.deliver_webhooks is not None
        hosts.deliver_webhooks(f"http://127.0.0.1:{port}/webhooks/instagram")
        body, signed = await received.get()
    finally:
        await runner.cleanup()
    assert signed == "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
    (change,) = json.loads(body)["entry"][0]["changes"]
    assert change["field"] == "comments"
    assert change["value"]["media"]["id"] == post
    assert change["value"]["from"]["username"].startswith("fan.")
