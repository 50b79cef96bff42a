"""Change tracking for a collection of judged documents, and exact counters over it.

**Markers.** Every write of a tracked document (the ``media``; a second collection can be
tracked the same way) also does ``$inc: {rev: 1}`` and ``$set: {settle: true}`` in the same
update. ``rev`` is the document's input revision; ``settle`` says "changed since last settled"
and is the only field of the sparse ``settle`` index, so the index holds the changed documents
and nothing else. A settling pass reads them through it, writes what it derived (verdicts), and
clears the marker in an update that only matches while ``rev`` is what the pass read: a change
that lands meanwhile keeps its marker. Whatever a pass cannot confirm it marks again. A pass
that stops half-way leaves markers behind, so the next one redoes that part; nothing is lost.

**Counters.** Each document records in ``tally: {v, c}`` what it adds to the collection's
counters: ``c`` lists entries ``<scope>/<field>`` (``identity:brand/n``), ``v`` counts the
times the record changed. The counters live in one state document per collection (collection
``settling``, ``_id`` = the collection's name)::

    {epoch, counts: {<entry>: int}, pending: [{k, id, v, c}], scopes: {<scope>: {seen_at,
     version}}, schema}

A pass changes counters by compare-and-swap on ``epoch``: it reads the state (and first records
whatever ``pending`` holds), then re-reads the versions of its documents, then in one update of
the state document adds its deltas to ``counts``, increments ``epoch`` and appends each
document's new contribution to ``pending``; only then does it record the contributions on the
documents (matching ``tally.v``) and drop them from ``pending``. Any other pass that added
deltas in between changed ``epoch``, so the swap fails and the pass starts over; a contribution
added but not yet recorded sits in ``pending``, where every pass records it before reading. So
``counts`` is always the sum of the recorded contributions plus the pending ones: exact, however
many replicas settle at once and wherever one of them stops.

Keys in ``counts`` and ``scopes`` are the entries and scopes with ``%`` and ``.`` escaped
(``%25``, ``%2E``): an account name may hold a dot, which MongoDB would read as a path.

**Registry.** ``scopes`` says which campaigns and accounts the passes of each configuration
settle (``seen_at``) and, for a campaign, the rules version its verdicts were last settled with
in full (``version``). A pass whose configuration lacks a scope another pass settled within
:data:`LIVE` leaves the markers it read in place: a replica still running an older
configuration must not settle changes away from a campaign it does not know.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

from pymongo import IndexModel, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import PyMongoError

from listener.errors import StoreUnavailableError
from listener.store.mongo import Document, guarded, guarded_upsert

MARKER: Final = "settle"
INDEX: Final = IndexModel([(MARKER, 1)], name=MARKER, sparse=True)
ON_INSERT: Final[Mapping[str, Any]] = {"rev": 1, MARKER: True}
"""Fields every tracked document is inserted with."""
ON_UPDATE_INC: Final[Mapping[str, int]] = {"rev": 1}
ON_UPDATE_SET: Final[Mapping[str, Any]] = {MARKER: True}
"""What every update of a tracked document increments and sets."""
ATTEMPTS: Final = 5
"""Compare-and-swaps a pass tries for one batch before leaving it marked for the next pass."""
LIVE: Final = timedelta(minutes=10)
"""How long a scope another pass settled counts as someone's configuration."""


def key(text: str) -> str:
    """``text`` as a field name: ``%`` and ``.`` escaped."""
    return text.replace("%", "%25").replace(".", "%2E")


def unkey(name: str) -> str:
    """The text a :func:`key` stands for."""
    return name.replace("%2E", ".").replace("%25", "%")


def scope_of(entry: str) -> str:
    """The scope of a tally entry: ``identity:brand/n`` → ``identity:brand``."""
    return entry.rpartition("/")[0]


@dataclass(frozen=True)
class Seen:
    """A document's versions as a pass read them: ``rev``, and its tally's ``v`` and ``c``."""

    rev: int | None
    v: int = 0
    c: frozenset[str] = frozenset()

    @classmethod
    def of(cls, document: Mapping[str, Any]) -> Seen:
        """The versions stored in ``document`` (read with ``rev`` and ``tally``)."""
        tally = document.get("tally") or {}
        rev = document.get("rev")
        return cls(
            rev=None if rev is None else int(rev),
            v=int(tally.get("v", 0)),
            c=frozenset(tally.get("c", ())),
        )


