"""The ``inbox`` collection: webhook changes, stored before Meta gets its 200, then worked off.

``{_id: key, field, ig_user_id, media_id?, comment_id?, username?, value, sent_at,
received_at, status, attempts, available_at, claimed_by?, claimed_at?, claim_expires_at?,
last_error?, reason?, done_at?, expire_at?}``; ``status`` is ``pending``, ``claimed``, ``done`` or
``dead``.

Idempotent: ``_id`` is the change's key, so a delivery Meta retries stores nothing new.
A change MongoDB could not take as sent (an integer beyond 64 bits, a lone surrogate, nesting
beyond 100 levels) is stored as a dead letter instead: a bounded, escaped sketch of its value
(``value: {unstorable: "…"}``) and the reason; its neighbours are stored as they came.

A worker claims an event with one conditional write: an expired claim first (the id of the
first one in the ``expired_claims`` index, then claimed by ``_id`` as below), else the oldest
event due, taken from the ids of the oldest due
events, which one query reads a batch at a time (:data:`DUE_BATCH`), each then claimed by
``_id`` (``update_one``, then a read by ``_id``) on condition it is still pending and due; a
claim lost to another worker moves on to the next id. Expired claims are looked for before every
new look, and at most once a second (:data:`EXPIRED_CHECK`) while ids of the last look are left,
so an expired claim waits a second at most. (A query for the single oldest event per claim would
be served by the ``work_queue`` index, but SecantusDB reads every due event to answer it: a queue
of 20,000 cost a second a claim. Its ``findAndModify`` by ``_id`` reads the whole collection too,
where its update and its find by ``_id`` are lookups.) A claim
that is not completed before ``claim_expires_at`` is claimed again later. A claim whose owner
(a replica, by the name it heart-beats under in ``replicas``) stopped heart-beating is released
sooner: once it is a lease time old and its owner has not been seen for a lease time.

Retention: a settled event gets ``expire_at`` (done: ``done`` retention later, dead: the longer
``dead`` retention later) and a TTL index on it deletes the event then. Events still waiting
never carry it. The date is fixed when the event settles, so a changed retention applies to
events settled from then on; events settled before ``expire_at`` existed get theirs from
``done_at`` (or ``received_at``) when the indexes are made.
"""

from __future__ import annotations

import asyncio
import reprlib
from collections import deque
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

from pymongo import ASCENDING, IndexModel, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, PyMongoError

from listener.errors import StoreUnavailableError
from listener.models import WebhookEvent
from listener.store.mongo import Document, describe, guarded, unstorable

PENDING, CLAIMED, DONE, DEAD = "pending", "claimed", "done", "dead"
_DUPLICATE_KEY = 11000
SKETCH_CHARS: Final = 2000
"""How much of an unstorable value its dead letter keeps."""
_SKETCH = reprlib.Repr()
_SKETCH.maxlevel, _SKETCH.maxdict, _SKETCH.maxlist = 6, 30, 30
_SKETCH.maxstring, _SKETCH.maxlong, _SKETCH.maxother = 200, 80, 80

DUE_BATCH: Final = 500
"""Ids of due events one look reads, claimed one by one before the next look. On SecantusDB a
look costs the whole queue whatever it returns (2.4 s at 20,000 due): 500 a look keeps that
near 5 ms a claim."""
EXPIRED_CHECK: Final = timedelta(seconds=1)
"""While ids of a look are left, expired claims are looked for at most this often."""
_BY_ID: Final = "_id_"
"""The ``_id`` index, as a hint: SecantusDB plans ``{_id, status, …}`` as a collection scan."""

STATS_PIPELINE: Final[list[Document]] = [
    {"$match": {"status": {"$in": [PENDING, CLAIMED]}}},
    {"$group": {"_id": None, "depth": {"$sum": 1}, "oldest": {"$min": "$received_at"}}},
]
"""The waiting events' depth and oldest arrival, from one pass, so that both describe the same
moment; SecantusDB reads every waiting event for either figure (a limit does not shorten its
sort), so two queries would cost twice as much."""

INDEXES = [
    IndexModel([("status", ASCENDING), ("available_at", ASCENDING)], name="work_queue"),
    IndexModel([("status", ASCENDING), ("claim_expires_at", ASCENDING)], name="expired_claims"),
    # Each settled event carries its own deletion date: one index serves both retentions, and
    # a changed retention never conflicts with the index already made.
    IndexModel([("expire_at", ASCENDING)], name="settled_expiry", expireAfterSeconds=0),
]


@dataclass(frozen=True)
class Retention:
    """How long settled events are kept: done ones, and dead letters (kept longer, for reading)."""

    done: timedelta = timedelta(days=7)
    dead: timedelta = timedelta(days=90)


