"""Leases on a real MongoDB: fair shares, takeover after a replica dies, fencing, hand-back."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from pymongo.asynchronous.database import AsyncDatabase
from structlog.testing import capture_logs

from listener.models import Source, SourceKind
from listener.pollers.leasing import Leasing
from listener.simulator.clock import ManualClock
from listener.store.leases import LeaseRepository, owned
from listener.store.mongo import Document
from listener.store.store import Store
from tests.conftest import Commands

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
KEYS = [f"hashtag_recent:brand:tag{i}" for i in range(6)]


@pytest.fixture
def clock() -> ManualClock:
    """A clock the test moves."""
    return ManualClock(NOW)


def replica(store: Store, clock: ManualClock, name: str) -> Leasing:
    return Leasing(store.leases, replica=name, feeds=len(KEYS), ttl_s=60, clock=clock)


async def test_replicas_split_the_feeds(store: Store, clock: ManualClock) -> None:
    """Three live replicas each take at most their share; every feed has exactly one owner."""
    replicas = [replica(store, clock, n) for n in ("a", "b", "c")]
    for r in replicas:
        await r.beat()
    for r in replicas:
        await r.beat()  # now each sees three live replicas
    owners: dict[str, str] = {}
    for key in KEYS:
        for r in replicas:
            if await r.hold(key) is not None:
                assert key not in owners
                owners[key] = r.replica
    assert sorted(owners) == sorted(KEYS)
    assert sorted(len(r.held) for r in replicas) == [2, 2, 2]


async def test_a_dead_replicas_feeds_are_taken_over(store: Store, clock: ManualClock) -> None:
    """A replica that stops renewing loses its feeds once the lease expires, to a live one."""
    dead, alive = replica(store, clock, "dead"), replica(store, clock, "alive")
    await dead.beat()
    token = await dead.hold(KEYS[0])
    assert token is not None
    assert await alive.hold(KEYS[0]) is None
    clock.advance(timedelta(seconds=61))
    taken = await alive.hold(KEYS[0])
    assert taken is not None
    assert taken > token


async def test_a_stale_owner_cannot_advance_the_feed(store: Store, clock: ManualClock) -> None:
    """After a takeover, the old owner's fenced state write is refused; the new owner's passes."""
    source = Source(SourceKind.HASHTAG_RECENT, "brand", "tag0")
    old, new = replica(store, clock, "old"), replica(store, clock, "new")
    old_token = await old.hold(KEYS[0])
    assert old_token is not None
    clock.advance(timedelta(seconds=61))
    new_token = await new.hold(KEYS[0])
    assert new_token is not None
    assert await store.feeds.record_success(source, now=clock(), new=1, pages=1, fence=new_token)
    assert not await store.feeds.record_success(
        source, now=clock(), new=9, pages=1, fence=old_token
    )
    assert (await store.feeds.state(source)).last_new == 1


async def test_a_new_replica_gets_its_share_back(store: Store, clock: ManualClock) -> None:
    """When a second replica joins, the first gives back what is over its new share."""
    first = replica(store, clock, "first")
    await first.beat()
    for key in KEYS:
        assert await first.hold(key) is not None
        first.done(key)
    second = replica(store, clock, "second")
    await second.beat()
    await first.beat()
    assert len(first.held) == 3
    taken = [key for key in KEYS if await second.hold(key) is not None]
    assert len(taken) == 3


async def test_clean_shutdown_hands_feeds_over_at_once(store: Store, clock: ManualClock) -> None:
    """Released leases are free immediately, without waiting for their expiry."""
    leaving, staying = replica(store, clock, "leaving"), replica(store, clock, "staying")
    assert await leaving.hold(KEYS[0]) is not None
    await leaving.release_all()
    assert await staying.hold(KEYS[0]) is not None


async def test_a_heartbeat_renews_every_lease_and_names_those_lost(
    store: Store, database: AsyncDatabase[Document], clock: ManualClock
) -> None:
    """One beat moves every held lease's expiry to a full lease time from the beat; a lease
    that expired meanwhile and went to another replica is dropped from what we hold."""
    mine, other = replica(store, clock, "mine"), replica(store, clock, "other")
    for key in KEYS[:3]:
        assert await mine.hold(key) is not None
        mine.done(key)
    clock.advance(timedelta(seconds=61))  # every lease of "mine" expired
    assert await other.hold(KEYS[0]) is not None
    clock.advance(timedelta(seconds=5))
    await mine.beat()
    assert sorted(mine.held) == KEYS[1:3]
    for key in KEYS[1:3]:
        lease = await database.leases.find_one({"_id": key})
        assert lease is not None
        assert lease["expires_at"] == clock() + timedelta(seconds=60)


async def test_a_lease_written_without_a_fence_accepts_the_first_fenced_write(
    store: Store, clock: ManualClock
) -> None:
    """A feed whose state was first written unfenced (a failure note) takes a fenced success."""
    source = Source(SourceKind.HASHTAG_RECENT, "brand", "tag0")
    await store.feeds.record_failure(source, now=clock(), error="timeout")
    assert await store.feeds.record_success(source, now=clock(), new=2, pages=1, fence=3)
    assert not await store.feeds.record_success(source, now=clock(), new=5, pages=1, fence=2)
    assert (await store.feeds.state(source)).last_new == 2


async def test_a_take_lost_in_transit_is_ours_when_asked_again(
    store: Store, clock: ManualClock
) -> None:
    """A take that reached the store but whose answer did not is recognised on the next ask:
    the same token, not a refusal (which would leave the feed unpolled until the lease ran out)."""
    first = await store.leases.take(KEYS[0], "a", clock(), timedelta(seconds=60))
    again = await store.leases.take(KEYS[0], "a", clock(), timedelta(seconds=60))
    assert first == again == 1
    refused = await store.leases.take(KEYS[0], "b", clock(), timedelta(seconds=60))
    assert refused == clock() + timedelta(seconds=60)  # a's lease, live until then


async def test_a_released_lease_is_nobodys_and_its_next_owner_gets_a_newer_token(
    store: Store, clock: ManualClock
) -> None:
    """Released leases are not renewed by their old owner's heartbeat; a take fences anew."""
    leaving = replica(store, clock, "leaving")
    token = await leaving.hold(KEYS[0])
    assert token is not None
    await store.leases.release_all("leaving")
    assert await store.leases.renew_all("leaving", clock(), timedelta(seconds=60)) == {}
    taken = await store.leases.take(KEYS[0], "staying", clock(), timedelta(seconds=60))
    assert taken == token + 1


