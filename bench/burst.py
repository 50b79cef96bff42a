"""Webhook burst: one replica takes 20,000 signed ``mentions`` changes, then drains them.

Real processes on loopback, on the shared harness (:mod:`testbed`): SecantusDB, the Graph API
simulator (whose world holds a post for every change, each @mentioning the account) and one
worker (``python -m listener run``). This process is Meta: 50 concurrent aiohttp senders post
the changes in deliveries of 1 to 100 changes (sizes drawn with a fixed seed), signed with the
app secret, and retry a delivery that was not answered 200 (a refused connection, a 5xx, a
time-out) with growing gaps, as Meta does.

- **Acknowledged changes per second**: changes ÷ the time from the first send to the last 200,
  against a raw ``insert_many`` of the same inbox documents, one per delivery from 50
  concurrent tasks, into an inbox collection of the same server with the same indexes.
- **Time to the 200** of each delivery, from its first send (retries included).
- **Drain**: from the last 200 until no change waits in the inbox; every change costs one
  ``mentioned_media`` call from the account's business-use-case budget.
- **Lost and duplicated**: every acknowledged change must be in the inbox once and done, and
  its media stored once with the mention as a source.
- **Inbox metrics**: ``/metrics`` is scraped every second and the store's truth (changes
  pending or claimed, and the oldest one's ``received_at``, from one aggregate as the worker
  reads them) is read every two seconds, or
  less often while a read takes more than a second (each costs the inbox's size on SecantusDB,
  and the reads may take at most a third of the server's time); the
  worker refreshes the gauges every ``STATS_EVERY_S``, so a scrape is correct when it equals
  the truth at some moment of the refresh period before it.
- **Kill variant**: the same burst, the replica killed (SIGKILL) once 40 % of the changes are
  acknowledged and started again at once on the same port.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import random
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import aiohttp
from pymongo import AsyncMongoClient, MongoClient

from listener.pollers.inbox import STATS_EVERY_S
from listener.simulator import SimAccount, SimulatorConfig
from listener.store.inbox import (
    DEFAULT_RETENTION,
    DUE_BATCH,
    STATS_PIPELINE,
    InboxRepository,
    _document,
    claim_queries,
)
from listener.web.payload import parse_delivery
from listener.web.signature import sign
from testbed import Scrape, Simulator, Worker, free_port, secantus, write_config

CHANGES: Final = 20_000
QUICK_CHANGES: Final = 500
SENDERS: Final = 50
MAX_PER_DELIVERY: Final = 100
SEED: Final = 16
KILL_AT: Final = 0.4  # share of the changes acknowledged when the replica is killed
RETRY_DELAYS_S: Final = (0.25, 0.5, 1.0, 2.0)  # then 2 s each time; Meta's gaps, shortened
BUDGET_PER_HOUR: Final = (
    100_000  # the account's business-use-case calls (Meta: 4,800 × impressions / 24 h)
)
INBOX_WORKERS: Final = 2  # the default
SAMPLE_S: Final = 2.0  # a read of the truth costs the size of the inbox index on SecantusDB
SCRAPE_S: Final = 1.0
DRAIN_LIMIT_S: Final = float(os.environ.get("LISTENER_BENCH_DRAIN_S", "1800"))
"""The drain is watched this long at most: 20,000 changes at the ~19 /s one replica drains on
this machine while the truth is read beside it take ~18 min; the budget alone allows 27.8 /s."""
QUICK_DRAIN_LIMIT_S: Final = 90.0
SLACK_S: Final = 1.0  # clock slack when matching a scrape to the truth
RATIO_GOAL: Final = 0.7
APP_SECRET: Final = "bench-app-secret"
DATABASE: Final = "burst"
ACCOUNT: Final = SimAccount("17841400000000016", "bench-burst-token", "brand")


def _say(message: str) -> None:
    print(f"[burst {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _deliveries(media_ids: Sequence[str], seed: int) -> list[bytes]:
    """The changes cut into deliveries of 1 to 100 changes, as Meta's JSON bodies."""
    rng = random.Random(seed)
    bodies = []
    at = int(time.time())
    start = 0
    while start < len(media_ids):
        size = rng.randint(1, MAX_PER_DELIVERY)
        changes = [
            {"field": "mentions", "value": {"media_id": media_id}}
            for media_id in media_ids[start : start + size]
        ]
        envelope = {
            "object": "instagram",
            "entry": [{"id": ACCOUNT.ig_user_id, "time": at, "changes": changes}],
        }
        bodies.append(json.dumps(envelope).encode())
        start += size
    return bodies


