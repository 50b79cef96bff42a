"""The ``draws`` collection: each campaign's draw commitment and, once drawn, its record.

``{_id: campaign, commitment: {...}, record: {...}?}`` with the commit's fields (seed hash,
entrant digest and count, rules version, time) and the JSON draw record as published.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection

from listener.store.mongo import Document, guarded


class DrawRepository:
    """Keeps commitments and records."""

    def __init__(self, collection: AsyncCollection[Document]) -> None:
        self._collection = collection

    async def save_commitment(self, campaign: str, commitment: dict[str, Any]) -> None:
        """Store (or replace, before any draw) the campaign's commitment."""
        await guarded(
            "draw commitment write",
            lambda: self._collection.update_one(
                {"_id": campaign},
                {"$set": {"commitment": commitment}, "$unset": {"record": ""}},
                upsert=True,
            ),
        )

    async def load(self, campaign: str) -> Document | None:
        """The campaign's commitment and record, if any."""
        return await guarded("draw read", lambda: self._collection.find_one({"_id": campaign}))

    async def save_recheck(self, campaign: str, recheck: dict[str, Any]) -> None:
        """Keep the pre-announcement re-check of the drawn entries."""
        await guarded(
            "draw recheck write",
            lambda: self._collection.update_one({"_id": campaign}, {"$set": {"recheck": recheck}}),
        )

    async def save_record(self, campaign: str, record_json: str, drawn_at: datetime) -> None:
        """Store the published record of the draw."""
        await guarded(
            "draw record write",
            lambda: self._collection.update_one(
                {"_id": campaign}, {"$set": {"record": record_json, "drawn_at": drawn_at}}
            ),
        )
