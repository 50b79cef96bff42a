"""What a periodic settling pass reads: documents proportional to what changed, not to history.

Measured on the wire and on the server. Every command the pass sends is recorded through
PyMongo's command monitoring; the documents it reads are counted from the replies. Every read
is then explained on the server (``explain`` with ``executionStats``): each must be an index scan
whose bounds are the whole filter (no residual ``filter`` on its ``FETCH`` stage), so the server
examines exactly the documents it returns. (SecantusDB's ``explain`` reports
``totalDocsExamined`` as the documents an index scan returns, and the whole collection for a
collection scan; with no residual filter that is also what MongoDB examines.) Every write
names its documents by ``_id``.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from pymongo import AsyncMongoClient, monitoring
from pymongo.asynchronous.database import AsyncDatabase

from listener.contests.settle import SettlingPass, settle
from listener.contests.verdicts import Scopes
from listener.enrich.contests import Rules
from listener.enrich.enricher import Campaign, Enricher
from listener.metrics import Metrics
from listener.models import Media, Sighting, Source, SourceKind
from listener.pollers.ingest import Ingestor
from listener.store.mongo import Document
from listener.store.store import Store

T0 = datetime(2026, 6, 1, tzinfo=UTC)
HASHTAG = Source(SourceKind.HASHTAG_RECENT, "brand", "summerdrop")
TAGS = Source(SourceKind.TAGS, "brand")
CAMPAIGN = Campaign(
    "summer",
    "brand",
    Rules(
        campaign_id="summer",
        account="brand",
        starts_at=T0,
        ends_at=T0 + timedelta(days=30),
        hashtags=("summerdrop",),
        own_username="brand",
    ),
)
SCOPES = Scopes((CAMPAIGN,), ("brand",))


@dataclass
class Reads(monitoring.CommandListener):
    """The commands a client sends while ``on``: reads with their documents, writes' filters."""

    on: bool = False
    finds: list[tuple[str, Document]] = field(default_factory=list)
    documents: Counter[str] = field(default_factory=Counter)
    write_filters: list[Document] = field(default_factory=list)
    _collections: dict[int, str] = field(default_factory=dict)

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if not self.on:
            return
        command = event.command
        name = event.command_name
        if name == "find":
            self.finds.append((command["find"], dict(command["filter"])))
            self._collections[event.request_id] = command["find"]
        elif name == "getMore":
            self._collections[event.request_id] = command["collection"]
        elif name == "update":
            self.write_filters.extend(u["q"] for u in command["updates"])

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        collection = self._collections.pop(event.request_id, None)
        if collection is None:
            return
        cursor = event.reply["cursor"]
        self.documents[collection] += len(cursor.get("firstBatch", cursor.get("nextBatch", [])))

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        self._collections.pop(event.request_id, None)


@pytest.fixture
async def watched(mongo_uri: str) -> AsyncIterator[tuple[AsyncDatabase[Document], Reads]]:
    """A database of its own on a client whose commands are recorded."""
    reads = Reads()
    client: AsyncMongoClient[Document] = AsyncMongoClient(
        mongo_uri, tz_aware=True, event_listeners=[reads]
    )
    name = f"c_{uuid.uuid4().hex[:12]}"
    try:
        yield client[name], reads
    finally:
        await client.drop_database(name)
        await client.close()


def media(number: int, *, days: float, username: str | None = None) -> Media:
    """A media ``days`` after the window opens (negative: before it)."""
    return Media(
        id=f"9{number:06d}",
        timestamp=T0 + timedelta(days=days),
        caption="#summerdrop with @ana",
        username=username,
    )


async def history(store: Store, stored: int) -> Ingestor:
    """``stored`` hashtag media from the year before the window, settled once."""
    ingestor = Ingestor(store, Metrics(CollectorRegistry()), Enricher(None, [CAMPAIGN]))
    for start in range(0, stored, 500):
        numbers = range(start, min(start + 500, stored))
        await ingestor.ingest([Sighting(media(n, days=-1 - n % 365), HASHTAG, T0) for n in numbers])
    await settle(store.media, SCOPES, now=T0)
    return ingestor