async def _publish(simulator: Simulator, count: int) -> list[str]:
    """``count`` posts that @mention the account, published in the simulator's world."""
    url = f"{simulator.base_url}/__sim/posts"
    ids: list[str] = [""] * count
    limit = asyncio.Semaphore(SENDERS)

    async def one(session: aiohttp.ClientSession, n: int) -> None:
        async with limit, session.post(url, json={"caption": f"drop {n} from @brand"}) as reply:
            reply.raise_for_status()
            ids[n] = str((await reply.json())["id"])

    async with aiohttp.ClientSession() as session:
        await asyncio.gather(*(one(session, n) for n in range(count)))
    return ids


# -- the raw insert ------------------------------------------------------------------------


async def _raw_insert(uri: str, bodies: Sequence[bytes]) -> float:
    """Changes per second of a raw ``insert_many`` of the deliveries' inbox documents."""
    now = datetime.now(UTC)
    batches = [
        [_document(event, now, DEFAULT_RETENTION) for event in parse_delivery(body).events]
        for body in bodies
    ]
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri, tz_aware=True)
    collection = client["raw_insert"]["inbox"]
    try:
        await InboxRepository(collection).ensure_indexes()
        queue = list(reversed(batches))

        async def sender() -> None:
            while queue:
                await collection.insert_many(queue.pop(), ordered=False)

        started = time.perf_counter()
        await asyncio.gather(*(sender() for _ in range(SENDERS)))
        seconds = time.perf_counter() - started
    finally:
        await client.drop_database("raw_insert")
        await client.close()
    return sum(len(b) for b in batches) / seconds


# -- watching the store and the metrics ----------------------------------------------------


@dataclass
class Watch:
    """The store's truth and the worker's gauges over time (epoch seconds)."""

    truth: list[tuple[float, int, float | None]] = field(default_factory=list)  # t, depth, oldest
    scrapes: list[tuple[float, float, float]] = field(default_factory=list)  # t, depth, age
    scrape_failures: int = 0


def _truth(uri: str, watch: Watch, stop: threading.Event) -> None:
    inbox: Any = MongoClient(uri, tz_aware=True)[DATABASE]["inbox"]
    while not stop.is_set():
        before = time.time()
        found = list(inbox.aggregate(STATS_PIPELINE))  # the worker's own read
        at = (before + time.time()) / 2
        depth = int(found[0]["depth"]) if found else 0
        when = found[0]["oldest"].timestamp() if found else None
        watch.truth.append((at, depth, when))
        # A read costs the inbox's size: at most a third of the server's time goes to reading it.
        stop.wait(max(SAMPLE_S, 2 * (time.time() - before)))
    inbox.database.client.close()


def _scraper(worker_url: list[str], watch: Watch, stop: threading.Event) -> None:
    import urllib.request  # noqa: PLC0415 - only this thread needs it

    while not stop.is_set():
        try:
            with urllib.request.urlopen(f"{worker_url[0]}/metrics", timeout=5) as reply:
                text = reply.read().decode()
            at = time.time()
            scrape = Scrape.parse(text)
            watch.scrapes.append(
                (
                    at,
                    scrape.total("listener_inbox_depth"),
                    scrape.total("listener_inbox_oldest_pending_age_seconds"),
                )
            )
        except OSError:
            watch.scrape_failures += 1  # the replica is down (the kill variant)
        stop.wait(SCRAPE_S)


