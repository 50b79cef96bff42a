"""Feed bookkeeping: the hashtag name → id cache and each feed's poll state.

``hashtags``: ``{_id: name, hashtag_id, resolved_at}``. Meta's hashtag ids are static and
global, so a name is resolved once for every account and kept.

``feeds``: ``{_id: "<kind>:<account>[:<hashtag>]", kind, account, hashtag?, last_poll_at,
last_success_at, last_new, last_pages, last_error?}``. It is written only after the media of a
poll are stored, so a crash between the two re-polls rather than skips.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from pymongo.asynchronous.collection import AsyncCollection

from listener.models import Source
from listener.store.mongo import Document, guarded, guarded_upsert


def feed_key(source: Source) -> str:
    """The ``feeds`` document id of a feed."""
    parts = [source.kind.value, source.account]
    if source.hashtag is not None:
        parts.append(source.hashtag)
    return ":".join(parts)


@dataclass(frozen=True)
class FeedState:
    """What the last polls of a feed found."""

    last_success_at: datetime | None = None
    last_poll_at: datetime | None = None
    last_new: int = 0
    last_pages: int = 0
    covered_to: datetime | None = None


def _state(doc: Document) -> FeedState:
    return FeedState(
        last_success_at=doc.get("last_success_at"),
        last_poll_at=doc.get("last_poll_at"),
        last_new=int(doc.get("last_new", 0)),
        last_pages=int(doc.get("last_pages", 0)),
        covered_to=doc.get("covered_to"),
    )


class FeedRepository:
    """Reads and writes hashtag ids and feed poll state."""

    def __init__(
        self, hashtags: AsyncCollection[Document], feeds: AsyncCollection[Document]
    ) -> None:
        self._hashtags = hashtags
        self._feeds = feeds

    async def hashtag_id(self, name: str) -> str | None:
        """The stored id of hashtag ``name``, if it was resolved before."""
        doc = await guarded("hashtag id read", lambda: self._hashtags.find_one({"_id": name}))
        return None if doc is None else str(doc["hashtag_id"])

    async def hashtag_ids(self) -> dict[str, str]:
        """Every resolved hashtag: name → id."""

        async def read() -> dict[str, str]:
            return {str(d["_id"]): str(d["hashtag_id"]) async for d in self._hashtags.find({})}

        return await guarded("hashtag ids read", read)

    async def save_hashtag_id(self, name: str, hashtag_id: str, now: datetime) -> None:
        """Keep ``name`` → ``hashtag_id`` for good."""
        await guarded(
            "hashtag id write",
            lambda: self._hashtags.update_one(
                {"_id": name},
                {"$set": {"hashtag_id": hashtag_id}, "$setOnInsert": {"resolved_at": now}},
                upsert=True,
            ),
        )

    async def state(self, source: Source) -> FeedState:
        """The poll state of a feed (empty for a feed never polled)."""
        doc = await guarded("feed read", lambda: self._feeds.find_one({"_id": feed_key(source)}))
        return FeedState() if doc is None else _state(doc)

    async def states(self, sources: Sequence[Source]) -> dict[str, FeedState]:
        """The poll state of many feeds in one query, by feed key (absent: never polled)."""
        keys = [feed_key(source) for source in sources]

        async def read() -> dict[str, FeedState]:
            found = self._feeds.find({"_id": {"$in": keys}})
            return {str(doc["_id"]): _state(doc) async for doc in found}

        return await guarded("feed read", read)

    async def record_success(
        self,
        source: Source,
        *,
        now: datetime,
        new: int,
        pages: int,
        fence: int | None = None,
        covered_to: datetime | None = None,
    ) -> bool:
        """Advance a feed after its media are stored; False if ``fence`` is stale.

        ``fence`` is the poller's lease token: a write carrying a token older than one already
        written comes from a replica that lost the feed, and is refused.
        """
        fields: Document = {
            "kind": source.kind.value,
            "account": source.account,
            "last_poll_at": now,
            "last_success_at": now,
            "last_new": new,
            "last_pages": pages,
        }
        if source.hashtag is not None:
            fields["hashtag"] = source.hashtag
        if covered_to is not None:
            fields["covered_to"] = covered_to
        query: Document = {"_id": feed_key(source)}
        if fence is not None:
            fields["fence"] = fence
            # No fence yet, or one no newer than ours ($not also matches a missing field).
            query["fence"] = {"$not": {"$gt": fence}}
        written = await guarded_upsert(
            "feed write",
            lambda: self._feeds.update_one(
                query, {"$set": fields, "$unset": {"last_error": ""}}, upsert=True, hint="_id_"
            ),
        )
        # None: a newer owner's fence is on the document, so this writer is stale.
        return written is not None

    async def record_failure(self, source: Source, *, now: datetime, error: str) -> None:
        """Note a failed poll; the feed's success time does not move."""
        await guarded(
            "feed write",
            lambda: self._feeds.update_one(
                {"_id": feed_key(source)},
                {"$set": {"last_poll_at": now, "last_error": error[:500]}},
                upsert=True,
            ),
        )
