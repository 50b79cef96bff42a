"""The worker's token expiry gauge: from debug_token, or from the stored renewal."""

from __future__ import annotations

from datetime import timedelta

from listener.assembly.graph import app_credentials
from listener.graph.tokens import token_expiries
from listener.metrics import Metrics
from listener.simulator import SimAccount
from tests.commandenv import (
    BRAND,
    BRAND_CONFIG,
    IGBRAND,
    IGBRAND_CONFIG,
    NOW,
    Env,
    Launch,
    token_api,
)

# -- the worker's expiry gauge --------------------------------------------------------------------


async def test_token_expiries_from_debug_token_and_from_the_store(
    launch: Launch, metrics: Metrics
) -> None:
    """Facebook accounts via debug_token (0 = never); Instagram ones from their stored refresh."""
    forever = SimAccount(
        ig_user_id="17841400000000003", access_token="EAA-page", username="page", token_ttl=None
    )
    env = await launch(BRAND, IGBRAND, forever)
    page_config = {"name": "page", "ig_user_id": forever.ig_user_id, "access_token": "EAA-page"}
    settings = env.settings(BRAND_CONFIG, IGBRAND_CONFIG, page_config)
    async with token_api(env, metrics) as api:
        assert await token_expiries(api, settings.accounts, app=app_credentials(settings)) == {
            "brand": (NOW + timedelta(days=60)).timestamp(),
            "page": 0.0,
        }
        env.clock.advance(timedelta(days=2))
        assert (await env.refresh(settings, "igbrand"))[0] == 0
        expiries = await token_expiries(
            api, settings.accounts, app=app_credentials(settings), tokens=env.tokens
        )
    assert expiries["igbrand"] == (NOW + timedelta(days=62)).timestamp()
    assert set(expiries) == {"brand", "igbrand", "page"}


async def test_token_expiries_of_a_revoked_token_is_now(env: Env, metrics: Metrics) -> None:
    """A token Meta calls invalid counts as expiring now, so the expiry alert fires."""
    env.world.expire_token(BRAND.ig_user_id)
    settings = env.settings()
    env.clock.advance(timedelta(days=1))
    async with token_api(env, metrics) as api:
        expiries = await token_expiries(
            api, settings.accounts, app=app_credentials(settings), clock=env.clock
        )
    assert expiries == {"brand": (NOW + timedelta(days=1)).timestamp()}
