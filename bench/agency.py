"""Agency scale: 100 accounts × 30 hashtags (6,000 hashtag feeds with ``top_media``), plus each
account's ``/tags`` feed and webhook inbox, against a world where nothing new arrives.

Real processes on loopback, on the shared process harness (:mod:`testbed`), as in
:mod:`bench.scale`: the Graph API simulator and a SecantusDB server each in a process of
their own, and the worker as ``python -m listener run --config …``. Two runs, each on a fresh
world (same seed) and a fresh database:

1. one replica: seconds from the process's start to ``/readyz`` 200, then a soak with resident
   memory, the worker's CPU time and the simulator's call count sampled every ``SAMPLE_S``;
2. three replicas on one database (distinct ``[cluster] replica`` names): each one's memory,
   the lease events after the warm-up (from their JSON logs), and the Graph calls of all three
   against the one replica's over the same time from the first start.

Sizes and durations: ``LISTENER_BENCH_AGENCY_ACCOUNTS`` (100), ``…_TAGS`` (30), ``…_SOAK_S``
(930: a 10-minute soak after the warm-up), ``…_WARMUP_S`` (330: the first round of polls),
``…_RUN_S`` (750, see :data:`RUN_S_DOC`);
``quick`` makes them 10 accounts, a 90 s soak, a 65 s warm-up and a 90 s replica run.
"""

from __future__ import annotations

import itertools
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from bench.scale import Accounts, account_entries, event_time, start_simulator
from testbed import Simulator, Worker, secantus, stop_all, wait_until, write_config
from testbed.processes import cpu_s, tail

SAMPLE_S: Final = 10.0
SEED: Final = 23
APP_SECRET: Final = "agency-bench-app-secret"
# 200 calls/h per app user: 4,000,000 calls/h, so the governor's spacing (0.9 ms) never paces
# the 9,100 calls of the first round and no budget share stretches an interval.
APP_USERS: Final = 20_000
GOAL_RSS_MB: Final = 150.0
GOAL_CPU_PCT: Final = 5.0
GOAL_STARTUP_S: Final = 5.0
GOAL_GROWTH_PCT: Final = 5.0
GOAL_CALLS_PCT: Final = 5.0
BASELINE_S: Final = 30.0
READY_TIMEOUT_S: Final = 300.0
REPLICAS: Final = 3
LEASE_EVENTS: Final = ("lease.taken", "lease.lost", "lease.released")
FIRST_TAKE: Final = "lease.taken (first, fence 1)"
RUN_S_DOC: Final = (
    "with the default intervals every feed polls once in the first 305 s (the scheduler starts "
    "due feeds at 20 a second), and again one interval later (300 s ± 10 %, where it finds "
    "nothing and stretches to the ceiling of 3,600 s): a run of 750 s holds both rounds whole, "
    "if the store keeps up"
)


