"""SIGKILL the worker at random points, again and again: no media lost, none duplicated.

The world is a standalone simulator process (it outlives every worker) and the store a
SecantusDB that stays up. Between kills the test publishes bursts of fresh posts (a tag going
viral) so that a poll after a restart needs several pages and a kill can land inside it; one
kill is aimed there on purpose, while Meta answers slowly. The test delivers the signed
``mentions`` webhooks itself: the standalone simulator cannot call back a worker that keeps
dying, and delivering them here tells exactly which deliveries were answered 200.

"Lost" is measured against the simulator's own listing: every media either hashtag edge lists
at the end, published before the cut (a moment after the last kill that two further polls of
every feed have passed), must be stored. The world begins 6 minutes back, far inside the 24 h
window, so that listing holds every media the simulator ever served.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pymongo.database import Database

from listener.web.payload import event_key
from testbed import (
    Secantus,
    Simulator,
    Worker,
    free_port,
    running,
    wait_until,
)
from tests.resilience.procs import (
    DEMO_IG_USER_ID,
    demo_simulator,
    mention,
    write_worker_config,
)

SEED = 20260611
HASHTAGS = ["alpha", "beta", "gamma"]
FEEDS = [f"{kind}:brand:{tag}" for tag in HASHTAGS for kind in ("hashtag_recent", "hashtag_top")]
CATCH_UP_S = 60.0
AIMED_BURST = 300  # six pages of fresh posts
AIMED_DELAY_S = 0.4  # Meta answering slowly keeps the walk open long enough to aim at it

Db = Database[dict[str, Any]]


def parse_time(text: str) -> datetime:
    """A log line's ISO time or Meta's ``+0000`` timestamp."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass
class KillLoop:
    """The processes of one kill loop and what it delivered."""

    sim: Simulator
    config: Path
    tmp_path: Path
    db: Db
    rng: random.Random
    delivered: dict[str, str] = field(default_factory=dict)  # inbox key → media id
    workers: list[Worker] = field(default_factory=list)

    def worker(self) -> Worker:
        """A new worker process on the shared config (not started)."""
        worker = Worker(self.config, self.tmp_path / f"worker-{len(self.workers)}.log")
        self.workers.append(worker)
        return worker

    def burst(self, size: int) -> str:
        """Publish ``size`` fresh posts (no likes yet) on one tag at once; the tag."""
        tag = self.rng.choice(HASHTAGS)
        for n in range(size):
            self.sim.control("posts", {"hashtags": [tag], "caption": f"#{tag} wave {n}"})
        return tag

    def deliver_mention(self, worker: Worker) -> None:
        """Publish a post that @mentions the brand and deliver its webhook; keep it if 200."""
        media_id = self.sim.control("posts", {"caption": "new drop from @brand"})["id"]
        if worker.deliver(mention(media_id, int(datetime.now(UTC).timestamp()))) == 200:
            self.delivered[event_key(DEMO_IG_USER_ID, "mentions", {"media_id": media_id})] = (
                media_id
            )

    def random_kill(self) -> Worker:
        """Start a worker and SIGKILL it 0.5-3 s after its port opened."""
        if self.workers and self.rng.random() < 0.6:
            self.burst(self.rng.randrange(60, 160))
        worker = self.worker()
        with running(worker):
            worker.start()
            self.deliver_mention(worker)
            worker.stays_up_for(self.rng.uniform(0.5, 3.0))
            self.deliver_mention(worker)
            worker.kill()
        return worker

    def aimed_kill(self) -> Worker:
        """SIGKILL a worker while its recent_media walk of a burst is between pages."""
        tag = self.burst(AIMED_BURST)
        self.sim.control(
            "faults",
            {"kind": "delay", "endpoint": "recent_media", "count": 9, "delay_s": AIMED_DELAY_S},
        )
        worker = self.worker()
        with running(worker):
            worker.start()
            since = parse_time(worker.named("server.started")[0]["timestamp"])
            self.deliver_mention(worker)
            # The third call of the walk was asked: the first two pages are stored.
            wait_until(
                lambda: (
                    sum(
                        1
                        for call in self.sim.stats()["log"]
                        if call["endpoint"] == "recent_media"
                        and call["hashtag"] == tag
                        and parse_time(call["at"]) > since
                    )
                    >= 3
                ),
                timeout_s=30,
                what=f"the worker's walk of #{tag} to reach its third page",
            )
            self.deliver_mention(worker)
            worker.kill()
        return worker


