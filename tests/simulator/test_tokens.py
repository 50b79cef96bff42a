"""Token endpoints: debug_token, the fb_exchange_token exchange and ig_refresh_token (§5)."""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta

import pytest

from listener.simulator import SimAccount
from tests.simulator.conftest import Launch
from tests.simulator.harness import BRAND, OTHER, START, Client

APP_ID = "1234567890"
SECRET = "app-secret-for-tests"
APP_TOKEN = f"{APP_ID}|{SECRET}"
DAY = timedelta(days=1)
IG_ACCOUNT = SimAccount(
    ig_user_id="17841400000000003",
    access_token="IGAA-ig-token",
    username="iguser",
    login="instagram",
)


def epoch(days: float) -> int:
    """Unix seconds ``days`` after the world's start."""
    return int((START + timedelta(days=days)).timestamp())


def proof(token: str) -> str:
    """appsecret_proof of ``token`` under the test app secret."""
    return hmac.new(SECRET.encode(), token.encode(), hashlib.sha256).hexdigest()


@pytest.fixture
async def app(launch: Launch) -> Client:
    """A simulator that knows its app id and secret, with a Facebook and an Instagram account."""
    return await launch(accounts=(BRAND, OTHER, IG_ACCOUNT), app_id=APP_ID, app_secret=SECRET)


async def debug(sim: Client, input_token: str, app_token: str = APP_TOKEN) -> dict[str, object]:
    """debug_token's ``data`` for ``input_token`` (fails the test on an error answer)."""
    reply = await sim.get("/debug_token", access_token=app_token, input_token=input_token)
    assert reply.status == 200, reply.text
    data: dict[str, object] = reply.body["data"]
    return data


async def exchange(sim: Client, token: str, **overrides: str) -> tuple[int, dict[str, object]]:
    """Call fb_exchange_token for ``token``; (status, body)."""
    params = {
        "grant_type": "fb_exchange_token",
        "client_id": APP_ID,
        "client_secret": SECRET,
        "fb_exchange_token": token,
        **overrides,
    }
    reply = await sim.get_url(f"{sim.base_url}/v25.0/oauth/access_token", params)
    return reply.status, reply.body


async def refresh(
    sim: Client, token: str, grant_type: str = "ig_refresh_token"
) -> dict[str, object]:
    """Call ig_refresh_token for ``token`` (signed); the body."""
    reply = await sim.get(
        "/refresh_access_token",
        access_token=token,
        grant_type=grant_type,
        appsecret_proof=proof(token),
    )
    body: dict[str, object] = reply.body
    return body


async def tags_status(sim: Client, token: str, account: SimAccount = BRAND) -> int:
    """The HTTP status of a signed ``/tags`` call with ``token``."""
    reply = await sim.get(
        f"/{account.ig_user_id}/tags", access_token=token, appsecret_proof=proof(token)
    )
    return reply.status


# -- debug_token ----------------------------------------------------------------------------------


async def test_debug_token_describes_a_valid_token(app: Client) -> None:
    """A valid token: Meta's fields, expiring 60 days after the world's start, with its scopes."""
    data = await debug(app, BRAND.access_token)
    assert data["is_valid"] is True
    assert data["type"] == "USER"
    assert data["app_id"] == APP_ID
    assert data["user_id"] == BRAND.ig_user_id
    assert data["issued_at"] == epoch(0)
    assert data["expires_at"] == epoch(60)
    assert data["data_access_expires_at"] == epoch(90)
    assert "instagram_basic" in data["scopes"]  # type: ignore[operator]  # the JSON body's values are typed object
    assert "error" not in data


async def test_debug_token_reports_expiry_by_time(app: Client) -> None:
    """Past its 60 days a token is invalid in debug_token (463 in data) and refused elsewhere."""
    app.clock.advance(timedelta(days=60))
    data = await debug(app, BRAND.access_token)
    assert data["is_valid"] is False
    assert data["expires_at"] == epoch(60)
    assert data["error"]["subcode"] == 463  # type: ignore[index]  # the JSON body's values are typed object
    reply = await app.get(f"/{BRAND.ig_user_id}/tags", appsecret_proof=proof(BRAND.access_token))
    assert (reply.error["code"], reply.error["error_subcode"]) == (190, 463)


async def test_debug_token_reports_a_world_expired_token(app: Client) -> None:
    """A token the world expired is invalid in debug_token, with error 190/463 inside data."""
    app.world.expire_token(BRAND.ig_user_id)
    data = await debug(app, BRAND.access_token)
    assert data["is_valid"] is False
    assert data["error"]["code"] == 190  # type: ignore[index]  # the JSON body's values are typed object


