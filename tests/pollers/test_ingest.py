"""The Ingestor on a real MongoDB wire server: enrichment stored, captions scored once, counters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from listener.enrich.enricher import Enricher
from listener.metrics import Metrics
from listener.models import Media, Sighting, Source, SourceKind
from listener.pollers.ingest import Ingestor
from listener.store.store import Store
from tests.enrichment import SUMMER, CountingScorer

T0 = datetime(2026, 6, 10, 12, 0, tzinfo=UTC)
TOP = Source(SourceKind.HASHTAG_TOP, "brand", "summerdrop")


def media(media_id: str, caption: str) -> Media:
    return Media(id=media_id, timestamp=T0 - timedelta(hours=1), caption=caption)


def sample(metrics: Metrics, name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value(name, labels) or 0.0


async def test_top_media_seen_every_poll_are_scored_once(store: Store, metrics: Metrics) -> None:
    """The same top media on the next poll keep their sentiment without being scored again."""
    scorer = CountingScorer()
    ingestor = Ingestor(store, metrics, Enricher(scorer, []))
    page = [media("1", "love it #summerdrop"), media("2", "meh #summerdrop")]
    await ingestor.ingest([Sighting(m, TOP, T0) for m in page])
    later = T0 + timedelta(minutes=5)
    result = await ingestor.ingest([Sighting(m, TOP, later) for m in page])
    assert sorted(result.duplicate) == ["1", "2"]
    assert scorer.asked == ["love it #summerdrop", "meh #summerdrop"]
    doc = await store.media.get("1")
    assert doc is not None
    assert doc["sentiment"] == {"label": "positive", "score": 0.5, "model": "test-1"}
    assert doc["last_seen_at"] == later


async def test_an_edited_caption_stores_its_new_sentiment(store: Store, metrics: Metrics) -> None:
    """A known media whose caption changed is scored again and its sentiment replaced."""
    ingestor = Ingestor(store, metrics, Enricher(CountingScorer(), []))
    await ingestor.ingest([Sighting(media("1", "love it"), TOP, T0)])
    await ingestor.ingest([Sighting(media("1", "broke after a day"), TOP, T0)])
    doc = await store.media.get("1")
    assert doc is not None
    assert (doc["caption"], doc["sentiment"]["label"]) == ("broke after a day", "negative")


async def test_counters_tally_each_distinct_media_once(store: Store, metrics: Metrics) -> None:
    """Per batch: every media counted new or duplicate, sentiment and entries for new ones only."""
    ingestor = Ingestor(store, metrics, Enricher(CountingScorer(), [SUMMER]))
    await ingestor.ingest([Sighting(media("1", "love #summerdrop"), TOP, T0)])
    await ingestor.ingest(
        [
            Sighting(media("1", "love #summerdrop"), TOP, T0),
            Sighting(media("2", "love #summerdrop"), TOP, T0),
            Sighting(media("2", "love #summerdrop"), TOP, T0),
            Sighting(media("3", "love it"), TOP, T0),
            Sighting(media("4", "no"), TOP, T0),
        ]
    )
    ingested = "listener_media_ingested_total"
    labels = {"source": "hashtag_top", "hashtag": "summerdrop"}
    assert sample(metrics, ingested, **labels, result="new") == 4
    assert sample(metrics, ingested, **labels, result="duplicate") == 1
    sentiment = "listener_sentiment_total"
    assert sample(metrics, sentiment, label="positive", hashtag="summerdrop") == 3
    assert sample(metrics, sentiment, label="negative", hashtag="summerdrop") == 1
    entries = "listener_contest_entries_total"
    assert sample(metrics, entries, campaign="summer", eligible="true") == 2
    assert sample(metrics, entries, campaign="summer", eligible="false") == 2
