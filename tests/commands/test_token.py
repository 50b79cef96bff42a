"""``listener token refresh`` end to end: the simulator and a real store."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from listener.commands.token import refresh_tokens
from listener.errors import ConfigError
from tests.commandenv import (
    BRAND,
    BRAND_CONFIG,
    IGBRAND_CONFIG,
    Env,
    demo_settings,
)

# -- listener token refresh -----------------------------------------------------------------------


async def test_refresh_exchanges_and_stores_the_facebook_token(env: Env) -> None:
    """The exchanged token is stored in place of the configured one; only its expiry is shown."""
    with capture_logs() as logs:
        code, lines = await env.refresh(env.settings())
    assert lines == [
        "ok: brand: renewed, expires 2027-01-28 (59 days left)",
        "token refresh: all well",
    ]
    assert code == 0
    current = env.world.current_token(BRAND.ig_user_id).value
    assert current != BRAND.access_token
    assert await env.tokens.current("brand", BRAND.access_token) == current
    assert [entry["event"] for entry in logs] == ["token.renewed"]
    assert current not in repr(logs)
    assert current not in "\n".join(lines)


async def test_check_uses_the_stored_token_once_the_configured_one_expired(env: Env) -> None:
    """After a refresh at day 30, check at day 61 passes on the stored token (28 days left)."""
    env.clock.advance(timedelta(days=30))
    assert (await env.refresh(env.settings()))[0] == 0
    env.clock.advance(timedelta(days=31))
    code, lines = await env.check(env.settings())
    assert "ok: brand: token valid, expires 2027-02-27 (28 days left)" in lines
    assert code == 0


async def test_refresh_of_an_instagram_token_waits_for_24_hours(env: Env) -> None:
    """Too young to refresh is one problem line; a day later it renews and check learns the date."""
    settings = env.settings(IGBRAND_CONFIG)
    code, lines = await env.refresh(settings)
    assert code == 1
    assert lines[0].startswith("problem: igbrand: not renewed: ")
    assert "24 hours" in lines[0]
    assert await env.tokens.load("igbrand") is None
    _, lines = await env.check(settings)
    assert "note: igbrand: token valid; expiry unknown until `listener token refresh` runs" in lines

    env.clock.advance(timedelta(days=1))
    code, lines = await env.refresh(settings)
    assert lines[0] == "ok: igbrand: renewed, expires 2027-01-29 (60 days left)"
    assert code == 0
    code, lines = await env.check(settings)
    assert "ok: igbrand: token valid, expires 2027-01-29 (60 days left)" in lines
    assert code == 0


async def test_refresh_of_a_named_account_leaves_the_others(env: Env) -> None:
    """--account renews only that account."""
    env.clock.advance(timedelta(days=2))
    code, lines = await env.refresh(env.settings(BRAND_CONFIG, IGBRAND_CONFIG), "igbrand")
    assert [line.split(":")[1].strip() for line in lines[:-1]] == ["igbrand"]
    assert code == 0
    assert await env.tokens.load("brand") is None


async def test_refresh_of_an_unknown_account_is_a_config_error(env: Env) -> None:
    """An account name the configuration lacks is refused before anything is called."""
    with pytest.raises(ConfigError, match="unknown account 'nobody'"):
        await env.refresh(env.settings(), "nobody")
    assert env.world.stats.count() == 0


async def test_refresh_of_a_facebook_token_needs_the_app_id(env: Env) -> None:
    """Without graph.app_id the exchange is not tried: one problem line, nothing stored."""
    code, lines = await env.refresh(env.settings(app_id=""))
    assert lines[0] == (
        "problem: brand: not renewed: a Facebook token exchange needs the app: "
        "set graph.app_id and graph.app_secret"
    )
    assert code == 1
    assert env.world.stats.count(endpoint="oauth_access_token") == 0


async def test_refresh_asks_nothing_of_meta_while_the_store_is_down(env: Env) -> None:
    """A renewed token that cannot be stored would be lost, so none is asked for."""
    settings = env.store_down(env.settings())
    code, lines = await env.refresh(settings)
    assert lines[0].startswith("problem: store: MongoDB ping failed")
    assert lines[1] == "problem: tokens: none renewed: a renewed token could not be stored"
    assert code == 1
    assert env.world.stats.count() == 0


async def test_refresh_in_demo_mode_stores_nothing(tmp_path: Path) -> None:
    """The in-process simulator forgets its tokens, so a demo refresh is shown, not stored."""
    out = io.StringIO()
    assert await refresh_tokens(demo_settings(tmp_path), out) == 0, out.getvalue()
    line = out.getvalue().splitlines()[0]
    assert line.startswith("note: brand: renewed, expires ")
    assert line.endswith("not stored: the built-in simulator forgets it")
