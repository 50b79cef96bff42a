"""The inbox collection on a real MongoDB: unstorable changes, claims of replicas that died."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import bson
import pytest
from pymongo import MongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import AutoReconnect, BulkWriteError

from listener.errors import StoreUnavailableError
from listener.models import WebhookEvent
from listener.store import inbox
from listener.store.inbox import DONE, InboxRepository, claim_queries
from listener.store.mongo import MAX_DEPTH, Document, describe, unstorable
from listener.store.store import Store
from listener.web.payload import event_key
from tests.conftest import Commands

T0 = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
TTL = timedelta(seconds=60)
CLAIM = timedelta(minutes=5)


def mention(media_id: str, **extra: object) -> WebhookEvent:
    value = {"media_id": media_id, **extra}
    return WebhookEvent(
        key=event_key("1", "mentions", value),
        field="mentions",
        ig_user_id="1",
        media_id=media_id,
        value=value,
    )


def nested(levels: int) -> dict[str, object]:
    value: dict[str, object] = {}
    for _ in range(levels - 1):
        value = {"a": value}
    return value


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        ({"n": 2**63}, "64 bits"),
        ({"n": -(2**63) - 1}, "64 bits"),
        ({"s": "\ud800"}, "lone surrogate"),
        ({"\udfff": 1}, "lone surrogate"),
        ({"k\x00": 1}, "not a BSON document"),
        (nested(MAX_DEPTH + 1), "nested deeper"),
        ({"l": [nested(MAX_DEPTH - 1)]}, "nested deeper"),
        ({"big": "x" * (16 * 1024 * 1024)}, "16 MiB"),
    ],
    ids=[
        "int-high",
        "int-low",
        "surrogate",
        "surrogate-key",
        "nul-key",
        "deep",
        "deep-list",
        "big",
    ],
)
def test_what_mongodb_cannot_store_is_named(document: Document, reason: str) -> None:
    """Each kind of document MongoDB refuses is found before writing, with its reason."""
    found = unstorable(document)
    assert found is not None
    assert reason in found


@pytest.mark.parametrize(
    "document",
    [{"n": 2**63 - 1, "m": -(2**63)}, {"s": "😀 ok \x00"}, nested(MAX_DEPTH), {"$k": {"a.b": 1}}],
    ids=["int64-bounds", "emoji-and-nul", "deepest-allowed", "dollar-and-dot-keys"],
)
def test_what_mongodb_can_store_passes(document: Document) -> None:
    """Documents at the limits are storable."""
    assert unstorable(document) is None
    bson.encode(document)


async def test_unstorable_changes_are_dead_letters_mongodb_can_hold(store: Store) -> None:
    """Changes MongoDB cannot take are stored as dead letters that hold what can be held."""
    worst = mention("2", huge=2**100, text="\ud83d" * 5000, deep=nested(900), **{"\udcff": 1})
    added = await store.inbox.add([mention("1"), worst, mention("3")], T0)
    assert (added.stored, added.duplicates) == (3, 0)
    assert set(added.unstorable) == {worst.key}
    dead = await store.inbox.get(worst.key)
    assert dead is not None
    assert dead["status"] == "dead"
    assert dead["reason"].startswith("cannot be stored in MongoDB: ")
    assert "1267650600228229401496703205376" in dead["value"]["unstorable"]
    assert "\\ud83d" in dead["value"]["unstorable"]
    assert await store.inbox.count("pending") == 2
    again = await store.inbox.add([worst], T0)
    assert (again.stored, again.duplicates) == (0, 1)


async def test_store_errors_carry_code_and_index_not_documents(
    database: AsyncDatabase[Document],
) -> None:
    """PyMongo's write errors quote the document; the description keeps code and index only."""
    secret = "A-STRANGER'S-MEGABYTE-" * 50
    await database["t"].insert_one({"_id": 1})
    with pytest.raises(BulkWriteError) as caught:
        await database["t"].insert_many([{"_id": 2}, {"_id": 1, "x": secret}], ordered=False)
    assert secret in str(caught.value)
    text = describe(caught.value)
    assert "index 1 code 11000" in text
    assert "A-STRANGER" not in text


