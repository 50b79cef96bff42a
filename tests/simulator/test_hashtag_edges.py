"""recent_media and top_media over HTTP: the window, page sizes, order, paging and field rules."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from listener.simulator.content import graph_timestamp
from tests.simulator.conftest import Launch
from tests.simulator.harness import OTHER, START, Client


def add_recent(sim: Client, count: int, tag: str = "summerdrop") -> list[str]:
    """``count`` posts one minute apart, newest first, all within the last 24 h."""
    return [
        sim.world.add_post(hashtags=[tag], timestamp=START - timedelta(minutes=i + 1))
        for i in range(count)
    ]


async def walk(sim: Client, first_params: dict[str, str]) -> list[Any]:
    """Every page of an edge, following ``next`` links."""
    pages = []
    reply = await sim.media("summerdrop", **first_params)
    while True:
        assert reply.status == 200, reply.text
        pages.append(reply.body)
        next_url = reply.body.get("paging", {}).get("next")
        if next_url is None:
            return pages
        reply = await sim.get_url(next_url)


async def test_recent_media_only_returns_the_last_24_hours(sim: Client) -> None:
    """A 25-hour-old post never appears; a 23-hour-old one does until it passes 24 h."""
    old = sim.world.add_post(hashtags=["summerdrop"], timestamp=START - timedelta(hours=25))
    fresh = sim.world.add_post(hashtags=["summerdrop"], timestamp=START - timedelta(hours=23))
    reply = await sim.media("summerdrop")
    assert [m["id"] for m in reply.body["data"]] == [fresh]
    sim.clock.advance(timedelta(hours=1, seconds=1))
    later = await sim.media("summerdrop")
    assert later.body == {"data": []}
    assert old not in later.text


async def test_posts_from_the_future_appear_once_published(sim: Client) -> None:
    """A post timestamped after now is invisible until the clock reaches it."""
    post = sim.world.add_post(hashtags=["summerdrop"], timestamp=START + timedelta(minutes=5))
    assert (await sim.media("summerdrop")).body == {"data": []}
    sim.clock.advance(timedelta(minutes=5))
    assert [m["id"] for m in (await sim.media("summerdrop")).body["data"]] == [post]


@pytest.mark.parametrize("edge", ["recent_media", "top_media"])
@pytest.mark.parametrize(("limit", "size"), [(None, 25), ("10", 10), ("50", 50), ("500", 50)])
async def test_page_size_default_25_and_at_most_50(
    sim: Client, edge: str, limit: str | None, size: int
) -> None:
    """Without limit a page has 25 media (unverified default); limit above 50 is clamped to 50."""
    add_recent(sim, 120)
    params = {} if limit is None else {"limit": limit}
    reply = await sim.media("summerdrop", edge, **params)
    assert len(reply.body["data"]) == size


@pytest.mark.parametrize("limit", ["0", "-3", "many"])
async def test_bad_limit_is_code_100(sim: Client, limit: str) -> None:
    """A limit that is not a positive integer is refused with code 100."""
    reply = await sim.media("summerdrop", limit=limit)
    assert (reply.status, reply.error["code"]) == (400, 100)


async def test_recent_media_pages_are_not_strictly_chronological(sim: Client) -> None:
    """recent_media holds the newest media, but not in strict newest-first order."""
    add_recent(sim, 40)
    reply = await sim.media("summerdrop", fields="timestamp", limit="40")
    stamps = [m["timestamp"] for m in reply.body["data"]]
    assert stamps != sorted(stamps, reverse=True)
    assert len(set(stamps)) == 40


async def test_recent_media_order_is_deterministic(sim: Client) -> None:
    """The same request at the same time gets the same order."""
    add_recent(sim, 30)
    first = await sim.media("summerdrop", limit="30")
    second = await sim.media("summerdrop", limit="30")
    assert first.body["data"] == second.body["data"]


@pytest.mark.parametrize("edge", ["recent_media", "top_media"])
@pytest.mark.parametrize("field", ["username", "owner"])
async def test_username_or_owner_on_hashtag_media_is_code_100(
    sim: Client, edge: str, field: str
) -> None:
    """Hashtag media are anonymous: asking for username (or owner) is a code 100 error."""
    add_recent(sim, 3)
    reply = await sim.media("summerdrop", edge, fields=f"id,caption,{field}")
    assert reply.status == 400
    assert reply.error["code"] == 100
    assert reply.error["type"] == "OAuthException"
    assert field in reply.error["message"]
    assert reply.error["fbtrace_id"]


async def test_only_requested_fields_plus_id_are_returned(sim: Client) -> None:
    """Media carry exactly the requested fields, and id even when not asked for."""
    add_recent(sim, 2)
    reply = await sim.media("summerdrop", fields="caption,timestamp")
    assert all(set(m) == {"caption", "timestamp", "id"} for m in reply.body["data"])
    bare = await sim.media("summerdrop")
    assert all(set(m) == {"id"} for m in bare.body["data"])


async def test_media_fields_are_meta_shaped(sim: Client) -> None:
    """Every documented field has Meta's shape; like_count is omitted when the owner hid it."""
    when = START - timedelta(minutes=3)
    post = sim.world.add_post(
        hashtags=["summerdrop"],
        timestamp=when,
        caption="hi #summerdrop",
        like_count=7,
        comments_count=2,
        media_type="CAROUSEL_ALBUM",
    )
    hidden = sim.world.add_post(hashtags=["summerdrop"], timestamp=when, hide_like_count=True)
    fields = "caption,children,comments_count,like_count,media_type,media_url,permalink,timestamp"
    reply = await sim.media("summerdrop", fields=fields)
    by_id = {m["id"]: m for m in reply.body["data"]}
    album = by_id[post]
    assert album["caption"] == "hi #summerdrop"
    assert (album["like_count"], album["comments_count"]) == (7, 2)
    assert album["media_type"] == "CAROUSEL_ALBUM"
    assert "media_url" not in album  # not returned for albums
    assert len(album["children"]["data"]) == 2
    assert album["permalink"].startswith("https://www.instagram.com/p/")
    assert album["timestamp"] == graph_timestamp(when)
    assert "like_count" not in by_id[hidden]
    assert by_id[hidden]["media_url"].startswith("https://")


