"""/tags paging and the mention expansions on the IG user node."""

from __future__ import annotations

from datetime import timedelta

from tests.simulator.conftest import Launch
from tests.simulator.harness import BRAND, OTHER, START, Client

TAGS_PATH = f"/{BRAND.ig_user_id}/tags"


def tag_brand(sim: Client, count: int) -> list[str]:
    """``count`` posts tagging BRAND, one hour apart, newest first."""
    return [
        sim.world.add_post(
            timestamp=START - timedelta(hours=i + 1),
            username=f"fan{i}",
            tagged_accounts=[BRAND.ig_user_id],
        )
        for i in range(count)
    ]


async def test_tags_pages_with_before_and_after_cursors_and_no_next(sim: Client) -> None:
    """/tags is newest first with before/after cursors, never next/previous; past the end is []."""
    posts = tag_brand(sim, 7)
    seen: list[str] = []
    params = {"limit": "3"}
    for expected in [3, 3, 1]:
        reply = await sim.get(TAGS_PATH, params)
        assert len(reply.body["data"]) == expected
        paging = reply.body["paging"]
        assert set(paging) == {"cursors"}
        assert set(paging["cursors"]) == {"before", "after"}
        seen += [m["id"] for m in reply.body["data"]]
        params = {"limit": "3", "after": paging["cursors"]["after"]}
    assert seen == posts
    past_end = await sim.get(TAGS_PATH, params)
    assert past_end.body == {"data": []}


async def test_tags_before_cursor_reads_the_previous_page(sim: Client) -> None:
    """A page's before cursor gets the page before it."""
    posts = tag_brand(sim, 6)
    first = await sim.get(TAGS_PATH, limit="3")
    second = await sim.get(TAGS_PATH, limit="3", after=first.body["paging"]["cursors"]["after"])
    back = await sim.get(TAGS_PATH, limit="3", before=second.body["paging"]["cursors"]["before"])
    assert [m["id"] for m in back.body["data"]] == posts[:3]
    newest = await sim.get(TAGS_PATH, before=first.body["paging"]["cursors"]["before"])
    assert newest.body == {"data": []}


async def test_tags_new_posts_do_not_shift_an_after_walk(sim: Client) -> None:
    """A post tagged while walking appears at the top, not in the next page."""
    posts = tag_brand(sim, 4)
    first = await sim.get(TAGS_PATH, limit="2")
    sim.world.add_post(timestamp=START, tagged_accounts=[BRAND.ig_user_id])
    second = await sim.get(TAGS_PATH, limit="2", after=first.body["paging"]["cursors"]["after"])
    assert [m["id"] for m in second.body["data"]] == posts[2:]


async def test_username_is_available_on_tags(sim: Client) -> None:
    """Unlike hashtag media, /tags media carry the author's username."""
    tag_brand(sim, 2)
    reply = await sim.get(TAGS_PATH, fields="id,username,caption")
    assert [m["username"] for m in reply.body["data"]] == ["fan0", "fan1"]


async def test_tags_are_per_account(sim: Client) -> None:
    """Media tagging one account do not show on another's /tags."""
    tag_brand(sim, 2)
    reply = await sim.get(f"/{OTHER.ig_user_id}/tags", account=OTHER)
    assert reply.body == {"data": []}


async def test_generated_tags_arrive_over_time(launch: Launch) -> None:
    """With tag_rate_per_hour set, /tags fills from generated media that keep arriving."""
    sim = await launch(tag_rate_per_hour=30.0)
    reply = await sim.get(TAGS_PATH, fields="id,username,timestamp", limit="100")
    assert len(reply.body["data"]) > 100 * 0.5
    stamps = [m["timestamp"] for m in reply.body["data"]]
    assert stamps == sorted(stamps, reverse=True)


async def test_mentioned_media_expansion_has_meta_shape(sim: Client) -> None:
    """The expansion answers {"mentioned_media": {..., "id"}, "id": ig-user-id} with username."""
    media_id = sim.world.add_post(
        timestamp=START, caption="metricsaurus headquarters! @brand", username="fan"
    )
    reply = await sim.get(
        f"/{BRAND.ig_user_id}",
        fields=f"mentioned_media.media_id({media_id}){{caption,media_type,username}}",
    )
    assert reply.status == 200, reply.text
    assert reply.body == {
        "mentioned_media": {
            "caption": "metricsaurus headquarters! @brand",
            "media_type": "IMAGE",
            "username": "fan",
            "id": media_id,
        },
        "id": BRAND.ig_user_id,
    }
    assert "X-Business-Use-Case-Usage" in reply.headers


async def test_mentioned_media_unknown_id_is_code_100_subcode_33(sim: Client) -> None:
    """An id the world does not know gets Meta's "object missing": code 100, subcode 33."""
    reply = await sim.get(
        f"/{BRAND.ig_user_id}", fields="mentioned_media.media_id(17999999999999999){caption}"
    )
    assert (reply.status, reply.error["code"], reply.error["error_subcode"]) == (400, 100, 33)
    assert "Object with ID '17999999999999999' does not exist" in reply.error["message"]


async def test_mentioned_comment_expansion_with_nested_media(sim: Client) -> None:
    """mentioned_comment returns the comment's fields and expands its media."""
    media_id = sim.world.add_post(timestamp=START, caption="our picnic", username="fan")
    when = START + timedelta(minutes=1)
    comment_id = sim.world.add_comment(media_id, "love it @brand", "commenter", when, 3)
    fields = (
        f"mentioned_comment.comment_id({comment_id})"
        "{id,text,timestamp,like_count,media{id,caption,username}}"
    )
    reply = await sim.get(f"/{BRAND.ig_user_id}", fields=fields)
    assert reply.body == {
        "mentioned_comment": {
            "id": comment_id,
            "text": "love it @brand",
            "timestamp": "2026-11-29T12:01:00+0000",
            "like_count": 3,
            "media": {"id": media_id, "caption": "our picnic", "username": "fan"},
        },
        "id": BRAND.ig_user_id,
    }
    unknown = await sim.get(
        f"/{BRAND.ig_user_id}", fields="mentioned_comment.comment_id(1){id,text}"
    )
    assert (unknown.error["code"], unknown.error["error_subcode"]) == (100, 33)


async def test_user_node_plain_fields_and_unknown_field(sim: Client) -> None:
    """The IG user node gives id and username; an unknown field is code 100."""
    reply = await sim.get(f"/{BRAND.ig_user_id}", fields="username")
    assert reply.body == {"username": "brand", "id": BRAND.ig_user_id}
    bad = await sim.get(f"/{BRAND.ig_user_id}", fields="biography")
    assert bad.error["code"] == 100
