"""``listener check`` end to end (the simulator and a real store), and the scopes features need."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from listener.commands.check import check, missing_scopes
from listener.settings import AccountSettings
from tests.commandenv import (
    BRAND,
    BRAND_CONFIG,
    IGBRAND_CONFIG,
    Env,
    Launch,
    demo_settings,
)


@pytest.mark.parametrize(
    ("config", "scopes", "missing"),
    [
        (BRAND_CONFIG, ("instagram_basic", "instagram_manage_comments"), {}),
        (
            BRAND_CONFIG,
            ("instagram_basic",),
            {"instagram_manage_comments": ["tags", "mentions"]},
        ),
        (
            BRAND_CONFIG,
            (),
            {
                "instagram_basic": ["hashtags"],
                "instagram_manage_comments": ["tags", "mentions"],
            },
        ),
        ({**BRAND_CONFIG, "tags": False, "mentions": False}, ("instagram_basic",), {}),
        ({**BRAND_CONFIG, "hashtags": []}, ("instagram_manage_comments",), {}),
        (
            {**BRAND_CONFIG, "tags": False, "mentions": False, "comments": True},
            ("instagram_basic",),
            {"instagram_manage_comments": ["comments"]},
        ),
        (IGBRAND_CONFIG, (), {}),
    ],
)
def test_missing_scopes(
    config: dict[str, Any], scopes: tuple[str, ...], missing: dict[str, list[str]]
) -> None:
    """Each switched-on feature needs its scope; Instagram Login accounts are not judged."""
    assert missing_scopes(AccountSettings(**config), scopes) == missing


# -- listener check -------------------------------------------------------------------------------


async def test_check_all_well(env: Env) -> None:
    """Store up, token valid for 60 days with every scope: three ok lines and exit code 0."""
    code, lines = await env.check(env.settings())
    assert lines == [
        "ok: store: MongoDB answers",
        "ok: brand: token valid, expires 2027-01-28 (60 days left)",
        "check: all well",
    ]
    assert code == 0


async def test_check_reports_a_config_the_worker_would_refuse(env: Env) -> None:
    """A config `listener run` refuses (webhooks without a secret) is a problem, exit 1."""
    settings = env.settings()
    unsigned = settings.model_copy(
        update={"graph": settings.graph.model_copy(update={"app_secret": SecretStr("")})}
    )
    code, lines = await env.check(unsigned)
    assert code == 1
    assert (
        "problem: config: `listener run` would refuse to start: graph.app_secret is empty but "
        "accounts.0.mentions = true receives webhooks"
    ) in "\n".join(lines)


async def test_check_warns_a_token_expiring_within_a_week(launch: Launch) -> None:
    """A token with 3 days left is a warning telling what to run, and exit code 1."""
    env = await launch(replace(BRAND, token_ttl=timedelta(days=3)))
    code, lines = await env.check(env.settings())
    assert (
        "warning: brand: token valid, expires 2026-12-02 (3 days left): "
        "renew it with `listener token refresh`"
    ) in lines
    assert lines[-1] == "check: 1 warning"
    assert code == 1


async def test_check_reports_missing_scopes(launch: Launch) -> None:
    """A token without instagram_manage_comments is a problem for tags and mentions."""
    env = await launch(replace(BRAND, scopes=("instagram_basic",)))
    code, lines = await env.check(env.settings())
    assert (
        "problem: brand: token lacks instagram_manage_comments, needed for tags, mentions" in lines
    )
    assert code == 1


async def test_check_reports_an_expired_token_in_one_line(env: Env) -> None:
    """An expired token is one problem line quoting Meta's codes, with no traceback."""
    env.world.expire_token(BRAND.ig_user_id)
    code, lines = await env.check(env.settings())
    problem = next(line for line in lines if line.startswith("problem: brand:"))
    assert "token refused" in problem
    assert "code=190 subcode=463" in problem
    assert not any("Traceback" in line for line in lines)
    assert lines[-1] == "check: 1 problem"
    assert code == 1