async def test_after_cursor_is_constant_while_next_advances(sim: Client) -> None:
    """Every page has the same after cursor and no before; next leads on; the last has no next."""
    posts = add_recent(sim, 120)
    pages = await walk(sim, {"limit": "50"})
    assert [len(p["data"]) for p in pages] == [50, 50, 20]
    cursors = [p["paging"]["cursors"] for p in pages]
    assert all(c == {"after": cursors[0]["after"]} for c in cursors)
    assert all("next" in p["paging"] for p in pages[:-1])
    assert "next" not in pages[-1]["paging"]
    seen = [m["id"] for p in pages for m in p["data"]]
    assert sorted(seen) == sorted(posts)


async def test_after_cursor_alone_reads_the_second_page(sim: Client) -> None:
    """Meta's constant after cursor "can still be used": alone, it always gets page two."""
    add_recent(sim, 120)
    first = await sim.media("summerdrop", limit="50")
    after = first.body["paging"]["cursors"]["after"]
    second = await sim.get_url(first.body["paging"]["next"])
    by_cursor = await sim.media("summerdrop", limit="50", after=after)
    again = await sim.media("summerdrop", limit="50", after=after)
    assert by_cursor.body["data"] == second.body["data"] == again.body["data"]


async def test_result_set_is_a_snapshot_taken_at_page_one(sim: Client) -> None:
    """Posts published while paging do not shift later pages: the walk sees the original set."""
    posts = add_recent(sim, 100)
    first = await sim.media("summerdrop", limit="50")
    sim.clock.advance(timedelta(minutes=10))
    newcomers = {
        sim.world.add_post(hashtags=["summerdrop"], timestamp=sim.clock.now - timedelta(seconds=i))
        for i in range(30)
    }
    second = await sim.get_url(first.body["paging"]["next"])
    seen = {m["id"] for m in first.body["data"] + second.body["data"]}
    assert seen == set(posts)
    assert not seen & newcomers
    assert "next" not in second.body["paging"]


