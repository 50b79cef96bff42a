"""Ingestion: sightings → enrichment (sentiment, contest verdicts) → bulk writes → metrics.

Every path that stores media (hashtag and /tags pages, hydrated mentions) goes through an
:class:`Ingestor`, so each media gets the same derived fields and the same counters. A media
the store refuses (MongoDB cannot hold it) is logged with its reason and counted nowhere else.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import structlog

from listener.metrics import Metrics
from listener.models import Media, Sighting, Source
from listener.store.media import ExtraFields, IngestResult
from listener.store.store import Store

log = structlog.get_logger("listener.pollers")


class Enrichment(Protocol):
    """What enrichment derived for one media."""

    @property
    def sentiment_label(self) -> str | None:
        """The sentiment label, when the caption was scored."""
        ...

    @property
    def verdicts(self) -> Mapping[str, bool]:
        """Campaign id → whether the media is an eligible entry (per-media rules)."""
        ...

    def fields(self) -> Mapping[str, Any]:
        """The document fields to set on every sighting, by dotted path."""
        ...

    def fields_on_insert(self) -> Mapping[str, Any]:
        """The document fields to set only when the media is new."""
        ...


class Enricher(Protocol):
    """Derives fields for a media seen through some sources (pure)."""

    def __call__(self, media: Media, sources: Sequence[Source]) -> Enrichment:
        """The enrichment of one media."""
        ...


class Ingestor:
    """Stores sightings with their enrichment and counts what happened."""

    def __init__(self, store: Store, metrics: Metrics, enricher: Enricher | None = None) -> None:
        self._store = store
        self._metrics = metrics
        self._enricher = enricher

    async def ingest(self, sightings: Sequence[Sighting]) -> IngestResult:
        """Store ``sightings`` (new media inserted, known ones merged) and count them."""
        enriched: dict[str, Enrichment] = {}
        enricher = self._enricher

        def extra(media: Media, sources: Sequence[Source]) -> ExtraFields:
            assert enricher is not None
            enrichment = enricher(media, sources)
            enriched[media.id] = enrichment
            return enrichment.fields(), enrichment.fields_on_insert()

        result = await self._store.media.ingest(sightings, extra if enricher else None)
        if result.refused:
            reason = next(iter(result.refused.values()))
            log.warning("media.refused", count=len(result.refused), reason=reason)
        self._count(sightings, result, enriched)
        return result

    def _count(
        self,
        sightings: Sequence[Sighting],
        result: IngestResult,
        enriched: Mapping[str, Enrichment],
    ) -> None:
        """Tally the batch by label values, then add each tally once (a page shares its labels)."""
        new = set(result.new)
        first_source: dict[str, Source] = {}
        for sighting in sightings:
            first_source.setdefault(sighting.media.id, sighting.source)
        ingested: Counter[tuple[str, str, str]] = Counter()
        sentiment: Counter[tuple[str, str]] = Counter()
        entries: Counter[tuple[str, str]] = Counter()
        for media_id, source in first_source.items():
            if media_id in result.refused:
                continue
            outcome = "new" if media_id in new else "duplicate"
            ingested[source.kind.value, source.metric_hashtag, outcome] += 1
            enrichment = enriched.get(media_id)
            if media_id not in new or enrichment is None:
                continue
            if enrichment.sentiment_label is not None:
                sentiment[enrichment.sentiment_label, source.metric_hashtag] += 1
            for campaign, eligible in enrichment.verdicts.items():
                entries[campaign, str(eligible).lower()] += 1
        for (kind, hashtag, outcome), count in ingested.items():
            self._metrics.media_ingested.labels(kind, hashtag, outcome).inc(count)
        for (label, hashtag), count in sentiment.items():
            self._metrics.sentiment.labels(label, hashtag).inc(count)
        for (campaign, verdict), count in entries.items():
            self._metrics.contest_entries.labels(campaign, verdict).inc(count)
