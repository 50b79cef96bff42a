"""The ``hashtag_slots`` collection: each account's 30-hashtag ledger, shared by every replica.

One document per account, ``{_id: account, slots: {tag: first_used_at}, version,
reconciled_at}``. A new tag is admitted with compare-and-swap on ``version``: two workers
admitting different tags at once cannot both take the last slot. Re-using a tag that holds a
slot writes nothing. ``reconciled_at`` is when a replica last folded in Meta's own list, so
replicas starting together ask Meta once.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from pymongo.asynchronous.collection import AsyncCollection

from listener.ratelimit.ledger import Ledger
from listener.store.mongo import Document, guarded, guarded_upsert


class SlotRepository:
    """Reads and swaps account ledgers."""

    def __init__(self, collection: AsyncCollection[Document]) -> None:
        self._collection = collection

    async def load(self, account: str) -> tuple[Ledger, int]:
        """The account's ledger and its version (0 for an account never seen)."""
        doc = await guarded(
            "hashtag slots read", lambda: self._collection.find_one({"_id": account})
        )
        if doc is None:
            return Ledger({}), 0
        slots: Mapping[str, datetime] = doc.get("slots", {})
        return Ledger(dict(slots)), int(doc.get("version", 0))

    async def swap(self, account: str, ledger: Ledger, version: int, now: datetime) -> bool:
        """Store ``ledger`` if the stored version is still ``version``; False if another won."""
        slots = ledger.active(now)
        # Version 0: no document yet, or one a reconcile claim created. An upsert that finds
        # another version collides on _id instead of inserting a second ledger.
        result = await guarded_upsert(
            "hashtag slots write",
            lambda: self._collection.update_one(
                {"_id": account, "version": version},
                {"$set": {"slots": slots, "version": version + 1}},
                upsert=version == 0,
            ),
        )
        return result is not None and (result.modified_count == 1 or result.upserted_id is not None)

    async def claim_reconcile(self, account: str, now: datetime, fresh_s: float) -> bool:
        """Claim the account's reconcile unless another replica did one in the last ``fresh_s``.

        One conditional write: of replicas starting together, one gets True. Creates the
        account's document (version 0, no slots) when there is none yet.
        """
        result = await guarded_upsert(
            "hashtag slots write",
            lambda: self._collection.update_one(
                {
                    "_id": account,
                    "$or": [
                        {"reconciled_at": {"$exists": False}},
                        {"reconciled_at": {"$lt": now - timedelta(seconds=fresh_s)}},
                    ],
                },
                {"$set": {"reconciled_at": now}, "$setOnInsert": {"slots": {}, "version": 0}},
                upsert=True,
            ),
        )
        # None: the document exists with a fresh reconcile, so the filter missed it.
        return result is not None and (result.modified_count == 1 or result.upserted_id is not None)
