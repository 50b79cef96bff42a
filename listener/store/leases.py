"""The ``leases`` and ``replicas`` collections: which replica works which feed, and who is alive.

``leases``: ``{_id: feed key, owner, expires_at, token}``. A replica takes a free or expired
lease atomically; each new owner gets a larger ``token`` (a fencing token), so a replica that
lost its lease (it stalled past the expiry) can be told apart from the current owner: writes
fenced by the token (see :meth:`FeedRepository.record_success`) refuse the stale one.

``replicas``: ``{_id: replica id, seen_at}`` heartbeats; the live count decides each replica's
fair share of the feeds, and a replica no longer seen loses its inbox claims
(:meth:`InboxRepository.release_orphans`).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pymongo import ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection

from listener.store.mongo import Document, guarded, guarded_upsert


class LeaseRepository:
    """Takes, renews and releases feed leases; records replica heartbeats."""

    def __init__(
        self, leases: AsyncCollection[Document], replicas: AsyncCollection[Document]
    ) -> None:
        self._leases = leases
        self._replicas = replicas

    async def acquire(self, key: str, owner: str, now: datetime, ttl: timedelta) -> int | None:
        """Take ``key`` if it is free, expired or already ours; its fencing token, else ``None``."""
        # None from the upsert: held by a live owner, so the insert of a new document collided.
        doc = await guarded_upsert(
            "lease write",
            lambda: self._leases.find_one_and_update(
                {"_id": key, "$or": [{"owner": owner}, {"expires_at": {"$lte": now}}]},
                [
                    {
                        "$set": {
                            "token": {
                                "$cond": [
                                    {"$eq": ["$owner", owner]},
                                    "$token",
                                    {"$add": [{"$ifNull": ["$token", 0]}, 1]},
                                ]
                            },
                            "owner": owner,
                            "expires_at": now + ttl,
                        }
                    }
                ],
                upsert=True,
                return_document=ReturnDocument.AFTER,
            ),
        )
        return None if doc is None else int(doc["token"])

    async def renew(self, key: str, owner: str, token: int, now: datetime, ttl: timedelta) -> bool:
        """Extend a lease still held with ``token``; False if it was lost."""
        result = await guarded(
            "lease renew",
            lambda: self._leases.update_one(
                {"_id": key, "owner": owner, "token": token},
                {"$set": {"expires_at": now + ttl}},
            ),
        )
        return result.matched_count == 1

    async def release(self, key: str, owner: str, token: int) -> None:
        """Give a lease up (on shutdown) so another replica need not wait for its expiry."""
        await guarded(
            "lease release",
            lambda: self._leases.update_one(
                {"_id": key, "owner": owner, "token": token},
                {"$set": {"expires_at": datetime.fromtimestamp(0).astimezone()}},
            ),
        )

    async def held_by(self, owner: str, now: datetime) -> int:
        """How many live leases ``owner`` holds."""
        return await guarded(
            "lease count",
            lambda: self._leases.count_documents({"owner": owner, "expires_at": {"$gt": now}}),
        )

    async def heartbeat(self, replica: str, now: datetime) -> None:
        """Say ``replica`` is alive."""
        await guarded(
            "replica heartbeat",
            lambda: self._replicas.update_one(
                {"_id": replica}, {"$set": {"seen_at": now}}, upsert=True
            ),
        )

    async def alive(self, now: datetime, within: timedelta) -> set[str]:
        """The replicas seen within ``within``, by name."""

        async def read() -> set[str]:
            recent = self._replicas.find({"seen_at": {"$gt": now - within}}, {"_id": 1})
            return {str(doc["_id"]) async for doc in recent}

        return await guarded("replica read", read)

    async def live_replicas(self, now: datetime, within: timedelta) -> int:
        """Replicas seen within ``within`` (at least 1: the caller is alive)."""
        count = await guarded(
            "replica count",
            lambda: self._replicas.count_documents({"seen_at": {"$gt": now - within}}),
        )
        return max(count, 1)
