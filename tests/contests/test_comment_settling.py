"""The worker's comment settling on a real MongoDB: judged once, then only where posts changed."""

from __future__ import annotations

from datetime import timedelta

from pymongo.asynchronous.database import AsyncDatabase

from listener.contests.comment_settling import CommentSettling
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