def check_gauges(
    truth: Sequence[tuple[float, int, float | None]],
    scrapes: Sequence[tuple[float, float, float]],
    refresh_s: float,
    slack_s: float = SLACK_S,
) -> tuple[int, int, int]:
    """(scrapes checked, depth wrong, age wrong): a scrape at ``t`` is right when it equals the
    truth at some moment of ``[t - refresh_s - slack_s, t]``.

    Between two truth samples the depth lies between theirs, and the oldest change is one of
    theirs; an age read at a moment ``s`` is ``s - oldest`` (0 with nothing waiting). Scrapes
    before the first or after the last truth sample are not judged.
    """
    checked = depth_wrong = age_wrong = 0
    for at, depth, age in scrapes:
        pairs = [
            (a, b)
            for a, b in itertools.pairwise(truth)
            if b[0] >= at - refresh_s - slack_s and a[0] <= at + slack_s
        ]
        if not pairs or truth[0][0] > at - refresh_s or truth[-1][0] < at:
            continue
        checked += 1
        if not any(min(a[1], b[1]) <= depth <= max(a[1], b[1]) for a, b in pairs):
            depth_wrong += 1
        ages: list[tuple[float, float]] = []
        for a, b in pairs:
            for oldest in (a[2], b[2]):
                if oldest is None:
                    ages.append((0.0, 0.0))
                else:
                    ages.append((a[0] - oldest - slack_s, b[0] - oldest + slack_s))
        if not any(low - slack_s <= age <= high + slack_s for low, high in ages):
            age_wrong += 1
    return checked, depth_wrong, age_wrong


# -- one run -------------------------------------------------------------------------------


@dataclass
class Run:
    """What one burst gave."""

    kill: bool
    changes: int = 0
    deliveries: int = 0
    burst_s: float = 0.0
    latencies_s: list[float] = field(default_factory=list)
    attempts: int = 0
    refused: dict[str, int] = field(default_factory=dict)  # status or error → count
    drain_s: float = 0.0
    drained: bool = False
    settled_at_end: int = 0  # changes done (or dead) when the drain was last watched
    restart_s: float = 0.0  # from the kill to the new process's open port
    killed_at: int = 0  # changes acknowledged when the replica was killed
    inbox: dict[str, int] = field(default_factory=dict)
    acked_missing: int = 0
    not_done: int = 0  # acknowledged and still waiting when the drain was last watched
    done_without_media: int = 0
    duplicated_inbox: int = 0
    media_stored: int = 0
    media_doubled: int = 0
    reprocessed: int = 0  # events claimed more than once (the killed replica's claims)
    duplicate_changes: float = 0.0  # changes the worker counted as already stored
    graph_calls: dict[str, int] = field(default_factory=dict)
    graph_refused: int = 0
    gauges: tuple[int, int, int] = (0, 0, 0)
    max_depth: int = 0
    max_age_s: float = 0.0
    raw_rate: float = 0.0
    claim_plan: str = ""

    @property
    def rate(self) -> float:
        """Acknowledged changes per second."""
        return self.changes / self.burst_s if self.burst_s else 0.0


def _config(uri: str, base_url: str, port: int) -> dict[str, Any]:
    return {
        "graph": {"base_url": base_url, "app_secret": APP_SECRET, "timeout_s": 10},
        "store": {"mongodb_uri": uri, "database": DATABASE, "timeout_s": 10},
        "server": {"host": "127.0.0.1", "port": port},
        "polling": {"inbox_workers": INBOX_WORKERS, "inbox_claim_s": 60},
        "ratelimit": {"account_calls_per_hour": BUDGET_PER_HOUR},
        "cluster": {"replica": "burst-0", "lease_ttl_s": 10},
        "accounts": [
            {
                "name": "brand",
                "ig_user_id": ACCOUNT.ig_user_id,
                "username": ACCOUNT.username,
                "access_token": ACCOUNT.access_token,
                "hashtags": [],
                "tags": False,
                "mentions": True,
            }
        ],
    }


