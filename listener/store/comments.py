"""The ``comments`` collection: one document per comment on the account's own posts.

``_id`` is the comment id. A batch (a page of a poll, or one webhook change) is one unordered
``bulk_write`` of upserts, so seeing a comment again merges into its document and never makes a
second one, whichever replica writes first: ``$setOnInsert`` fixes ``media_id``, ``account``,
``parent_id`` (absent on a top-level comment) and ``first_seen_at``; ``$max`` moves
``last_seen_at``; ``$addToSet`` adds the source kind (``comments_poll``, ``comments_webhook``)
without repeats; what the sighting knows (text, author, counts) is ``$set``. A webhook change
carries no timestamp: a comment first seen that way gets the delivery's time, marked
``timestamp_estimated``, until a poll (or a fetch) gives the real one.

The ``comment_polls`` collection keeps each post's poll progress (see
:class:`CommentPollRepository`), so that a poll interrupted by a crash resumes from its cursor.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, IndexModel, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection

from listener.models import Comment, CommentSource
from listener.store.mongo import Document, guarded, unstorable
from listener.store.mongo import stream as mongo_stream

INDEXES = [
    # A campaign's entries: the top-level comments of its posts in publication order (export,
    # judging); the account's comment listing by post.
    IndexModel(
        [("media_id", ASCENDING), ("timestamp", ASCENDING), ("_id", ASCENDING)],
        name="media_time",
    ),
    IndexModel([("account", ASCENDING), ("timestamp", ASCENDING)], name="account_time"),
]

Extra = Callable[[Comment], Document]
"""Derived fields to set on a comment's document (its sentiment, say), by dotted path."""


@dataclass(frozen=True)
class CommentIngest:
    """What a batch did: ids stored for the first time, ids already known, ids refused."""

    new: list[str]
    duplicate: list[str]
    refused: dict[str, str]


def update_document(
    comment: Comment, source: CommentSource, seen_at: datetime, extra: Document | None = None
) -> Document:
    """The update (with operators) that stores or merges a sighting of ``comment``."""
    on_insert: Document = {
        "media_id": comment.media_id,
        "account": comment.account,
        "first_seen_at": seen_at,
    }
    if comment.parent_id is not None:
        on_insert["parent_id"] = comment.parent_id
    known: Document = {"text": comment.text}
    for key in ("username", "user_id", "like_count", "hidden"):
        value = getattr(comment, key)
        if value is not None:
            known[key] = value
    update: Document = {
        "$setOnInsert": on_insert,
        "$max": {"last_seen_at": seen_at},
        "$addToSet": {"sources": source.value},
    }
    if comment.timestamp is not None:
        known["timestamp"] = comment.timestamp
        update["$unset"] = {"timestamp_estimated": ""}
    else:
        on_insert.update(timestamp=seen_at, timestamp_estimated=True)
    known.update(extra or {})
    update["$set"] = known
    return update


def _unique(comments: Iterable[Comment]) -> list[Comment]:
    """The last sighting of each comment id, in first-appearance order."""
    by_id: dict[str, Comment] = {}
    for comment in comments:
        by_id[comment.id] = comment
    return list(by_id.values())