DEFAULT_RETENTION: Final = Retention()


@dataclass(frozen=True)
class Claimed:
    """An event taken by one worker, with what it needs to hydrate it."""

    key: str
    field: str
    ig_user_id: str
    media_id: str | None
    comment_id: str | None
    username: str | None
    attempts: int
    value: Mapping[str, Any] | None = None
    """The change's ``value`` as Meta sent it."""

    @classmethod
    def of(cls, doc: Mapping[str, Any]) -> Claimed:
        """The claimed event an ``inbox`` document (as its claim left it) holds."""
        value = doc.get("value")
        return cls(
            key=str(doc["_id"]),
            field=str(doc["field"]),
            ig_user_id=str(doc["ig_user_id"]),
            media_id=doc.get("media_id"),
            comment_id=doc.get("comment_id"),
            username=doc.get("username"),
            attempts=int(doc.get("attempts", 1)),
            value=value if isinstance(value, Mapping) else None,
        )


@dataclass(frozen=True)
class Added:
    """What storing a delivery's changes did."""

    stored: int
    duplicates: int
    unstorable: Mapping[str, str] = field(default_factory=dict)
    """Key → why MongoDB could not take the change as sent; each is a dead letter instead."""


@dataclass(frozen=True)
class InboxStats:
    """How far behind the inbox is."""

    depth: int
    oldest_pending_at: datetime | None


def claim_queries(now: datetime) -> tuple[tuple[Document, str], ...]:
    """What a claim asks, in order: expired claims, then events due; each with the field it
    takes the oldest by. Each is served by its own index (``expired_claims``, ``work_queue``):
    one ``$or`` of the two would make SecantusDB scan the whole inbox, settled events included,
    on every claim."""
    return (
        ({"status": CLAIMED, "claim_expires_at": {"$lte": now}}, "claim_expires_at"),
        ({"status": PENDING, "available_at": {"$lte": now}}, "available_at"),
    )


def _document(event: WebhookEvent, now: datetime, retention: Retention) -> Document:
    doc: Document = {
        "_id": event.key,
        "field": event.field,
        "ig_user_id": event.ig_user_id,
        "value": event.value,
        "sent_at": event.sent_at,
        "received_at": now,
        "attempts": 0,
        "available_at": now,
        "status": PENDING if event.problem is None else DEAD,
    }
    for name in ("media_id", "comment_id", "username"):
        if getattr(event, name) is not None:
            doc[name] = getattr(event, name)
    if event.problem is not None:
        doc["reason"] = event.problem
        doc["expire_at"] = now + retention.dead
    return doc


def _unstorable_document(
    event: WebhookEvent, now: datetime, reason: str, retention: Retention
) -> Document:
    """The dead letter of a change MongoDB cannot take: only values it can, the reason first."""
    problem = f"cannot be stored in MongoDB: {reason}"
    if event.problem is not None:
        problem += f"; {event.problem}"
    return {
        "_id": event.key,
        "field": _escaped(event.field, 100),
        "ig_user_id": _escaped(event.ig_user_id, 100),
        "value": {"unstorable": _escaped(_SKETCH.repr(event.value), SKETCH_CHARS)},
        "sent_at": event.sent_at,
        "received_at": now,
        "attempts": 0,
        "available_at": now,
        "status": DEAD,
        "reason": problem,
        "expire_at": now + retention.dead,
    }


