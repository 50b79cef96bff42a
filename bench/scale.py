"""Scale: 1,000 feeds in one worker (RSS over a soak), 3 replicas vs 1, detection latency.

Everything runs as real processes on loopback, on the shared process harness (:mod:`testbed`):
the Graph API simulator in a process of its own, a SecantusDB server in another, and the worker
as ``python -m listener run --config …`` (one process, or three replicas sharing one database).
Wall-clock time: the soak lasts ``LISTENER_BENCH_SOAK_S`` seconds (default 600), each replica
run ``LISTENER_BENCH_RUN_S`` (default 300).
"""

from __future__ import annotations

import itertools
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any, Final

from pymongo import MongoClient
from pymongo.collection import Collection

from listener.simulator import SimAccount, SimulatorConfig
from testbed import Scrape, Simulator, Worker, free_port, secantus, stop_all, write_config

SOAK_S: Final = float(os.environ.get("LISTENER_BENCH_SOAK_S", "600"))
WARMUP_S: Final = float(os.environ.get("LISTENER_BENCH_WARMUP_S", min(120.0, SOAK_S / 4)))
RUN_S: Final = float(os.environ.get("LISTENER_BENCH_RUN_S", "300"))
SAMPLE_S: Final = 10.0
SEED: Final = 11

SOAK_ACCOUNTS: Final = 20
SOAK_TAGS: Final = 25
SOAK_RATE: Final = 12.0  # posts per hour per hashtag
SOAK_INTERVAL_S: Final = 60.0
SOAK_MIN_S: Final = 30.0
# At 12 posts/h a feed's adaptive interval would reach the hour's ceiling, and the worker would
# sit idle through most of the soak; a ceiling of two minutes keeps all 1,000 feeds polling.
SOAK_MAX_S: Final = 120.0

REP_ACCOUNTS: Final = 2
REP_TAGS: Final = 10
REP_RATE: Final = 180.0
REP_INTERVAL_S: Final = 30.0
REP_LEASE_TTL_S: Final = 10.0
REPLICAS: Final = 3


