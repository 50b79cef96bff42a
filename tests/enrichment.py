"""Enrichment inputs for tests: scorers (one records, one has a bug), a one-hashtag campaign."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from listener.enrich.contests import Rules
from listener.enrich.enricher import Campaign

SUMMER = Campaign(
    "summer",
    "brand",
    Rules(
        campaign_id="summer",
        account="brand",
        starts_at=datetime(2026, 6, 1, tzinfo=UTC),
        ends_at=datetime(2026, 7, 1, tzinfo=UTC),
        hashtags=("summerdrop",),
        one_entry_per_user=False,
    ),
)
"""June 2026, ``#summerdrop`` in the caption, nothing else asked."""


@dataclass(frozen=True)
class Score:
    """A sentiment result as the enricher reads it."""

    label: str
    score: float
    model: str


@dataclass
class CountingScorer:
    """Positive when the caption says "love", negative otherwise; remembers every caption asked."""

    asked: list[str] = field(default_factory=list)

    def score(self, text: str) -> Score:
        """The sentiment of ``text``, recorded."""
        self.asked.append(text)
        positive = "love" in text
        return Score("positive" if positive else "negative", 0.5 if positive else -0.5, "test-1")


@dataclass
class FailingScorer:
    """A sentiment model with a bug: it raises on captions holding ``fails_on``."""

    fails_on: str

    def score(self, text: str) -> Score:
        """Neutral, or the bug."""
        if self.fails_on in text:
            raise ValueError("the model broke on this caption")
        return Score("neutral", 0.0, "test-1")