async def test_debug_token_of_an_unknown_token_is_invalid_not_an_error(app: Client) -> None:
    """An unknown input token answers 200 with is_valid false and an error object, as Meta does."""
    data = await debug(app, "EAA-nobody")
    assert data["is_valid"] is False
    assert data["scopes"] == []
    assert data["error"]["code"] == 190  # type: ignore[index]  # the JSON body's values are typed object
    assert "user_id" not in data


async def test_debug_token_of_a_never_expiring_token_says_zero(launch: Launch) -> None:
    """A token without expiry (like a Page token) has expires_at 0."""
    page = SimAccount(
        ig_user_id="17841400000000009", access_token="EAA-page", username="p", token_ttl=None
    )
    sim = await launch(accounts=(page,), app_id=APP_ID, app_secret=SECRET)
    assert (await debug(sim, page.access_token))["expires_at"] == 0


@pytest.mark.parametrize(
    "app_token",
    [
        f"{APP_ID}|wrong-secret",
        f"999|{SECRET}",
        f"{APP_ID}|",
        "|" + SECRET,
        f"{APP_ID}|sécret",
        "nobody",
    ],
)
async def test_debug_token_refuses_a_wrong_app_token(app: Client, app_token: str) -> None:
    """An app token with the wrong id or secret (or no valid token at all) is code 190."""
    reply = await app.get("/debug_token", access_token=app_token, input_token=BRAND.access_token)
    assert (reply.status, reply.error["code"]) == (400, 190)


async def test_debug_token_without_app_id_accepts_any_id_but_checks_the_secret(
    launch: Launch,
) -> None:
    """With no app_id configured any id passes, but the secret part must still be the app's."""
    sim = await launch(app_secret=SECRET)
    good = await sim.get(
        "/debug_token", access_token=f"42|{SECRET}", input_token=BRAND.access_token
    )
    assert good.body["data"]["app_id"] == "42"
    bad = await sim.get("/debug_token", access_token="42|nope", input_token=BRAND.access_token)
    assert bad.error["code"] == 190


async def test_debug_token_checks_an_appsecret_proof_of_the_app_token(app: Client) -> None:
    """A proof computed over the app token is accepted; one over anything else is code 100."""
    ok = await app.get(
        "/debug_token",
        access_token=APP_TOKEN,
        input_token=BRAND.access_token,
        appsecret_proof=proof(APP_TOKEN),
    )
    assert ok.status == 200, ok.text
    wrong = await app.get(
        "/debug_token",
        access_token=APP_TOKEN,
        input_token=BRAND.access_token,
        appsecret_proof=proof(BRAND.access_token),
    )
    assert wrong.error["code"] == 100


async def test_debug_token_accepts_a_developer_user_token(app: Client) -> None:
    """An app developer's valid (signed) user token may debug another token of the same app."""
    reply = await app.get(
        "/debug_token",
        access_token=BRAND.access_token,
        appsecret_proof=proof(BRAND.access_token),
        input_token=OTHER.access_token,
    )
    assert reply.body["data"]["is_valid"] is True


async def test_debug_token_needs_input_token(app: Client) -> None:
    """Without input_token the call is code 100 naming the parameter."""
    reply = await app.get("/debug_token", access_token=APP_TOKEN)
    assert reply.error["code"] == 100
    assert "input_token" in reply.error["message"]


# -- fb_exchange_token ----------------------------------------------------------------------------


async def test_exchange_gives_a_long_lived_token_and_keeps_the_old_one(app: Client) -> None:
    """The exchange answers Meta's shape; the new token works and is current; the old one too."""
    app.clock.advance(DAY)
    status, body = await exchange(app, BRAND.access_token)
    assert status == 200, body
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 5183944
    new = str(body["access_token"])
    assert new.startswith("EAA")
    assert new != BRAND.access_token
    assert app.world.current_token(BRAND.ig_user_id).value == new
    assert await tags_status(app, new) == 200
    assert await tags_status(app, BRAND.access_token) == 200
    data = await debug(app, new)
    assert data["expires_at"] == epoch(1) + 5183944
    assert data["issued_at"] == epoch(1)


async def test_exchange_of_an_expired_token_is_190(app: Client) -> None:
    """ "You can not use an expired token to request a long-lived token": 190/463."""
    app.clock.advance(timedelta(days=61))
    status, body = await exchange(app, BRAND.access_token)
    assert status == 400
    assert (body["error"]["code"], body["error"]["error_subcode"]) == (190, 463)  # type: ignore[index]  # the JSON body's values are typed object