class _Sender:
    """Meta's side: deliveries from a shared queue, each retried until it is answered 200."""

    def __init__(self, url: str, bodies: Sequence[bytes], run: Run) -> None:
        self.url = url
        self.queue = list(enumerate(bodies))
        self.queue.reverse()
        self.counts = [len(parse_delivery(b).events) for b in bodies]
        self.run = run
        self.acked = 0
        self.acked_changes = asyncio.Condition()

    async def send_all(self, session: aiohttp.ClientSession) -> None:
        while self.queue:
            n, body = self.queue.pop()
            await self._deliver(session, n, body)

    async def _deliver(self, session: aiohttp.ClientSession, n: int, body: bytes) -> None:
        headers = {
            "Content-Type": "application/json",
            "X-Hub-Signature-256": sign(body, APP_SECRET),
        }
        first = time.perf_counter()
        tries = 0
        while True:
            self.run.attempts += 1
            try:
                async with session.post(self.url, data=body, headers=headers) as reply:
                    await reply.read()
                    outcome = str(reply.status)
            except (aiohttp.ClientError, TimeoutError) as exc:
                outcome = type(exc).__name__
            if outcome == "200":
                break
            self.run.refused[outcome] = self.run.refused.get(outcome, 0) + 1
            await asyncio.sleep(RETRY_DELAYS_S[min(tries, len(RETRY_DELAYS_S) - 1)])
            tries += 1
        self.run.latencies_s.append(time.perf_counter() - first)
        async with self.acked_changes:
            self.acked += self.counts[n]
            self.acked_changes.notify_all()


async def _burst(run: Run, bodies: Sequence[bytes], port: int, due: threading.Event) -> None:
    """Send every delivery; set ``due`` once ``KILL_AT`` of the changes are acknowledged."""
    sender = _Sender(f"http://127.0.0.1:{port}/webhooks/instagram", bodies, run)
    timeout = aiohttp.ClientTimeout(total=30)
    connector = aiohttp.TCPConnector(limit=SENDERS)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:

        async def watch() -> None:
            async with sender.acked_changes:
                await sender.acked_changes.wait_for(lambda: sender.acked >= KILL_AT * run.changes)
            run.killed_at = sender.acked
            due.set()

        started = time.perf_counter()
        watcher = asyncio.create_task(watch())
        await asyncio.gather(*(sender.send_all(session) for _ in range(SENDERS)))
        run.burst_s = time.perf_counter() - started
        watcher.cancel()


def _burst_and_kill(
    run: Run, bodies: Sequence[bytes], worker: list[Worker], port: int, fresh: Callable[[], Worker]
) -> None:
    """The burst in a thread of its own; the kill and the restart (kill variant) here.

    Processes are started from this (the main) thread: they are told to stop when the thread
    that started them ends (``PR_SET_PDEATHSIG``), and this one outlives the run.
    """
    due = threading.Event()
    failure: list[BaseException] = []

    def send() -> None:
        try:
            asyncio.run(_burst(run, bodies, port, due))
        except BaseException as exc:  # reported in the main thread
            failure.append(exc)
        finally:
            due.set()

    thread = threading.Thread(target=send, name="burst", daemon=True)
    thread.start()
    if run.kill:
        due.wait()
        if thread.is_alive():
            clock = time.perf_counter()
            worker[-1].kill()
            _say(f"killed the replica at {run.killed_at:,} changes acknowledged")
            worker.append(fresh().start())
            run.restart_s = time.perf_counter() - clock
            _say(f"restarted in {run.restart_s:.1f} s")
    thread.join()
    if failure:
        raise failure[0]


