"""The world's generated content: deterministic, well-formed, cross-posted, with old history."""

from __future__ import annotations

import re
from datetime import timedelta

from listener.simulator import SimulatorConfig, World
from listener.simulator.content import MEDIA_TYPES, graph_timestamp, hashtag_id
from tests.simulator.harness import BRAND, START

BUSY = SimulatorConfig(
    seed=11,
    accounts=(BRAND,),
    hashtag_rates={"summerdrop": 30.0, "sunset": 30.0},
    cross_post_ratio=0.2,
)


def snapshot(world: World, tag: str, hours: float) -> list[tuple[str, str, str, int]]:
    """What recent_media shows for ``tag`` ``hours`` after the start, as comparable tuples."""
    now = START + timedelta(hours=hours)
    posts = world.recent_media(world.hashtag_id(tag), now)
    return [(p.id, p.caption, graph_timestamp(p.timestamp), p.like_count) for p in posts]


def test_same_seed_and_clock_give_the_same_posts() -> None:
    """Two worlds with one seed and one clock generate identical media, in identical order."""
    first, second = World(BUSY, START), World(BUSY, START)
    assert snapshot(first, "summerdrop", 2) == snapshot(second, "summerdrop", 2)
    assert snapshot(first, "summerdrop", 2)


def test_another_seed_gives_other_posts() -> None:
    """Changing the seed changes what is generated."""
    other = SimulatorConfig(seed=12, hashtag_rates=BUSY.hashtag_rates)
    assert snapshot(World(BUSY, START), "summerdrop", 1) != snapshot(
        World(other, START), "summerdrop", 1
    )


def test_query_order_does_not_change_the_world() -> None:
    """Asking for tags in a different order (or skipping a tag) yields the same media."""
    forward, backward = World(BUSY, START), World(BUSY, START)
    snapshot(forward, "summerdrop", 3)
    sunset_forward = snapshot(forward, "sunset", 3)
    sunset_backward = snapshot(backward, "sunset", 3)
    assert sunset_forward == sunset_backward


def test_generated_posts_look_like_meta_media() -> None:
    """Ids are unique 17-18 digit strings; permalinks, media types and captions are well formed."""
    world = World(BUSY, START)
    posts = world.top_media(world.hashtag_id("summerdrop"), START)
    assert len(posts) > 100
    assert len({p.id for p in posts}) == len(posts)
    for post in posts:
        assert re.fullmatch(r"\d{17,18}", post.id)
        assert re.fullmatch(r"https://www\.instagram\.com/p/[\w-]{11}/", post.permalink)
        assert post.media_type in MEDIA_TYPES
        assert "#summerdrop" in post.caption
        assert re.fullmatch(
            r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0000", graph_timestamp(post.timestamp)
        )
        assert post.username
    captions = " ".join(p.caption for p in posts)
    assert "@" in captions
    assert re.search(r"[^\x00-\x7f]", captions)  # emoji and non-English text occur


def test_backfill_creates_history_older_than_a_day() -> None:
    """With 30 h of backfill, posts older than 24 h exist (top_media); recent_media skips them."""
    world = World(BUSY, START)
    tag = world.hashtag_id("summerdrop")
    oldest = min(p.timestamp for p in world.top_media(tag, START))
    assert oldest < START - timedelta(hours=24)
    assert min(p.timestamp for p in world.recent_media(tag, START)) > START - timedelta(hours=24)


def test_cross_posts_show_under_both_known_hashtags() -> None:
    """About cross_post_ratio of posts carry both known tags and appear on both tags' edges."""
    world = World(BUSY, START)
    summer = {p.id: p for p in world.top_media(world.hashtag_id("summerdrop"), START)}
    sunset = {p.id: p for p in world.top_media(world.hashtag_id("sunset"), START)}
    shared = summer.keys() & sunset.keys()
    assert shared
    assert all({"#summerdrop", "#sunset"} <= set(summer[i].caption.split()) for i in shared)
    assert 0.05 < len(shared) / len(summer) < 0.4


def test_hashtag_ids_are_static_and_global() -> None:
    """A tag's id depends only on its name (case-insensitive), not on the seed or the world."""
    assert World(BUSY, START).hashtag_id("SummerDrop") == hashtag_id("summerdrop")
    assert World(SimulatorConfig(seed=1), START).hashtag_id("summerdrop") == hashtag_id(
        "summerdrop"
    )
    assert re.fullmatch(r"\d{17}", hashtag_id("summerdrop"))
    assert hashtag_id("summerdrop") != hashtag_id("sunset")


def test_posts_arrive_over_time_at_roughly_the_configured_rate() -> None:
    """Moving the clock an hour adds about rate-per-hour new posts (a Poisson process)."""
    world = World(SimulatorConfig(hashtag_rates={"busy": 600.0}), START)
    tag = world.hashtag_id("busy")
    world.recent_media(tag, START)
    later = world.recent_media(tag, START + timedelta(hours=1))
    arrived = [p for p in later if p.timestamp > START]
    assert 450 < len(arrived) < 750
