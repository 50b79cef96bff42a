"""The 30-hashtags-in-7-days rule over HTTP, and recently_searched_hashtags."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.simulator.harness import BRAND, OTHER, START, Client

DAY = timedelta(days=1)


async def spend(sim: Client, tags: list[str]) -> None:
    """Search each tag as BRAND; every search must succeed."""
    for tag in tags:
        reply = await sim.search(tag)
        assert reply.status == 200, reply.text


TAGS = [f"tag{i}" for i in range(30)]


async def test_31st_distinct_hashtag_is_refused(sim: Client) -> None:
    """Thirty distinct tags succeed; the 31st gets code 24 (assumed) and spends nothing."""
    await spend(sim, TAGS)
    reply = await sim.search("onetoomany")
    assert reply.status == 400
    assert reply.error["code"] == 24
    assert "limit" in reply.error["message"].lower()
    assert len(sim.world.distinct_hashtags(BRAND.ig_user_id, START)) == 30
    assert "onetoomany" not in sim.world.distinct_hashtags(BRAND.ig_user_id, START)


async def test_reusing_a_spent_hashtag_is_allowed(sim: Client) -> None:
    """With all 30 slots used, search and recent_media on a spent tag still succeed."""
    await spend(sim, TAGS)
    assert (await sim.search("tag0")).status == 200
    assert (await sim.media("tag7")).status == 200
    assert (await sim.media("tag7", "top_media")).status == 200


async def test_the_limit_is_per_account(sim: Client) -> None:
    """Another account has its own 30 slots."""
    await spend(sim, TAGS)
    assert (await sim.search("onetoomany", account=OTHER)).status == 200


@pytest.mark.parametrize("edge", ["recent_media", "top_media", ""])
async def test_any_hashtag_endpoint_spends_a_slot(sim: Client, edge: str) -> None:
    """recent_media, top_media and the hashtag node spend a slot even with a cached id."""
    tag_id = sim.world.hashtag_id("cached")
    path = f"/{tag_id}/{edge}" if edge else f"/{tag_id}"
    reply = await sim.get(path, user_id=BRAND.ig_user_id)
    assert reply.status == 200, reply.text
    assert sim.world.distinct_hashtags(BRAND.ig_user_id, START) == ("cached",)


async def test_a_slot_frees_seven_days_after_first_use(sim: Client) -> None:
    """A slot frees 7 days after first use, and re-use on day 6 does not reset its timer."""
    await spend(sim, ["first"])
    sim.clock.advance(DAY)
    await spend(sim, TAGS[:29])
    sim.clock.advance(5 * DAY)
    await spend(sim, ["first"])  # day 6: allowed, timer unchanged
    sim.clock.advance(DAY - timedelta(seconds=1))
    assert (await sim.search("newcomer")).error["code"] == 24
    sim.clock.advance(timedelta(seconds=1))  # exactly 7 days after "first" was first used
    assert (await sim.search("newcomer")).status == 200
    assert "first" not in sim.world.distinct_hashtags(BRAND.ig_user_id, sim.clock.now)


async def test_recently_searched_hashtags_lists_spent_ids(sim: Client) -> None:
    """The edge lists the distinct tag ids spent in the rolling 7 days, and forgets them after."""
    await spend(sim, ["summerdrop", "sunset", "summerdrop"])
    path = f"/{BRAND.ig_user_id}/recently_searched_hashtags"
    reply = await sim.get(path)
    expected = [{"id": sim.world.hashtag_id("summerdrop")}, {"id": sim.world.hashtag_id("sunset")}]
    assert reply.body["data"] == expected
    assert "X-Business-Use-Case-Usage" in reply.headers
    sim.clock.advance(7 * DAY)
    assert (await sim.get(path)).body == {"data": []}


@pytest.mark.parametrize(("limit", "size"), [(None, 25), ("10", 10), ("30", 30), ("100", 30)])
async def test_recently_searched_hashtags_pages_25_by_default_30_at_most(
    sim: Client, limit: str | None, size: int
) -> None:
    """25 results a page by default, up to 30 with limit; a next link when more remain."""
    await spend(sim, TAGS)
    params = {} if limit is None else {"limit": limit}
    reply = await sim.get(f"/{BRAND.ig_user_id}/recently_searched_hashtags", params)
    assert len(reply.body["data"]) == size
    assert ("next" in reply.body["paging"]) is (size < 30)
    if size < 30:
        rest = await sim.get_url(reply.body["paging"]["next"])
        ids = [d["id"] for d in reply.body["data"] + rest.body["data"]]
        assert len(set(ids)) == min(30, 2 * size)