async def claim_as(store: Store, owner: str, now: datetime) -> str:
    """``owner`` heart-beats and claims the oldest event at ``now``; its key."""
    await store.leases.heartbeat(owner, now)
    claimed = await store.inbox.claim(owner, now, CLAIM)
    assert claimed is not None
    return claimed.key


async def test_a_dead_replicas_claim_is_released_at_the_heartbeat_ttl(store: Store) -> None:
    """Owner a claims and dies: at the TTL b may release the claim and take the event."""
    await store.inbox.add([mention("1")], T0)
    key = await claim_as(store, "a", T0)
    later = T0 + TTL + timedelta(seconds=1)
    await store.leases.heartbeat("b", later)
    alive = await store.leases.alive(later, within=TTL)
    assert alive == {"b"}
    assert await store.inbox.release_orphans(later, alive=alive, ttl=TTL) == 1
    taken = await store.inbox.claim("b", later, CLAIM)
    assert taken is not None
    assert (taken.key, taken.attempts) == (key, 2)


@pytest.mark.parametrize(
    ("owner_seen_at", "claim_age"),
    [
        (T0 + TTL, TTL + timedelta(seconds=1)),  # the owner is heart-beating: it only works
        (T0, TTL - timedelta(seconds=1)),  # the claim is younger than a heartbeat time
    ],
    ids=["owner-alive", "claim-young"],
)
async def test_a_claim_is_kept_while_its_owner_lives_or_it_is_young(
    store: Store, owner_seen_at: datetime, claim_age: timedelta
) -> None:
    """A live owner's claim is not released (its claim time rules); nor a claim just made."""
    await store.inbox.add([mention("1")], T0)
    await claim_as(store, "a", T0)
    await store.leases.heartbeat("a", owner_seen_at)
    now = T0 + claim_age
    alive = await store.leases.alive(now, within=TTL)
    assert await store.inbox.release_orphans(now, alive=alive | {"b"}, ttl=TTL) == 0
    assert await store.inbox.claim("b", now, CLAIM) is None
    assert await store.inbox.claim("b", T0 + CLAIM, CLAIM) is not None


async def test_a_restarted_replica_releases_what_its_previous_run_held(store: Store) -> None:
    """A replica that restarts under its fixed name releases its earlier claims at once."""
    await store.inbox.add([mention("1"), mention("2")], T0)
    await claim_as(store, "fixed", T0)
    restart = T0 + timedelta(seconds=5)
    assert await store.inbox.release_own("fixed", claimed_before=restart, now=restart) == 1
    taken = await store.inbox.claim("fixed", restart, CLAIM)
    assert taken is not None
    assert taken.attempts == 2


async def test_releasing_orphans_examines_only_the_running_claims(
    store: Store, database: AsyncDatabase[Document], watched: tuple[Store, Commands]
) -> None:
    """200 settled events, 50 pending and 2 claimed: the look for orphaned claims examines the
    2 claims (from the expired_claims index), and writes only when one is orphaned."""
    await store.inbox.add([mention(str(n)) for n in range(252)], T0)
    await database.inbox.update_many(
        {"value.media_id": {"$in": [str(n) for n in range(200)]}}, {"$set": {"status": DONE}}
    )
    await claim_as(store, "a", T0)
    await claim_as(store, "b", T0)
    later = T0 + TTL + timedelta(seconds=1)
    plan = await database.command(
        {
            "explain": {
                "find": "inbox",
                "filter": {"status": "claimed", "claim_expires_at": {"$gt": later}},
            },
            "verbosity": "executionStats",
        }
    )
    assert plan["executionStats"]["totalDocsExamined"] == 2
    other, commands = watched
    assert await other.inbox.release_orphans(later, alive={"a", "b"}, ttl=TTL) == 0
    assert commands.names == ["find"]
    commands.names.clear()
    assert await other.inbox.release_orphans(later, alive={"b"}, ttl=TTL) == 1
    assert commands.names == ["find", "update"]


