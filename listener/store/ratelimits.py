"""The ``ratelimits`` collection: pauses and usage Meta reported, shared by every replica.

``{_id: scope key, paused_until, usage_ratio, updated_at}``. A pause only ever lengthens
(``$max``), so replicas publishing at once cannot shorten one another's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

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

    async def publish(
        self, scope: str, *, paused_until: datetime | None, usage_ratio: float, now: datetime
    ) -> None:
        """Share what this replica knows of ``scope``."""
        update: Document = {"$set": {"usage_ratio": usage_ratio, "updated_at": now}}
        if paused_until is not None:
            update["$max"] = {"paused_until": paused_until}
        await guarded(
            "ratelimit write",
            lambda: self._collection.update_one({"_id": scope}, update, upsert=True),
        )

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
