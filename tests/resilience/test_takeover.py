"""Three replicas on one MongoDB and one simulated Meta: feeds split, handed over, fenced.

Each replica talks to the same simulator process through its own loopback address (127.0.0.1,
.2, .3), so the simulator's caller log tells which replica made each Graph call, when it began
and when it ended: a poll is a first-page call and the next-page calls after it. That log is
Meta's view, and the one that matters for "no feed is polled by two replicas at once".

The story: the replicas split the 8 feeds; one replica stalls (SIGSTOP) in the middle of a
call, longer than its leases live, and the others take its feeds; it wakes up, learns it lost
them, and its late writes are refused by the fence; then another replica is SIGKILLed and its
feeds are taken over too. Change streams on ``leases`` and ``feeds`` give every lease taken and
every fence written, in order.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from pymongo.database import Database

from listener.simulator.content import hashtag_id
from testbed import (
    Secantus,
    Simulator,
    Worker,
    free_port,
    running,
    wait_until,
    write_config,
)
from tests.resilience.procs import (
    demo_simulator,
    worker_config,
)

HASHTAGS = ["north", "south", "east", "west"]
EDGES = {"recent_media": "hashtag_recent", "top_media": "hashtag_top"}
FEEDS = [f"{kind}:brand:{tag}" for tag in HASHTAGS for kind in EDGES.values()]
TTL_S = 5.0
TAKEOVER_S = 2 * TTL_S
STALL_S = 3 * TTL_S
HOSTS = {"r1": "127.0.0.1", "r2": "127.0.0.2", "r3": "127.0.0.3"}

Db = Database[dict[str, Any]]


def parse_time(text: str) -> datetime:
    """A log line's ISO time."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def owners(db: Db) -> dict[str, str]:
    """Feed → the replica holding its lease now (expired leases are nobody's)."""
    now = datetime.now(UTC)
    return {doc["_id"]: doc["owner"] for doc in db.leases.find({"expires_at": {"$gt": now}})}