def _settled(uri: str, run: Run, bodies: Sequence[bytes], media_ids: Sequence[str]) -> None:
    """Lost and duplicated, read from the store once the inbox is drained."""
    db: Any = MongoClient(uri, tz_aware=True)[DATABASE]
    keys = {}
    for body in bodies:
        for event in parse_delivery(body).events:
            keys[event.key] = event.media_id
    statuses: dict[str, int] = {}
    seen = set()
    for doc in db["inbox"].find({}, {"status": 1, "attempts": 1}):
        statuses[doc["status"]] = statuses.get(doc["status"], 0) + 1
        run.duplicated_inbox += doc["_id"] in seen
        seen.add(doc["_id"])
        run.reprocessed += int(doc.get("attempts", 1)) > 1
        if doc["_id"] in keys and doc["status"] != "done":
            run.not_done += 1
    run.inbox = statuses
    run.acked_missing = len(set(keys) - seen)
    run.settled_at_end = statuses.get("done", 0) + statuses.get("dead", 0)
    done = {
        keys[doc["_id"]]
        for doc in db["inbox"].find({"status": "done"}, {"_id": 1})
        if doc["_id"] in keys
    }
    stored = set()
    for doc in db["media"].find({"_id": {"$in": list(media_ids)}}, {"sources": 1}):
        stored.add(doc["_id"])
        mentions = [s for s in doc.get("sources", []) if s.get("kind", "").startswith("mention")]
        run.media_doubled += len(mentions) > 1
    run.media_stored = len(stored)
    run.done_without_media = len(done - stored)
    run.claim_plan = _claim_plan(db)
    db.client.close()