def check_feed_states(loop: KillLoop, worker: Worker) -> None:
    """With the worker dead: no recent_media feed's state claims a success its media lack.

    A ``feeds`` document saying "succeeded at T" comes from a poll that began after the poll
    before it ended (or after start-up); every media published before that beginning was in
    the poll's listing, so it must be stored now.
    """
    started = parse_time(worker.named("server.started")[0]["timestamp"])
    stored = {doc["_id"] for doc in loop.db.media.find({}, {"_id": 1})}
    for tag in HASHTAGS:
        key = f"hashtag_recent:brand:{tag}"
        state = loop.db.feeds.find_one({"_id": key})
        if state is None or state["last_success_at"] < started:
            continue  # no success in this run: checked after an earlier kill
        success = state["last_success_at"]
        # Every poll before the one that ended at `success` logged poll.done before it began.
        began_after = max(
            [started]
            + [
                parse_time(e["timestamp"])
                for e in worker.named("poll.done")
                if e["feed"] == key and parse_time(e["timestamp"]) < success
            ]
        )
        missing = {
            media_id
            for media_id, stamp in loop.sim.edge_media(tag, "recent_media").items()
            if parse_time(stamp) < began_after - timedelta(seconds=1)
        } - stored
        assert not missing, (
            f"{key} recorded success at {success} but {len(missing)} media published before "
            f"its poll began ({began_after}) are not stored, e.g. {sorted(missing)[:3]}"
        )


def polled_after(feed: str, cut: datetime) -> Callable[[dict[str, Any]], bool]:
    """Whether a ``poll.done`` event is ``feed``'s, logged after ``cut``."""
    return lambda event: event["feed"] == feed and parse_time(event["timestamp"]) > cut


def catch_up(loop: KillLoop) -> datetime:
    """Run a last worker until every feed polled twice after the cut and every mention is in;
    stop it cleanly. The cut."""
    final = loop.worker()
    with running(final):
        final.start()
        cut = datetime.now(UTC)
        for key in FEEDS:
            final.wait_for(
                "poll.done",
                where=polled_after(key, cut),
                count=2,
                timeout_s=CATCH_UP_S,
            )
        keys = list(loop.delivered)
        wait_until(
            lambda: (
                loop.db.inbox.count_documents({"_id": {"$in": keys}, "status": "done"}) == len(keys)
            ),
            timeout_s=CATCH_UP_S,
            what="every delivered mention to be hydrated",
            detail=lambda: str(list(loop.db.inbox.find({"status": {"$ne": "done"}}))),
        )
        assert final.stop() == 0
    check_feed_states(loop, final)
    return cut


@pytest.mark.timeout(240)
def test_sigkill_loop_loses_and_duplicates_nothing(
    tmp_path: Path, mongo: Secantus, mongo_db: Db
) -> None:
    """Six to ten SIGKILLs, one mid-walk, lose no media and no webhook and duplicate nothing."""
    rng = random.Random(SEED)
    sim = demo_simulator(
        free_port(),
        tmp_path / "simulator.log",
        seed=SEED,
        hashtags=HASHTAGS,
        posts_per_hour=1800,
        backfill_hours=0.1,
    )
    config = write_worker_config(
        tmp_path / "worker.toml",
        mongo,
        mongo_db.name,
        sim,
        HASHTAGS,
        port=free_port(),
        replica="solo",  # a restarted replica takes its own leases back at once
        lease_ttl_s=5,
    )
    loop = KillLoop(sim, config, tmp_path, mongo_db, rng)
    with running(sim):
        sim.start()
        kills = rng.randint(6, 10)
        aimed = rng.randrange(1, kills)
        for n in range(kills):
            check_feed_states(loop, loop.aimed_kill() if n == aimed else loop.random_kill())
        cut = catch_up(loop) - timedelta(seconds=1)

        stored = {doc["_id"]: doc for doc in mongo_db.media.find({})}
        for tag in HASHTAGS:
            listed = {
                media_id
                for edge in ("recent_media", "top_media")
                for media_id, stamp in sim.edge_media(tag, edge).items()
                if parse_time(stamp) < cut
            }
            missing = listed - stored.keys()
            assert not missing, f"#{tag}: {len(missing)} media lost, e.g. {sorted(missing)[:3]}"
    for doc in stored.values():
        sources = Counter(tuple(sorted(s.items())) for s in doc["sources"])
        assert max(sources.values()) == 1, f"media {doc['_id']} repeats a source: {sources}"
        assert doc["first_seen_at"] <= doc["last_seen_at"], doc
    assert len(loop.delivered) == 2 * kills, "a delivery to a live worker was not answered 200"
    for key, media_id in loop.delivered.items():
        event = mongo_db.inbox.find_one({"_id": key})
        assert event is not None, f"delivery of {media_id} answered 200 but not in the inbox"
        assert event["status"] == "done", event
        assert {"kind": "mention_media", "account": "brand"} in stored[media_id]["sources"]
