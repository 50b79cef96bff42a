"""Tokens, account ownership and appsecret_proof."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from tests.simulator.conftest import Launch
from tests.simulator.harness import BRAND, OTHER, Client

SECRET = "app-secret-for-tests"


def proof(token: str, secret: str = SECRET) -> str:
    """Meta's appsecret_proof: hex HMAC-SHA256 of the token keyed by the app secret."""
    return hmac.new(secret.encode(), token.encode(), hashlib.sha256).hexdigest()


async def test_unknown_token_is_190_467(sim: Client) -> None:
    """A token that belongs to no account is OAuthException 190 with subcode 467."""
    reply = await sim.get(f"/{BRAND.ig_user_id}/tags", access_token="nobody")
    assert reply.status == 400
    error = reply.error
    assert (error["type"], error["code"], error["error_subcode"]) == ("OAuthException", 190, 467)
    assert set(error) == {"message", "type", "code", "error_subcode", "fbtrace_id"}


async def test_expired_token_is_190_463(sim: Client) -> None:
    """Once the world expires an account's token, its calls get 190 with subcode 463."""
    sim.world.expire_token(BRAND.ig_user_id)
    reply = await sim.search("summerdrop")
    assert (reply.error["code"], reply.error["error_subcode"]) == (190, 463)
    assert (await sim.search("summerdrop", account=OTHER)).status == 200


async def test_missing_token_is_104(sim: Client) -> None:
    """No token at all is Meta's code 104."""
    reply = await sim.get_url(f"{sim.base_url}/v25.0/{BRAND.ig_user_id}/tags")
    assert reply.error["code"] == 104


async def test_bearer_header_is_accepted(sim: Client) -> None:
    """The token may come in an Authorization: Bearer header instead of the query."""
    url = f"{sim.base_url}/v25.0/{BRAND.ig_user_id}/tags"
    headers = {"Authorization": f"Bearer {BRAND.access_token}"}
    async with sim.session.get(url, headers=headers) as response:
        assert response.status == 200


@pytest.mark.parametrize(
    "path", [f"/{OTHER.ig_user_id}/tags", f"/{OTHER.ig_user_id}/recently_searched_hashtags"]
)
async def test_token_must_belong_to_the_account_in_the_path(sim: Client, path: str) -> None:
    """BRAND's token cannot read OTHER's edges: code 10, HTTP 403."""
    reply = await sim.get(path)
    assert (reply.status, reply.error["code"]) == (403, 10)


async def test_token_must_belong_to_the_user_id_param(sim: Client) -> None:
    """BRAND's token cannot search as OTHER: code 10, HTTP 403, and no slot is spent."""
    reply = await sim.get("/ig_hashtag_search", user_id=OTHER.ig_user_id, q="summerdrop")
    assert (reply.status, reply.error["code"]) == (403, 10)
    assert sim.world.distinct_hashtags(OTHER.ig_user_id, sim.clock.now) == ()


async def test_user_id_is_required_on_hashtag_edges(sim: Client) -> None:
    """recent_media without user_id is a code 100 error."""
    reply = await sim.get(f"/{sim.world.hashtag_id('summerdrop')}/recent_media")
    assert reply.error["code"] == 100
    assert "user_id" in reply.error["message"]


async def test_appsecret_proof_missing_is_code_100(launch: Launch) -> None:
    """With an app secret configured, a call without appsecret_proof is refused (code 100)."""
    sim = await launch(app_secret=SECRET)
    reply = await sim.search("summerdrop")
    assert (reply.status, reply.error["code"]) == (400, 100)
    assert "appsecret_proof" in reply.error["message"]


async def test_appsecret_proof_wrong_is_code_100(launch: Launch) -> None:
    """A proof made with another secret (or for another token) is refused with Meta's message."""
    sim = await launch(app_secret=SECRET)
    for wrong in (proof(BRAND.access_token, "other-secret"), proof(OTHER.access_token), "zz✓"):
        reply = await sim.get(
            "/ig_hashtag_search", user_id=BRAND.ig_user_id, q="summerdrop", appsecret_proof=wrong
        )
        assert reply.error["code"] == 100
        assert reply.error["message"] == "Invalid appsecret_proof provided in the API argument"


async def test_appsecret_proof_right_is_accepted(launch: Launch) -> None:
    """HMAC-SHA256(app_secret, access_token) in hex is accepted."""
    sim = await launch(app_secret=SECRET)
    reply = await sim.get(
        "/ig_hashtag_search",
        user_id=BRAND.ig_user_id,
        q="summerdrop",
        appsecret_proof=proof(BRAND.access_token),
    )
    assert reply.status == 200, reply.text


async def test_without_app_secret_no_proof_is_needed(sim: Client) -> None:
    """With no app secret configured, calls need no appsecret_proof."""
    assert (await sim.search("summerdrop")).status == 200