@dataclass(frozen=True)
class Change:
    """What a pass derived for one document it read at ``seen``.

    ``fields``: dotted paths to set. ``contribution``: the document's tally entries within the
    pass's scopes (entries of other scopes are kept as recorded). ``settled``: the document was
    marked, and this clears the marker.
    """

    id: str
    seen: Seen
    fields: Mapping[str, Any] = field(default_factory=dict)
    contribution: frozenset[str] = frozenset()
    settled: bool = False


@dataclass(frozen=True)
class Committed:
    """What a commit did: documents written and confirmed, documents marked again."""

    written: int = 0
    remarked: int = 0


@dataclass(frozen=True)
class State:
    """A collection's state document, decoded."""

    epoch: int = 0
    counts: Mapping[str, int] = field(default_factory=dict)
    pending: Sequence[Mapping[str, Any]] = ()
    scopes: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    schema: int = 0

    @classmethod
    def of(cls, document: Mapping[str, Any] | None) -> State:
        """The state a stored document describes (the empty state for none)."""
        if document is None:
            return cls()
        return cls(
            epoch=int(document.get("epoch", 0)),
            counts={unkey(k): int(v) for k, v in (document.get("counts") or {}).items()},
            pending=list(document.get("pending") or []),
            scopes={unkey(k): v for k, v in (document.get("scopes") or {}).items()},
            schema=int(document.get("schema", 0)),
        )

    def count(self, entry: str) -> int:
        """The counter ``entry`` (``identity:brand/n``); 0 before anything was counted."""
        return self.counts.get(entry, 0)

    def version(self, scope: str) -> str | None:
        """The version ``scope`` was last settled with in full, if it was."""
        value = self.scopes.get(scope, {}).get("version")
        return None if value is None else str(value)

    def live(self, now: datetime) -> set[str]:
        """Scopes some pass settled within :data:`LIVE` of ``now``."""
        return {
            scope
            for scope, entry in self.scopes.items()
            if isinstance(entry.get("seen_at"), datetime) and entry["seen_at"] > now - LIVE
        }


def _path(document: Mapping[str, Any], dotted: str) -> Any:
    value: Any = document
    for part in dotted.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _filter(change: Change) -> Document:
    """Matches the document only while it is as the change's pass read it."""
    return {"_id": change.id, "rev": change.seen.rev, "tally.v": change.seen.v or None}


def _pending(change: Change, after: frozenset[str]) -> Document:
    """The ``pending`` entry of a change whose contribution becomes ``after``."""
    return {
        "k": f"{change.id}@{change.seen.v}",
        "id": change.id,
        "v": change.seen.v,
        "c": sorted(after),
    }


def _deltas(before: Iterable[str], after: Iterable[str]) -> Counter[str]:
    deltas: Counter[str] = Counter()
    for entry in after:
        deltas[entry] += 1
    for entry in before:
        deltas[entry] -= 1
    return deltas


