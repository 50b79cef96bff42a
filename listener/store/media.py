"""The ``media`` collection: one document per Instagram media, sightings merged into it.

A batch is inserted first, whole documents in one unordered ``insert_many``: a page of new
media costs one round trip and the server nothing beyond the insert. The media whose insert
fails with a duplicate key are already stored; each gets one ``UpdateOne`` upsert, all in a
second unordered ``bulk_write``: ``$min``/``$max`` keep ``first_seen_at`` and ``last_seen_at``
right whatever order replicas write in, ``$addToSet`` merges the source without repeats, and
the latest counts and caption win. Seeing a media again never creates a second document.
A media MongoDB could not store (a lone surrogate in its caption, say) is refused alone, with
its reason, before the batch is written: it never costs its page.

Every write also marks the media changed for the settling pass (``rev``, ``settle``: see
:mod:`listener.store.tracking`), and a media whose author is known carries ``author``, the
handle as the contest rules compare it, and ``authors``, every such handle it has had (a renamed
author's earlier entries are judged again).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, IndexModel, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, PyMongoError

from listener.enrich.contests import author_key
from listener.errors import StoreUnavailableError
from listener.models import Media, Sighting, Source
from listener.store import tracking
from listener.store.mongo import Document, describe, guarded, unstorable
from listener.store.mongo import stream as mongo_stream

_DUPLICATE_KEY = 11000

INDEXES = [
    # Exports and dashboards read by publication time; a full settling pass walks an account's
    # media by author; an incremental one reads the changed media (the sparse marker index) and
    # every media of their authors. Every index costs each write, so there are no others.
    # With the id as its tie-break, an export walks it in entry order instead of sorting.
    IndexModel([("timestamp", ASCENDING), ("_id", ASCENDING)], name="timestamp_id"),
    IndexModel(
        [("sources.account", ASCENDING), ("author", ASCENDING), ("timestamp", ASCENDING)],
        name="account_author_key_time",
    ),
    IndexModel([("authors", ASCENDING)], name="authors"),
    tracking.INDEX,
]
OBSOLETE_INDEXES = ("account_author_time", "timestamp")
"""Indexes earlier versions made (by username, before ``author``; by time without the ``_id``
tie-break); dropped at start-up."""


@dataclass(frozen=True)
class IngestResult:
    """What a batch did: ids of media stored for the first time and of media already known."""

    new: list[str]
    duplicate: list[str]
    refused: dict[str, str] = field(default_factory=dict)
    """Media id → why MongoDB could not store it; such a media is not stored at all."""


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
        "author": author_key(media.username),
    }
    stored.update({k: v for k, v in optional.items() if v is not None})
    return stored


ExtraFields = tuple[Mapping[str, Any], Mapping[str, Any]]
"""Derived fields to store with a sighting, by dotted path: (always set, set on insert only)."""
Extra = Callable[[Media, Sequence[Source]], ExtraFields]


def _fields(
    media: Media, sources: Sequence[Source], extra: ExtraFields | None
) -> tuple[Document, Document]:
    """(fields set on every sighting, fields set only when the media is new), by dotted path."""
    fields = _media_fields(media)
    if media.username is not None:
        # Which source told us the author: exports say where an identity comes from.
        fields["username_source"] = sources[0].kind.value
    always, on_insert = extra or ({}, {})
    fields.update(always)
    return fields, dict(on_insert)


def upsert_operation(
    media: Media,
    sources: Sequence[Source],
    seen_at: datetime,
    extra: ExtraFields | None = None,
) -> UpdateOne:
    """The single upsert that records ``media`` seen through ``sources`` at ``seen_at``."""
    fields, on_insert = _fields(media, sources, extra)
    update: Document = {"$setOnInsert": on_insert} if on_insert else {}
    added: Document = {"sources": {"$each": [source_document(s) for s in sources]}}
    if "author" in fields:
        added["authors"] = fields["author"]
    return UpdateOne(
        {"_id": media.id},
        {
            **update,
            "$set": {**fields, **tracking.ON_UPDATE_SET},
            "$inc": dict(tracking.ON_UPDATE_INC),
            "$min": {"first_seen_at": seen_at},
            "$max": {"last_seen_at": seen_at},
            "$addToSet": added,
        },
        upsert=True,
    )


def insert_document(
    media: Media,
    sources: Sequence[Source],
    seen_at: datetime,
    extra: ExtraFields | None = None,
) -> Document:
    """The whole document of a media stored for the first time (what the upsert would make)."""
    fields, on_insert = _fields(media, sources, extra)
    document: Document = {"_id": media.id}
    for path, value in {**on_insert, **fields}.items():
        target = document
        *parents, leaf = path.split(".")
        for parent in parents:
            target = target.setdefault(parent, {})
        target[leaf] = value
    document["first_seen_at"] = document["last_seen_at"] = seen_at
    document["sources"] = [source_document(s) for s in sources]
    if "author" in document:
        document["authors"] = [document["author"]]
    document.update(tracking.ON_INSERT)
    return document


def _combine(earlier: Media, later: Media) -> Media:
    """One media from two sightings in a batch: later values win, earlier ones fill gaps."""
    values = {
        f.name: getattr(later, f.name) for f in fields(Media) if getattr(later, f.name) is not None
    }
    return replace(earlier, **values)


def merge_sightings(
    sightings: Iterable[Sighting],
) -> dict[str, tuple[Media, list[Source], datetime]]:
    """Sightings of one batch merged per media: values, sources without repeats, latest time."""
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
    return merged


def derived_fields(document: Mapping[str, Any]) -> Document:
    """The fields a media written before it was tracked lacks (``author``, ``authors``)."""
    author = author_key(document.get("username"))
    return {} if author is None else {"author": author, "authors": [author]}


class MediaRepository:
    """Writes and reads ``media`` documents; ``tracker`` settles them."""

    def __init__(
        self, collection: AsyncCollection[Document], states: AsyncCollection[Document]
    ) -> None:
        self._collection = collection
        self.tracker = tracking.Tracker(collection, states, "media")

    async def ensure_indexes(self) -> None:
        """Create the indexes the pollers, exports and settling rely on; drop obsolete ones."""

        async def ensure() -> None:
            existing = await self._collection.index_information()
            for name in OBSOLETE_INDEXES:
                if name in existing:
                    await self._collection.drop_index(name)
            await self._collection.create_indexes(INDEXES)

        await guarded("create media indexes", ensure)

    async def ingest(
        self, sightings: Iterable[Sighting], extra: Extra | None = None
    ) -> IngestResult:
        """Store a batch of sightings (plus ``extra`` fields); tell new media from known ones.

        Every media is offered as an insert of its whole document (far cheaper for the server
        than an upsert with operators, and no read first). The duplicate keys name the media
        already stored, by this worker earlier or by another replica meanwhile; those get one
        unordered bulk of upserts that merge the sighting, so concurrent writers never lose or
        double a sighting. A page of new media costs one round trip, a page with known media two.
        """
        merged = merge_sightings(sightings)
        if not merged:
            return IngestResult(new=[], duplicate=[])
        extras = {
            media_id: extra(m, s) if extra is not None else None
            for media_id, (m, s, _) in merged.items()
        }
        documents = {i: insert_document(*merged[i], extras[i]) for i in merged}
        refused = {i: reason for i, d in documents.items() if (reason := unstorable(d))}
        storable = [i for i in merged if i not in refused]
        known = await self._insert([documents[i] for i in storable])
        updates = [upsert_operation(*merged[i], extras[i]) for i in storable if i in known]
        if updates:
            await guarded(
                "media bulk upsert", lambda: self._collection.bulk_write(updates, ordered=False)
            )
        return IngestResult(
            new=[i for i in storable if i not in known],
            duplicate=[i for i in storable if i in known],
            refused=refused,
        )

    async def _insert(self, documents: list[Document]) -> set[str]:
        """Insert ``documents``; the ids of those already stored (their insert was refused)."""
        if not documents:
            return set()
        ids = [str(d["_id"]) for d in documents]
        try:
            await self._collection.insert_many(documents, ordered=False)
        except BulkWriteError as exc:
            errors: list[dict[str, Any]] = exc.details.get("writeErrors", [])
            if any(e.get("code") != _DUPLICATE_KEY for e in errors):
                raise StoreUnavailableError(
                    f"MongoDB media insert failed: {describe(exc)}"
                ) from exc
            return {ids[int(e["index"])] for e in errors}
        except PyMongoError as exc:
            raise StoreUnavailableError(f"MongoDB media insert failed: {describe(exc)}") from exc
        return set()

    def stream(
        self, query: Document, *, sort: list[tuple[str, int]], projection: Document | None = None
    ) -> AsyncIterator[Document]:
        """Documents matching ``query`` in ``sort`` order, from a cursor (constant memory)."""
        return mongo_stream(self._collection, "media", query, sort=sort, projection=projection)

    async def find_one(self, query: Document) -> Document | None:
        """The first stored document matching ``query``."""
        return await guarded("media read", lambda: self._collection.find_one(query))

    async def get(self, media_id: str) -> Document | None:
        """The stored document of ``media_id``."""
        return await guarded("media read", lambda: self._collection.find_one({"_id": media_id}))

    async def ids(self) -> set[str]:
        """Every stored media id (for coverage checks; fine up to millions of media)."""

        async def read() -> set[str]:
            return {str(d["_id"]) async for d in self._collection.find({}, {"_id": 1})}

        return await guarded("media ids read", read)

    async def count(self) -> int:
        """How many media are stored."""
        return await guarded("media count", lambda: self._collection.count_documents({}))