async def test_unknown_cursor_is_code_100(sim: Client) -> None:
    """An after cursor the simulator never issued is refused with code 100."""
    add_recent(sim, 3)
    reply = await sim.media("summerdrop", after="bm90LWEtY3Vyc29y")
    assert (reply.status, reply.error["code"]) == (400, 100)


async def test_top_media_is_ordered_by_popularity_beyond_24_hours(sim: Client) -> None:
    """top_media ranks by likes plus comments and includes popular posts older than a day."""
    add = sim.world.add_post
    quiet = add(hashtags=["summerdrop"], timestamp=START - timedelta(hours=1), like_count=1)
    star = add(hashtags=["summerdrop"], timestamp=START - timedelta(days=3), like_count=900)
    two_hours_ago = START - timedelta(hours=2)
    mid = add(hashtags=["summerdrop"], timestamp=two_hours_ago, like_count=40, comments_count=30)
    ancient = add(hashtags=["summerdrop"], timestamp=START - timedelta(days=8), like_count=10**6)
    reply = await sim.media("summerdrop", "top_media", fields="like_count,comments_count")
    assert [m["id"] for m in reply.body["data"]] == [star, mid, quiet]
    assert ancient not in reply.text
    recent = await sim.media("summerdrop")
    assert star not in recent.text


async def test_hashtag_node_returns_id_and_name(sim: Client) -> None:
    """GET /{hashtag-id}?fields=id,name gives the tag's name; other fields are code 100."""
    tag_id = (await sim.search("SummerDrop")).body["data"][0]["id"]
    reply = await sim.get(f"/{tag_id}", fields="id,name")
    assert reply.body == {"id": tag_id, "name": "summerdrop"}
    bad = await sim.get(f"/{tag_id}", fields="media_count")
    assert bad.error["code"] == 100


async def test_search_returns_the_static_id(sim: Client) -> None:
    """ig_hashtag_search answers {"data":[{"id"}]} with the tag's global id, for any account."""
    brand = await sim.search("summerdrop")
    other = await sim.search("summerdrop", account=OTHER)
    assert brand.body == other.body == {"data": [{"id": sim.world.hashtag_id("summerdrop")}]}


@pytest.mark.parametrize("query", ["#summerdrop", "summer☀️", "🔥", "summer drop", ""])
async def test_search_rejects_hash_emoji_and_spaces(sim: Client, query: str) -> None:
    """Queries with '#', emoji or spaces (or empty) are code 100 errors and spend no slot."""
    reply = await sim.search(query)
    assert (reply.status, reply.error["code"]) == (400, 100)
    assert sim.world.distinct_hashtags("17841400000000001", START) == ()


async def test_sensitive_hashtag_gets_a_generic_error(launch: Launch) -> None:
    """A tag Meta deems sensitive gets a generic code 100 "Invalid parameter" and spends no slot."""
    sim = await launch(sensitive_hashtags=frozenset({"badtag"}))
    reply = await sim.search("BadTag")
    assert reply.status == 400
    assert (reply.error["code"], reply.error["message"]) == (100, "Invalid parameter")
    assert sim.world.distinct_hashtags("17841400000000001", START) == ()


async def test_generated_posts_flow_into_recent_media(launch: Launch) -> None:
    """With a rate set, recent_media fills from generated posts that keep arriving."""
    sim = await launch(hashtag_rates={"summerdrop": 120.0})
    first = await sim.media("summerdrop", limit="50", fields="timestamp")
    assert len(first.body["data"]) == 50
    sim.clock.advance(timedelta(minutes=30))
    later = await sim.media("summerdrop", limit="50", fields="timestamp")
    newest = max(m["timestamp"] for m in later.body["data"])
    assert newest > graph_timestamp(START)
