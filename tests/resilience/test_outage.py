"""Outages of what the worker depends on: MongoDB, then the Graph API.

The worker runs as a real process the whole time; the tests take its dependencies away and give
them back, and watch it from outside: ``/readyz``, the webhook answer, ``/metrics``, its log
and its resident memory.

"Backs off without piling up" is measured against the worker's own schedule: each feed polls
once per jittered interval (``listener_feed_interval_seconds``, at least ``1 - jitter`` of it),
and each Graph request is tried at most ``max_attempts`` times. An outage must not make it
poll or call faster than that, nor make it grow.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pymongo.database import Database

from listener.web.payload import event_key
from testbed import (
    Scrape,
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

HASHTAGS = ["sunrise", "surf"]
FEEDS = 2 * len(HASHTAGS)
OUTAGE_S = 10.0
JITTER = 0.2  # worker_config's jitter_ratio
MAX_ATTEMPTS = 3  # worker_config's ratelimit.max_attempts
RSS_GROWTH_KB = 30_000

Db = Database[dict[str, Any]]


def simulator(tmp_path: Path) -> Simulator:
    """A small, steady world: two tags, one post every two seconds each."""
    return demo_simulator(
        free_port(),
        tmp_path / "simulator.log",
        seed=11,
        hashtags=HASHTAGS,
        posts_per_hour=1800,
        backfill_hours=0.05,
    )


def start_worker(tmp_path: Path, mongo: Secantus, db: Db, sim: Simulator) -> Worker:
    """A worker on ``mongo`` and ``sim``, polling steadily before the test begins."""
    config = write_worker_config(
        tmp_path / "worker.toml",
        mongo,
        db.name,
        sim,
        HASHTAGS,
        store_timeout_s=1.0,
        graph_timeout_s=2.0,
    )
    worker = Worker(config, tmp_path / "worker.log").start()
    wait_until(
        lambda: worker.metric("listener_polls_total", outcome="ok") >= 2 * FEEDS,
        timeout_s=30,
        what="two polls per feed",
    )
    return worker


def most_polls(scrape: Scrape, seconds: float) -> float:
    """How many polls the schedule allows in ``seconds``: one per jittered interval per feed."""
    intervals = [s.value for s in scrape.matching("listener_feed_interval_seconds")]
    assert len(intervals) == FEEDS, intervals
    return sum(seconds / (interval * (1 - JITTER)) + 1 for interval in intervals)


def since(worker: Worker, event: str, moment: datetime) -> list[dict[str, Any]]:
    """Log events named ``event`` written after ``moment``."""
    return [
        e
        for e in worker.named(event)
        if datetime.fromisoformat(e["timestamp"].replace("Z", "+00:00")) >= moment
    ]


@pytest.mark.timeout(120)
def test_mongodb_outage_is_survived_in_place(tmp_path: Path, mongo: Secantus, mongo_db: Db) -> None:
    """MongoDB down: 503s, slow bounded failures, flat memory; back: ready, polling, storing."""
    sim = simulator(tmp_path)
    with running(sim):
        sim.start()
        worker = start_worker(tmp_path, mongo, mongo_db, sim)
        with running(worker):
            before = worker.scrape()
            rss_before = worker.rss_kib()
            media_id = sim.control("posts", {"caption": "look @brand"})["id"]
            delivery = mention(media_id, int(datetime.now(UTC).timestamp()))

            mongo.stop()
            down, down_at = time.monotonic(), datetime.now(UTC)
            wait_until(
                lambda: worker.get("/readyz")[0] == 503, timeout_s=15, what="/readyz to say 503"
            )
            assert worker.deliver(delivery) == 503, "a delivery must be refused, not lost"
            worker.stays_up_for(max(0.0, OUTAGE_S - (time.monotonic() - down)))
            during = worker.scrape()
            rss_after = worker.rss_kib()
            outage_s = time.monotonic() - down

            mongo.start()
            wait_until(
                lambda: worker.get("/readyz")[0] == 200, timeout_s=30, what="/readyz to say 200"
            )
            ok = during.total("listener_polls_total", outcome="ok")
            wait_until(
                lambda: worker.metric("listener_polls_total", outcome="ok") > ok,
                timeout_s=30,
                what="a successful poll after the outage",
            )
            assert worker.deliver(delivery) == 200
            key = event_key(DEMO_IG_USER_ID, "mentions", {"media_id": media_id})
            wait_until(
                lambda: (mongo_db.inbox.find_one({"_id": key}) or {}).get("status") == "done",
                timeout_s=30,
                what="the delivery to be stored and hydrated",
            )
            assert worker.alive(), "recovered in place, without a restart"
            assert worker.stop() == 0

    failed = during.total("listener_polls_total", outcome="failed") - before.total(
        "listener_polls_total", outcome="failed"
    )
    assert 0 < failed <= most_polls(before, outage_s), (failed, outage_s)
    assert len(since(worker, "poll.failed", down_at)) <= FEEDS, "logged on transitions only"
    assert rss_after - rss_before < RSS_GROWTH_KB, (rss_before, rss_after)
    assert mongo_db.media.count_documents({"sources.kind": "mention_media"}) == 1


def network_errors(scrape: Scrape) -> float:
    """Graph calls that never got an answer."""
    return scrape.total("listener_graph_requests_total", outcome="network_error")


def graph_outage(worker: Worker, outage: float) -> tuple[Scrape, Scrape, float]:
    """Keep the worker running through an outage already begun; (before, after, seconds)."""
    before, begun = worker.scrape(), time.monotonic()
    worker.stays_up_for(outage)
    assert worker.get("/readyz")[0] == 200, "the Graph API is no readiness dependency"
    return before, worker.scrape(), time.monotonic() - begun


def recovers(worker: Worker, after: Scrape) -> None:
    """Wait for polls to succeed again after ``after``."""
    ok = after.total("listener_polls_total", outcome="ok")
    wait_until(
        lambda: worker.metric("listener_polls_total", outcome="ok") >= ok + FEEDS,
        timeout_s=30,
        what="polls to succeed again",
    )


@pytest.mark.timeout(150)
def test_graph_outage_backs_off_and_recovers(tmp_path: Path, mongo: Secantus, mongo_db: Db) -> None:
    """Meta hanging, then refusing: calls stay within the retry budget; polling comes back."""
    sim = simulator(tmp_path)
    with running(sim):
        sim.start()
        worker = start_worker(tmp_path, mongo, mongo_db, sim)
        with running(worker):
            rss_before = worker.rss_kib()

            sim.pause()  # the port stays open; every call times out
            hanging = graph_outage(worker, OUTAGE_S)
            sim.resume()
            recovers(worker, hanging[1])
            after_hang = worker.scrape()

            sim.stop()  # nothing listens: every call is refused
            refusing = graph_outage(worker, OUTAGE_S)
            sim.start()  # a new world on the same port: hashtag ids are static, tokens the same
            recovers(worker, refusing[1])
            after_refusal = worker.scrape()
            rss_after = worker.rss_kib()
            assert sim.stats()["outcomes"].get("ok", 0) >= FEEDS
            assert worker.stop() == 0

    for (before, after, seconds), settled in ((hanging, after_hang), (refusing, after_refusal)):
        allowed = most_polls(before, seconds)
        errors = network_errors(after) - network_errors(before)
        assert 0 < errors <= MAX_ATTEMPTS * allowed, (errors, allowed, seconds)
        # A poll caught by the outage either fails after its timeouts and retries or, when its
        # retries outlast the outage, succeeds; so failures are counted once polling has
        # recovered, and bounded (at most one more poll per feed), not required.
        failed = settled.total("listener_polls_total", outcome="failed") - before.total(
            "listener_polls_total", outcome="failed"
        )
        assert failed <= allowed + FEEDS, (failed, allowed, seconds)
    retries = worker.named("graph.retrying")
    assert retries, "transient failures are retried"
    assert all(r["attempt"] < MAX_ATTEMPTS for r in retries), "at most max_attempts per call"
    assert rss_after - rss_before < RSS_GROWTH_KB, (rss_before, rss_after)
