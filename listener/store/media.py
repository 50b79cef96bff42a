"""The ``media`` collection: one document per Instagram media, sightings merged into it.

A sighting becomes one ``UpdateOne`` upsert: ``$min``/``$max`` keep ``first_seen_at`` and
``last_seen_at`` right whatever order replicas write in, ``$addToSet`` merges the source without
repeats, and the latest counts and caption win. A batch is one unordered ``bulk_write``, so a
poll page costs one round trip and seeing a media again never creates a second document.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import PyMongoError

from listener.errors import StoreUnavailableError
from listener.models import Media, Sighting, Source, SourceKind
from listener.store.mongo import Document, guarded

INDEXES = [
    IndexModel([("timestamp", DESCENDING)], name="timestamp"),
    IndexModel([("sources.account", ASCENDING), ("timestamp", DESCENDING)], name="account_time"),
    IndexModel([("sources.hashtag", ASCENDING), ("timestamp", DESCENDING)], name="hashtag_time"),
    IndexModel([("first_seen_at", DESCENDING)], name="first_seen"),
    IndexModel(
        [("sources.account", ASCENDING), ("username", ASCENDING), ("timestamp", ASCENDING)],
        name="account_author_time",
    ),
]


@dataclass(frozen=True)
class IngestResult:
    """What a batch did: ids of media stored for the first time and of media already known."""

    new: list[str]
    duplicate: list[str]


def source_document(source: Source) -> Document:
    """A source as stored; keys in one fixed order so ``$addToSet`` recognises repeats."""
    doc: Document = {"kind": source.kind.value, "account": source.account}
    if source.hashtag is not None:
        doc["hashtag"] = source.hashtag
    return doc


def _media_fields(media: Media) -> Document:
    stored: Document = {
        "caption": media.caption,
        "timestamp": media.timestamp,
    }
    optional: dict[str, Any] = {
        "permalink": media.permalink,
        "media_type": media.media_type,
        "like_count": media.like_count,
        "comments_count": media.comments_count,
        # Hashtag edges never give the author; a later /tags or mention sighting fills it in.
        "username": media.username,
    }
    stored.update({k: v for k, v in optional.items() if v is not None})
    return stored


ExtraFields = tuple[Mapping[str, Any], Mapping[str, Any]]
"""Derived fields to store with a sighting, by dotted path: (always set, set on insert only)."""
Extra = Callable[[Media, Sequence[Source]], ExtraFields]


def upsert_operation(
    media: Media,
    sources: Sequence[Source],
    seen_at: datetime,
    extra: ExtraFields | None = None,
) -> UpdateOne:
    """The single upsert that records ``media`` seen through ``sources`` at ``seen_at``."""
    fields = _media_fields(media)
    if media.username is not None:
        # Which source told us the author: exports say where an identity comes from.
        fields["username_source"] = sources[0].kind.value
    always, on_insert = extra or ({}, {})
    fields.update(always)
    update: dict[str, Any] = {"$setOnInsert": dict(on_insert)} if on_insert else {}
    return UpdateOne(
        {"_id": media.id},
        {
            **update,
            "$set": fields,
            "$min": {"first_seen_at": seen_at},
            "$max": {"last_seen_at": seen_at},
            "$addToSet": {"sources": {"$each": [source_document(s) for s in sources]}},
        },
        upsert=True,
    )


def _combine(earlier: Media, later: Media) -> Media:
    """One media from two sightings in a batch: later values win, earlier ones fill gaps."""
    values = {
        f.name: getattr(later, f.name) for f in fields(Media) if getattr(later, f.name) is not None
    }
    return replace(earlier, **values)


def batch_operations(
    sightings: Iterable[Sighting], extra: Extra | None = None
) -> tuple[list[UpdateOne], list[str]]:
    """One operation per distinct media (its sources merged), and the media ids in that order."""
    merged: dict[str, tuple[Media, list[Source], datetime]] = {}
    for sighting in sightings:
        entry = merged.get(sighting.media.id)
        if entry is None:
            merged[sighting.media.id] = (sighting.media, [sighting.source], sighting.seen_at)
            continue
        known, sources, seen_at = entry
        if sighting.source not in sources:
            sources.append(sighting.source)
        media = _combine(known, sighting.media)
        merged[sighting.media.id] = (media, sources, max(seen_at, sighting.seen_at))
    ops = [
        upsert_operation(m, s, t, extra(m, s) if extra is not None else None)
        for m, s, t in merged.values()
    ]
    return ops, list(merged)


class MediaRepository:
    """Writes and reads ``media`` documents."""

    def __init__(self, collection: AsyncCollection[Document]) -> None:
        self._collection = collection

    async def ensure_indexes(self) -> None:
        """Create the indexes the pollers, exports and dashboards rely on."""
        await guarded("create media indexes", lambda: self._collection.create_indexes(INDEXES))

    async def ingest(
        self, sightings: Iterable[Sighting], extra: Extra | None = None
    ) -> IngestResult:
        """Store a batch of sightings with one unordered bulk upsert (plus ``extra`` fields)."""
        ops, ids = batch_operations(sightings, extra)
        if not ops:
            return IngestResult(new=[], duplicate=[])
        result = await guarded(
            "media bulk upsert", lambda: self._collection.bulk_write(ops, ordered=False)
        )
        upserted = {int(index) for index in result.upserted_ids or {}}
        new = [media_id for index, media_id in enumerate(ids) if index in upserted]
        duplicate = [media_id for index, media_id in enumerate(ids) if index not in upserted]
        return IngestResult(new=new, duplicate=duplicate)

    async def stream(
        self, query: Document, *, sort: list[tuple[str, int]], projection: Document | None = None
    ) -> AsyncIterator[Document]:
        """Documents matching ``query`` in ``sort`` order, from a cursor (constant memory)."""
        try:
            cursor = self._collection.find(query, projection, sort=sort, batch_size=500)
            async for document in cursor:
                yield document
        except PyMongoError as exc:
            raise StoreUnavailableError(f"MongoDB media read failed: {exc}") from exc

    async def update_many_by_id(self, updates: Sequence[tuple[str, Document]]) -> int:
        """Apply ``$set`` updates to media by id in one unordered bulk write; how many changed."""
        if not updates:
            return 0
        ops = [UpdateOne({"_id": media_id}, {"$set": fields}) for media_id, fields in updates]
        result = await guarded(
            "media bulk update", lambda: self._collection.bulk_write(ops, ordered=False)
        )
        return result.modified_count

    async def find_one(self, query: Document) -> Document | None:
        """The first stored document matching ``query``."""
        return await guarded("media read", lambda: self._collection.find_one(query))

    async def get(self, media_id: str) -> Document | None:
        """The stored document of ``media_id``."""
        return await guarded("media read", lambda: self._collection.find_one({"_id": media_id}))

    async def author_known(self, account: str) -> tuple[int, int]:
        """(hashtag media of ``account`` whose author is known, all its hashtag media)."""
        hashtag_kinds = [SourceKind.HASHTAG_RECENT.value, SourceKind.HASHTAG_TOP.value]
        seen = {"sources": {"$elemMatch": {"account": account, "kind": {"$in": hashtag_kinds}}}}

        async def read() -> tuple[int, int]:
            total = await self._collection.count_documents(seen)
            known = await self._collection.count_documents({**seen, "username": {"$exists": True}})
            return known, total

        return await guarded("media author count", read)

    async def ids(self) -> set[str]:
        """Every stored media id (for coverage checks; fine up to millions of media)."""

        async def read() -> set[str]:
            return {str(d["_id"]) async for d in self._collection.find({}, {"_id": 1})}

        return await guarded("media ids read", read)

    async def count(self) -> int:
        """How many media are stored."""
        return await guarded("media count", lambda: self._collection.count_documents({}))