def _say(message: str) -> None:
    print(f"[agency {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _env(name: str, default: float) -> float:
    return float(os.environ.get(f"LISTENER_BENCH_AGENCY_{name}", default))


@dataclass(frozen=True)
class Plan:
    """Sizes and durations of one benchmark run."""

    accounts: int
    tags: int
    soak_s: float
    warmup_s: float
    run_s: float
    baseline_s: float

    @classmethod
    def chosen(cls, *, quick: bool) -> Plan:
        """The full run, or the quick one; either under the environment's knobs."""
        return cls(
            accounts=int(_env("ACCOUNTS", 10 if quick else 100)),
            tags=int(_env("TAGS", 30)),
            soak_s=_env("SOAK_S", 90 if quick else 930),
            # After the first round of polls (6,100 feeds started at 20 a second: 305 s), so
            # that memory has met every feed's poll and later lease events are hand-overs.
            warmup_s=_env("WARMUP_S", 65 if quick else 330),
            run_s=_env("RUN_S", 90 if quick else 750),
            baseline_s=_env("BASELINE_S", 10 if quick else BASELINE_S),
        )

    @property
    def hashtag_feeds(self) -> int:
        """recent_media and top_media of every account's every hashtag."""
        return self.accounts * self.tags * 2


def _start_simulator(accounts: Accounts, workdir: Path) -> Simulator:
    """A world that publishes nothing: no posts, no history, no tags; budgets that never bind."""
    return start_simulator(
        accounts,
        workdir,
        rate=0.0,
        backfill_hours=0.0,
        seed=SEED,
        app_secret=APP_SECRET,
        calls_per_hour=100_000_000,
    )


def _config(
    *, accounts: Accounts, base_url: str, mongo_uri: str, database: str, replica: str = ""
) -> dict[str, Any]:
    """The worker's config: polling at its defaults (adaptive, 300 s hashtags, 600 s tags,
    60 s floor, 3,600 s ceiling) with ``top_media``; tags and mentions (webhooks) on."""
    return {
        "graph": {"base_url": base_url, "instagram_base_url": base_url, "app_secret": APP_SECRET},
        "store": {"mongodb_uri": mongo_uri, "database": database, "timeout_s": 20},
        "server": {"host": "127.0.0.1", "port": 0},
        "polling": {"top_media": True},
        "ratelimit": {"app_users": APP_USERS, "account_impressions_24h": 100_000},
        "cluster": {"replica": replica},
        "accounts": account_entries(accounts, tags=True, mentions=True),
    }


def _ready(worker: Worker) -> bool:
    try:
        return worker.get("/readyz")[0] == 200
    except OSError:
        return False


def _start_ready(config: dict[str, Any], workdir: Path, name: str) -> tuple[Worker, float]:
    """A worker started and ready; the seconds from its process's start to ``/readyz`` 200."""
    path = write_config(workdir / f"{name}.toml", config)
    worker = Worker(path, workdir / f"{name}.log", log_level="info")
    began = time.monotonic()
    worker.start()
    wait_until(lambda: _ready(worker), timeout_s=READY_TIMEOUT_S, what=f"{name} /readyz 200")
    return worker, time.monotonic() - began


@dataclass(frozen=True)
class Sample:
    """One look at the worker(s) and the world, ``at`` seconds after the (first) start."""

    at: float
    rss_kib: tuple[int, ...]
    cpu_s: tuple[float, ...]
    calls: int  # Graph calls the simulator served since the (first) worker started
    db_cpu_s: float


def _sample(
    at: float, workers: Sequence[Worker], calls: int, db_cpu: Callable[[], float | None]
) -> Sample:
    return Sample(
        at=at,
        rss_kib=tuple(w.rss_kib() for w in workers),
        cpu_s=tuple(cpu_s(w.pid) or 0.0 for w in workers),
        calls=calls,
        db_cpu_s=db_cpu() or 0.0,
    )


def _lease_events(worker: Worker, after: float) -> Counter[str]:
    """Lease events the worker logged after ``after`` (epoch seconds), by name; a take is a
    first take (fence 1: nobody held the feed before) or a hand-over (fence > 1)."""
    counts: Counter[str] = Counter()
    for event in worker.events:
        name = event.get("event")
        if name not in LEASE_EVENTS or event_time(event) <= after:
            continue
        if name == "lease.taken":
            counts[FIRST_TAKE if int(event.get("fence", 1)) <= 1 else "lease.taken"] += 1
        else:
            counts[str(name)] += 1
    return counts


def _handovers(counts: Counter[str]) -> int:
    """Lease events that move a feed between replicas (every one but a first take)."""
    return sum(n for name, n in counts.items() if name != FIRST_TAKE)


def _problems(worker: Worker) -> Counter[str]:
    """Warning- and error-level log events by name (and kind of error, when given)."""
    return Counter(
        str(e.get("event")) + (f" ({e['kind']})" if "kind" in e else "")
        for e in worker.events
        if e.get("level") in ("warning", "error")
    )


# -- one replica ---------------------------------------------------------------------------


@dataclass
class OneRun:
    """What the one-replica run measured."""

    startup_s: float = 0.0
    baseline_startup_s: float = 0.0
    baseline_kib: int = 0
    samples: list[Sample] = field(default_factory=list)
    endpoints: Counter[str] = field(default_factory=Counter)
    worker_calls: float = 0.0
    polls: float = 0.0
    leases: Counter[str] = field(default_factory=Counter)  # after the warm-up
    problems: Counter[str] = field(default_factory=Counter)
    feeds: int = 0


def _baseline(
    plan: Plan, simulator: Simulator, server_uri: str, workdir: Path, run: OneRun
) -> None:
    """The same worker with one account × one hashtag: start-up and memory without the feeds."""
    small = _config(
        accounts=Accounts(1, 1),
        base_url=simulator.base_url,
        mongo_uri=server_uri,
        database="baseline",
    )
    worker, run.baseline_startup_s = _start_ready(small, workdir, "baseline")
    try:
        worker.stays_up_for(plan.baseline_s)
        run.baseline_kib = worker.rss_kib()
        worker.stop()
    finally:
        worker.ensure_stopped()
    _say(f"baseline: ready in {run.baseline_startup_s:.1f} s, {run.baseline_kib / 1024:.1f} MiB")


def _one_replica(plan: Plan, workdir: Path) -> OneRun:
    accounts = Accounts(plan.accounts, plan.tags)
    run = OneRun()
    with secantus(workdir / "db") as server:
        simulator = _start_simulator(accounts, workdir)
        worker: Worker | None = None
        try:
            _baseline(plan, simulator, server.uri, workdir, run)
            before = simulator.calls_by_endpoint()
            config = _config(
                accounts=accounts, base_url=simulator.base_url, mongo_uri=server.uri, database="one"
            )
            started, warm_at = time.monotonic(), time.time() + plan.warmup_s
            worker, run.startup_s = _start_ready(config, workdir, "one")
            run.feeds = int(worker.named("server.started")[0].get("feeds", 0))
            _say(f"one replica: {run.feeds} feeds, /readyz 200 after {run.startup_s:.1f} s")
            run.samples = _watch(
                [worker],
                simulator,
                before=before,
                started=started,
                duration_s=plan.soak_s,
                db_cpu=server.cpu_s,
                label="one replica",
            )
            scrape = worker.scrape()
            run.worker_calls = scrape.total("listener_graph_requests_total")
            run.polls = scrape.total("listener_polls_total")
            worker.stop()
            run.endpoints = simulator.calls_by_endpoint() - before
            run.leases = _lease_events(worker, warm_at)
            run.problems = _problems(worker)
        finally:
            if worker is not None:
                worker.ensure_stopped()
            simulator.stop()
    return run


def _watch(
    workers: Sequence[Worker],
    simulator: Simulator,
    *,
    before: Counter[str],
    started: float,
    duration_s: float,
    db_cpu: Callable[[], float | None],
    label: str,
) -> list[Sample]:
    """Sample every ``SAMPLE_S`` from ``started`` (monotonic) for ``duration_s``; fail if a
    worker dies."""
    samples: list[Sample] = []
    base = sum(before.values())
    while True:
        elapsed = time.monotonic() - started
        dead = [w for w in workers if not w.alive()]
        if dead:
            raise RuntimeError(f"{label}: a worker died:\n{tail(dead[0].log_path, 60)}")
        calls = sum(simulator.calls_by_endpoint().values()) - base
        samples.append(_sample(elapsed, workers, calls, db_cpu))
        if len(samples) % 6 == 1:
            rss = ", ".join(f"{k / 1024:.0f}" for k in samples[-1].rss_kib)
            _say(f"{label}: {elapsed:.0f} s, RSS {rss} MiB, {calls} calls")
        if elapsed >= duration_s:
            return samples
        time.sleep(max(0.0, min(SAMPLE_S * len(samples) - elapsed, duration_s - elapsed)))


# -- three replicas ------------------------------------------------------------------------


@dataclass
class ReplicaRun:
    """What the three-replica run measured."""

    startup_s: list[float] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    endpoints: Counter[str] = field(default_factory=Counter)
    leases: list[Counter[str]] = field(default_factory=list)  # per replica, after the warm-up
    leases_all: list[Counter[str]] = field(default_factory=list)  # per replica, whole run
    polls: list[float] = field(default_factory=list)
    problems: Counter[str] = field(default_factory=Counter)


def _three_replicas(plan: Plan, workdir: Path) -> ReplicaRun:
    accounts = Accounts(plan.accounts, plan.tags)
    run = ReplicaRun()
    with secantus(workdir / "db") as server:
        simulator = _start_simulator(accounts, workdir)
        workers: list[Worker] = []
        try:
            before = simulator.calls_by_endpoint()
            started = time.monotonic()
            warm_at = time.time() + plan.warmup_s
            for r in range(REPLICAS):
                name = f"r{r}"
                config = _config(
                    accounts=accounts,
                    base_url=simulator.base_url,
                    mongo_uri=server.uri,
                    database="replicas",
                    replica=name,
                )
                worker, startup_s = _start_ready(config, workdir, name)
                workers.append(worker)
                run.startup_s.append(startup_s)
            _say(f"{REPLICAS} replicas ready: " + ", ".join(f"{s:.1f} s" for s in run.startup_s))
            run.samples = _watch(
                workers,
                simulator,
                before=before,
                started=started,
                duration_s=plan.run_s,
                db_cpu=server.cpu_s,
                label="replicas",
            )
            run.polls = [w.scrape().total("listener_polls_total") for w in workers]
            stop_all(workers)
            run.endpoints = simulator.calls_by_endpoint() - before
            run.leases = [_lease_events(w, warm_at) for w in workers]
            run.leases_all = [_lease_events(w, 0.0) for w in workers]
            for w in workers:
                run.problems += _problems(w)
        finally:
            for w in workers:
                w.ensure_stopped()
            simulator.stop()
    return run


# -- rendering -----------------------------------------------------------------------------


def _mb(kib: float) -> float:
    return kib * 1024 / 1e6


def _below(value: float, goal: float, unit: str) -> str:
    """The verdict on ``value < goal``, and by how much."""
    if value < goal:
        return f"**met** ({(goal - value) / goal * 100:.0f} % under)"
    return f"**not met** ({value - goal:.1f} {unit} over, {value / goal:.1f}× the goal)"


def _steady(samples: Sequence[Sample], warmup_s: float) -> Sample:
    """The first sample after the warm-up (the last one if the run was shorter)."""
    return next((s for s in samples if s.at >= warmup_s), samples[-1])


def _cpu_pct(first: Sample, last: Sample, index: int = 0) -> float:
    wall = last.at - first.at
    return (last.cpu_s[index] - first.cpu_s[index]) / wall * 100 if wall > 0 else float("nan")


def _quiet(samples: Sequence[Sample], warmup_s: float) -> tuple[Sample, Sample] | None:
    """The longest stretch after the warm-up in which the simulator served no call."""
    best: tuple[Sample, Sample] | None = None
    after = [s for s in samples if s.at >= warmup_s]
    start = 0
    for i in range(1, len(after) + 1):
        if i == len(after) or after[i].calls != after[start].calls:
            longer = best is None or after[i - 1].at - after[start].at > best[1].at - best[0].at
            if i - 1 > start and longer:
                best = (after[start], after[i - 1])
            start = i
    return best


@dataclass(frozen=True)
class IdleCost:
    """The worker's CPU split in two by a least-squares line through its sample intervals
    after the warm-up: CPU % of a core against Graph calls a second."""

    pct: float  # the line at no call: scheduling, leases, sharing, the inbox's idle claims
    ms_per_call: float  # the slope: CPU of one poll's call (its parse, its store writes)
    intervals: int


def idle_cost(samples: Sequence[Sample], warmup_s: float, index: int = 0) -> IdleCost | None:
    """:class:`IdleCost` of replica ``index``; ``None`` with fewer than three intervals, or
    when the call rate never varied (then the line is not determined)."""
    after = [s for s in samples if s.at >= warmup_s]
    rates, cpu = [], []
    for a, b in itertools.pairwise(after):
        wall = b.at - a.at
        if wall > 0:
            rates.append((b.calls - a.calls) / wall)
            cpu.append((b.cpu_s[index] - a.cpu_s[index]) / wall * 100)
    if len(rates) < 3 or len(set(rates)) < 2:
        return None
    slope, intercept = statistics.linear_regression(rates, cpu)
    return IdleCost(intercept, slope * 10, len(rates))  # % of a core per call/s → ms a call


def _at(samples: Sequence[Sample], at: float) -> Sample:
    """The sample nearest ``at`` seconds."""
    return min(samples, key=lambda s: abs(s.at - at))


def _db_cpu_pct(first: Sample, last: Sample) -> float:
    wall = last.at - first.at
    return (last.db_cpu_s - first.db_cpu_s) / wall * 100 if wall > 0 else float("nan")


def _unfinished(polls: float, feeds: int, db_cpu_pct: float) -> list[str]:
    """A warning above a table whose run never got past the first round of polls."""
    if polls >= feeds:
        return []
    return [
        f"**Not steady**: by the end only {polls:,.0f} of the {feeds:,} feeds had polled once "
        f"(SecantusDB at {db_cpu_pct:.0f} % of a core from the warm-up on): the figures below "
        "are those of a worker still starting its feeds, not of the quiet steady state the "
        "goals describe.",
        "",
    ]


def _round(polls: float, feeds: int) -> str:
    """How far the polls got: the first round (one poll per feed) or beyond."""
    if polls < feeds:
        return f"the first round, one poll per feed, {polls / feeds * 100:.0f} % done"
    return f"{polls / feeds:.2f} polls per feed"


def _endpoints(counts: Counter[str]) -> str:
    return ", ".join(f"{k} {v:,}" for k, v in sorted(counts.items())) or "none"


def _events(counts: Counter[str]) -> str:
    return ", ".join(f"`{k}` {v:,}" for k, v in sorted(counts.items())) or "none"


def _trace(samples: Sequence[Sample]) -> str:
    step = max(1, len(samples) // 12)
    shown = [*samples[::step], *([samples[-1]] if (len(samples) - 1) % step else [])]
    return ", ".join(
        f"{s.at:.0f} s→{max(s.rss_kib) / 1024:.0f} MiB/{s.calls:,} calls" for s in shown
    )


def _render_one(plan: Plan, one: OneRun) -> list[str]:
    steady, last = _steady(one.samples, plan.warmup_s), one.samples[-1]
    steady_mb, last_mb = _mb(steady.rss_kib[0]), _mb(last.rss_kib[0])
    peak_mb = max(_mb(s.rss_kib[0]) for s in one.samples)
    growth = (last_mb - steady_mb) / steady_mb * 100
    cpu = _cpu_pct(steady, last)
    cpu_s_used = last.cpu_s[0] - steady.cpu_s[0]
    db_wall = last.at - steady.at
    db_cpu = _db_cpu_pct(steady, last)
    quiet = _quiet(one.samples, plan.warmup_s)
    quiet_row = (
        f"| worker CPU over the longest stretch with no Graph call ({quiet[0].at:.0f} → "
        f"{quiet[1].at:.0f} s): scheduling, leases, rate-limit sharing, inbox alone | "
        f"{_cpu_pct(*quiet):.1f} % of one core | < {GOAL_CPU_PCT:g} %: "
        f"{_below(_cpu_pct(*quiet), GOAL_CPU_PCT, 'points')} |"
        if quiet
        else "| worker CPU with no Graph call at all | n/a (calls in every sample) | |"
    )
    idle = idle_cost(one.samples, plan.warmup_s)
    idle_row = (
        f"| worker CPU with no Graph call, from its {idle.intervals} intervals after the warm-up "
        "(the least-squares line of CPU against calls a second, at 0 calls: scheduling, "
        f"leases, rate-limit sharing, the inbox's idle claims; each call {idle.ms_per_call:.1f} "
        f"ms more) | {idle.pct:.1f} % of one core | < {GOAL_CPU_PCT:g} %: "
        f"{_below(idle.pct, GOAL_CPU_PCT, 'points')} |"
        if idle
        else "| worker CPU with no Graph call, from a line through its intervals | n/a | |"
    )
    return [
        "### One replica",
        "",
        *_unfinished(one.polls, one.feeds, db_cpu),
        "| measure | value | goal |",
        "|---|---|---|",
        f"| start-up: process start → `/readyz` 200 | {one.startup_s:.1f} s | "
        f"< {GOAL_STARTUP_S:g} s: {_below(one.startup_s, GOAL_STARTUP_S, 's')} |",
        f"| steady RSS (first sample after {plan.warmup_s:.0f} s: {steady.at:.0f} s) | "
        f"{steady_mb:.1f} MB ({steady.rss_kib[0] / 1024:.1f} MiB) | < {GOAL_RSS_MB:g} MB: "
        f"{_below(steady_mb, GOAL_RSS_MB, 'MB')} |",
        f"| RSS at the end ({last.at:.0f} s) | {last_mb:.1f} MB | |",
        f"| growth, steady → end | {growth:+.1f} % | < {GOAL_GROWTH_PCT:g} %: "
        f"{_below(growth, GOAL_GROWTH_PCT, 'points')} |",
        f"| peak RSS | {peak_mb:.1f} MB | |",
        f"| worker CPU, steady → end (includes the idle polls of that stretch) | "
        f"{cpu:.1f} % of one core ({cpu_s_used:.1f} s in {db_wall:.0f} s) | "
        f"< {GOAL_CPU_PCT:g} %: {_below(cpu, GOAL_CPU_PCT, 'points')} |",
        quiet_row,
        idle_row,
        f"| SecantusDB CPU, steady → end | {db_cpu:.1f} % of one core | |",
        f"| Graph calls served by the simulator, whole soak | {sum(one.endpoints.values()):,}"
        f" ({_endpoints(one.endpoints)}) | |",
        f"| polls (worker's metric) / feeds | {one.polls:,.0f} / {one.feeds:,} "
        f"({_round(one.polls, one.feeds)}) | |",
        f"| Graph calls (worker's metric) | {one.worker_calls:,.0f} | |",
        f"| lease events after the warm-up | {_events(one.leases)} | |",
        f"| warning- and error-level log events | {_events(one.problems)} | |",
        f"| the same worker with 1 account × 1 hashtag: start-up; RSS after "
        f"{plan.baseline_s:.0f} s | {one.baseline_startup_s:.1f} s; "
        f"{_mb(one.baseline_kib):.1f} MB | |",
        "",
        f"Trace (s since start → RSS / Graph calls so far): {_trace(one.samples)}.",
    ]


def _render_three(plan: Plan, one: OneRun, three: ReplicaRun) -> list[str]:
    steady, last = _steady(three.samples, plan.warmup_s), three.samples[-1]
    steady_mb = [_mb(k) for k in steady.rss_kib]
    peak_mb = [max(_mb(s.rss_kib[r]) for s in three.samples) for r in range(REPLICAS)]
    handovers = [_handovers(c) for c in three.leases]
    first_takes = sum(c[FIRST_TAKE] for c in three.leases)
    polls = sum(three.polls)
    reference = _at(one.samples, last.at)
    diff = (last.calls - reference.calls) / reference.calls * 100 if reference.calls else 0.0
    calls_ok = abs(diff) <= GOAL_CALLS_PCT
    cpu = [_cpu_pct(steady, last, r) for r in range(REPLICAS)]
    return [
        f"### {REPLICAS} replicas on one database",
        "",
        *_unfinished(polls, one.feeds, _db_cpu_pct(steady, last)),
        "| measure | value | goal |",
        "|---|---|---|",
        "| start-up of each replica → `/readyz` 200 | "
        + ", ".join(f"{s:.1f} s" for s in three.startup_s)
        + " | |",
        f"| steady RSS of each replica (at {steady.at:.0f} s) | "
        + ", ".join(f"{m:.1f} MB" for m in steady_mb)
        + f" | each < {GOAL_RSS_MB:g} MB: {_below(max(steady_mb), GOAL_RSS_MB, 'MB')} |",
        "| peak RSS of each replica | " + ", ".join(f"{m:.1f} MB" for m in peak_mb) + " | |",
        f"| lease hand-overs after the warm-up ({plan.warmup_s:.0f} s → {last.at:.0f} s): "
        "`lease.taken` with a fence > 1 (the feed was someone's before), `lease.lost`, "
        f"`lease.released` | {sum(handovers):,} (by replica: "
        + ", ".join(str(h) for h in handovers)
        + ") | 0: "
        + ("**met**" if sum(handovers) == 0 else f"**not met** ({sum(handovers):,} over)")
        + " |",
        f"| first takes after the warm-up (`lease.taken`, fence 1: feeds polled for the first "
        f"time) | {first_takes:,} | |",
        "| lease events over the whole run, by replica | "
        + "; ".join(_events(c) for c in three.leases_all)
        + " | |",
        f"| Graph calls in {last.at:.0f} s from the first start: {REPLICAS} replicas vs one "
        f"(one's soak at {reference.at:.0f} s) | {last.calls:,} vs {reference.calls:,} "
        f"({diff:+.1f} %) | within {GOAL_CALLS_PCT:g} %: "
        + ("**met**" if calls_ok else f"**not met** ({abs(diff) - GOAL_CALLS_PCT:.1f} points out)")
        + " |",
        f"| Graph calls by endpoint, {REPLICAS} replicas | {_endpoints(three.endpoints)} | |",
        f"| polls (workers' metric), all replicas / feeds | {polls:,.0f} / {one.feeds:,} "
        f"({_round(polls, one.feeds)}; by replica: "
        + ", ".join(f"{p:,.0f}" for p in three.polls)
        + ") | |",
        "| worker CPU of each replica, steady → end | "
        + ", ".join(f"{c:.1f} %" for c in cpu)
        + " | |",
        f"| warning- and error-level log events, all replicas | {_events(three.problems)} | |",
        "",
        f"Trace (s since the first start → largest RSS / Graph calls so far): "
        f"{_trace(three.samples)}.",
    ]


def _render(plan: Plan, one: OneRun, three: ReplicaRun) -> str:
    feeds = plan.hashtag_feeds
    return "\n".join(
        [
            f"## Agency scale: {plan.accounts} accounts × {plan.tags} hashtags, {feeds:,} feeds",
            "",
            f"{plan.accounts} accounts × {plan.tags} hashtags × 2 edges (recent_media, "
            f"top_media) = {feeds:,} hashtag feeds, plus {plan.accounts} `/tags` feeds and the "
            f"webhook inbox (mentions on, app secret set), {one.feeds:,} feeds in all. Real "
            "processes on loopback: the Graph API simulator, a SecantusDB server and the worker"
            " (`python -m listener run --config …`), each a process of its own on a 2-core "
            "machine (another benchmark may share it). The world publishes nothing: no posts, "
            "no history, no tagged media, so nothing new arrives. Polling at the worker's "
            "defaults (adaptive, hashtag target 300 s, tags 600 s, floor 60 s, ceiling "
            f"3,600 s, jitter ±10 %); app budget {APP_USERS:,} app users so that the "
            f"governor's spacing never binds; log level info. Start-up = from the process's "
            "start to the first `/readyz` 200 (imports, config, MongoDB, building the feeds). "
            f"RSS = `VmRSS`, worker CPU = user + system time of its process, both every "
            f"{SAMPLE_S:g} s; steady = the first sample after a {plan.warmup_s:.0f} s "
            f"warm-up, growth = from there to the end of a {plan.soak_s:.0f} s soak. The "
            "worker's CPU is all of its work: scheduling, lease heartbeats, rate-limit "
            "sharing, the inbox's idle claims, and the polls themselves (each finding nothing "
            f"new): {RUN_S_DOC}. Graph calls = every call the simulator served. MB = 10⁶ "
            "bytes.",
            "",
            *_render_one(plan, one),
            "",
            f"The same world and config in {REPLICAS} replicas (`[cluster] replica` r0, r1, "
            "r2; lease TTL 60 s), started one after another, on a fresh database; "
            f"{plan.run_s:.0f} s from the first start. Hand-overs: lease events each replica "
            "logged after the warm-up.",
            "",
            *_render_three(plan, one, three),
        ]
    )


def report(plan: Plan, workdir: Path) -> str:
    """Both runs of ``plan`` in ``workdir``, rendered."""
    one_dir, three_dir = workdir / "one", workdir / "three"
    one_dir.mkdir()
    three_dir.mkdir()
    one = _one_replica(plan, one_dir)
    three = _three_replicas(plan, three_dir)
    return _render(plan, one, three)


def section(*, quick: bool = False) -> str:
    """The markdown section for RESULTS.md."""
    plan = Plan.chosen(quick=quick)
    _say(f"{plan}")
    with tempfile.TemporaryDirectory(prefix="bench-agency-") as tmp:
        return report(plan, Path(tmp))


if __name__ == "__main__":
    print(section(quick="--quick" in sys.argv))