class CommentRepository:
    """Writes and reads ``comments`` documents."""

    def __init__(self, collection: AsyncCollection[Document]) -> None:
        self._collection = collection

    async def ensure_indexes(self) -> None:
        """Create the indexes exports and polls rely on."""
        await guarded("create comment indexes", lambda: self._collection.create_indexes(INDEXES))

    async def ingest(
        self,
        comments: Iterable[Comment],
        source: CommentSource,
        seen_at: datetime,
        extra: Extra | None = None,
    ) -> CommentIngest:
        """Store a batch of sightings in one round trip; tell new comments from known ones."""
        batch = _unique(comments)
        operations: list[UpdateOne] = []
        refused: dict[str, str] = {}
        stored: list[str] = []
        for comment in batch:
            update = update_document(
                comment, source, seen_at, extra(comment) if extra is not None else None
            )
            reason = unstorable(update)
            if reason:
                refused[comment.id] = reason
                continue
            operations.append(UpdateOne({"_id": comment.id}, update, upsert=True))
            stored.append(comment.id)
        if not operations:
            return CommentIngest([], [], refused)
        result = await guarded(
            "comment bulk upsert", lambda: self._collection.bulk_write(operations, ordered=False)
        )
        new_ids = {stored[int(index)] for index in result.upserted_ids or {}}
        return CommentIngest(
            new=[i for i in stored if i in new_ids],
            duplicate=[i for i in stored if i not in new_ids],
            refused=refused,
        )

    async def known(self, ids: Sequence[str]) -> set[str]:
        """Which of ``ids`` are stored."""

        async def read() -> set[str]:
            cursor = self._collection.find({"_id": {"$in": list(ids)}}, {"_id": 1})
            return {str(d["_id"]) async for d in cursor}

        return await guarded("comment ids read", read)

    async def count_top_level(self, media_id: str) -> int:
        """How many top-level comments of ``media_id`` are stored."""
        query = {"media_id": media_id, "parent_id": {"$exists": False}}
        return await guarded("comment count", lambda: self._collection.count_documents(query))

    async def count_on(self, media_id: str) -> int:
        """How many comments of ``media_id`` are stored, replies included."""
        query = {"media_id": media_id}
        return await guarded("comment count", lambda: self._collection.count_documents(query))

    async def get(self, comment_id: str) -> Document | None:
        """The stored document of ``comment_id``."""
        return await guarded("comment read", lambda: self._collection.find_one({"_id": comment_id}))

    async def set_fields(self, comment_id: str, fields: Document) -> None:
        """Set ``fields`` (dotted paths) on one stored comment."""
        await guarded(
            "comment update",
            lambda: self._collection.update_one({"_id": comment_id}, {"$set": fields}),
        )

    async def set_many(self, updates: Mapping[str, Document]) -> None:
        """Set fields on many stored comments, one unordered bulk write."""
        operations = [UpdateOne({"_id": i}, {"$set": f}) for i, f in updates.items()]
        if operations:
            await guarded(
                "comment bulk update",
                lambda: self._collection.bulk_write(operations, ordered=False),
            )

    def stream(
        self, query: Document, *, sort: list[tuple[str, int]], projection: Document | None = None
    ) -> AsyncIterator[Document]:
        """Documents matching ``query`` in ``sort`` order, from a cursor (constant memory)."""
        return mongo_stream(self._collection, "comment", query, sort=sort, projection=projection)


def top_level_of(posts: Sequence[str]) -> Document:
    """The query of the top-level comments of ``posts``."""
    return {"media_id": {"$in": list(posts)}, "parent_id": {"$exists": False}}


class CommentPollRepository:
    """Each post's comment poll progress: the cursor of an unfinished full read, and the ids
    of the newest comments a finished one saw first (where the next poll may stop); and the
    permalinks resolved to media ids (``comment_posts``: shortcode → media id, kept for good)."""

    def __init__(
        self, collection: AsyncCollection[Document], posts: AsyncCollection[Document]
    ) -> None:
        self._collection = collection
        self._posts = posts

    async def resolutions(self, account: str) -> dict[str, str]:
        """The account's resolved permalinks: shortcode → media id."""

        async def read() -> dict[str, str]:
            cursor = self._posts.find({"account": account})
            return {str(d["shortcode"]): str(d["media_id"]) async for d in cursor}

        return await guarded("comment post read", read)

    async def save_resolutions(self, account: str, found: Mapping[str, str]) -> None:
        """Keep the account's shortcode → media id pairs."""
        operations = [
            UpdateOne(
                {"_id": f"{account}/{code}"},
                {"$set": {"account": account, "shortcode": code, "media_id": media_id}},
                upsert=True,
            )
            for code, media_id in found.items()
        ]
        if operations:
            await guarded(
                "comment post write", lambda: self._posts.bulk_write(operations, ordered=False)
            )

    async def load(self, media_id: str) -> Document:
        """The stored progress of ``media_id`` (an empty document when never polled)."""
        found = await guarded(
            "comment poll read", lambda: self._collection.find_one({"_id": media_id})
        )
        return dict(found or {})

    async def save(self, media_id: str, fields: Mapping[str, Any]) -> None:
        """Set progress fields of ``media_id``."""
        await guarded(
            "comment poll write",
            lambda: self._collection.update_one(
                {"_id": media_id}, {"$set": dict(fields)}, upsert=True
            ),
        )