async def index_scans(database: AsyncDatabase[Document], finds: list[tuple[str, Document]]) -> None:
    """Explain every read: each must be an index scan whose bounds are its whole filter."""
    for collection, query in finds:
        plan = await database.command(
            {"explain": {"find": collection, "filter": query}, "verbosity": "executionStats"}
        )
        stage: dict[str, Any] = plan["queryPlanner"]["winningPlan"]
        stages = []
        while stage:
            stages.append(stage)
            stage = stage.get("inputStage", {})
        assert [s["stage"] for s in stages][-2:] == ["FETCH", "IXSCAN"], (collection, query)
        assert "filter" not in stages[-2], (collection, query)
        stats = plan["executionStats"]
        assert stats["totalDocsExamined"] == stats["nReturned"], (collection, query)


async def measured(
    database: AsyncDatabase[Document], reads: Reads, store: Store, scopes: Scopes = SCOPES
) -> SettlingPass:
    """One pass with its commands recorded."""
    reads.on = True
    try:
        return await settle(store.media, scopes, now=T0)
    finally:
        reads.on = False


@pytest.mark.parametrize("stored", [200, 2000])
async def test_a_pass_with_nothing_changed_reads_only_the_state_document(
    watched: tuple[AsyncDatabase[Document], Reads], stored: int
) -> None:
    """With nothing changed since the last pass, a pass examines 2 documents (its state, before
    and after) and no media, whether 200 or 2,000 media are stored, and writes one document
    (the scopes it settles)."""
    database, reads = watched
    store = Store(database)
    await store.ensure_indexes()
    await history(store, stored)
    await measured(database, reads, store)
    assert reads.documents == {"settling": 2, "media": 0}
    assert reads.write_filters == [{"_id": "media"}]
    await index_scans(database, reads.finds)


@pytest.mark.parametrize("stored", [200, 2000])
async def test_a_pass_after_a_few_changes_reads_only_those(
    watched: tuple[AsyncDatabase[Document], Reads], stored: int
) -> None:
    """After 3 changes — a new media outside the window, zoe's media learnt to be hers (its
    author was unknown), and zoe's new entry — a pass examines 10 documents of ``media`` (the 3
    changed, zoe's 2 media, then again the 3 versions and zoe's 2 to confirm) and 4 reads of
    its state, whether 200 or 2,000 media are stored; every read is an index scan, every write
    names its documents by ``_id``."""
    database, reads = watched
    store = Store(database)
    await store.ensure_indexes()
    ingestor = await history(store, stored)
    await ingestor.ingest([Sighting(media(900_001, days=2), HASHTAG, T0)])
    await settle(store.media, SCOPES, now=T0)
    await ingestor.ingest(
        [
            Sighting(media(900_002, days=-3), HASHTAG, T0),
            Sighting(media(900_001, days=2, username="zoe"), TAGS, T0),
            Sighting(media(900_003, days=1, username="zoe"), TAGS, T0),
        ]
    )
    result = await measured(database, reads, store)
    [summer] = result.campaigns
    assert (summer.judged, summer.changed, summer.eligible, summer.eligible_known) == (3, 1, 1, 1)
    assert reads.documents == {"media": 10, "settling": 4}
    await index_scans(database, reads.finds)
    assert all("_id" in query for query in reads.write_filters)


async def test_an_authors_other_media_are_read_only_where_a_campaign_judges_them_together(
    watched: tuple[AsyncDatabase[Document], Reads],
) -> None:
    """A campaign that keeps every entry judges each media alone: after a new media by an author
    with 300 stored, a pass examines that 1 media and its version once more (2 documents), not
    the author's 300 (nor again to confirm them): a prolific author costs what they post, not
    what they posted."""
    database, reads = watched
    store = Store(database)
    await store.ensure_indexes()
    every_entry = Campaign(
        CAMPAIGN.id, CAMPAIGN.account, dataclasses.replace(CAMPAIGN.rules, one_entry_per_user=False)
    )
    scopes = Scopes((every_entry,), ("brand",))
    ingestor = Ingestor(store, Metrics(CollectorRegistry()), Enricher(None, [every_entry]))
    await ingestor.ingest(
        [Sighting(media(n, days=1 + n / 1000, username="zoe"), TAGS, T0) for n in range(300)]
    )
    await settle(store.media, scopes, now=T0)
    await ingestor.ingest([Sighting(media(300, days=2, username="zoe"), TAGS, T0)])
    result = await measured(database, reads, store, scopes)
    [summer] = result.campaigns
    assert (summer.judged, summer.eligible) == (1, 301)
    assert reads.documents["media"] == 2
    await index_scans(database, reads.finds)