def _claim_plan(db: Any) -> str:
    """How the server runs the inbox claim's queries (``claim_queries``: expired claims, and
    the look for due events that reads a batch of ids): the plan of the look, and the
    documents both examine."""
    stages: list[str] = []
    examined = 0
    for query, order in claim_queries(datetime.now(UTC)):
        plan = db.command(
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
        stage, stages = plan["queryPlanner"]["winningPlan"], []
        while stage:
            stages.append(stage["stage"])
            stage = stage.get("inputStage")
        examined += plan["executionStats"]["totalDocsExamined"]
    return f"{' ← '.join(stages)}, {examined:,} documents examined"


def _drain(watch: Watch, worker: list[Worker], limit_s: float) -> tuple[float, bool]:
    """Seconds until the store's truth shows nothing waiting, at most ``limit_s``, and
    whether it got there; then one more refresh period, so that the gauges are seen again."""
    clock = time.perf_counter()
    since = time.time()  # only a read of the truth begun after the burst counts
    drained = False
    while time.perf_counter() - clock < limit_s:
        latest = watch.truth[-1] if watch.truth else (0.0, 1, None)
        if latest[0] - SAMPLE_S > since and latest[1] == 0:
            drained = True
            break
        worker[-1].stays_up_for(SAMPLE_S)
    seconds = time.perf_counter() - clock
    worker[-1].stays_up_for(STATS_EVERY_S + 2 * SCRAPE_S)
    return seconds, drained


def _variant(kill: bool, changes: int, drain_limit_s: float, workdir: Path) -> Run:
    run = Run(kill=kill, changes=changes)
    _say(f"{'kill' if kill else 'plain'}: {changes:,} changes")
    with secantus(workdir / "db") as server:
        config = SimulatorConfig(
            seed=SEED,
            accounts=(ACCOUNT,),
            default_rate_per_hour=0.0,
            backfill_hours=0.0,
            tag_rate_per_hour=0.0,
            app_secret=APP_SECRET,
            app_calls_per_hour=10_000_000,
            buc_calls_per_hour=BUDGET_PER_HOUR,
        )
        simulator = Simulator(free_port(), workdir / "simulator.log", config)
        simulator.start()
        worker: list[Worker] = []
        stop = threading.Event()
        watch = Watch()
        threads: list[threading.Thread] = []
        try:
            clock = time.perf_counter()
            media_ids = asyncio.run(_publish(simulator, changes))
            _say(f"published {changes:,} posts in {time.perf_counter() - clock:.0f} s")
            bodies = _deliveries(media_ids, SEED)
            run.deliveries = len(bodies)
            run.raw_rate = asyncio.run(_raw_insert(server.uri, bodies))
            _say(f"raw insert: {run.raw_rate:,.0f} changes/s")
            port = free_port()
            path = write_config(
                workdir / "worker.toml", _config(server.uri, simulator.base_url, port)
            )

            def fresh() -> Worker:
                return Worker(path, workdir / f"worker-{len(worker)}.log", log_level="info")

            worker.append(fresh().start())
            url = [worker[-1].url]
            threads = [
                threading.Thread(target=_truth, args=(server.uri, watch, stop), daemon=True),
                threading.Thread(target=_scraper, args=(url, watch, stop), daemon=True),
            ]
            for thread in threads:
                thread.start()
            _burst_and_kill(run, bodies, worker, port, fresh)
            _say(f"burst: {run.rate:,.0f} changes/s acknowledged; draining")
            run.drain_s, run.drained = _drain(watch, worker, drain_limit_s)
            _say(f"drained in {run.drain_s:.0f} s")
            stop.set()
            for thread in threads:
                thread.join()
            run.duplicate_changes = worker[-1].metric(
                "listener_webhook_events_total", field="delivery", outcome="duplicate"
            )
            calls = simulator.stats(log=False)
            run.graph_calls = {row["endpoint"]: int(row["count"]) for row in calls["calls"]}
            run.graph_refused = sum(n for k, n in calls["outcomes"].items() if k != "ok")
            worker[-1].stop()
            _settled(server.uri, run, bodies, media_ids)
        finally:
            stop.set()
            for w in worker:
                w.ensure_stopped()
            simulator.stop()
    run.gauges = check_gauges(watch.truth, watch.scrapes, STATS_EVERY_S)
    run.max_depth = max((d for _, d, _ in watch.truth), default=0)
    run.max_age_s = max((t - o for t, _, o in watch.truth if o is not None), default=0.0)
    return run


# -- rendering -----------------------------------------------------------------------------


def _pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else 0.0


def _met(ok: bool) -> str:
    return "**met**" if ok else "**not met**"


def _drain_cell(run: Run) -> str:
    # Events are worked off from the first delivery on: the rate counts from there.
    rate = run.settled_at_end / max(run.burst_s + run.drain_s, 1e-9)
    if run.drained:
        return f"{run.drain_s:.0f} s ({rate:,.1f} /s)"
    left = run.changes - run.settled_at_end
    return (
        f"not drained: {run.settled_at_end:,} settled in {run.drain_s:.0f} s "
        f"(since the first delivery: {rate:,.1f} /s); {left:,} left"
    )


def _render(runs: Sequence[Run]) -> str:
    plain = runs[0]
    ratio = plain.rate / plain.raw_rate
    rows = []
    for run in runs:
        lost = run.acked_missing + run.done_without_media
        duplicated = run.duplicated_inbox + run.media_doubled
        checked, depth_wrong, age_wrong = run.gauges
        budget = sum(run.graph_calls.values())
        rows += [
            f"| {'kill -9 mid-burst' if run.kill else 'plain'} | {run.changes:,} in "
            f"{run.deliveries:,} deliveries | {run.rate:,.0f} /s ({run.burst_s:.1f} s) | "
            f"{run.raw_rate:,.0f} /s | {run.rate / run.raw_rate:.2f} | "
            f"{_pct(run.latencies_s, 0.5) * 1000:.0f} ms / {_pct(run.latencies_s, 0.99) * 1000:.0f}"
            f" ms | {_drain_cell(run)} | "
            f"{budget:,} ({run.graph_refused} refused) | **{lost}** | **{duplicated}** | "
            f"{checked - depth_wrong}/{checked}, {checked - age_wrong}/{checked} |"
        ]
    kill = next((r for r in runs if r.kill), None)
    notes = []
    for run in runs:
        notes.append(
            f"- {'kill -9' if run.kill else 'plain'}: inbox at the end {run.inbox}; "
            f"acknowledged but absent {run.acked_missing}, still waiting {run.not_done}, done "
            f"without the media stored {run.done_without_media}; media "
            f"stored {run.media_stored:,} of {run.changes:,}, with the mention twice "
            f"{run.media_doubled}; claimed more than once {run.reprocessed}; changes the "
            f"worker found already stored (retried deliveries) {run.duplicate_changes:,.0f}; "
            f"senders' attempts {run.attempts:,} for {run.deliveries:,} deliveries, refusals "
            f"{run.refused or 'none'}; deepest inbox {run.max_depth:,}, oldest wait "
            f"{run.max_age_s:.0f} s; Graph calls {run.graph_calls}; the plan of the inbox's look "
            f"for due events (one look per {DUE_BATCH} claims, then a claim by `_id` each) at "
            f"the end: {run.claim_plan}."
        )
    lost_all = sum(r.acked_missing + r.done_without_media for r in runs)
    drained_all = all(r.drained for r in runs)
    dup_all = sum(r.duplicated_inbox + r.media_doubled for r in runs)
    gauges_ok = all(r.gauges[1] == 0 and r.gauges[2] == 0 for r in runs)
    within = all(
        r.graph_refused == 0 and sum(r.graph_calls.values()) <= BUDGET_PER_HOUR for r in runs
    )
    return "\n".join(
        [
            "## Webhook burst: one replica, 20,000 signed mentions",
            "",
            __doc__.split("\n\n", 1)[1].strip() if __doc__ else "",
            "",
            f"The worker: `inbox_workers = {INBOX_WORKERS}`, the account's budget "
            f"{BUDGET_PER_HOUR:,} calls/h (`ratelimit.account_calls_per_hour`, the simulator "
            "the same), majority-acknowledged inbox writes on a single-node replica set.",
            "",
            "| run | changes | acknowledged | raw insert | ÷ raw | time to 200, p50 / p99 | "
            "drain | Graph calls | lost | duplicated | gauges right (depth, age) |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
            *rows,
            "",
            *notes,
            (
                f"- kill -9 at {kill.killed_at:,} changes acknowledged; the new process "
                f"answered after {kill.restart_s:.1f} s."
                if kill
                else ""
            ),
            "",
            "| goal | result | verdict |",
            "|---|---|---|",
            f"| acknowledged ÷ raw insert ≥ {RATIO_GOAL} (plain run) | {ratio:.2f} | "
            f"{_met(ratio >= RATIO_GOAL)} |",
            f"| lost = 0, duplicated = 0 (both runs) | {lost_all}, {dup_all} | "
            f"{_met(lost_all == 0 and dup_all == 0)} |",
            f"| drained, within the budget (no call refused, calls ≤ {BUDGET_PER_HOUR:,}/h) | "
            f"{'drained' if drained_all else 'not drained in the time watched'}; budget "
            f"{'kept' if within else 'exceeded'} | {_met(within and drained_all)} |",
            f"| inbox depth and oldest-age gauges equal the store's truth within their "
            f"{STATS_EVERY_S:g} s refresh | "
            + ", ".join(f"{r.gauges[0]} scrapes, {r.gauges[1]}/{r.gauges[2]} wrong" for r in runs)
            + f" | {_met(gauges_ok)} |",
            "",
        ]
    )


def section(*, quick: bool = False) -> str:
    """The markdown section for RESULTS.md."""
    changes = QUICK_CHANGES if quick else CHANGES
    limit = QUICK_DRAIN_LIMIT_S if quick else DRAIN_LIMIT_S
    started = time.perf_counter()
    runs = []
    for kill in (False, True):
        with tempfile.TemporaryDirectory(prefix="bench-burst-") as tmp:
            runs.append(_variant(kill, changes, limit, Path(tmp)))
    wall = time.perf_counter() - started
    return _render(runs) + f"\n_Run in {wall:.0f} s._\n"


if __name__ == "__main__":
    print(section(quick="--quick" in sys.argv))