def _escaped(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, lone surrogates written as ``\\udxxx`` escapes."""
    return text[:limit].encode("utf-8", "backslashreplace").decode("utf-8")


class InboxRepository:
    """Stores, claims and settles webhook events."""

    def __init__(
        self, collection: AsyncCollection[Document], retention: Retention = DEFAULT_RETENTION
    ) -> None:
        self._collection = collection
        self._retention = retention
        self._due: deque[str] = deque()  # ids of events due at the last look, oldest first
        self._looking = asyncio.Lock()
        self._expired_checked_at: datetime | None = None

    async def ensure_indexes(self) -> None:
        """The work-queue indexes and the TTL index of settled events (which it backfills)."""
        await guarded("create inbox indexes", lambda: self._collection.create_indexes(INDEXES))
        await guarded("inbox expiry backfill", self._backfill_expiry)

    async def _backfill_expiry(self) -> None:
        """Give events settled before ``expire_at`` existed their date; a no-op afterwards."""
        for status, keep in ((DONE, self._retention.done), (DEAD, self._retention.dead)):
            await self._collection.update_many(
                {"status": status, "expire_at": {"$exists": False}},
                [
                    {
                        "$set": {
                            "expire_at": {
                                "$add": [
                                    {"$ifNull": ["$done_at", "$received_at"]},
                                    int(keep.total_seconds() * 1000),
                                ]
                            }
                        }
                    }
                ],
            )

    async def add(self, events: Sequence[WebhookEvent], now: datetime) -> Added:
        """Store events durably (majority-acknowledged): how many are new, already there, or
        kept as dead letters because MongoDB could not take them as sent.

        Each change is checked before the one batch write, so none can fail the others.
        """
        if not events:
            return Added(0, 0)
        docs: dict[str, Document] = {}
        refused: dict[str, str] = {}
        for event in events:
            doc = _document(event, now, self._retention)
            reason = unstorable(doc)
            if reason is not None:
                refused[event.key] = reason
                doc = _unstorable_document(event, now, reason, self._retention)
            docs[event.key] = doc
        repeats = len(events) - len(docs)
        try:
            result = await self._collection.insert_many(list(docs.values()), ordered=False)
        except BulkWriteError as exc:
            errors: list[dict[str, Any]] = exc.details.get("writeErrors", [])
            if exc.details.get("writeConcernErrors") or any(
                e.get("code") != _DUPLICATE_KEY for e in errors
            ):
                raise StoreUnavailableError(f"MongoDB inbox write failed: {describe(exc)}") from exc
            return Added(len(docs) - len(errors), repeats + len(errors), refused)
        except PyMongoError as exc:
            raise StoreUnavailableError(f"MongoDB inbox write failed: {describe(exc)}") from exc
        return Added(len(result.inserted_ids), repeats, refused)

    async def claim(self, worker: str, now: datetime, lease: timedelta) -> Claimed | None:
        """Take an event whose claim expired, else the oldest event due now; ``None`` when there
        is none.

        The queries are :func:`claim_queries`.
        """
        taken = {
            "$set": {
                "status": CLAIMED,
                "claimed_by": worker,
                "claimed_at": now,
                "claim_expires_at": now + lease,
            },
            "$inc": {"attempts": 1},
        }
        (expired, order), (due, _) = claim_queries(now)
        doc = None
        checked = self._expired_checked_at
        if not self._due or checked is None or now - checked >= EXPIRED_CHECK or now < checked:
            self._expired_checked_at = now
            doc = await self._take_expired(expired, order, taken)
        if doc is None:
            doc = await self._take_due(due, taken)
        return None if doc is None else Claimed.of(doc)

    async def _take_expired(self, query: Document, order: str, taken: Document) -> Document | None:
        """The first event of ``query`` by ``order``, claimed by ``taken``: its id from the
        index that leads with ``status`` then ``order``, then the write by ``_id``."""
        first = await guarded(
            "inbox claim",
            lambda: self._collection.find_one(
                query, {"_id": 1}, sort=[("status", ASCENDING), (order, ASCENDING)]
            ),
        )
        return None if first is None else await self._take_id(str(first["_id"]), query, taken)

    async def _take_due(self, due: Document, taken: Document) -> Document | None:
        """The oldest event of ``due`` still due, claimed by ``taken``: from the ids of the last
        look, then from a new look; ``None`` when none is left."""
        for look in (False, True):
            if look:
                async with self._looking:  # the worker's tasks share one look, not one each
                    if not self._due:
                        self._due.extend(await self._due_ids(due))
            while self._due:
                doc = await self._take_id(self._due.popleft(), due, taken)
                if doc is not None:
                    return doc
        return None

    async def _take_id(self, key: str, query: Document, taken: Document) -> Document | None:
        """Event ``key`` claimed by ``taken`` if it still matches ``query``, else ``None``."""
        # Not find_one_and_update: SecantusDB's findAndModify reads the whole collection for it
        # (hinted or not), where its update by ``_id`` and its find by ``_id`` are each a lookup.
        result = await guarded(
            "inbox claim",
            lambda: self._collection.update_one({"_id": key, **query}, taken, hint=_BY_ID),
        )
        if result.modified_count != 1:
            return None
        return await guarded("inbox claim", lambda: self._collection.find_one({"_id": key}))

    async def _due_ids(self, due: Document) -> list[str]:
        """The ids of the oldest :data:`DUE_BATCH` events of ``due``, oldest first."""
        order = [("status", ASCENDING), ("available_at", ASCENDING)]
        found = await guarded(
            "inbox claim",
            lambda: self._collection.find(due, {"_id": 1}, sort=order).limit(DUE_BATCH).to_list(),
        )
        return [str(d["_id"]) for d in found]

    async def release_orphans(
        self, now: datetime, *, alive: Collection[str], ttl: timedelta
    ) -> int:
        """Release the claims older than ``ttl`` whose owner is not in ``alive``; how many.

        ``alive``: the owners seen heart-beating within ``ttl``. A released claim expires now,
        so the next :meth:`claim` takes it, without waiting for the owner's full claim time.
        """
        oldest = now - ttl
        return await self._release(
            now, lambda d: d.get("claimed_by") not in alive and d["claimed_at"] <= oldest
        )

    async def release_own(self, owner: str, *, claimed_before: datetime, now: datetime) -> int:
        """Release ``owner``'s claims made before ``claimed_before`` (a previous run of it)."""
        return await self._release(
            now, lambda d: d.get("claimed_by") == owner and d["claimed_at"] < claimed_before
        )

    async def _release(self, now: datetime, orphaned: Callable[[Document], bool]) -> int:
        """Expire now the running claims ``orphaned`` picks; how many.

        The running claims are read from the ``expired_claims`` index (status, then expiry),
        which holds no more of them than the replicas' workers: one filter naming the owner
        and the claim's age as well would make SecantusDB read the whole inbox, settled
        history included, each time. Each release is conditional on the claim read, so a claim
        settled or taken again in between is left alone.
        """
        running = await guarded(
            "inbox release",
            lambda: self._collection.find(
                {"status": CLAIMED, "claim_expires_at": {"$gt": now}},
                {"claimed_by": 1, "claimed_at": 1, "claim_expires_at": 1},
            ).to_list(),
        )
        writes = [
            UpdateOne(
                {
                    "_id": claim["_id"],
                    "status": CLAIMED,
                    "claimed_by": claim.get("claimed_by"),
                    "claim_expires_at": claim["claim_expires_at"],
                },
                {"$set": {"claim_expires_at": now}},
                hint=_BY_ID,
            )
            for claim in running
            if "claimed_at" in claim and orphaned(claim)
        ]
        if not writes:
            return 0
        result = await guarded(
            "inbox release", lambda: self._collection.bulk_write(writes, ordered=False)
        )
        return result.modified_count

    async def done(self, claimed: Claimed, worker: str, now: datetime, result: Document) -> bool:
        """Settle a claimed event as done; False if the claim was lost (another took it)."""
        fields: Document = {
            "status": DONE,
            "done_at": now,
            "expire_at": now + self._retention.done,
            "result": result,
        }
        return await self._settle(claimed, worker, fields)

    async def retry(
        self, claimed: Claimed, worker: str, at: datetime, error: str, *, count: bool = True
    ) -> bool:
        """Give a claimed event back, to be tried again at ``at``.

        ``count=False`` gives the attempt back too: waiting for a human is not failing.
        """
        fields: Document = {
            "status": PENDING,
            "available_at": at,
            "last_error": _escaped(error, 500),
        }
        if not count:
            fields["attempts"] = claimed.attempts - 1
        return await self._settle(claimed, worker, fields)

    async def dead(self, claimed: Claimed, worker: str, now: datetime, reason: str) -> bool:
        """Set a claimed event aside as a dead letter, with the reason."""
        fields: Document = {
            "status": DEAD,
            "done_at": now,
            "expire_at": now + self._retention.dead,
            "reason": _escaped(reason, 500),
        }
        return await self._settle(claimed, worker, fields)

    async def _settle(self, claimed: Claimed, worker: str, fields: Document) -> bool:
        result = await guarded(
            "inbox settle",
            lambda: self._collection.update_one(
                {
                    "_id": claimed.key,
                    "status": CLAIMED,
                    "claimed_by": worker,
                    "attempts": claimed.attempts,
                },
                {
                    "$set": fields,
                    "$unset": {"claimed_by": "", "claimed_at": "", "claim_expires_at": ""},
                },
                hint=_BY_ID,
            ),
        )
        return result.modified_count == 1

    async def stats(self) -> InboxStats:
        """Events waiting or in work, and when the oldest of them arrived."""

        async def read() -> InboxStats:
            async with await self._collection.aggregate(STATS_PIPELINE) as cursor:
                found = await cursor.to_list()
            if not found:
                return InboxStats(0, None)
            return InboxStats(int(found[0]["depth"]), found[0].get("oldest"))

        return await guarded("inbox stats", read)

    async def get(self, key: str) -> Document | None:
        """One event by key."""
        return await guarded("inbox read", lambda: self._collection.find_one({"_id": key}))

    async def count(self, status: str | None = None) -> int:
        """Events, of one status or all."""
        query = {} if status is None else {"status": status}
        return await guarded("inbox count", lambda: self._collection.count_documents(query))