async def test_check_without_app_id_notes_unknown_expiry(env: Env) -> None:
    """Without graph.app_id the token is still proven to work; its expiry is a note, exit 0."""
    code, lines = await env.check(env.settings(app_id=""))
    assert (
        "note: brand: token valid; token expiry unknown: set graph.app_id and graph.app_secret"
    ) in lines
    assert code == 0


async def test_check_with_a_wrong_app_id_says_which_settings_to_look_at(env: Env) -> None:
    """debug_token refusing the app token is one problem line pointing at the app settings."""
    code, lines = await env.check(env.settings(app_id="999"))
    problem = next(line for line in lines if line.startswith("problem: brand:"))
    assert "debug_token failed (are graph.app_id and graph.app_secret right?)" in problem
    assert "code=190" in problem
    assert code == 1


async def test_check_names_an_account_id_meta_does_not_know(env: Env) -> None:
    """A configured ig_user_id Meta answers "object missing" for is named, not a throttle."""
    wrong = {**BRAND_CONFIG, "ig_user_id": "17841499999999999"}
    code, lines = await env.check(env.settings(wrong))
    problem = next(line for line in lines if line.startswith("problem: brand:"))
    assert problem.startswith(
        "problem: brand: ig_user_id 17841499999999999 does not exist or this token cannot read it"
    )
    assert "code=100 subcode=33" in problem
    assert code == 1


async def test_check_reports_an_unreachable_store_and_goes_on(env: Env) -> None:
    """MongoDB down is one problem line; the accounts are still checked."""
    settings = env.store_down(env.settings())
    code, lines = await env.check(settings)
    assert lines[0].startswith("problem: store: MongoDB ping failed")
    assert "ok: brand: token valid, expires 2027-01-28 (60 days left)" in lines
    assert code == 1


async def test_check_with_no_accounts_is_a_problem(env: Env) -> None:
    """A configuration without accounts listens to nothing: a problem."""
    settings = env.settings().model_copy(update={"accounts": []})
    code, lines = await env.check(settings)
    assert "problem: accounts: none configured: there is nothing to listen to" in lines
    assert code == 1


async def test_check_in_demo_mode_starts_the_simulator_and_the_embedded_store(
    tmp_path: Path,
) -> None:
    """With the demo settings check starts its own simulator and store, and all is well."""
    out = io.StringIO()
    assert await check(demo_settings(tmp_path), out) == 0, out.getvalue()
    lines = out.getvalue().splitlines()
    assert lines[0] == "ok: store: MongoDB answers"
    assert lines[1].startswith("ok: brand: token valid, expires ")


def giveaway_settings(env: Env, post: str) -> Any:
    """The brand with comments on, and a comment giveaway on ``post``."""
    settings = env.settings({**BRAND_CONFIG, "comments": True})
    return settings.model_validate(
        {
            **settings.model_dump(),
            "campaigns": [
                {
                    "id": "giveaway",
                    "account": "brand",
                    "kind": "comments",
                    "posts": [post],
                    "starts_at": "2026-11-01T00:00:00Z",
                    "ends_at": "2026-12-31T00:00:00Z",
                }
            ],
        }
    )


async def test_check_names_a_campaign_permalink_that_is_not_the_accounts(env: Env) -> None:
    """A comment campaign's permalink missing from the account's media is one problem line."""
    env.world.add_post(timestamp=env.clock() - timedelta(hours=1), owner=BRAND.ig_user_id)
    foreign = "https://www.instagram.com/p/NotTheBrands/"
    code, lines = await env.check(giveaway_settings(env, foreign))
    assert (
        f"problem: brand: campaign post {foreign} is not among account 'brand''s media: give "
        "one of its own posts (a permalink or a media id)"
    ) in lines
    assert code == 1


async def test_check_accepts_the_accounts_own_permalink(env: Env) -> None:
    """A comment campaign on one of the account's own posts adds no problem."""
    media_id = env.world.add_post(
        timestamp=env.clock() - timedelta(hours=1), owner=BRAND.ig_user_id
    )
    post = env.world.post(media_id)
    assert post is not None
    code, lines = await env.check(giveaway_settings(env, post.permalink))
    assert not [line for line in lines if line.startswith("problem")]
    assert code == 0
