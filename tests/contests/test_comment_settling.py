"""The worker's comment settling on a real MongoDB: judged once, then only where posts changed."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from listener.contests import comments as comment_giveaways
from listener.contests.commands import comment_rules
from listener.contests.comment_settling import CommentSettling
from listener.enrich.contests import Entry, judge_all
from listener.metrics import Metrics
from listener.models import Comment, CommentSource
from listener.pollers.comment_ingest import CommentIngestor
from listener.store.mongo import Document
from listener.store.store import Store
from tests.contests.test_comment_giveaway import POST, T0, settings_for


def entry(comment_id: str, text: str, media_id: str = POST) -> Comment:
    return Comment(
        comment_id, media_id, "brand", text, f"fan{comment_id}", "9", T0 + timedelta(minutes=1)
    )


async def verdict(store: Store, comment_id: str) -> object:
    document = await store.comments.get(comment_id)
    assert document is not None
    return (document.get("contests") or {}).get("winter")


async def test_giveaways_are_judged_first_whole_then_where_comments_arrived(
    mongo_uri: str, database: AsyncDatabase[Document], store: Store, metrics: Metrics
) -> None:
    """The first pass judges the giveaway; a pass with no new comment judges nothing; a new
    comment on its post makes the next pass judge it again."""
    ingestor = CommentIngestor(store, metrics)
    settling = CommentSettling(store, settings_for(mongo_uri, database), ingestor.take_changed)
    await ingestor.ingest([entry("101", "me @ana @bo")], CommentSource.POLL, T0)
    [first] = await settling.settle()
    assert (first.judged, first.eligible) == (1, 1)
    assert await settling.settle() == []
    await ingestor.ingest([entry("102", "me @ana")], CommentSource.WEBHOOK, T0)
    [again] = await settling.settle()
    assert (again.judged, again.eligible, again.written) == (2, 1, 1)
    judged = await verdict(store, "102")
    assert isinstance(judged, dict)
    assert (judged["eligible"], judged["reasons"]) == (False, ["too_few_mentions"])


async def test_comments_on_other_posts_judge_nothing(
    mongo_uri: str, database: AsyncDatabase[Document], store: Store, metrics: Metrics
) -> None:
    """New comments on a post no giveaway names leave the giveaways alone."""
    ingestor = CommentIngestor(store, metrics)
    settling = CommentSettling(store, settings_for(mongo_uri, database), ingestor.take_changed)
    await settling.settle()
    await ingestor.ingest(
        [entry("201", "hi", media_id="17900000000000009")], CommentSource.POLL, T0
    )
    assert await settling.settle() == []


def as_entry(comment: Comment) -> Entry:
    assert comment.timestamp is not None
    return Entry.from_comment(
        comment_id=comment.id,
        media_id=comment.media_id,
        timestamp=comment.timestamp,
        text=comment.text,
        username=comment.username,
    )


async def test_a_streamed_settle_equals_judging_all_comments_at_once(
    mongo_uri: str,
    database: AsyncDatabase[Document],
    store: Store,
    metrics: Metrics,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Settling streams the comments in time order, a few verdicts per write; the verdicts are
    judge_all's over the same comments, repeated authors, tied times and replies included."""
    monkeypatch.setattr(comment_giveaways, "SETTLE_BATCH", 7)
    rng = random.Random(20261205)
    users = [f"fan{n}" for n in range(9)]
    comments = [
        Comment(
            str(300 + n),
            rng.choice([POST, POST, "17900000000000009"]),
            "brand",
            rng.choice(["me @ana @bo", "me @ana", "@ana @bo @cy", "nice"]),
            rng.choice(users),
            "9",
            T0 + timedelta(minutes=rng.randrange(5)),
            parent_id=rng.choice([None, None, None, "300"]),
        )
        for n in range(80)
    ]
    ingestor = CommentIngestor(store, metrics)
    for start in range(0, len(comments), 25):
        await ingestor.ingest(comments[start : start + 25], CommentSource.POLL, T0)
    settings = settings_for(mongo_uri, database)
    rules = await comment_rules(store, settings, settings.campaigns[0])
    settled = await comment_giveaways.settle(store.comments, "winter", rules)
    ours = [c for c in comments if c.media_id == POST and c.parent_id is None]
    expected = judge_all(rules, [as_entry(c) for c in ours])
    assert (settled.judged, settled.written) == (len(ours), len(ours))
    assert settled.eligible == sum(v.eligible for v in expected.values())
    assert {c.id: await verdict(store, c.id) for c in ours} == {
        i: v.as_document() for i, v in expected.items()
    }