def _say(message: str) -> None:
    print(f"[scale {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@dataclass
class Accounts:
    """The scenario's accounts: ig user ids, tokens, hashtags."""

    n: int
    tags: int

    def rows(self) -> list[dict[str, Any]]:
        return [
            {
                "name": f"brand{a:02d}",
                "id": f"178414000000{a:05d}",
                "token": f"EAAB-bench-token-{a:02d}",
                "username": f"brand{a:02d}",
                "hashtags": [f"b{a:02d}tag{t:02d}" for t in range(self.tags)],
            }
            for a in range(self.n)
        ]

    def all_tags(self) -> list[str]:
        return [tag for row in self.rows() for tag in row["hashtags"]]


def start_simulator(
    accounts: Accounts,
    workdir: Path,
    *,
    rate: float,
    backfill_hours: float = 0.25,
    seed: int = SEED,
    app_secret: str | None = None,
    calls_per_hour: int = 10_000_000,
) -> Simulator:
    """The scenario's world in a process of its own: every hashtag at ``rate``, no tagged
    media, budgets (``calls_per_hour``, app and business use case) that never bind."""
    config = SimulatorConfig(
        seed=seed,
        accounts=tuple(SimAccount(a["id"], a["token"], a["username"]) for a in accounts.rows()),
        default_rate_per_hour=rate,
        backfill_hours=backfill_hours,
        tag_rate_per_hour=0.0,
        app_secret=app_secret,
        app_calls_per_hour=calls_per_hour,
        buc_calls_per_hour=calls_per_hour,
    )
    simulator = Simulator(free_port(), workdir / "simulator.log", config)
    simulator.start()
    return simulator


def account_entries(accounts: Accounts, *, tags: bool, mentions: bool) -> list[dict[str, Any]]:
    """The ``[[accounts]]`` of the worker's config for the scenario's accounts."""
    return [
        {
            "name": row["name"],
            "ig_user_id": row["id"],
            "username": row["username"],
            "access_token": row["token"],
            "hashtags": row["hashtags"],
            "tags": tags,
            "mentions": mentions,
        }
        for row in accounts.rows()
    ]


def _config(
    *,
    accounts: Accounts,
    base_url: str,
    mongo_uri: str,
    database: str,
    interval_s: float,
    min_interval_s: float,
    adaptive: bool,
    max_interval_s: float = 3600.0,
    top_media: bool,
    replica: str = "",
    lease_ttl_s: float = 60.0,
) -> dict[str, Any]:
    return {
        "graph": {"base_url": base_url, "instagram_base_url": base_url, "app_secret": ""},
        "store": {"mongodb_uri": mongo_uri, "database": database, "timeout_s": 20},
        "server": {"host": "127.0.0.1", "port": 0},
        "polling": {
            "hashtag_interval_s": interval_s,
            "tags_interval_s": interval_s,  # tags are off; the target must lie within the bounds
            "min_interval_s": min_interval_s,
            "max_interval_s": max_interval_s,
            "adaptive": adaptive,
            "jitter_ratio": 0.1,
            "max_pages": 10,
            "top_media": top_media,
        },
        "ratelimit": {"app_users": 2000, "account_impressions_24h": 100000},
        "cluster": {"replica": replica, "lease_ttl_s": lease_ttl_s},
        "accounts": account_entries(accounts, tags=False, mentions=False),
    }


def _start_worker(config: dict[str, Any], workdir: Path, name: str, level: str) -> Worker:
    path = write_config(workdir / f"{name}.toml", config)
    return Worker(path, workdir / f"{name}.log", log_level=level).start()


def _intervals(scrape: Scrape) -> dict[tuple[str, str], float]:
    """(account, hashtag) → interval of its recent_media feed, from the worker's /metrics."""
    return {
        (sample.labels["account"], sample.labels["hashtag"]): sample.value
        for sample in scrape.matching("listener_feed_interval_seconds")
        if "recent" in sample.labels.get("poller", "")
    }


def _graph_calls(scrape: Scrape) -> float:
    return scrape.total("listener_graph_requests_total")


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def _met(ok: bool) -> str:
    return "**met**" if ok else "**not met**"


# -- 1. the soak ---------------------------------------------------------------------------


@dataclass
class Soak:
    samples: list[tuple[float, int]] = field(default_factory=list)  # (s since start, KiB)
    feeds: int = 0
    calls: int = 0
    stored: int = 0
    published: int = 0
    errors: int = 0
    baseline_kib: int = 0  # the same worker with 2 feeds, after BASELINE_S


BASELINE_S: Final = 40.0


def _soak(workdir: Path) -> Soak:
    accounts = Accounts(SOAK_ACCOUNTS, SOAK_TAGS)
    result = Soak(feeds=SOAK_ACCOUNTS * SOAK_TAGS * 2)
    _say(f"soak: {result.feeds} feeds for {SOAK_S:.0f} s")
    with secantus(workdir / "db") as server:
        simulator = start_simulator(accounts, workdir, rate=SOAK_RATE)
        worker: Worker | None = None
        try:
            soak_config = partial(
                _config,
                base_url=simulator.base_url,
                mongo_uri=server.uri,
                interval_s=SOAK_INTERVAL_S,
                min_interval_s=SOAK_MIN_S,
                max_interval_s=SOAK_MAX_S,
                adaptive=True,
                top_media=True,
            )
            small = soak_config(accounts=Accounts(1, 1), database="baseline")
            worker = _start_worker(small, workdir, "baseline", "info")
            worker.stays_up_for(BASELINE_S)
            result.baseline_kib = worker.rss_kib()
            worker.stop()
            _say(f"baseline (2 feeds): RSS {result.baseline_kib / 1024:.1f} MiB")
            config = soak_config(accounts=accounts, database="soak")
            worker = _start_worker(config, workdir, "soak", "info")
            started = time.monotonic()
            while (elapsed := time.monotonic() - started) < SOAK_S:
                rss = worker.rss_kib()
                result.samples.append((elapsed, rss))
                if len(result.samples) % 6 == 1:
                    _say(f"soak: {elapsed:.0f} s, RSS {rss / 1024:.1f} MiB")
                worker.stays_up_for(min(SAMPLE_S, max(0.1, SOAK_S - elapsed)))
            result.samples.append((time.monotonic() - started, worker.rss_kib()))
            result.calls = int(_graph_calls(worker.scrape()))
            worker.stop()
            result.errors = sum(1 for event in worker.events if event.get("level") == "error")
            result.published = len(simulator.published(accounts.all_tags())["posts"])
        finally:
            if worker is not None:
                worker.ensure_stopped()
            simulator.stop()
        result.stored = MongoClient(server.uri)["soak"]["media"].count_documents({})
    return result


# -- 2 and 3. replicas ---------------------------------------------------------------------


@dataclass
class ReplicaRun:
    replicas: int
    sim_calls: int = 0
    sim_by_endpoint: dict[str, int] = field(default_factory=dict)
    worker_calls: float = 0.0
    window_posts: int = 0
    window_stored: int = 0
    latencies: list[float] = field(default_factory=list)  # latency ÷ interval
    latencies_s: list[float] = field(default_factory=list)
    polls: int = 0
    overlaps: int = 0  # lease holdings of one feed by two replicas at once
    unleased_polls: int = 0  # polls outside the poller's own holding of the lease
    close_polls: int = 0  # same feed polled by two replicas < half an interval apart
    intervals: dict[tuple[str, str], float] = field(default_factory=dict)


def event_time(event: dict[str, Any]) -> float:
    """When a JSON log event was written, in epoch seconds."""
    return datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00")).timestamp()


def _check_leases(run: ReplicaRun, workers: list[Worker], ended: float) -> None:  # noqa: C901, PLR0912 - one pass over the logs reads best whole; the size rules are for listener/
    """Holding intervals per (replica, feed) from lease logs; polls checked against them."""
    holdings: dict[str, list[tuple[float, float, str]]] = defaultdict(list)
    polls: dict[str, list[tuple[float, str]]] = defaultdict(list)
    for worker in workers:
        name = worker.config_path.stem
        open_at: dict[str, float] = {}
        for event in worker.events:
            kind, feed = event.get("event"), event.get("feed")
            if feed is None:
                continue
            if kind == "lease.taken":
                open_at.setdefault(feed, event_time(event))
            elif kind in ("lease.lost", "lease.released") and feed in open_at:
                holdings[feed].append((open_at.pop(feed), event_time(event), name))
            elif kind == "poll.done":
                polls[feed].append((event_time(event), name))
        for feed, at in open_at.items():
            holdings[feed].append((at, ended, name))
    for spans in holdings.values():
        spans.sort()
        for (_, end_a, a), (start_b, _, b) in itertools.pairwise(spans):
            if a != b and start_b < end_a:
                run.overlaps += 1
    for feed, done in polls.items():
        run.polls += len(done)
        if run.replicas > 1:
            for at, name in done:
                if not any(s <= at <= e + 1 for s, e, n in holdings[feed] if n == name):
                    run.unleased_polls += 1
        done.sort()
        for (t1, a), (t2, b) in itertools.pairwise(done):
            if a != b and t2 - t1 < REP_INTERVAL_S / 2:
                run.close_polls += 1


def _replica_run(replicas: int, workdir: Path) -> ReplicaRun:
    accounts = Accounts(REP_ACCOUNTS, REP_TAGS)
    run = ReplicaRun(replicas)
    _say(f"replicas: {replicas} worker(s), {REP_ACCOUNTS * REP_TAGS} feeds, {RUN_S:.0f} s")
    with secantus(workdir / "db") as server:
        simulator = start_simulator(accounts, workdir, rate=REP_RATE)
        workers: list[Worker] = []
        try:
            # One clock for both runs: from the first worker's start, so replicas that start
            # one after another do not lengthen the three-replica run.
            started = time.monotonic()
            for r in range(replicas):
                name = f"r{replicas}-{r}"
                config = _config(
                    accounts=accounts,
                    base_url=simulator.base_url,
                    mongo_uri=server.uri,
                    database="replicas",
                    interval_s=REP_INTERVAL_S,
                    min_interval_s=REP_INTERVAL_S,
                    adaptive=False,
                    top_media=False,
                    replica=name,
                    lease_ttl_s=REP_LEASE_TTL_S,
                )
                workers.append(_start_worker(config, workdir, name, "debug"))
            while (elapsed := time.monotonic() - started) < RUN_S:
                if not all(w.alive() for w in workers):
                    raise RuntimeError("a replica died")
                if int(elapsed) % 60 < SAMPLE_S:
                    _say(f"replicas={replicas}: {elapsed:.0f} s")
                time.sleep(max(0.0, min(SAMPLE_S, RUN_S - elapsed)))
            for w in workers:
                scrape = w.scrape()
                run.worker_calls += _graph_calls(scrape)
                for key, value in _intervals(scrape).items():
                    run.intervals.setdefault(key, value)
            ended = time.time()
            stop_all(workers)
            calls = simulator.calls_by_endpoint()
            dump = simulator.published(accounts.all_tags())
        finally:
            for w in workers:
                w.ensure_stopped()
            simulator.stop()
        run.sim_calls = sum(calls.values())
        run.sim_by_endpoint = dict(calls)
        start = datetime.fromisoformat(dump["start"])
        # The window: published from the world's start to one interval (+ jitter) before the
        # first worker stopped, so every post in it was due to be seen by a poll.
        cutoff = datetime.fromtimestamp(ended).astimezone(start.tzinfo).timestamp() - (
            REP_INTERVAL_S * 1.1 + 5
        )
        window = {
            media_id: tag
            for media_id, (at, tag) in dump["posts"].items()
            if start.timestamp() < datetime.fromisoformat(at).timestamp() <= cutoff
        }
        run.window_posts = len(window)
        media: Collection[dict[str, Any]] = MongoClient(server.uri)["replicas"]["media"]
        by_tag = {t: row["name"] for row in accounts.rows() for t in row["hashtags"]}
        for doc in media.find(
            {"_id": {"$in": list(window)}}, {"timestamp": 1, "first_seen_at": 1, "sources": 1}
        ):
            run.window_stored += 1
            tag = window[doc["_id"]]
            interval = run.intervals.get((by_tag[tag], tag), REP_INTERVAL_S)
            latency = (doc["first_seen_at"] - doc["timestamp"]).total_seconds()
            run.latencies_s.append(latency)
            run.latencies.append(latency / interval)
        _check_leases(run, workers, ended)
    _say(
        f"replicas={replicas}: {run.sim_calls} calls, {run.window_stored}/{run.window_posts} "
        f"stored, overlaps {run.overlaps}, close polls {run.close_polls}"
    )
    return run


# -- rendering -----------------------------------------------------------------------------


def _render(soak: Soak, one: ReplicaRun, three: ReplicaRun) -> str:
    mib = [(t, kib / 1024) for t, kib in soak.samples]
    after = [m for t, m in mib if t >= WARMUP_S]
    steady = after[0] if after else float("nan")
    final = mib[-1][1] if mib else float("nan")
    peak = max((m for _, m in mib), default=float("nan"))
    growth = (final - steady) / steady * 100 if after else float("nan")
    warm = f"{WARMUP_S:.0f} s" if after else "(soak shorter than the warm-up)"
    soak_ok = steady < 150
    growth_ok = growth < 5

    calls_diff = (three.sim_calls - one.sim_calls) / one.sim_calls * 100 if one.sim_calls else 0
    recent_1 = one.sim_by_endpoint.get("recent_media", 0)
    recent_3 = three.sim_by_endpoint.get("recent_media", 0)
    cov_1 = one.window_stored / one.window_posts * 100 if one.window_posts else float("nan")
    cov_3 = three.window_stored / three.window_posts * 100 if three.window_posts else float("nan")
    no_double = three.overlaps == 0 and three.unleased_polls == 0 and three.close_polls == 0

    lat = one.latencies
    lat3 = three.latencies
    p95 = _pct(lat, 0.95)
    endpoints_1 = ", ".join(f"{k} {v}" for k, v in sorted(one.sim_by_endpoint.items()))
    endpoints_3 = ", ".join(f"{k} {v}" for k, v in sorted(three.sim_by_endpoint.items()))
    intervals = sorted(set(one.intervals.values()))
    shown_intervals = ", ".join(f"{v:g} s" for v in intervals) or f"{REP_INTERVAL_S:g} s"
    return "\n".join(
        [
            "## Scale: 1,000 feeds, replicas, detection latency",
            "",
            "Real processes on loopback, wall-clock time: the Graph API simulator in a process "
            "of its own, a SecantusDB server in another, and the worker as "
            "`python -m listener run --config …` (one process, or three replicas on one "
            "database). 2-core machine: the worker shares the CPUs with the simulator and the "
            "database.",
            "",
            "### 1,000 feeds in one worker: RSS over a soak",
            "",
            f"{SOAK_ACCOUNTS} accounts × {SOAK_TAGS} hashtags × 2 edges (recent_media, "
            f"top_media) = **{soak.feeds:,} feeds**; tags and mentions off. Each hashtag "
            f"publishes {SOAK_RATE:g} posts/h (Poisson; {SOAK_ACCOUNTS * SOAK_TAGS} hashtags, "
            f"{SOAK_ACCOUNTS * SOAK_TAGS * SOAK_RATE:,.0f} posts/h in all), 15 min of backfill. "
            f"Polling: adaptive, target {SOAK_INTERVAL_S:g} s, floor {SOAK_MIN_S:g} s, ceiling "
            f"{SOAK_MAX_S:g} s (so that every feed keeps polling through the soak), jitter "
            "±10 %; rate-limit budget set high (app_users 2000) so pacing, not throttling, "
            f"sets the load. Soak {SOAK_S:.0f} s, RSS (`VmRSS` of the worker process) sampled "
            f"every {SAMPLE_S:g} s; steady = the first sample after a {warm} warm-up, growth = "
            "from there to the last sample.",
            "",
            "| measure | value | goal |",
            "|---|---|---|",
            f"| steady RSS (at {warm}) | {steady:.1f} MiB | < 150 MB: {_met(soak_ok)} |",
            f"| RSS at end of soak ({mib[-1][0]:.0f} s) | {final:.1f} MiB | |"
            if mib
            else "| RSS at end | n/a | |",
            f"| RSS of the same worker with 2 feeds (1 account × 1 hashtag), after "
            f"{BASELINE_S:.0f} s | {soak.baseline_kib / 1024:.1f} MiB | |",
            f"| growth, steady → end | {growth:+.1f} % | < 5 %: {_met(growth_ok)} |",
            f"| peak RSS | {peak:.1f} MiB | |",
            f"| Graph calls by the worker (its metric) | {soak.calls:,} "
            f"({soak.calls / max(SOAK_S, 1) * 60:,.0f}/min) | |",
            f"| media stored / published by the world (incl. backfill) | {soak.stored:,} / "
            f"{soak.published:,} | |",
            f"| error-level log lines | {soak.errors} | |",
            "",
            "RSS trace (s → MiB): "
            + ", ".join(f"{t:.0f}→{m:.1f}" for t, m in mib[:: max(1, len(mib) // 12)]),
            "",
            "### 3 replicas vs 1, same scenario",
            "",
            f"{REP_ACCOUNTS} accounts × {REP_TAGS} hashtags, recent_media only = "
            f"{REP_ACCOUNTS * REP_TAGS} feeds; {REP_RATE:g} posts/h per hashtag; fixed interval "
            f"{REP_INTERVAL_S:g} s (adaptive off, jitter ±10 %); {RUN_S:.0f} s per run, from the "
            "first worker's start to the stop of all; the same "
            f"simulator seed ({SEED}) in a fresh process and a fresh database per run. Three "
            f"replicas: distinct `[cluster] replica` names, `lease_ttl_s = {REP_LEASE_TTL_S:g}`, "
            "started one after another (the first polls while the others start). Calls = every "
            "request the simulator served (its stats), including start-up calls (hashtag "
            "search, quota reconcile: one replica per account reconciles, the others find it "
            "done). Coverage = "
            "media the world published from its start to one interval (+10 % jitter + 5 s) "
            "before the workers stopped, found in `media`. Double polling: from each "
            "replica's JSON logs, lease holdings (`lease.taken` → `lease.lost`/"
            "`lease.released`/exit) of one feed by two replicas overlapping in time, polls "
            "(`poll.done`) outside the poller's own holding, and polls of one feed by two "
            f"replicas less than {REP_INTERVAL_S / 2:g} s apart.",
            "",
            "| measure | 1 worker | 3 replicas | goal |",
            "|---|---|---|---|",
            f"| Graph calls (simulator) | {one.sim_calls:,} | {three.sim_calls:,} | within 5 %: "
            f"{calls_diff:+.1f} % {_met(abs(calls_diff) <= 5)} |",
            f"| of which recent_media | {recent_1:,} | {recent_3:,} | |",
            f"| Graph calls (sum of workers' metric) | {one.worker_calls:,.0f} | "
            f"{three.worker_calls:,.0f} | |",
            f"| coverage | {one.window_stored}/{one.window_posts} ({cov_1:.1f} %) | "
            f"{three.window_stored}/{three.window_posts} ({cov_3:.1f} %) | same: "
            f"{_met(abs(cov_1 - cov_3) < 0.05)} |",
            f"| polls (`poll.done`) | {one.polls} | {three.polls} | |",
            f"| overlapping lease holdings | — | {three.overlaps} | 0 |",
            f"| polls outside own lease | — | {three.unleased_polls} | 0 |",
            f"| same feed polled by 2 replicas < {REP_INTERVAL_S / 2:g} s apart | — | "
            f"{three.close_polls} | 0 |",
            f"| no feed polled by two replicas at once | | {'yes' if no_double else 'no'} | "
            f"{_met(no_double)} |",
            "",
            f"Calls by endpoint — 1 worker: {endpoints_1}; 3 replicas: {endpoints_3}.",
            "",
            "### Detection latency ÷ scheduled interval",
            "",
            "From the 1-worker run above: for each media in the coverage window that was "
            "stored, latency = `first_seen_at − timestamp` (the post's Graph timestamp, whole "
            "seconds), divided by its feed's interval from `listener_feed_interval_seconds` "
            f"at the end of the run ({shown_intervals}). A poll every interval means a post "
            "waits on average half an interval, at worst one interval plus jitter (+10 %) "
            "plus the poll's own time.",
            "",
            "| measure | 1 worker | 3 replicas | goal |",
            "|---|---|---|---|",
            f"| media measured | {len(lat)} | {len(lat3)} | |",
            f"| p50 latency | {_pct(one.latencies_s, 0.5):.1f} s | "
            f"{_pct(three.latencies_s, 0.5):.1f} s | |",
            f"| p95 latency | {_pct(one.latencies_s, 0.95):.1f} s | "
            f"{_pct(three.latencies_s, 0.95):.1f} s | |",
            f"| p50 ÷ interval | {_pct(lat, 0.5):.2f} | {_pct(lat3, 0.5):.2f} | |",
            f"| p95 ÷ interval | **{p95:.2f}** | {_pct(lat3, 0.95):.2f} | ≤ 1.2: "
            f"{_met(p95 <= 1.2)} (1 worker) |",
            f"| max ÷ interval | {max(lat, default=float('nan')):.2f} | "
            f"{max(lat3, default=float('nan')):.2f} | |",
            f"| mean latency | {statistics.fmean(one.latencies_s) if lat else float('nan'):.1f} s"
            f" | {statistics.fmean(three.latencies_s) if lat3 else float('nan'):.1f} s | |",
        ]
    )


def section() -> str:
    """The markdown section for RESULTS.md."""
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        workdir = Path(tmp)
        one_dir, three_dir, soak_dir = (workdir / d for d in ("one", "three", "soak"))
        for d in (one_dir, three_dir, soak_dir):
            d.mkdir()
        one = _replica_run(1, one_dir)
        three = _replica_run(REPLICAS, three_dir)
        soak = _soak(soak_dir)
        return _render(soak, one, three)


if __name__ == "__main__":
    print(section())
