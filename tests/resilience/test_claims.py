"""A replica SIGKILLed right after answering a mention's webhook: another one hydrates it soon.

The dead replica had claimed the event (its Graph call was still under way). Its claim would
last ``inbox_claim_s`` (five minutes by default); the other replica releases it once the dead
one has not heart-beaten for the lease time, and hydrates the mention.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pymongo.database import Database

from listener.web.payload import event_key
from testbed import (
    Secantus,
    Worker,
    free_port,
    running,
    wait_until,
    write_config,
)
from tests.resilience.procs import (
    DEMO_IG_USER_ID,
    demo_simulator,
    mention,
    worker_config,
)

TTL_S = 5.0
CLAIM_S = 300.0
TAKEN_OVER_S = 60.0  # far inside the claim time, far beyond the lease time


def test_a_killed_replicas_claimed_mention_is_hydrated_at_the_lease_ttl(
    tmp_path: Path, mongo: Secantus, mongo_db: Database[dict[str, Any]]
) -> None:
    """Mention answered 200, claimed, replica SIGKILLed: the other replica hydrates it within a
    minute, though the claim alone would hold it for five."""
    sim = demo_simulator(
        free_port(),
        tmp_path / "simulator.log",
        seed=7,
        hashtags=["quiet"],
        posts_per_hour=0,
        backfill_hours=0,
    )

    def replica(name: str) -> Worker:
        config = tmp_path / f"{name}.toml"
        write_config(
            config,
            worker_config(
                mongodb_uri=mongo.uri,
                database=mongo_db.name,
                graph_url=sim.base_url,
                hashtags=["quiet"],
                replica=name,
                lease_ttl_s=TTL_S,
                inbox_claim_s=CLAIM_S,
            ),
        )
        return Worker(config, tmp_path / f"{name}.log")

    first, second = replica("first"), replica("second")
    with running(sim, first, second):
        sim.start()
        media_id = sim.control("posts", {"caption": "new drop from @brand"})["id"]
        key = event_key(DEMO_IG_USER_ID, "mentions", {"media_id": media_id})
        # Meta answers the first replica's hydration slowly: it is still holding the claim.
        sim.control(
            "faults",
            {"kind": "delay", "endpoint": "mentioned_media", "count": 1, "delay_s": 30},
        )
        first.start()
        assert first.deliver(mention(media_id, int(datetime.now(UTC).timestamp()))) == 200
        wait_until(
            lambda: mongo_db.inbox.find_one({"_id": key, "status": "claimed"}),
            timeout_s=30,
            what="the first replica to claim the mention",
        )
        first.kill()
        second.start()
        done = wait_until(
            lambda: mongo_db.inbox.find_one({"_id": key, "status": "done"}),
            timeout_s=TAKEN_OVER_S,
            what="the second replica to hydrate the dead one's claimed mention",
            detail=lambda: str(mongo_db.inbox.find_one({"_id": key})),
        )
        assert done["attempts"] == 2
        assert mongo_db.media.find_one({"_id": media_id}) is not None
        second.wait_for("inbox.claims_released", timeout_s=5)
        assert second.stop() == 0
