"""The account's own media, their comments and replies, and ``comments`` webhooks (§10)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

from listener.simulator.webhooks import comment_envelope
from tests.metabodies import body as captured
from tests.simulator.conftest import Launch
from tests.simulator.harness import BRAND, OTHER, START, Client

FIELDS = "id,text,timestamp,username,from,like_count,parent_id,hidden"


def brand_post(sim: Client, **extra: Any) -> str:
    """A post the brand published an hour before the start."""
    return sim.world.add_post(
        timestamp=START - timedelta(hours=1), caption="Giveaway!", owner=BRAND.ig_user_id, **extra
    )


def envelope_of(sim: Client, comment_id: str) -> Any:
    """The ``comments`` webhook the brand would receive for a comment."""
    comment = sim.world.comment(comment_id)
    assert comment is not None
    return comment_envelope(sim.world, BRAND.ig_user_id, comment)


async def read_all(sim: Client, media_id: str, **params: str) -> list[dict[str, Any]]:
    """Every page of ``/{media}/comments``, following ``next``."""
    reply = await sim.get(f"/{media_id}/comments", {"fields": FIELDS, **params})
    found: list[dict[str, Any]] = []
    while True:
        assert reply.status == 200, reply.text
        found += reply.body["data"]
        following = reply.body.get("paging", {}).get("next")
        if following is None:
            return found
        reply = await sim.get_url(following)


async def test_media_edge_lists_the_accounts_posts_newest_first(sim: Client) -> None:
    """/{ig-user-id}/media gives the account's own posts with permalink, newest first."""
    older = brand_post(sim)
    newer = sim.world.add_post(timestamp=START, caption="Second", owner=BRAND.ig_user_id)
    sim.world.add_post(timestamp=START, caption="Someone else's", owner=OTHER.ig_user_id)
    reply = await sim.get(
        f"/{BRAND.ig_user_id}/media", fields="id,permalink,timestamp,comments_count"
    )
    assert [m["id"] for m in reply.body["data"]] == [newer, older]
    assert reply.body["data"][0]["permalink"].startswith("https://www.instagram.com/p/")


async def test_comments_edge_pages_top_level_comments_at_most_fifty(sim: Client) -> None:
    """120 comments read with limit=100 come 50 a page, newest first, each once, no replies."""
    media_id = brand_post(sim)
    ids = sim.world.publish_comments(media_id, 120, start=START - timedelta(minutes=30))
    sim.world.add_comment(media_id, "thanks!", "brand", START, parent_id=ids[0])
    first = await sim.get(f"/{media_id}/comments", fields=FIELDS, limit="100")
    assert len(first.body["data"]) == 50
    found = await read_all(sim, media_id, limit="100")
    assert [c["id"] for c in found] == ids[::-1]
    assert all("parent_id" not in c for c in found)
    assert found[0]["from"] == {"id": found[0]["from"]["id"], "username": found[0]["username"]}


async def test_a_comment_published_while_paging_shifts_no_older_page(sim: Client) -> None:
    """A new comment lands before the first page; the cursors after it still reach the end."""
    media_id = brand_post(sim)
    ids = sim.world.publish_comments(media_id, 60, start=START - timedelta(minutes=30))
    first = await sim.get(f"/{media_id}/comments", fields="id", limit="50")
    late = sim.world.add_comment(media_id, "me too", "late.fan", START)
    second = await sim.get_url(first.body["paging"]["next"])
    seen = [c["id"] for c in first.body["data"] + second.body["data"]]
    assert seen == ids[::-1]
    assert late not in seen


async def test_replies_edge_and_comment_node(sim: Client) -> None:
    """/{comment}/replies lists replies; the comment node gives its media, parent and author."""
    media_id = brand_post(sim)
    parent = sim.world.add_comment(media_id, "Pick me @a @b", "fan.1", START)
    reply_id = sim.world.add_comment(media_id, "good luck", "brand", START, parent_id=parent)
    replies = await sim.get(f"/{parent}/replies", fields="id,text,parent_id")
    assert replies.body["data"] == [{"id": reply_id, "text": "good luck", "parent_id": parent}]
    node = await sim.get(f"/{reply_id}", fields="id,media,parent_id,username,hidden")
    assert node.body == {
        "id": reply_id,
        "media": {"id": media_id},
        "parent_id": parent,
        "username": "brand",
        "hidden": False,
    }


