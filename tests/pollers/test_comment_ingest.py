"""The CommentIngestor on a real MongoDB wire server: sentiment stored, counters by account."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from listener.app import sentiment_scorer
from listener.metrics import Metrics
from listener.models import Comment, CommentSource
from listener.pollers.comment_ingest import CommentIngestor
from listener.store.store import Store
from tests.enrichment import CountingScorer

T0 = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def comment(comment_id: str, text: str, account: str = "brand") -> Comment:
    return Comment(
        id=comment_id,
        media_id="m1",
        account=account,
        text=text,
        username=f"fan.{comment_id}",
        timestamp=T0 - timedelta(minutes=1),
    )


def sample(metrics: Metrics, name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value(name, labels) or 0.0


async def test_a_new_comment_is_stored_with_its_sentiment(store: Store, metrics: Metrics) -> None:
    """The real sentiment pipeline scores the text; the label, score and model are stored."""
    ingestor = CommentIngestor(store, metrics, sentiment_scorer())
    await ingestor.ingest([comment("c1", "I love this, amazing!")], CommentSource.POLL, T0)
    stored = await store.comments.get("c1")
    assert stored is not None
    assert stored["sentiment"]["label"] == "positive"
    assert set(stored["sentiment"]) == {"label", "score", "model"}


async def test_counters_tell_new_from_duplicate_per_account_and_source(
    store: Store, metrics: Metrics
) -> None:
    """A poll then a webhook of the same comment: one new (poll), one duplicate (webhook)."""
    ingestor = CommentIngestor(store, metrics, CountingScorer())
    await ingestor.ingest(
        [comment("c1", "love"), comment("c2", "meh", account="other")], CommentSource.POLL, T0
    )
    await ingestor.ingest([comment("c1", "love")], CommentSource.WEBHOOK, T0)
    name = "listener_comments_ingested_total"
    assert sample(metrics, name, account="brand", source="comments_poll", result="new") == 1
    assert sample(metrics, name, account="other", source="comments_poll", result="new") == 1
    assert (
        sample(metrics, name, account="brand", source="comments_webhook", result="duplicate") == 1
    )


async def test_sentiment_is_counted_for_new_comments_only(store: Store, metrics: Metrics) -> None:
    """Seeing a comment again adds no sentiment count; its text is not scored again."""
    scorer = CountingScorer()
    ingestor = CommentIngestor(store, metrics, scorer)
    await ingestor.ingest([comment("c1", "love"), comment("c2", "meh")], CommentSource.POLL, T0)
    await ingestor.ingest([comment("c1", "love")], CommentSource.POLL, T0 + timedelta(minutes=1))
    name = "listener_comment_sentiment_total"
    assert sample(metrics, name, account="brand", label="positive") == 1
    assert sample(metrics, name, account="brand", label="negative") == 1
    assert scorer.asked == ["love", "meh"]


async def test_a_refused_comment_is_counted_as_refused(store: Store, metrics: Metrics) -> None:
    """A comment MongoDB cannot hold (a lone surrogate) is counted refused and not stored."""
    ingestor = CommentIngestor(store, metrics)
    result = await ingestor.ingest([comment("c1", "bad \ud800")], CommentSource.WEBHOOK, T0)
    assert list(result.refused) == ["c1"]
    name = "listener_comments_ingested_total"
    assert sample(metrics, name, account="brand", source="comments_webhook", result="refused") == 1
    assert await store.comments.get("c1") is None
