"""The ``hashtag_slots`` collection: each account's 30-hashtag ledger, shared by every replica.

One document per account, ``{_id: account, slots: {tag: first_used_at}, version}``. A new tag
is admitted with compare-and-swap on ``version``: two workers admitting different tags at
once cannot both take the last slot. Re-using a tag that holds a slot writes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError, PyMongoError

from listener.errors import StoreUnavailableError
from listener.ratelimit.ledger import Ledger
from listener.store.mongo import Document, guarded


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
        if version == 0:
            try:
                await self._collection.insert_one({"_id": account, "slots": slots, "version": 1})
            except DuplicateKeyError:
                return False
            except PyMongoError as exc:
                raise StoreUnavailableError(f"MongoDB hashtag slots write failed: {exc}") from exc
            return True
        result = await guarded(
            "hashtag slots write",
            lambda: self._collection.update_one(
                {"_id": account, "version": version},
                {"$set": {"slots": slots, "version": version + 1}},
            ),
        )
        return result.modified_count == 1