async def test_a_claim_settled_after_the_look_for_orphans_is_not_released(
    store: Store, database: AsyncDatabase[Document], mongo_uri: str
) -> None:
    """The release is conditional on the claim read: an owner that settles its event between
    the look and the write keeps it settled."""
    await store.inbox.add([mention("1")], T0)
    await claim_as(store, "a", T0)
    later = T0 + TTL + timedelta(seconds=1)
    owner: MongoClient[Document] = MongoClient(mongo_uri)
    try:

        def settled_meanwhile(claim: Document) -> bool:
            # The owner, alive after all, settles its event right after the look.
            owner[database.name].inbox.update_one(
                {"_id": claim["_id"]},
                {"$set": {"status": DONE}, "$unset": {"claimed_by": "", "claim_expires_at": ""}},
            )
            return True

        assert await store.inbox._release(later, settled_meanwhile) == 0
    finally:
        owner.close()
    event = await store.inbox.get(mention("1").key)
    assert event is not None
    assert event["status"] == DONE


async def test_a_claim_examines_only_the_events_it_could_take(
    store: Store, database: AsyncDatabase[Document]
) -> None:
    """200 settled events and 1 due: each claim query examines at most the 1 due event (its
    index leads with the status), never the settled history."""
    await store.inbox.add([mention(str(n)) for n in range(201)], T0)
    await database.inbox.update_many({"value.media_id": {"$ne": "7"}}, {"$set": {"status": DONE}})
    examined = 0
    for query, order in claim_queries(T0 + TTL):
        plan = await database.command(
            {
                "explain": {
                    "find": "inbox",
                    "filter": query,
                    "sort": {"status": 1, order: 1},
                    "limit": 1,
                },
                "verbosity": "executionStats",
            }
        )
        examined += plan["executionStats"]["totalDocsExamined"]
    assert examined <= 1
    claimed = await store.inbox.claim("w", T0 + TTL, CLAIM)
    assert claimed is not None
    assert claimed.media_id == "7"