async def test_a_heartbeat_examines_only_its_own_leases(
    store: Store, database: AsyncDatabase[Document], clock: ManualClock
) -> None:
    """With 60 leases held by others and 3 by us, the heartbeat's query reads our 3 (its index
    leads with the owner), so a beat costs what the replica holds, not what the cluster has."""
    ttl = timedelta(seconds=60)
    for n in range(60):
        assert await store.leases.take(f"other:{n}", f"r{n % 2}", clock(), ttl) == 1
    for key in KEYS[:3]:
        assert await store.leases.take(key, "us", clock(), ttl) == 1
    plan = await database.command(
        {
            "explain": {"find": "leases", "filter": owned("us")},
            "verbosity": "executionStats",
        }
    )
    assert plan["executionStats"]["totalDocsExamined"] <= 3
    assert await store.leases.renew_all("us", clock(), ttl) == dict.fromkeys(KEYS[:3], 1)


async def test_a_lease_taken_without_our_knowing_is_adopted_at_the_next_beat(
    store: Store, clock: ManualClock
) -> None:
    """A take whose answer was lost leaves a lease that is ours in the store but not in
    memory; the heartbeat, which renews by owner, adopts it so that its feed is polled."""
    mine = replica(store, clock, "mine")
    token = await store.leases.take(KEYS[0], "mine", clock(), timedelta(seconds=60))
    assert token is not None
    await mine.beat()
    assert mine.held == {KEYS[0]: token}


async def test_surplus_goes_back_in_one_write_and_to_another_replica(
    store: Store, clock: ManualClock
) -> None:
    """A replica over its share gives back only idle leases: the one being polled stays."""
    first = replica(store, clock, "first")
    await first.beat()
    for key in KEYS:
        assert await first.hold(key) is not None
    for key in KEYS[1:]:
        first.done(key)
    await replica(store, clock, "second").beat()
    await first.beat()
    assert KEYS[0] in first.held
    assert len(first.held) == 3


class FailingOnce(LeaseRepository):
    """Heartbeats that raise an unexpected error once, then work; counts them."""

    def __init__(self, database: AsyncDatabase[Document]) -> None:
        super().__init__(database.leases, database.replicas)
        self.beats = 0
        self.second = asyncio.Event()

    async def heartbeat(self, replica: str, now: datetime) -> None:
        self.beats += 1
        if self.beats == 1:
            raise KeyError("a bug")
        self.second.set()
        await super().heartbeat(replica, now)