async def test_username_needs_the_manage_comments_permission(launch: Launch) -> None:
    """Without instagram_manage_comments, username and from answer code 10; text still reads."""
    basic = replace(BRAND, scopes=("instagram_basic", "pages_read_engagement"))
    sim = await launch(accounts=(basic,))
    media_id = brand_post(sim)
    sim.world.add_comment(media_id, "hello", "fan.1", START)
    for field in ("username", "from"):
        refused = await sim.get(f"/{media_id}/comments", fields=f"id,{field}")
        assert refused.status == 403
        assert refused.error["code"] == 10
        assert field in refused.error["message"]
    allowed = await sim.get(f"/{media_id}/comments", fields="id,text")
    assert allowed.body["data"][0]["text"] == "hello"


async def test_comments_off_lists_none(sim: Client) -> None:
    """A post with comments turned off lists no comments and says is_comment_enabled false."""
    media_id = brand_post(sim)
    sim.world.add_comment(media_id, "early", "fan.1", START)
    sim.world.set_comments_enabled(media_id, False)
    listed = await sim.get(f"/{media_id}/comments", fields="id")
    assert listed.body == {"data": []}
    media = await sim.get(f"/{BRAND.ig_user_id}/media", fields="id,is_comment_enabled")
    assert media.body["data"][0]["is_comment_enabled"] is False


async def test_deleted_comment_and_foreign_media_answer_100_33(sim: Client) -> None:
    """A deleted comment's node and another account's media's comments answer 100/33."""
    media_id = brand_post(sim)
    gone = sim.world.add_comment(media_id, "bye", "fan.1", START)
    sim.world.withdraw_comment(gone)
    node = await sim.get(f"/{gone}", fields="id,text")
    assert (node.error["code"], node.error["error_subcode"]) == (100, 33)
    foreign = sim.world.add_post(timestamp=START, caption="x", owner=OTHER.ig_user_id)
    listed = await sim.get(f"/{foreign}/comments", fields="id")
    assert (listed.error["code"], listed.error["error_subcode"]) == (100, 33)
    assert await read_all(sim, media_id) == []


async def test_bulk_control_publishes_and_drops_webhooks_at_random(sim: Client) -> None:
    """The control API publishes 1,000 comments; a drop ratio loses about that share of webhooks."""
    media_id = brand_post(sim)
    set_ratio = await sim.control("webhooks", {"drop_ratio": 0.3})
    assert set_ratio.status == 200
    published = await sim.control(
        "comments/bulk", {"media_id": media_id, "count": 1000, "notify": True}
    )
    assert len(published.body["ids"]) == 1000
    counts = await sim.get_url(f"{sim.base_url}/__sim/webhooks")
    assert counts.body["queued"] + counts.body["dropped"] == 1000
    assert 200 < counts.body["dropped"] < 400
    queued = sim.world.take_outbox()
    assert {comment for _, comment in queued} <= set(published.body["ids"])


async def test_comment_webhook_has_metas_shape(sim: Client) -> None:
    """The envelope has the captured keys; a reply adds parent_id; an album comment lacks media."""
    media_id = brand_post(sim)
    comment_id = sim.world.add_comment(media_id, "@brand love it", "ana.example", START)
    value = envelope_of(sim, comment_id)["entry"][0]["changes"][0]["value"]
    real = captured("meta-docs/comments-instagram-login.json")[0]["entry"][0]["value"]
    assert set(value) == set(real)
    assert set(value["from"]) == set(real["from"])
    assert value["media"] == {"id": media_id, "media_product_type": "FEED"}
    album = brand_post(sim, media_type="CAROUSEL_ALBUM")
    on_album = sim.world.add_comment(album, "nice", "fan.2", START)
    reply = sim.world.add_comment(album, "thanks", "brand", START, parent_id=on_album)
    value = envelope_of(sim, reply)["entry"][0]["changes"][0]["value"]
    assert "media" not in value
    assert value["parent_id"] == on_album
