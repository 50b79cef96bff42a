"""A campaign on a real MongoDB for the contest tests: its settings, media made to measure,
ingest through the worker's own path, and exports read back as rows."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from pymongo.asynchronous.database import AsyncDatabase

from listener.contests.campaigns import campaigns
from listener.contests.commands import export
from listener.enrich.enricher import Enricher, Scorer
from listener.metrics import Metrics
from listener.models import Media, Sighting, Source, SourceKind
from listener.pollers.ingest import Ingestor
from listener.settings import Settings
from listener.store.mongo import Document
from listener.store.store import Store

T0: Final = datetime(2026, 6, 10, 12, 0, tzinfo=UTC)
SEED: Final = "a secret seed nobody knows"
SEED_HASH: Final = hashlib.sha256(SEED.encode()).hexdigest()
HASHTAG: Final = Source(SourceKind.HASHTAG_RECENT, "brand", "summerdrop")
TAGS: Final = Source(SourceKind.TAGS, "brand")
MENTION: Final = Source(SourceKind.MENTION_MEDIA, "brand")


def settings_for(mongo_uri: str, database: AsyncDatabase[Document], **campaign: Any) -> Settings:
    """Campaign ``summer`` of account ``brand`` (handle ``brand``), changed by ``campaign``."""
    return Settings(
        store={"mongodb_uri": mongo_uri, "database": database.name},
        accounts=[{"name": "brand", "ig_user_id": "1", "username": "brand"}],
        campaigns=[
            {
                "id": "summer",
                "account": "brand",
                "hashtags": ["summerdrop"],
                "starts_at": "2026-06-01T00:00:00Z",
                "ends_at": "2026-07-01T00:00:00Z",
                "min_mentions": 1,
                "exclude_usernames": ["brand"],
                "one_entry_per_user": True,
            }
            | campaign
        ],
    )


def media(media_id: str, *, minutes: int, caption: str, username: str | None = None) -> Media:
    """A media published ``minutes`` after T0, with its permalink."""
    return Media(
        id=media_id,
        timestamp=T0 + timedelta(minutes=minutes),
        caption=caption,
        permalink=f"https://www.instagram.com/p/{media_id}/",
        username=username,
    )


async def ingest(
    settings: Settings,
    database: AsyncDatabase[Document],
    metrics: Metrics,
    sightings: Iterable[tuple[Media, Source]],
    scorer: Scorer | None = None,
) -> None:
    """Store media through the worker's ingest path, judged for the settings' campaigns."""
    store = Store(database)
    await store.ensure_indexes()
    ingestor = Ingestor(store, metrics, Enricher(scorer, campaigns(settings)))
    await ingestor.ingest([Sighting(m, source, T0) for m, source in sightings])


def parse(data: bytes, fmt: str) -> list[dict[str, Any]]:
    """An export's rows as dicts (CSV cells as written, escapes included)."""
    text = data.decode()
    if fmt == "json":
        return list(json.loads(text))
    if fmt == "ndjson":
        return [json.loads(line) for line in text.split("\n") if line]
    return list(csv.DictReader(io.StringIO(text, newline="")))


async def exported(
    settings: Settings, *, include_all: bool = False, fmt: str = "csv", campaign: str = "summer"
) -> bytes:
    """The bytes ``listener export entrants`` writes for ``campaign``."""
    out = io.BytesIO()
    await export(settings, campaign, out, fmt=fmt, include_all=include_all)  # type: ignore[arg-type]  # the format is parametrised as a plain string
    return out.getvalue()


async def rows_of(
    settings: Settings, *, include_all: bool = False, fmt: str = "csv", campaign: str = "summer"
) -> list[dict[str, Any]]:
    """The rows of the export of ``campaign``."""
    data = await exported(settings, include_all=include_all, fmt=fmt, campaign=campaign)
    return parse(data, fmt)
