"""The ``leases`` and ``replicas`` collections: which replica works which feed, and who is alive.

``leases``: ``{_id: feed key, owner, expires_at, token}`` (no ``owner`` once released). A
replica takes a free or expired lease atomically; each new owner gets a larger ``token`` (a
fencing token), so a replica that lost its lease (it stalled past the expiry) can be told
apart from the current owner: writes fenced by the token (see
:meth:`FeedRepository.record_success`) refuse the stale one.

``replicas``: ``{_id: replica id, seen_at}`` heartbeats; the live count decides each replica's
fair share of the feeds, and a replica no longer seen loses its inbox claims
(:meth:`InboxRepository.release_orphans`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Final

from pymongo import ASCENDING, IndexModel, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection

from listener.store.mongo import Document, guarded, guarded_upsert

INDEXES: Final = [
    IndexModel([("owner", ASCENDING)], name="owner"),
    IndexModel([("expires_at", ASCENDING)], name="expires_at"),
]
ID_INDEX: Final = "_id_"
"""Writes by ``_id`` name its index: some servers plan a point write with more conditions as a
scan."""
RELEASED: Final[Document] = {
    "$set": {"expires_at": datetime.fromtimestamp(0, UTC)},
    "$unset": {"owner": ""},
}
"""A released lease: expired, and nobody's (a heartbeat renews by owner)."""


def owned(owner: str) -> Document:
    """The leases ``owner`` holds, live or expired (a take rewrites the owner)."""
    return {"owner": owner}


class LeaseRepository:
    """Takes, renews and releases feed leases; records replica heartbeats."""

    def __init__(
        self, leases: AsyncCollection[Document], replicas: AsyncCollection[Document]
    ) -> None:
        self._leases = leases
        self._replicas = replicas

    async def ensure_indexes(self) -> None:
        """The indexes a replica's heartbeat renews its leases by (owner) and finds the free
        ones by (expiry)."""
        await guarded("create lease indexes", lambda: self._leases.create_indexes(INDEXES))

    async def take(self, key: str, owner: str, now: datetime, ttl: timedelta) -> int | datetime:
        """Take ``key`` if it is free, expired or already ours: its fencing token; else the
        expiry of the other replica's live lease (``now`` if a rival took it at once).

        Every operation names the lease by ``_id`` (a point read, then a compare-and-set on
        the token and the expiry it read), so a take costs the same with 10 leases or 10,000.
        """
        doc = await guarded("lease read", lambda: self._leases.find_one({"_id": key}))
        if doc is None:
            lease = {"_id": key, "owner": owner, "token": 1, "expires_at": now + ttl}
            # None: another replica inserted the same lease first.
            inserted = await guarded_upsert("lease write", lambda: self._leases.insert_one(lease))
            return now if inserted is None else 1
        token = int(doc.get("token", 0))
        if doc.get("owner") == owner:  # ours already: a take whose answer was lost, or a retry
            return token if await self.renew(key, owner, token, now, ttl) else now
        if doc["expires_at"] > now:
            expires_at: datetime = doc["expires_at"]
            return expires_at
        result = await guarded(
            "lease write",
            lambda: self._leases.update_one(
                {"_id": key, "token": doc.get("token"), "expires_at": {"$lte": now}},
                {"$set": {"owner": owner, "token": token + 1, "expires_at": now + ttl}},
                hint=ID_INDEX,
            ),
        )
        return token + 1 if result.matched_count == 1 else now

    async def renew(self, key: str, owner: str, token: int, now: datetime, ttl: timedelta) -> bool:
        """Extend a lease still held with ``token``; False if it was lost."""
        result = await guarded(
            "lease renew",
            lambda: self._leases.update_one(
                {"_id": key, "owner": owner, "token": token},
                {"$set": {"expires_at": now + ttl}},
                hint=ID_INDEX,
            ),
        )
        return result.matched_count == 1

    async def renew_all(self, owner: str, now: datetime, ttl: timedelta) -> dict[str, int]:
        """Extend every lease ``owner`` holds in one write; its leases now, key → token.

        A lease is ``owner``'s as long as nobody took it (a take rewrites the owner), so one
        ``update_many`` by owner renews them all; the tokens read back tell the caller which
        of its leases went to another replica, and which are its own without its knowing (a
        take whose answer was lost).
        """
        await guarded(
            "lease renew",
            lambda: self._leases.update_many(owned(owner), {"$set": {"expires_at": now + ttl}}),
        )

        async def tokens() -> dict[str, int]:
            found = self._leases.find(owned(owner), {"token": 1})
            return {str(d["_id"]): int(d.get("token", 0)) async for d in found}

        return await guarded("lease read", tokens)

    async def release(self, leases: Mapping[str, int], owner: str) -> None:
        """Give leases up (key → token) in one write, so other replicas need not wait for
        their expiry."""
        if not leases:
            return
        writes = [
            UpdateOne({"_id": key, "owner": owner, "token": token}, RELEASED, hint=ID_INDEX)
            for key, token in leases.items()
        ]
        await guarded("lease release", lambda: self._leases.bulk_write(writes, ordered=False))

    async def release_all(self, owner: str) -> None:
        """Give up every lease ``owner`` holds, in one write."""
        await guarded("lease release", lambda: self._leases.update_many(owned(owner), RELEASED))

    async def free(self, now: datetime) -> set[str]:
        """The leases nobody holds at ``now`` (released or expired), by key: one read of the
        expiry index, which costs what is free (nothing, when every feed is held)."""

        async def read() -> set[str]:
            found = self._leases.find({"expires_at": {"$lte": now}}, {"_id": 1})
            return {str(d["_id"]) async for d in found}

        return await guarded("lease read", read)

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
