"""The comments collection on a real MongoDB wire server: one document per comment, merged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from listener.models import Comment, CommentSource
from listener.store.comments import top_level_of
from listener.store.store import Store

T0 = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
POLL = CommentSource.POLL
WEBHOOK = CommentSource.WEBHOOK


def comment(comment_id: str = "c1", **kw: object) -> Comment:
    fields: dict[str, object] = {
        "media_id": "m1",
        "account": "brand",
        "text": "Pick me @ana @bo",
        "username": "fan.1",
        "user_id": "9001",
        "timestamp": T0 - timedelta(minutes=5),
        "like_count": 2,
    }
    fields.update(kw)
    return Comment(id=comment_id, **fields)  # type: ignore[arg-type]  # each case's fields, typed as a plain mapping


async def test_first_sighting_stores_the_contract_document(store: Store) -> None:
    """A polled comment is stored with the contract's fields and no parent_id."""
    result = await store.comments.ingest([comment()], POLL, T0, lambda c: {"sentiment": {"x": 1}})
    assert (result.new, result.duplicate) == (["c1"], [])
    stored = await store.comments.get("c1")
    assert stored is not None
    assert stored["media_id"] == "m1"
    assert stored["account"] == "brand"
    assert stored["username"] == "fan.1"
    assert stored["user_id"] == "9001"
    assert stored["timestamp"] == T0 - timedelta(minutes=5)
    assert stored["like_count"] == 2
    assert stored["sources"] == ["comments_poll"]
    assert stored["first_seen_at"] == stored["last_seen_at"] == T0
    assert stored["sentiment"] == {"x": 1}
    assert "parent_id" not in stored


async def test_seeing_a_comment_again_merges_without_repeats(store: Store) -> None:
    """Poll, webhook, poll again: one document, two sources, first and last seen kept."""
    await store.comments.ingest([comment()], POLL, T0)
    webhook = comment(timestamp=None, like_count=None)
    await store.comments.ingest([webhook], WEBHOOK, T0 + timedelta(minutes=1))
    result = await store.comments.ingest([comment(like_count=7)], POLL, T0 + timedelta(minutes=2))
    assert result.duplicate == ["c1"]
    stored = await store.comments.get("c1")
    assert stored is not None
    assert stored["sources"] == ["comments_poll", "comments_webhook"]
    assert stored["first_seen_at"] == T0
    assert stored["last_seen_at"] == T0 + timedelta(minutes=2)
    assert stored["like_count"] == 7
    assert stored["timestamp"] == T0 - timedelta(minutes=5)
    assert await store.comments.count_top_level("m1") == 1


async def test_a_webhook_first_gets_an_estimated_time_that_a_poll_corrects(store: Store) -> None:
    """A comment first seen by webhook takes the delivery time until a poll gives the real one."""
    await store.comments.ingest([comment(timestamp=None, like_count=None)], WEBHOOK, T0)
    stored = await store.comments.get("c1")
    assert stored is not None
    assert (stored["timestamp"], stored["timestamp_estimated"]) == (T0, True)
    assert "like_count" not in stored
    await store.comments.ingest([comment()], POLL, T0 + timedelta(minutes=1))
    stored = await store.comments.get("c1")
    assert stored is not None
    assert stored["timestamp"] == T0 - timedelta(minutes=5)
    assert "timestamp_estimated" not in stored


async def test_a_reply_keeps_its_parent_and_is_not_top_level(store: Store) -> None:
    """A reply stores parent_id and is left out of the top-level query and count."""
    await store.comments.ingest([comment(), comment("r1", parent_id="c1")], POLL, T0)
    stored = await store.comments.get("r1")
    assert stored is not None
    assert stored["parent_id"] == "c1"
    ids = [d["_id"] async for d in store.comments.stream(top_level_of(["m1"]), sort=[("_id", 1)])]
    assert ids == ["c1"]
    assert await store.comments.count_top_level("m1") == 1


async def test_an_unstorable_comment_is_refused_alone(store: Store) -> None:
    """A lone surrogate in one comment's text refuses that comment, not its page."""
    result = await store.comments.ingest([comment(), comment("bad", text="\ud800")], POLL, T0)
    assert result.new == ["c1"]
    assert "bad" in result.refused
    assert await store.comments.known(["c1", "bad"]) == {"c1"}


async def test_poll_progress_is_kept_per_post(store: Store) -> None:
    """A post's poll progress reads back as saved, and is empty before the first poll."""
    assert await store.comment_polls.load("m1") == {}
    await store.comment_polls.save("m1", {"after": "abc", "read": 50})
    loaded = await store.comment_polls.load("m1")
    assert (loaded["after"], loaded["read"]) == ("abc", 50)
