"""The /__sim/ control API that scripts an out-of-process simulator."""

from __future__ import annotations

from datetime import timedelta

import pytest

from listener.simulator.content import graph_timestamp
from tests.simulator.harness import BRAND, START, Client


async def test_posted_media_appear_on_the_graph_api(sim: Client) -> None:
    """POST /__sim/posts publishes a post that recent_media then lists."""
    created = await sim.control(
        "posts",
        {
            "hashtags": ["summerdrop"],
            "timestamp": graph_timestamp(START - timedelta(minutes=5)),
            "caption": "via control #summerdrop",
            "like_count": 3,
        },
    )
    assert created.status == 200, created.text
    reply = await sim.media("summerdrop", fields="caption,like_count")
    assert reply.body["data"] == [
        {"caption": "via control #summerdrop", "like_count": 3, "id": created.body["id"]}
    ]


async def test_posted_comment_is_readable_as_a_mention(sim: Client) -> None:
    """POST /__sim/comments adds a comment that mentioned_comment can read."""
    media = await sim.control("posts", {"caption": "hello"})
    comment = await sim.control(
        "comments", {"media_id": media.body["id"], "text": "@brand hi", "username": "fan"}
    )
    reply = await sim.get(
        f"/{BRAND.ig_user_id}",
        fields=f"mentioned_comment.comment_id({comment.body['id']}){{text}}",
    )
    assert reply.body["mentioned_comment"]["text"] == "@brand hi"


async def test_throttle_over_http(sim: Client) -> None:
    """POST /__sim/throttle scripts a throttle with its end time."""
    reply = await sim.control("throttle", {"scope": "app", "code": 4, "minutes": 15})
    assert reply.body == {"until": "2026-11-29T12:15:00+0000"}
    assert (await sim.search("summerdrop")).error["code"] == 4


async def test_faults_over_http(sim: Client) -> None:
    """POST /__sim/faults queues faults."""
    reply = await sim.control("faults", {"kind": "code_2", "count": 2, "endpoint": "tags"})
    assert reply.body == {"pending": 2}
    assert (await sim.get(f"/{BRAND.ig_user_id}/tags")).status == 503


async def test_expire_over_http(sim: Client) -> None:
    """POST /__sim/expire makes the account's token expired."""
    await sim.control("expire", {"ig_user_id": BRAND.ig_user_id})
    assert (await sim.search("summerdrop")).error["error_subcode"] == 463


async def test_stats_over_http(sim: Client) -> None:
    """GET /__sim/stats reports calls by endpoint and account, outcomes, and the log on request."""
    await sim.search("summerdrop")
    await sim.search("bad tag")
    async with sim.session.get(f"{sim.base_url}/__sim/stats?log=1") as response:
        stats = await response.json()
    assert stats["total"] == 2
    assert stats["calls"] == [
        {"endpoint": "ig_hashtag_search", "ig_user_id": BRAND.ig_user_id, "count": 2}
    ]
    assert stats["outcomes"] == {"client_error": 1, "ok": 1}
    assert [(c["outcome"], c["code"], c["hashtag"]) for c in stats["log"]] == [
        ("ok", None, "summerdrop"),
        ("client_error", 100, "bad tag"),
    ]
    async with sim.session.get(f"{sim.base_url}/__sim/stats") as response:
        assert "log" not in await response.json()


async def test_hashtag_slots_over_http(sim: Client) -> None:
    """GET /__sim/hashtags/{ig_user_id} lists busy slots and when each frees."""
    await sim.search("summerdrop")
    async with sim.session.get(f"{sim.base_url}/__sim/hashtags/{BRAND.ig_user_id}") as response:
        body = await response.json()
    assert body["used"] == 1
    assert body["hashtags"][0]["name"] == "summerdrop"
    assert body["hashtags"][0]["frees_at"] == "2026-12-06T12:00:00+0000"


@pytest.mark.parametrize(
    ("route", "body"),
    [
        ("posts", {"media_type": "REEL"}),
        ("posts", {"hashtags": "summerdrop"}),
        ("posts", {"timestamp": "2026-11-29T10:00:00"}),
        ("posts", ["not", "an", "object"]),
        ("comments", {"media_id": "1", "text": "x", "username": "u"}),
        ("throttle", {"scope": "app", "code": 4}),
        ("throttle", {"scope": "app", "code": 99, "minutes": 1}),
        ("faults", {"kind": "explode"}),
        ("expire", {"ig_user_id": "nobody"}),
    ],
)
async def test_bad_control_input_is_400(sim: Client, route: str, body: object) -> None:
    """Invalid control requests answer 400 with a one-line reason."""
    reply = await sim.control(route, body)
    assert reply.status == 400
    assert reply.body["error"]