@pytest.mark.parametrize(
    ("override", "code"),
    [
        ({"client_secret": "wrong"}, 1),
        ({"client_id": "999"}, 101),
        ({"client_id": ""}, 101),
        ({"client_secret": ""}, 101),
        ({"fb_exchange_token": ""}, 1),
        ({"grant_type": "client_credentials"}, 100),
        ({"fb_exchange_token": IG_ACCOUNT.access_token}, 190),
        ({"fb_exchange_token": "EAA-nobody"}, 190),
    ],
)
async def test_exchange_refuses_bad_input(app: Client, override: dict[str, str], code: int) -> None:
    """Wrong app credentials, a missing token, another grant or a non-Facebook token are refused."""
    status, body = await exchange(app, BRAND.access_token, **override)
    assert status == 400
    assert body["error"]["code"] == code  # type: ignore[index]  # the JSON body's values are typed object
    assert app.world.current_token(BRAND.ig_user_id).value == BRAND.access_token


# -- ig_refresh_token -----------------------------------------------------------------------------


async def test_refresh_before_24_hours_is_refused_with_code_100(app: Client) -> None:
    """An Instagram token younger than 24 hours cannot be refreshed (code 100) and still works."""
    app.clock.advance(timedelta(hours=23, minutes=59))
    body = await refresh(app, IG_ACCOUNT.access_token)
    assert body["error"]["code"] == 100  # type: ignore[index]  # the JSON body's values are typed object
    assert "24 hours" in body["error"]["message"]  # type: ignore[index]  # the JSON body's values are typed object
    assert await tags_status(app, IG_ACCOUNT.access_token, IG_ACCOUNT) == 200


async def test_refresh_after_24_hours_gives_60_days_from_now(app: Client) -> None:
    """At 24 hours old the refresh succeeds: a new token valid 60 days from the refresh."""
    app.clock.advance(timedelta(days=10))
    body = await refresh(app, IG_ACCOUNT.access_token)
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 60 * 86400
    new = str(body["access_token"])
    assert new.startswith("IGAA")
    assert (await debug(app, new))["expires_at"] == epoch(70)
    assert app.world.current_token(IG_ACCOUNT.ig_user_id).value == new
    assert await tags_status(app, new, IG_ACCOUNT) == 200


async def test_refresh_of_an_expired_token_is_190_463(app: Client) -> None:
    """An expired Instagram token cannot be refreshed: 190/463."""
    app.clock.advance(timedelta(days=60))
    body = await refresh(app, IG_ACCOUNT.access_token)
    assert (body["error"]["code"], body["error"]["error_subcode"]) == (190, 463)  # type: ignore[index]  # the JSON body's values are typed object


async def test_refresh_refuses_a_facebook_token_and_another_grant(app: Client) -> None:
    """ig_refresh_token is for Instagram tokens (190 otherwise) and needs its grant_type (100)."""
    app.clock.advance(timedelta(days=2))
    assert (await refresh(app, BRAND.access_token))["error"]["code"] == 190  # type: ignore[index]  # the JSON body's values are typed object
    wrong = await refresh(app, IG_ACCOUNT.access_token, grant_type="fb_exchange_token")
    assert wrong["error"]["code"] == 100  # type: ignore[index]  # the JSON body's values are typed object


async def test_refresh_needs_appsecret_proof_when_the_app_has_a_secret(app: Client) -> None:
    """refresh_access_token is authenticated like any call: no proof, code 100."""
    app.clock.advance(timedelta(days=2))
    reply = await app.get(
        "/refresh_access_token", access_token=IG_ACCOUNT.access_token, grant_type="ig_refresh_token"
    )
    assert reply.error["code"] == 100
    assert "appsecret_proof" in reply.error["message"]


async def test_token_endpoints_answer_without_version_and_are_counted(app: Client) -> None:
    """Meta's unversioned token URLs work, and the calls appear in stats under bounded names."""
    reply = await app.get(
        "/debug_token", version="", access_token=APP_TOKEN, input_token=BRAND.access_token
    )
    assert reply.status == 200
    await exchange(app, BRAND.access_token)
    assert app.world.stats.count(endpoint="debug_token") == 1
    assert app.world.stats.count(endpoint="oauth_access_token", ig_user_id=BRAND.ig_user_id) == 1


async def test_expire_control_route_expires_every_token_of_the_account(app: Client) -> None:
    """POST /__sim/expire hits the exchanged token as well as the original one."""
    _, body = await exchange(app, BRAND.access_token)
    new = str(body["access_token"])
    assert (await app.control("expire", {"ig_user_id": BRAND.ig_user_id})).status == 200
    assert await tags_status(app, new) == 400
    assert await tags_status(app, BRAND.access_token) == 400
    assert await tags_status(app, OTHER.access_token, OTHER) == 200
