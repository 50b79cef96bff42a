"""The ``ratelimits`` collection: pauses and usage Meta reported, shared by every replica.

``{_id: scope key, paused_until, usage_ratio, updated_at}``. A pause only ever lengthens
(``$max``), so replicas publishing at once cannot shorten one another's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from pymongo import UpdateOne
from pymongo.asynchronous.collection import AsyncCollection

from listener.store.mongo import Document, guarded


@dataclass(frozen=True)
class SharedScope:
    """What any replica last learnt of a scope."""

    paused_until: datetime | None
    usage_ratio: float
    updated_at: datetime


class RateLimitRepository:
    """Publishes and reads shared scope states."""

    def __init__(self, collection: AsyncCollection[Document]) -> None:
        self._collection = collection

    async def publish_many(
        self, scopes: Mapping[str, tuple[datetime | None, float]], *, now: datetime
    ) -> None:
        """Share what this replica knows of several scopes (key → pause end, usage) in one
        write."""
        if not scopes:
            return
        writes = []
        for scope, (paused_until, usage_ratio) in scopes.items():
            update: Document = {"$set": {"usage_ratio": usage_ratio, "updated_at": now}}
            if paused_until is not None:
                update["$max"] = {"paused_until": paused_until}
            writes.append(UpdateOne({"_id": scope}, update, upsert=True))
        await guarded("ratelimit write", lambda: self._collection.bulk_write(writes, ordered=False))

    async def read(self) -> dict[str, SharedScope]:
        """Every scope's shared state."""

        async def read_all() -> dict[str, SharedScope]:
            return {
                str(d["_id"]): SharedScope(
                    d.get("paused_until"), float(d.get("usage_ratio", 0.0)), d["updated_at"]
                )
                async for d in self._collection.find({})
            }

        return await guarded("ratelimit read", read_all)
