"""Usage headers, budget exhaustion and scripted throttles."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.simulator.conftest import Launch
from tests.simulator.harness import BRAND, OTHER, Client

TAGS_PATH = f"/{BRAND.ig_user_id}/tags"


async def test_app_usage_header_on_every_call_and_rising(launch: Launch) -> None:
    """X-App-Usage is on every answer, and hashtag calls raise its percentages."""
    sim = await launch(app_calls_per_hour=10)
    counts = [(await sim.search(f"tag{i}")).app_usage["call_count"] for i in range(3)]
    assert counts == [10, 20, 30]
    usage = (await sim.search("tag0")).app_usage
    assert set(usage) == {"call_count", "total_time", "total_cputime"}
    assert usage["call_count"] == 40
    tags_reply = await sim.get(TAGS_PATH)
    assert tags_reply.app_usage["call_count"] == 40  # BUC calls do not use the app budget


async def test_buc_header_only_on_buc_endpoints_and_rising(launch: Launch) -> None:
    """X-Business-Use-Case-Usage is keyed by the IG user and rises with BUC calls only."""
    sim = await launch(buc_calls_per_hour=20)
    first = await sim.get(TAGS_PATH)
    second = await sim.get(f"/{BRAND.ig_user_id}", fields="username")
    assert first.buc_usage(BRAND.ig_user_id) == {
        "type": "instagram",
        "call_count": 5,
        "total_cputime": 2,
        "total_time": 3,
        "estimated_time_to_regain_access": 0,
    }
    assert second.buc_usage(BRAND.ig_user_id)["call_count"] == 10
    assert "X-Business-Use-Case-Usage" not in (await sim.search("summerdrop")).headers


async def test_exhausted_app_budget_is_code_4_until_usage_falls(launch: Launch) -> None:
    """At 100 % of the app budget hashtag calls fail with code 4; an hour later they pass."""
    sim = await launch(app_calls_per_hour=3)
    for _ in range(3):
        assert (await sim.search("summerdrop")).status == 200
    refused = await sim.search("summerdrop")
    assert refused.error["code"] == 4
    assert refused.error["message"] == "(#4) Application request limit reached"
    assert refused.app_usage["call_count"] == 100
    assert (await sim.get(TAGS_PATH)).status == 200  # BUC endpoints are not on the app budget
    sim.clock.advance(timedelta(hours=1))
    assert (await sim.search("summerdrop")).status == 200


async def test_exhausted_buc_budget_is_80002_with_regain_time(launch: Launch) -> None:
    """At 100 % of an account's BUC budget its calls fail with 80002 and a regain estimate."""
    sim = await launch(buc_calls_per_hour=2)
    await sim.get(TAGS_PATH)
    sim.clock.advance(timedelta(minutes=20))
    await sim.get(TAGS_PATH)
    refused = await sim.get(TAGS_PATH)
    assert refused.error["code"] == 80002
    assert refused.error["message"].startswith("There have been too many calls to this Instagram")
    usage = refused.buc_usage(BRAND.ig_user_id)
    assert (usage["call_count"], usage["estimated_time_to_regain_access"]) == (100, 40)
    assert (await sim.get(f"/{OTHER.ig_user_id}/tags", account=OTHER)).status == 200
    sim.clock.advance(timedelta(minutes=40))
    assert (await sim.get(TAGS_PATH)).status == 200


@pytest.mark.parametrize(
    ("scope", "code", "endpoint"),
    [
        ("app", 4, "hashtag"),
        ("app", 613, "hashtag"),
        (BRAND.ig_user_id, 17, "hashtag"),
        (BRAND.ig_user_id, 17, "buc"),
        (BRAND.ig_user_id, 80002, "buc"),
        (BRAND.ig_user_id, 32, "buc"),
    ],
)
async def test_scripted_throttle_fails_calls_with_its_code_until_it_ends(
    sim: Client, scope: str, code: int, endpoint: str
) -> None:
    """A scripted throttle fails the scope's calls with its code, then lifts on time."""
    sim.world.throttle(scope, code, minutes=10, now=sim.clock.now)

    async def call() -> int:
        reply = (
            await sim.search("summerdrop") if endpoint == "hashtag" else await sim.get(TAGS_PATH)
        )
        if endpoint == "buc":
            regain = reply.buc_usage(BRAND.ig_user_id)["estimated_time_to_regain_access"]
            assert regain == (10 if reply.status != 200 else 0)
        else:
            assert reply.app_usage["call_count"] == (
                100 if scope == "app" and reply.status != 200 else 0
            )
        return reply.error["code"] if reply.status != 200 else 200

    assert await call() == code
    assert sim.world.stats.count(outcome="throttled") == 1  # the refused call is still recorded
    sim.clock.advance(timedelta(minutes=10))
    assert await call() == 200


async def test_buc_throttle_leaves_other_accounts_and_hashtag_calls_alone(sim: Client) -> None:
    """80002 on one account stops its BUC calls only: OTHER and hashtag search still work."""
    sim.world.throttle(BRAND.ig_user_id, 80002, minutes=5, now=sim.clock.now)
    assert (await sim.get(TAGS_PATH)).error["code"] == 80002
    other = await sim.get(f"/{OTHER.ig_user_id}/tags", account=OTHER)
    assert other.status == 200
    assert other.buc_usage(OTHER.ig_user_id)["estimated_time_to_regain_access"] == 0
    assert (await sim.search("summerdrop")).status == 200


async def test_calls_while_throttled_are_counted_in_stats(sim: Client) -> None:
    """Stats record each refused call, so a test can assert how many were made while throttled."""
    sim.world.throttle("app", 4, minutes=5, now=sim.clock.now)
    for _ in range(3):
        await sim.search("summerdrop")
    assert sim.world.stats.count(endpoint="ig_hashtag_search", outcome="throttled") == 3
    assert sim.world.stats.calls[("ig_hashtag_search", BRAND.ig_user_id)] == 3
    assert sim.world.distinct_hashtags(BRAND.ig_user_id, sim.clock.now) == ()


@pytest.mark.parametrize(("scope", "code"), [("app", 80002), ("app", 5), ("nobody", 4)])
async def test_bad_throttle_scripts_are_refused(sim: Client, scope: str, code: int) -> None:
    """80002 on the app, unknown codes and unknown accounts are script errors."""
    with pytest.raises(ValueError, match=r"code|scope|80002"):
        sim.world.throttle(scope, code, minutes=1, now=sim.clock.now)