class Tracker:
    """Markers, tallies and the state document of one tracked collection."""

    def __init__(
        self,
        documents: AsyncCollection[Document],
        states: AsyncCollection[Document],
        name: str,
    ) -> None:
        self._documents = documents
        self._states = states
        self.name = name

    async def state(self) -> State:
        """The collection's state document (the empty state before there is one)."""
        return State.of(
            await guarded("settling state read", lambda: self._states.find_one({"_id": self.name}))
        )

    async def recover(self) -> State:
        """Record what a pass that stopped left pending; the state afterwards."""
        state = await self.state()
        if state.pending:
            await self._record(state.pending)
            state = await self.state()
        return state

    async def register(self, scopes: Iterable[str], now: datetime) -> None:
        """Say that this configuration settles ``scopes`` (see the module doc)."""
        stamps = {f"scopes.{key(scope)}.seen_at": now for scope in scopes}
        if stamps:
            await guarded(
                "settling register",
                lambda: self._states.update_one({"_id": self.name}, {"$set": stamps}, upsert=True),
            )

    async def set_version(self, scope: str, version: str | None) -> None:
        """Record that ``scope`` was settled in full with ``version``; ``None``: it is not (a
        full pass with other values has begun, and may stop half-way)."""
        path = f"scopes.{key(scope)}.version"
        update = {"$set": {path: version}} if version is not None else {"$unset": {path: ""}}
        await guarded(
            "settling version write",
            lambda: self._states.update_one({"_id": self.name}, update, upsert=True),
        )

    async def set_schema(self, schema: int) -> None:
        """Record that every document carries the tracked fields of ``schema``."""
        await guarded(
            "settling schema write",
            lambda: self._states.update_one(
                {"_id": self.name}, {"$max": {"schema": schema}}, upsert=True
            ),
        )

    async def marked(self, projection: Document, batch: int = 500) -> AsyncIterator[list[Document]]:
        """The marked documents, ``batch`` at a time, from one cursor over the marker index."""
        chunk: list[Document] = []
        try:
            cursor = self._documents.find({MARKER: True}, projection, batch_size=batch)
            async for document in cursor:
                chunk.append(document)
                if len(chunk) >= batch:
                    yield chunk
                    chunk = []
        except PyMongoError as exc:
            raise StoreUnavailableError(f"MongoDB marked {self.name} read failed: {exc}") from exc
        if chunk:
            yield chunk

    async def remark(self, ids: Iterable[str]) -> int:
        """Mark ``ids`` changed again, so that the next pass takes them."""
        wanted = sorted(set(ids))
        if not wanted:
            return 0
        # One write by _id each, in one bulk: an update_many over ``$in`` of them makes
        # SecantusDB test every document found against the whole list, a cost that grows with
        # the square of the ids (25 s for a prolific author's few thousand media).
        writes = [UpdateOne({"_id": key}, {"$set": {MARKER: True}}) for key in wanted]
        await guarded(
            f"{self.name} remark", lambda: self._documents.bulk_write(writes, ordered=False)
        )
        return len(wanted)

    async def adopt(
        self,
        query: Document,
        projection: Document,
        derive: Callable[[Document], Mapping[str, Any]],
        batch: int = 500,
    ) -> int:
        """Mark every document matching ``query`` changed, with the fields ``derive`` gives.

        For documents written before they were tracked (``{rev: {$exists: false}}``): each is
        settled once by the next pass. ``rev`` goes up so that no pass that read it before
        clears the new marker.
        """
        ops: list[UpdateOne] = []
        adopted = 0

        async def flush() -> None:
            nonlocal adopted
            if ops:
                await guarded(
                    f"{self.name} adopt", lambda: self._documents.bulk_write(ops, ordered=False)
                )
                adopted += len(ops)
                ops.clear()

        try:
            async for document in self._documents.find(query, projection, batch_size=batch):
                ops.append(
                    UpdateOne(
                        {"_id": document["_id"]},
                        {
                            "$set": {**derive(document), **ON_UPDATE_SET},
                            "$inc": dict(ON_UPDATE_INC),
                        },
                    )
                )
                if len(ops) >= batch:
                    await flush()
        except PyMongoError as exc:
            raise StoreUnavailableError(f"MongoDB {self.name} adopt read failed: {exc}") from exc
        await flush()
        return adopted

    async def commit(
        self, changes: Sequence[Change], scopes: Iterable[str], *, clear: bool
    ) -> Committed:
        """Write ``changes``: counters first, then the documents, then confirm them.

        ``scopes``: the scopes the pass computed contributions for. ``clear``: whether settled
        documents lose their marker (not while another configuration is live, see above).
        Documents that changed since they were read, or whose write is not found on reading
        back, are marked again.
        """
        if not changes:
            return Committed()
        owned = set(scopes)
        planned = [
            (c, frozenset({e for e in c.seen.c if scope_of(e) not in owned} | c.contribution))
            for c in changes
        ]
        counted = [(c, after) for c, after in planned if after != c.seen.c]
        stale: list[str] = []
        # Only a change of contributions needs the compare-and-swap on the counters (and the
        # versions read after the state: see the module doc); the others go straight on.
        for _ in range(ATTEMPTS if counted else 0):
            state = await self.state()
            await self._record(state.pending)
            current = await self._seen([c.id for c, _ in counted])
            fresh = [(c, after) for c, after in counted if current.get(c.id) == c.seen]
            if await self._add(state.epoch, fresh):
                stale = [c.id for c, _ in counted if current.get(c.id) != c.seen]
                counted = fresh
                break
        else:
            if counted:
                return Committed(remarked=await self.remark(c.id for c in changes))
        plans = [*counted, *((c, after) for c, after in planned if after == c.seen.c)]
        unconfirmed = await self._write(plans, clear=clear)
        await self._record([_pending(c, after) for c, after in counted], unconfirmed)
        remarked = await self.remark([*stale, *unconfirmed])
        return Committed(written=len(plans) - len(unconfirmed), remarked=remarked)

    async def _seen(self, ids: Sequence[str]) -> dict[str, Seen]:
        async def read() -> dict[str, Seen]:
            cursor = self._documents.find({"_id": {"$in": list(ids)}}, {"rev": 1, "tally": 1})
            return {str(d["_id"]): Seen.of(d) async for d in cursor}

        return await guarded(f"{self.name} versions read", read)

    async def _add(self, epoch: int, plans: Sequence[tuple[Change, frozenset[str]]]) -> bool:
        """Add the plans' deltas to the counters if nobody did since ``epoch``; False if not."""
        deltas: Counter[str] = Counter()
        pending: list[Document] = []
        for change, after in plans:
            if after == change.seen.c:
                continue
            deltas.update(_deltas(change.seen.c, after))
            pending.append(_pending(change, after))
        if not pending:
            return True
        increments = {f"counts.{key(entry)}": n for entry, n in deltas.items() if n}
        # Epoch 0 is also the state before its document exists: the upsert creates it then,
        # and collides (None) if another pass created it first.
        result = await guarded_upsert(
            "settling counters write",
            lambda: self._states.update_one(
                {"_id": self.name, "epoch": epoch or {"$in": [0, None]}},
                {"$inc": {"epoch": 1, **increments}, "$push": {"pending": {"$each": pending}}},
                upsert=True,
            ),
        )
        return result is not None and (result.matched_count == 1 or result.upserted_id is not None)

    async def _write(
        self, plans: Sequence[tuple[Change, frozenset[str]]], *, clear: bool
    ) -> set[str]:
        """Write the plans; the ids whose write did not land (read back when some did not)."""
        ops: list[UpdateOne] = []
        expected: dict[str, tuple[Mapping[str, Any], int]] = {}
        for change, after in plans:
            fields = dict(change.fields)
            v = change.seen.v
            if after != change.seen.c:
                v += 1
                fields["tally"] = {"v": v, "c": sorted(after)}
            update: Document = {"$set": fields} if fields else {}
            if clear and change.settled:
                update["$unset"] = {MARKER: ""}
            if update:
                expected[change.id] = (fields, v)
                ops.append(UpdateOne(_filter(change), update))
        if not ops:
            return set()
        result = await guarded(
            f"{self.name} settle write", lambda: self._documents.bulk_write(ops, ordered=False)
        )
        if result.matched_count == len(ops):
            return set()
        paths = {path.split(".")[0]: 1 for fields, _ in expected.values() for path in fields}

        async def read() -> list[Document]:
            cursor = self._documents.find(
                {"_id": {"$in": list(expected)}}, {**paths, "rev": 1, "tally": 1}
            )
            return [d async for d in cursor]

        missing = set(expected)
        for document in await guarded(f"{self.name} settle check", read):
            wrote, v = expected[str(document["_id"])]
            if Seen.of(document).v == v and all(
                _path(document, p) == value for p, value in wrote.items()
            ):
                missing.discard(str(document["_id"]))
        return missing

    async def _record(
        self, pending: Sequence[Mapping[str, Any]], unrecorded: set[str] | None = None
    ) -> None:
        """Record pending contributions on their documents, then drop them from ``pending``.

        ``unrecorded``: when given, only these ids need recording (the others' own write
        landed). A contribution recorded here rather than by the pass that added it marks its
        document again: that pass's own write (verdicts with it) may never have landed.
        """
        if not pending:
            return
        ops = [
            UpdateOne(
                {"_id": entry["id"], "tally.v": int(entry["v"]) or None},
                {
                    "$set": {
                        "tally": {"v": int(entry["v"]) + 1, "c": list(entry["c"])},
                        **ON_UPDATE_SET,
                    }
                },
            )
            for entry in pending
            if unrecorded is None or entry["id"] in unrecorded
        ]
        keys = [str(entry["k"]) for entry in pending]
        if ops:
            await guarded(
                f"{self.name} pending record",
                lambda: self._documents.bulk_write(ops, ordered=False),
            )
        await guarded(
            "settling pending drop",
            lambda: self._states.update_one(
                {"_id": self.name}, {"$pull": {"pending": {"k": {"$in": keys}}}}
            ),
        )
