"""A stop is prompt, whatever the worker is waiting for, and loses nothing it was doing.

The worker runs as a real process and gets a real SIGTERM. What it waits for is real too: an
account's business-use-case pool paused for an hour after Meta's throttle, or a MongoDB that no
longer answers. Each test asserts the exit code and the order of the worker's log events; the
only time bound is the worker's own grace period (``polling.shutdown_grace_s``, 5 s by default)
with a generous margin (``STOP_TIMEOUT_S``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pymongo.database import Database

from listener.web.payload import event_key
from testbed import (
    Secantus,
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

Db = Database[dict[str, Any]]


def order(worker: Worker, *events: str) -> list[int]:
    """Where each of ``events`` first appears in the worker's log (in the order given)."""
    names = [event.get("event") for event in worker.events]
    return [names.index(event) for event in events]


def status(db: Db, key: str) -> str | None:
    """The inbox status of the event ``key``, once it is stored."""
    doc = db.inbox.find_one({"_id": key})
    return None if doc is None else str(doc["status"])


@pytest.mark.timeout(150)
def test_sigterm_during_an_hours_pause_exits_and_the_event_is_done_after_restart(
    tmp_path: Path, mongo: Secantus, mongo_db: Db
) -> None:
    """SIGTERM while a mention waits out an hour's throttle: exit 0 in the grace period with
    the event given back; after a restart (the hour over) the event is hydrated."""
    sim = demo_simulator(
        free_port(), tmp_path / "sim.log", seed=5, hashtags=[], posts_per_hour=0, backfill_hours=0
    )
    config = write_worker_config(tmp_path / "worker.toml", mongo, mongo_db.name, sim, [])
    first = Worker(config, tmp_path / "first.log")
    second = Worker(config, tmp_path / "second.log")
    with running(sim, first, second):
        sim.start()
        first.start()
        sim.control("throttle", {"scope": DEMO_IG_USER_ID, "code": 80002, "minutes": 60})
        keys = []
        waits = 0
        for n in range(2):
            media_id = sim.control("posts", {"caption": f"look @brand {n}"})["id"]
            keys.append(event_key(DEMO_IG_USER_ID, "mentions", {"media_id": media_id}))
            assert first.deliver(mention(media_id, int(datetime.now(UTC).timestamp()))) == 200
            if n == 0:  # the first mention meets the throttle: the pool pauses for the hour
                first.wait_for("ratelimit.paused", timeout_s=30)
                waits = len(first.named("ratelimit.waiting"))
        wait_until(
            lambda: status(mongo_db, keys[1]) == "claimed" or None,
            timeout_s=30,
            what="the second mention to be claimed",
        )
        # Claimed is not yet started: the stop must find the event waiting in the pause.
        first.wait_for("ratelimit.waiting", timeout_s=30, count=waits + 1)

        assert first.stop() == 0
        stopping, released, stopped = order(
            first, "worker.stopping", "inbox.released", "worker.stopped"
        )
        assert stopping < released < stopped
        assert first.named("worker.stop_forced") == []
        given_back = mongo_db.inbox.find_one({"_id": keys[1]})
        assert given_back is not None
        assert (given_back["status"], given_back["attempts"]) == ("pending", 0)

        # An hour later: Meta's throttle is over, and so is the pause the replicas share.
        sim.control("throttle", {"scope": DEMO_IG_USER_ID, "code": 80002, "minutes": 0})
        over = datetime.now(UTC) - timedelta(seconds=1)
        mongo_db.ratelimits.update_many({}, {"$set": {"paused_until": over}})
        second.start()
        wait_until(
            lambda: status(mongo_db, keys[1]) == "done" or None,
            timeout_s=30,
            what="the given-back mention to be hydrated after the restart",
        )
        assert second.stop() == 0


@pytest.mark.timeout(120)
def test_shutdown_writes_give_up_at_the_grace_period_when_mongodb_is_gone(
    tmp_path: Path, mongo: Secantus, mongo_db: Db
) -> None:
    """MongoDB gone (30 s timeouts) under a worker holding leases: SIGTERM still exits 0,
    cutting the lease releases and other writes at the grace period."""
    sim = demo_simulator(
        free_port(),
        tmp_path / "sim.log",
        seed=6,
        hashtags=["dawn"],
        posts_per_hour=600,
        backfill_hours=0.05,
    )
    config = write_worker_config(
        tmp_path / "worker.toml", mongo, mongo_db.name, sim, ["dawn"], store_timeout_s=30.0
    )
    worker = Worker(config, tmp_path / "worker.log")
    with running(sim, worker):
        sim.start()
        worker.start()
        worker.wait_for("lease.taken", timeout_s=30)
        mongo.stop()
        assert worker.stop() == 0
    stopping, forced, stopped = order(
        worker, "worker.stopping", "worker.stop_forced", "worker.stopped"
    )
    assert stopping < forced < stopped
    assert "leases" in worker.named("worker.stop_forced")[0]["unfinished"]