async def test_two_replicas_claim_a_queue_once_each_oldest_first_a_batch_of_ids_a_look(
    store: Store, database: AsyncDatabase[Document], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each look reads a few due ids; two replicas racing for the same ids each take an event
    once, a lost claim moves on to the next id, and events come out oldest first."""
    monkeypatch.setattr(inbox, "DUE_BATCH", 3)
    for n in range(10):
        await store.inbox.add([mention(str(n))], T0 + timedelta(seconds=n))
    other = InboxRepository(database.inbox)
    taken: list[tuple[str, str | None]] = []
    for turn in range(12):
        replica, name = (store.inbox, "a") if turn % 2 else (other, "b")
        claimed = await replica.claim(name, T0 + TTL, CLAIM)
        if claimed is not None:
            taken.append((name, claimed.media_id))
    order = [media_id for _, media_id in taken]
    assert order == [str(n) for n in range(10)]
    assert {name for name, _ in taken} == {"a", "b"}
    assert await store.inbox.count("claimed") == 10


async def test_an_id_from_an_earlier_look_is_claimed_only_while_its_event_is_due(
    store: Store, database: AsyncDatabase[Document], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Replica a's look reads both ids; replica b takes the second and puts it back for later:
    a's next claim does not take it from its earlier look."""
    monkeypatch.setattr(inbox, "DUE_BATCH", 5)
    await store.inbox.add([mention(str(n)) for n in range(2)], T0)
    first = await store.inbox.claim("a", T0 + TTL, CLAIM)
    other = InboxRepository(database.inbox)
    second = await other.claim("b", T0 + TTL, CLAIM)
    assert first is not None
    assert second is not None
    assert (first.media_id, second.media_id) == ("0", "1")
    later = T0 + TTL + timedelta(seconds=1)
    assert await other.retry(second, "b", later, "later")
    assert await store.inbox.claim("a", T0 + TTL, CLAIM) is None
    again = await store.inbox.claim("a", later, CLAIM)
    assert again is not None
    assert (again.media_id, again.attempts) == ("1", 2)


async def test_a_store_outage_during_the_look_for_due_events_is_a_store_error(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The look is guarded like every other call: the worker sees StoreUnavailableError, which
    it waits out, never a raw PyMongo error that would end its task group."""

    def closed(*args: object, **kwargs: object) -> object:
        raise AutoReconnect("connection closed")

    monkeypatch.setattr(store.inbox._collection, "find", closed)
    with pytest.raises(StoreUnavailableError, match="inbox claim"):
        await store.inbox.claim("w", T0 + TTL, CLAIM)


async def test_claims_racing_in_one_process_share_one_look(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two of the worker's tasks reach the look at once with nothing read yet: one look serves
    both (on SecantusDB a look costs the whole queue), and each takes a different event."""
    looks: list[int] = []
    look, expired = store.inbox._due_ids, store.inbox._take_expired
    both_past_expired = asyncio.Barrier(2)

    async def counted(due: Document) -> list[str]:
        looks.append(1)
        return await look(due)

    async def then_together(query: Document, order: str, taken: Document) -> Document | None:
        found = await expired(query, order, taken)
        await both_past_expired.wait()
        return found

    monkeypatch.setattr(store.inbox, "_due_ids", counted)
    monkeypatch.setattr(store.inbox, "_take_expired", then_together)
    await store.inbox.add([mention(str(n)) for n in range(4)], T0)
    first, second = await asyncio.gather(
        store.inbox.claim("a", T0 + TTL, CLAIM), store.inbox.claim("b", T0 + TTL, CLAIM)
    )
    assert first is not None
    assert second is not None
    assert first.key != second.key
    assert len(looks) == 1


async def test_a_claim_from_a_look_is_one_write_and_an_expired_claim_waits_a_second_at_most(
    store: Store, watched: tuple[Store, Commands]
) -> None:
    """With ids of a look left, a claim within a second of the last look for expired claims is
    an update and a find by id; a claim that expired is taken first once that second has
    passed, by its id and the same write."""
    other, commands = watched
    await store.inbox.add([mention(str(n)) for n in range(5)], T0)
    first = await other.inbox.claim("a", T0, timedelta(milliseconds=100))
    assert first is not None
    commands.names.clear()
    second = await other.inbox.claim("a", T0 + timedelta(milliseconds=500), CLAIM)
    assert second is not None
    assert commands.names == ["update", "find"]
    commands.names.clear()
    again = await other.inbox.claim("a", T0 + timedelta(seconds=1), CLAIM)
    assert again is not None
    assert (again.key, again.attempts) == (first.key, 2)  # expired at T0 + 100 ms: first
    # The expired claim's id from its index, then the same write by id: no findAndModify,
    # which SecantusDB answers by reading the whole inbox.
    assert commands.names == ["find", "update", "find"]


async def test_stats_are_the_waiting_events_and_the_oldest_arrival_from_one_read(
    store: Store, watched: tuple[Store, Commands]
) -> None:
    """Pending and claimed events count, settled ones do not; the oldest is the earliest
    arrival among those waiting. Both come from one aggregate, so they describe one moment."""
    other, commands = watched
    assert await other.inbox.stats() == inbox.InboxStats(0, None)
    for n in range(4):
        await store.inbox.add([mention(str(n))], T0 + timedelta(seconds=n))
    first = await store.inbox.claim("a", T0 + timedelta(seconds=5), CLAIM)
    assert first is not None
    assert await store.inbox.done(first, "a", T0 + timedelta(seconds=5), {})
    await store.inbox.claim("a", T0 + timedelta(seconds=5), CLAIM)  # claimed: still waiting
    commands.names.clear()
    stats = await other.inbox.stats()
    assert stats == inbox.InboxStats(3, T0 + timedelta(seconds=1))
    assert commands.names == ["aggregate"]