async def test_an_unexpected_error_in_a_heartbeat_does_not_end_the_heartbeats(
    database: AsyncDatabase[Document], clock: ManualClock
) -> None:
    """A replica whose heartbeat loop died would lose every feed and keep running; an error
    nobody expected is logged and the next heartbeat comes as usual."""
    repository = FailingOnce(database)
    leasing = Leasing(repository, replica="r", feeds=1, ttl_s=0.03, clock=clock)
    stop = asyncio.Event()
    with capture_logs() as logs:
        running = asyncio.create_task(leasing.run(stop))
        await asyncio.wait_for(repository.second.wait(), timeout=10)
        stop.set()
        await running
    assert [e["event"] for e in logs if e["log_level"] == "error"] == ["lease.heartbeat_error"]


async def test_a_large_surplus_goes_back_a_batch_a_beat(
    store: Store, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Over its share by four with batches of two: two beats give the four back, two each."""
    monkeypatch.setattr("listener.pollers.leasing.RELEASE_BATCH", 2)
    first = Leasing(store.leases, replica="first", feeds=8, ttl_s=60, clock=clock)
    await first.beat()
    for n in range(8):
        key = f"hashtag_recent:brand:many{n}"
        assert await first.hold(key) is not None
        first.done(key)
    await Leasing(store.leases, replica="second", feeds=8, ttl_s=60, clock=clock).beat()
    await first.beat()
    assert len(first.held) == 6
    await first.beat()
    assert len(first.held) == 4
    await first.beat()
    assert len(first.held) == 4


async def test_a_feed_another_replica_holds_is_read_again_only_once_it_may_be_free(
    watched: tuple[Store, Commands], clock: ManualClock
) -> None:
    """Below its share, a replica looks at another's live lease once; later looks cost no
    command until a heartbeat finds it free (here: given back), and then it is taken."""
    store, commands = watched
    ours = Leasing(store.leases, replica="ours", feeds=12, ttl_s=60, clock=clock)
    theirs = replica(store, clock, "theirs")
    assert await theirs.hold(KEYS[0]) is not None
    theirs.done(KEYS[0])
    await ours.beat()
    commands.names.clear()
    looks = [await ours.hold(KEYS[0])]
    first = list(commands.names)
    for _ in range(3):  # every 30 s for 90 s, "theirs" renewing every 20 s
        clock.advance(timedelta(seconds=30))
        await theirs.beat()
        await ours.beat()
        commands.names.clear()
        looks.append(await ours.hold(KEYS[0]))
        assert commands.names == []
    await theirs.release_all()
    await ours.beat()
    taken = await ours.hold(KEYS[0])
    assert (first, looks, taken) == (["find"], [None] * 4, 2)


async def test_a_dead_replicas_lease_seen_live_before_is_taken_once_expired(
    store: Store, clock: ManualClock
) -> None:
    """A lease remembered as another's is read again once its expiry passed and a heartbeat
    after it lists it free: the dead replica's feed is taken over within a heartbeat."""
    dead, alive = replica(store, clock, "dead"), replica(store, clock, "alive")
    await dead.beat()
    await alive.beat()
    assert await dead.hold(KEYS[0]) is not None
    assert await alive.hold(KEYS[0]) is None
    clock.advance(timedelta(seconds=61))
    await alive.beat()
    assert await alive.hold(KEYS[0]) == 2


async def test_free_leases_are_found_by_the_expiry_index(
    store: Store, database: AsyncDatabase[Document], clock: ManualClock
) -> None:
    """With 60 live leases and 2 released, the heartbeat's look for free leases reads the 2."""
    ttl = timedelta(seconds=60)
    for n in range(60):
        assert await store.leases.take(f"live:{n}", f"r{n % 3}", clock(), ttl) == 1
    for key in KEYS[:2]:
        assert await store.leases.take(key, "leaving", clock(), ttl) == 1
    await store.leases.release_all("leaving")
    plan = await database.command(
        {
            "explain": {"find": "leases", "filter": {"expires_at": {"$lte": clock()}}},
            "verbosity": "executionStats",
        }
    )
    assert plan["executionStats"]["totalDocsExamined"] <= 2
    assert await store.leases.free(clock()) == set(KEYS[:2])