def split(db: Db, replicas: list[str]) -> dict[str, str] | None:
    """The lease owners, once every feed is held and each replica holds its fair share."""
    held = owners(db)
    share = Counter(held.values())
    fair = (len(FEEDS) // len(replicas), -(-len(FEEDS) // len(replicas)))
    if set(held) == set(FEEDS) and all(fair[0] <= share[r] <= fair[1] for r in replicas):
        return held
    return None


@dataclass
class Cluster:
    """The replicas of one test."""

    db: Db
    workers: dict[str, Worker]

    def polled_since(self, feed: str, replica: str, moment: datetime) -> bool:
        """Whether ``replica`` logged a finished poll of ``feed`` after ``moment``."""
        return any(
            e["feed"] == feed and parse_time(e["timestamp"]) > moment
            for e in self.workers[replica].named("poll.done")
        )

    def take_over(self, feeds: set[str], gone: str, moment: datetime) -> float:
        """Seconds from ``moment`` until replicas other than ``gone`` hold every feed in
        ``feeds``; returns once each new holder has also polled its feed."""
        wait_until(
            lambda: all(owners(self.db).get(f, gone) != gone for f in feeds),
            timeout_s=3 * TAKEOVER_S,
            what=f"{sorted(feeds)} to leave {gone}",
        )
        taken_s = (datetime.now(UTC) - moment).total_seconds()

        def polled() -> bool:
            held = owners(self.db)
            return all(
                held.get(f, gone) != gone and self.polled_since(f, held[f], moment) for f in feeds
            )

        wait_until(polled, timeout_s=3 * TAKEOVER_S, what=f"{sorted(feeds)} to be polled again")
        return taken_s


@dataclass(frozen=True)
class Poll:
    """One poll as Meta saw it."""

    replica: str
    feed: str
    started: float
    ended: float


def polls(calls: list[dict[str, Any]]) -> Iterator[Poll]:
    """Polls from the caller log: a first-page call and the next-page calls that follow it."""
    feeds = {
        f"/v25.0/{hashtag_id(tag)}/{edge}": f"{kind}:brand:{tag}"
        for tag in HASHTAGS
        for edge, kind in EDGES.items()
    }
    replicas = {address: replica for replica, address in HOSTS.items()}
    open_polls: dict[tuple[str, str], Poll] = {}
    for call in sorted(calls, key=lambda c: c["started"]):
        feed = feeds.get(call["path"])
        if feed is None:
            continue
        key = (replicas[call["address"]], feed)
        ended = call["ended"] if call["ended"] is not None else float("inf")
        current = open_polls.get(key)
        if call["next_page"] and current is not None:
            open_polls[key] = Poll(*key, current.started, max(current.ended, ended))
            continue
        if current is not None:
            yield current
        open_polls[key] = Poll(*key, call["started"], ended)
    yield from open_polls.values()


def overlaps(all_polls: list[Poll]) -> list[tuple[Poll, Poll]]:
    """Pairs of polls of one feed by two replicas whose times overlap."""
    return [
        (a, b)
        for a in all_polls
        for b in all_polls
        if a.feed == b.feed
        and a.replica < b.replica
        and a.started < b.ended
        and b.started < a.ended
    ]


def changes(db: Db, collection: str, since: Any) -> list[dict[str, Any]]:
    """Every change of ``collection`` since the cluster time ``since``, in order."""
    found = []
    with db[collection].watch(start_at_operation_time=since) as stream:
        while (event := stream.try_next()) is not None:
            found.append(event)
    return found


def fences(events: list[dict[str, Any]]) -> dict[str, list[int]]:
    """Feed → every fence value written to its state, in order."""
    written: dict[str, list[int]] = {}
    for event in events:
        doc = event.get("fullDocument") or event.get("updateDescription", {}).get(
            "updatedFields", {}
        )
        if "fence" in doc:
            written.setdefault(event["documentKey"]["_id"], []).append(int(doc["fence"]))
    return written


def start_cluster(tmp_path: Path, mongo: Secantus, db: Db, sim: Simulator) -> Cluster:
    """Three replicas, each through its own address, each with its own log."""
    workers = {}
    for replica, host in HOSTS.items():
        config = tmp_path / f"{replica}.toml"
        write_config(
            config,
            worker_config(
                mongodb_uri=mongo.uri,
                database=db.name,
                graph_url=sim.url_on(host),
                hashtags=HASHTAGS,
                replica=replica,
                lease_ttl_s=TTL_S,
            ),
        )
        workers[replica] = Worker(config, tmp_path / f"{replica}.log")
    return Cluster(db, workers)


def lease_history(events: list[dict[str, Any]]) -> dict[str, list[tuple[str, int]]]:
    """Feed → (owner, token) after every change of its lease, in order."""
    state: dict[str, dict[str, Any]] = {}
    history: dict[str, list[tuple[str, int]]] = {}
    for event in events:
        feed = event["documentKey"]["_id"]
        fields = event.get("fullDocument") or event.get("updateDescription", {}).get(
            "updatedFields", {}
        )
        lease = state.setdefault(feed, {})
        lease.update(fields)
        if "owner" in fields or "token" in fields:
            history.setdefault(feed, []).append((lease["owner"], int(lease["token"])))
    return history


def lease_writes(events: list[dict[str, Any]]) -> dict[str, list[tuple[str, datetime]]]:
    """Feed → (owner, when) for every write of its lease, in order. ``when`` is the writing
    replica's own clock: taking and renewing a lease both set ``expires_at`` to now + TTL."""
    owner: dict[str, str] = {}
    writes: dict[str, list[tuple[str, datetime]]] = {}
    for event in events:
        feed = event["documentKey"]["_id"]
        fields = event.get("fullDocument") or event.get("updateDescription", {}).get(
            "updatedFields", {}
        )
        owner[feed] = fields.get("owner", owner.get(feed, ""))
        if "expires_at" in fields:
            when = fields["expires_at"] - timedelta(seconds=TTL_S)
            writes.setdefault(feed, []).append((owner[feed], when))
    return writes


def taken_over_s(
    events: list[dict[str, Any]], feeds: set[str], gone: str, moment: datetime
) -> float:
    """Seconds from ``moment`` until other replicas had taken every lease of ``feeds`` from
    ``gone``, by the clock of the replica that took each one.

    The replicas wrote those instants as they acted, so how soon the test noticed (its
    polling, its own turn on a busy machine) is no part of the figure.
    """
    taken = [
        next(at for owner, at in writes if owner != gone and at > moment)
        for feed, writes in lease_writes(events).items()
        if feed in feeds
    ]
    assert len(taken) == len(feeds)
    return (max(taken) - moment).total_seconds()


def check_fencing(db: Db, since: Any) -> None:
    """Each new lease holder got a larger token; no feed state went back to an older one."""
    history = lease_history(changes(db, "leases", since))
    assert set(history) == set(FEEDS)
    for feed, holders in history.items():
        for (before, old), (after, new) in pairwise(holders):
            assert new > old if after != before else new == old, f"{feed}: {holders}"
    for feed, written in fences(changes(db, "feeds", since)).items():
        assert written == sorted(written), f"{feed}: fence went back: {written}"


@pytest.mark.timeout(200)
def test_replicas_split_hand_over_and_fence_feeds(
    tmp_path: Path, mongo: Secantus, mongo_db: Db
) -> None:
    """Feeds split fairly, never polled twice at once, taken over within 2 TTLs, fenced."""
    sim = demo_simulator(
        free_port(),
        tmp_path / "simulator.log",
        seed=5,
        hashtags=HASHTAGS,
        posts_per_hour=1800,
        backfill_hours=0.05,
        hosts=list(HOSTS.values()),
    )
    since = mongo_db.command("ping")["operationTime"]
    cluster = start_cluster(tmp_path, mongo, mongo_db, sim)
    r1, r2, r3 = cluster.workers.values()
    with running(sim, r1, r2, r3):
        sim.start()
        for worker in (r1, r2, r3):
            worker.start()
        wait_until(lambda: split(mongo_db, list(HOSTS)), timeout_s=40, what="a fair split")

        # r1 stalls in the middle of a call (Meta is slow now), for three lease lifetimes.
        sim.control("faults", {"kind": "delay", "count": 40, "delay_s": 1.0})
        wait_until(
            lambda: any(c["address"] == HOSTS["r1"] and c["ended"] is None for c in sim.calls()),
            timeout_s=30,
            what="r1 to have a call in flight",
        )
        r1.pause()
        stalled_at = datetime.now(UTC)
        lost = {feed for feed, owner in owners(mongo_db).items() if owner == "r1"}
        stall_takeover_s = cluster.take_over(lost, "r1", stalled_at)
        r2.stays_up_for(max(0.0, STALL_S - stall_takeover_s))
        r1.resume()
        resumed_at = datetime.now(UTC)
        r1.wait_for("lease.lost", where=lambda e: e["feed"] in lost, count=len(lost), timeout_s=15)

        # r2 dies; r1 and r3 share its feeds.
        wait_until(lambda: split(mongo_db, list(HOSTS)), timeout_s=40, what="a fair split again")
        killed = {feed for feed, owner in owners(mongo_db).items() if owner == "r2"}
        r2.kill()
        killed_at = datetime.now(UTC)
        cluster.take_over(killed, "r2", killed_at)
        wait_until(lambda: split(mongo_db, ["r1", "r3"]), timeout_s=40, what="r1 and r3 to share")

        stopping = time.time()
        r1.terminate()  # both at once: no handover at the end
        assert r3.stop() == 0
        assert r1.stop() == 0
        calls = sim.calls()

    leases = changes(mongo_db, "leases", since)
    stall_s = taken_over_s(leases, lost, "r1", stalled_at)
    kill_s = taken_over_s(leases, killed, "r2", killed_at)
    assert stall_s <= TAKEOVER_S, f"stalled r1's feeds taken over in {stall_s} s"
    assert kill_s <= TAKEOVER_S, f"killed r2's feeds taken over in {kill_s} s"

    # After waking up, r1 finished no poll of a feed it had lost before taking it again.
    retaken = {feed: datetime.max.replace(tzinfo=UTC) for feed in lost}
    for event in r1.named("lease.taken"):
        at = parse_time(event["timestamp"])
        if event["feed"] in lost and at > resumed_at:
            retaken[event["feed"]] = min(retaken[event["feed"]], at)
    for event in r1.named("poll.done"):
        at = parse_time(event["timestamp"])
        if event["feed"] in lost and resumed_at < at < retaken[event["feed"]]:
            pytest.fail(f"r1 finished a poll of {event['feed']} after losing it")

    # Meta never saw two replicas walk one feed at once, r1's stalled poll aside: a lease cannot
    # stop a frozen process from finishing the call it was in; the fence stops its write.
    seen = [
        p
        for p in polls(calls)
        if p.started < stopping
        and not (
            p.replica == "r1"
            and p.feed in lost
            and p.ended > stalled_at.timestamp()
            and p.started < retaken[p.feed].timestamp()
        )
    ]
    assert len(seen) > 3 * len(FEEDS)
    clashes = overlaps(seen)
    assert not clashes, f"polled by two replicas at once: {clashes[:3]}"
    check_fencing(mongo_db, since)
