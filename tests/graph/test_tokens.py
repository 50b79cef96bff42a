"""TokenApi against the simulator: debug_token, fb_exchange_token, ig_refresh_token, secrecy."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
import structlog
from structlog.testing import capture_logs

from listener.errors import (
    AuthError,
    BadRequestError,
    ConfigError,
    GraphError,
    GraphPermissionError,
    MalformedResponseError,
)
from listener.graph.client import GraphClient
from listener.graph.instagram import Credentials
from listener.graph.tokens import (
    REDACTED,
    TokenApi,
    _read,
    _secrets_hidden,
    _TokenAnswer,
    parse_debug_token,
)
from listener.logs import configure_logging
from listener.metrics import Metrics
from listener.simulator import ManualClock, SimAccount, SimulatorConfig, World, serve

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
APP_ID = "1234567890"
APP_SECRET = "app-secret-for-token-tests"
FB = SimAccount(ig_user_id="17841400000000001", access_token="EAA-fb-token", username="brand")
IG = SimAccount(
    ig_user_id="17841400000000002",
    access_token="IGAA-ig-token",
    username="igbrand",
    login="instagram",
)


@dataclass
class Tokens:
    """A running simulator, its world and clock, and a TokenApi on both hosts."""

    world: World
    clock: ManualClock
    api: TokenApi
    client: GraphClient
    sleeps: Sleeps


class Sleeps(list[float]):
    """The client's backoff waits, recorded instead of slept."""

    async def append_async(self, seconds: float) -> None:
        """An injected ``sleep`` that returns at once."""
        self.append(seconds)


@pytest.fixture
async def tokens(metrics: Metrics) -> AsyncIterator[Tokens]:
    """The simulator (app id and secret set) and a TokenApi signing with the app secret."""
    clock = ManualClock(NOW)
    sleeps = Sleeps()
    config = SimulatorConfig(
        accounts=(FB, IG),
        default_rate_per_hour=0.0,
        backfill_hours=0.0,
        tag_rate_per_hour=0.0,
        app_secret=APP_SECRET,
        app_id=APP_ID,
    )
    async with serve(config, clock=clock) as running, aiohttp.ClientSession() as session:
        client = GraphClient(
            session,
            base_url=running.base_url,
            api_version="v25.0",
            app_secret=APP_SECRET,
            timeout_s=5,
            metrics=metrics,
            sleep=sleeps.append_async,
        )
        yield Tokens(running.world, clock, TokenApi(client, client, clock=clock), client, sleeps)


def requests(metrics: Metrics, endpoint: str, outcome: str) -> float:
    """The value of listener_graph_requests_total for one endpoint and outcome."""
    value = metrics.registry.get_sample_value(
        "listener_graph_requests_total", {"endpoint": endpoint, "outcome": outcome}
    )
    return value or 0.0


def assert_hidden(text: str, *secrets: str) -> None:
    """None of ``secrets`` appears in ``text``."""
    for secret in secrets:
        assert secret not in text


async def test_debug_of_a_valid_token(tokens: Tokens, metrics: Metrics) -> None:
    """A valid token: valid, expiring 60 days from the world's start, with its scopes and user."""
    info = await tokens.api.debug(APP_ID, APP_SECRET, FB.access_token, account="brand")
    assert info.is_valid
    assert info.expires_at == NOW + timedelta(days=60)
    assert "instagram_basic" in info.scopes
    assert info.user_id == FB.ig_user_id
    assert info.problem is None
    assert requests(metrics, "debug_token", "ok") == 1


async def test_debug_of_an_expired_token(tokens: Tokens) -> None:
    """Past its expiry the token is reported invalid with Meta's reason and its old date."""
    tokens.clock.advance(timedelta(days=61))
    info = await tokens.api.debug(APP_ID, APP_SECRET, FB.access_token, account="brand")
    assert not info.is_valid
    assert info.expires_at == NOW + timedelta(days=60)
    assert info.problem is not None
    assert "subcode 463" in info.problem


async def test_debug_of_an_unknown_token(tokens: Tokens) -> None:
    """A token Meta cannot read is invalid, without date or scopes, and is not an exception."""
    info = await tokens.api.debug(APP_ID, APP_SECRET, "EAA-nobody-knows", account="brand")
    assert not info.is_valid
    assert info.expires_at is None
    assert info.scopes == ()
    assert info.problem is not None
    assert "code 190" in info.problem
    assert_hidden(info.problem, "EAA-nobody-knows")


async def test_debug_with_a_wrong_app_secret_hides_every_secret(
    tokens: Tokens, metrics: Metrics
) -> None:
    """A wrong app secret is an AuthError whose text and logs show no token and no secret."""
    with capture_logs() as logs, pytest.raises(AuthError) as caught:
        await tokens.api.debug(APP_ID, "wrong-secret", FB.access_token, account="brand")
    assert caught.value.code == 190
    text = f"{caught.value} {caught.value!r} {logs!r}"
    assert_hidden(text, "wrong-secret", APP_SECRET, FB.access_token, f"{APP_ID}|")
    assert requests(metrics, "debug_token", "auth_error") == 1


async def test_exchange_gives_a_long_lived_token(tokens: Tokens, metrics: Metrics) -> None:
    """fb_exchange_token: a new token, 5183944 s to live, that works; repr hides it."""
    tokens.clock.advance(timedelta(days=1))
    new = await tokens.api.exchange_facebook(APP_ID, APP_SECRET, FB.access_token, account="brand")
    assert new.access_token != FB.access_token
    assert new.expires_at == tokens.clock.now + timedelta(seconds=5183944)
    assert new.access_token not in repr(new)
    await tokens.api.verify(Credentials("brand", FB.ig_user_id, new.access_token), login="facebook")
    assert requests(metrics, "oauth_access_token", "ok") == 1


