"""Enrichment: each caption scored once while remembered, contest verdicts per media."""

from __future__ import annotations

from datetime import UTC, datetime

from listener.enrich.enricher import Enricher
from listener.models import Media, Source, SourceKind
from tests.enrichment import SUMMER, CountingScorer

T0 = datetime(2026, 6, 10, 12, 0, tzinfo=UTC)
RECENT = Source(SourceKind.HASHTAG_RECENT, "brand", "summerdrop")


def media(media_id: str, caption: str) -> Media:
    return Media(id=media_id, timestamp=T0, caption=caption)


def test_a_caption_seen_again_is_not_scored_again() -> None:
    """The same media on every poll is scored once and gets the same sentiment each time."""
    scorer = CountingScorer()
    enrich = Enricher(scorer, [])
    results = [enrich(media("1", "love it #summerdrop"), [RECENT]) for _ in range(3)]
    assert scorer.asked == ["love it #summerdrop"]
    assert {r.sentiment_label for r in results} == {"positive"}
    assert results[0].fields() == results[2].fields()


def test_an_edited_caption_is_scored_again() -> None:
    """A caption that changed is scored afresh: the stored sentiment follows the caption."""
    scorer = CountingScorer()
    enrich = Enricher(scorer, [])
    before = enrich(media("1", "love it"), [RECENT])
    after = enrich(media("1", "broke after a day"), [RECENT])
    assert scorer.asked == ["love it", "broke after a day"]
    assert (before.sentiment_label, after.sentiment_label) == ("positive", "negative")


def test_captions_beyond_the_bound_are_forgotten() -> None:
    """Only the most recently used captions are kept: memory stays bounded."""
    scorer = CountingScorer()
    enrich = Enricher(scorer, [], remembered_captions=1)
    for caption in ["a", "b", "a"]:
        enrich(media("1", caption), [RECENT])
    assert scorer.asked == ["a", "b", "a"]


def test_verdicts_come_from_the_media_not_the_remembered_caption() -> None:
    """Two media sharing a caption are judged each on its own timestamp."""
    enrich = Enricher(CountingScorer(), [SUMMER])
    inside = enrich(media("1", "#summerdrop"), [RECENT])
    outside = enrich(
        Media(id="2", timestamp=datetime(2026, 8, 1, tzinfo=UTC), caption="#summerdrop"), [RECENT]
    )
    assert inside.verdicts == {"summer": True}
    assert outside.verdicts == {"summer": False}
