"""Gone objects and Meta's real shapes: 100/33 about one object, comments without media."""

from __future__ import annotations

from datetime import timedelta

from listener.simulator.webhooks import comments_envelope, messaging_envelope
from tests import metabodies
from tests.simulator.conftest import Launch
from tests.simulator.harness import BRAND, START, Client, Reply


def object_missing(reply: Reply, object_id: str) -> bool:
    """Whether ``reply`` is Meta's 100/33 answer naming ``object_id``."""
    error = reply.error
    return (
        reply.status == 400
        and (error["code"], error["error_subcode"]) == (100, 33)
        and f"Object with ID '{object_id}' does not exist" in error["message"]
    )


async def test_a_withdrawn_post_answers_100_33_at_low_usage(sim: Client) -> None:
    """A deleted or private post's mention answers 100/33, with usage far from the limit."""
    media_id = sim.world.add_post(timestamp=START, caption="hi @brand", username="fan")
    assert (await sim.control("withdraw", {"media_id": media_id})).status == 200
    reply = await sim.get(
        f"/{BRAND.ig_user_id}", fields=f"mentioned_media.media_id({media_id}){{caption}}"
    )
    assert object_missing(reply, media_id)
    assert reply.buc_usage(BRAND.ig_user_id)["call_count"] < 90


async def test_a_withdrawn_post_leaves_every_feed(sim: Client) -> None:
    """Once withdrawn, a post is in no hashtag page and no /tags page."""
    kept = sim.world.add_post(
        timestamp=START - timedelta(hours=1),
        hashtags=["summerdrop"],
        tagged_accounts=[BRAND.ig_user_id],
    )
    gone = sim.world.add_post(
        timestamp=START - timedelta(hours=2),
        hashtags=["summerdrop"],
        tagged_accounts=[BRAND.ig_user_id],
    )
    sim.world.withdraw_post(gone)
    recent = await sim.media("summerdrop")
    tags = await sim.get(f"/{BRAND.ig_user_id}/tags")
    assert [m["id"] for m in recent.body["data"]] == [kept]
    assert [m["id"] for m in tags.body["data"]] == [kept]


async def test_comment_node_gives_the_media_and_a_withdrawn_one_is_100_33(sim: Client) -> None:
    """GET /{comment-id}?fields=media{…} reads the comment's media; a deleted comment is 100/33."""
    media_id = sim.world.add_post(timestamp=START, caption="album", username="fan")
    comment_id = sim.world.add_comment(media_id, "@brand wow", "cy", START)
    reply = await sim.get(f"/{comment_id}", fields="media{id,caption,username}")
    assert reply.body == {
        "media": {"id": media_id, "caption": "album", "username": "fan"},
        "id": comment_id,
    }
    assert "X-Business-Use-Case-Usage" in reply.headers
    sim.world.withdraw_comment(comment_id)
    assert object_missing(await sim.get(f"/{comment_id}", fields="media{id}"), comment_id)


async def test_mentioned_comment_can_answer_without_media(launch: Launch) -> None:
    """Configured to, mentioned_comment leaves media out even when asked (the captured shape)."""
    sim = await launch(mentioned_comment_media=False)
    media_id = sim.world.add_post(timestamp=START, caption="x", username="fan")
    comment_id = sim.world.add_comment(media_id, "@brand good", "ik", START)
    reply = await sim.get(
        f"/{BRAND.ig_user_id}",
        fields=f"mentioned_comment.comment_id({comment_id}){{id,text,username,media{{id}}}}",
    )
    captured = metabodies.body("pyfacebook/users/mentioned_comment.json")["mentioned_comment"]
    assert set(reply.body["mentioned_comment"]) <= set(captured)
    assert "media" not in reply.body["mentioned_comment"]


async def test_disguised_throttle_answers_100_33_with_usage_at_the_limit(sim: Client) -> None:
    """A disguised throttle: 100/33 for the object asked about, and the headers at the limit."""
    media_id = sim.world.add_post(timestamp=START, caption="hi @brand", username="fan")
    throttled = await sim.control(
        "throttle", {"scope": BRAND.ig_user_id, "code": 80002, "minutes": 10, "disguised": True}
    )
    assert throttled.status == 200
    reply = await sim.get(
        f"/{BRAND.ig_user_id}", fields=f"mentioned_media.media_id({media_id}){{caption}}"
    )
    assert object_missing(reply, media_id)
    assert reply.buc_usage(BRAND.ig_user_id)["call_count"] >= 100


def test_comment_envelopes_have_the_captured_shapes() -> None:
    """The album comment is restfb's {text, id}; with media it has the 2021 capture's keys."""
    album = comments_envelope(BRAND.ig_user_id, "123456789", "This is an example.", START)
    captured = metabodies.body("restfb/wh-comments.json")
    assert album["entry"][0]["changes"] == captured["entry"][0]["changes"]
    full = comments_envelope(BRAND.ig_user_id, "1", "t", START, media_id="2", username="u")
    captured_2021 = metabodies.body("restfb/wh-comments-2021.json")["entry"][0]["changes"][0]
    assert set(full["entry"][0]["changes"][0]["value"]) <= set(captured_2021["value"])


def test_messaging_envelope_has_the_captured_shape() -> None:
    """A messaging delivery has restfb's captured keys, times in milliseconds."""
    built = messaging_envelope(BRAND.ig_user_id, "5614879045272581", "hello", START)
    captured = metabodies.body("restfb/messaging-seen.json")
    assert set(built["entry"][0]) == set(captured["entry"][0])
    item, captured_item = built["entry"][0]["messaging"][0], captured["entry"][0]["messaging"][0]
    assert set(item) - {"message"} == set(captured_item) - {"read"}
    assert built["entry"][0]["time"] == int(START.timestamp() * 1000)


async def test_withdraw_control_needs_exactly_one_id(sim: Client) -> None:
    """The control route refuses a body naming neither or both ids, and an unknown id."""
    assert (await sim.control("withdraw", {})).status == 400
    both = await sim.control("withdraw", {"media_id": "1", "comment_id": "2"})
    assert both.status == 400
    assert (await sim.control("withdraw", {"media_id": "17999"})).status == 400


async def test_a_comment_hidden_through_the_control_api_reads_hidden(sim: Client) -> None:
    """POST /__sim/comments/hide marks the comment hidden; its node still answers."""
    media_id = sim.world.add_post(timestamp=START, caption="giveaway", owner=BRAND.ig_user_id)
    comment_id = sim.world.add_comment(media_id, "me @ana", "cy", START)
    assert (await sim.control("comments/hide", {"comment_id": comment_id})).status == 200
    reply = await sim.get(f"/{comment_id}", fields="id,hidden")
    assert reply.body == {"id": comment_id, "hidden": True}
    assert (await sim.control("comments/hide", {"comment_id": "1"})).status == 400