async def test_exchange_of_an_expired_token_is_an_auth_error(tokens: Tokens) -> None:
    """An expired token cannot be exchanged: AuthError with subcode 463, token not in the text."""
    tokens.clock.advance(timedelta(days=60))
    with pytest.raises(AuthError) as caught:
        await tokens.api.exchange_facebook(APP_ID, APP_SECRET, FB.access_token, account="brand")
    assert caught.value.subcode == 463
    assert_hidden(str(caught.value), FB.access_token, APP_SECRET)


async def test_exchange_with_a_wrong_client_secret_is_an_auth_error(tokens: Tokens) -> None:
    """Meta's code 1 for a wrong client secret becomes an AuthError naming the settings to fix."""
    with capture_logs() as logs, pytest.raises(AuthError) as caught:
        await tokens.api.exchange_facebook(APP_ID, "wrong-secret", FB.access_token, account="b")
    assert caught.value.code == 1
    assert "graph.app_secret" in str(caught.value)
    # Code 1 reads as transient to the client, which retries before TokenApi can tell.
    assert len(tokens.sleeps) == tokens.world.stats.count(endpoint="oauth_access_token") - 1
    assert_hidden(f"{caught.value} {logs!r}", "wrong-secret", FB.access_token)


async def test_refresh_too_early_is_a_bad_request(tokens: Tokens, metrics: Metrics) -> None:
    """An Instagram token younger than 24 hours cannot be refreshed: BadRequestError (code 100)."""
    with pytest.raises(BadRequestError) as caught:
        await tokens.api.refresh_instagram(IG.access_token, account="igbrand")
    assert caught.value.code == 100
    assert_hidden(str(caught.value), IG.access_token)
    assert requests(metrics, "refresh_access_token", "client_error") == 1


async def test_refresh_after_a_day_gives_sixty_days_from_now(tokens: Tokens) -> None:
    """At 24 hours old the refresh gives a new token valid 60 days from now, which works."""
    tokens.clock.advance(timedelta(hours=24))
    new = await tokens.api.refresh_instagram(IG.access_token, account="igbrand")
    assert new.expires_at == tokens.clock.now + timedelta(days=60)
    assert tokens.world.current_token(IG.ig_user_id).value == new.access_token
    who = Credentials("igbrand", IG.ig_user_id, new.access_token)
    await tokens.api.verify(who, login="instagram")


async def test_refresh_needs_the_instagram_client(tokens: Tokens) -> None:
    """Without a client for graph.instagram.com an Instagram refresh is a ConfigError."""
    api = TokenApi(tokens.client)
    with pytest.raises(ConfigError):
        await api.refresh_instagram(IG.access_token, account="igbrand")


async def test_verify_refuses_a_token_of_another_account(tokens: Tokens) -> None:
    """A token that does not act for the account is refused (code 10), token hidden."""
    who = Credentials("brand", FB.ig_user_id, IG.access_token)
    with pytest.raises(GraphPermissionError) as caught:
        await tokens.api.verify(who, login="facebook")
    assert_hidden(str(caught.value), IG.access_token)


def test_secrets_are_redacted_from_an_error_that_quotes_them() -> None:
    """Should Meta ever quote a token in a message, the raised error no longer carries it."""
    with pytest.raises(GraphError) as caught, _secrets_hidden("EAA-quoted", "s3cret"):
        raise AuthError("bad token EAA-quoted for app 1|s3cret", endpoint="debug_token", code=190)
    assert str(caught.value) == (
        f"bad token {REDACTED} for app 1|{REDACTED} code=190 endpoint=debug_token"
    )
    assert "EAA-quoted" not in repr(caught.value)


async def test_a_token_issued_by_meta_is_scrubbed_from_logs(tokens: Tokens) -> None:
    """A long-lived token Meta just issued is redacted from any later log line that quotes it."""
    out = io.StringIO()
    configure_logging(stream=out, json=True)
    new = await tokens.api.exchange_facebook(APP_ID, APP_SECRET, FB.access_token, account="brand")
    structlog.get_logger().warning("token.debug", detail=f"GET /me?token={new.access_token}")
    assert new.access_token not in out.getvalue()
    assert REDACTED in out.getvalue()


def read_token_answer(body: Any) -> object:
    """An exchange or refresh answer, read as the token calls read it."""
    return _read(_TokenAnswer, body, endpoint="oauth_access_token")


@pytest.mark.parametrize(
    ("parse", "answer"),
    [
        (parse_debug_token, {"data": {"is_valid": True, "expires_at": 2**70}}),
        (parse_debug_token, {"data": {"is_valid": True, "expires_at": -1}}),
        (read_token_answer, {"access_token": "EAA-new", "expires_in": 10**30}),
    ],
    ids=["expiry-beyond-dates", "expiry-negative", "lifetime-beyond-dates"],
)
def test_a_token_time_beyond_any_date_is_a_malformed_answer(
    parse: Callable[[Any], object], answer: Any
) -> None:
    """An expiry no date can hold is a malformed answer (retried), never an overflow that
    would stop the worker."""
    with pytest.raises(MalformedResponseError):
        parse(answer)
