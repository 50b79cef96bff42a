"""A comment giveaway read completely: webhooks dropped at random, the poller, export and draw.

Per size (5,000 and 50,000 comments; ``--quick``: 500 and 2,000), one giveaway post of the
brand account on the simulator (:mod:`listener.simulator`, in this process, on a
:class:`~listener.simulator.clock.ManualClock`) and a fresh database on a standalone SecantusDB
server in its own process (a replica set's retryable-write records cost every write a sort once
past their cap; the section's text says why that is left out):

1. The comments are published, a second apart, each with its signed ``comments`` webhook, of
   which :data:`DROP_RATIO` are dropped at random (``World.webhook_drop_ratio``).
2. The first half of the webhooks left are POSTed to the worker's own web server (its real
   receiver, signature checked, stored in the inbox) and worked off by the inbox worker's own
   handler, claimed in batches rather than one by one (see :func:`work_off` for why).
3. The comments poller (``CommentsFeed``, built by ``listener.assembly``, under the worker's
   scheduler and governor on :class:`~listener.simulator.clock.VirtualTime`, so pacing costs
   no real time) reads the post until a poll ends without hitting its page bound.
4. The second half of the webhooks arrive late (Meta retries for 36 hours), after the read.
5. The worker's settling pass, which judged the giveaway all along (every
   :data:`SETTLE_EVERY` comments stored, see :class:`SettlingIngestor`), judges it once more,
   and the stored ``comments`` are compared with the simulator's truth (``World.truth``): missing,
   duplicated (documents beyond the truth's, or not in it), and fields that differ.
6. ``listener export entrants``, ``listener draw commit``, ``listener draw`` and ``listener draw
   verify`` run as the organiser would, each in a fresh process (:mod:`bench.peak`), on a
   config file written for the database: the export's wall time and peak resident memory (its
   own settling pass included, which finds nothing changed), and whether the draw verifies.

Graph calls are counted by the simulator (every endpoint, every outcome); the bound of a full
read is ⌈comments ÷ 50⌉ comment pages plus one media listing per poll.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import aiohttp
from prometheus_client import CollectorRegistry
from pymongo.asynchronous.database import AsyncDatabase

from bench.harness import ACCOUNT, ACCOUNT_NAME, API_VERSION, APP_SECRET, fresh_database
from listener.app import sentiment_scorer
from listener.assembly.graph import graph_client, retry_policy
from listener.assembly.pollers import comment_feeds, inbox, pacing, scheduler
from listener.assembly.ratelimit import governor, policy_for
from listener.assembly.web import web_server, webhook_receiver
from listener.contests.comment_settling import CommentSettling
from listener.enrich.enricher import Scorer
from listener.graph.instagram import Credentials, InstagramApi
from listener.logs import configure_logging
from listener.metrics import Metrics
from listener.models import Comment, CommentSource
from listener.pollers.accounts import Accounts
from listener.pollers.comment_ingest import CommentIngestor
from listener.pollers.context import PollerContext
from listener.pollers.feed import Feed, PollResult
from listener.pollers.inbox import InboxWorker
from listener.pollers.ingest import Ingestor
from listener.settings import Settings, load_settings
from listener.simulator import SimulatorConfig, World, serve
from listener.simulator.clock import ManualClock, VirtualTime
from listener.simulator.webhooks import comment_envelope, signature
from listener.store.comments import CommentIngest
from listener.store.mongo import Document
from listener.store.store import Store
from testbed import secantus, write_config
from testbed.processes import ROOT

SIZES: Final = (5_000, 50_000)
RETRYABLE_RECORDS: Final = 10_000  # SecantusDB 0.7: retryable-write replies kept, at most
QUICK_SIZES: Final = (500, 2_000)
DROP_RATIO: Final = 0.3
CALLS_GOAL: Final = 1.10
MEMORY_GOAL: Final = 1.2  # "flat": the export's peak at the largest size ÷ at the smallest
COMMENTS_PAGE: Final = 50
T0: Final = datetime(2026, 12, 1, tzinfo=UTC)
SHORTCODE: Final = "BenchGiveaway"
CAMPAIGN: Final = "bench-giveaway"
DRAW_SEED: Final = "a seed nobody knows"
WINNERS: Final = 3
ALTERNATES: Final = 2
DELIVERIES_AT_ONCE: Final = 8  # webhook POSTs in flight together, as Meta sends them
WORKER: Final = "bench-inbox"
PROGRESS_EVERY: Final = 5_000  # inbox events between two progress lines
SETTLE_EVERY: Final = 2_500  # comments stored between two settling passes (SettlingIngestor)
STORE_TIMEOUT_S: Final = 120.0  # the most settings allow: SecantusDB writes a bulk slowly
WHO: Final = Credentials(ACCOUNT_NAME, ACCOUNT.ig_user_id, ACCOUNT.access_token)


def _say(message: str) -> None:
    print(f"[comments {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@dataclass
class Giveaway:
    """What one size gave."""

    comments: int
    dropped: int = 0
    delivered: int = 0  # webhooks the receiver took (200)
    stored: int = 0  # documents in ``comments``
    missing: int = 0  # comments of the truth not stored
    duplicated: int = 0  # documents beyond the truth's: stored twice, or not in it
    differ: int = 0  # stored comments whose text, author or time differ from the truth
    calls: int = 0  # every Graph call of the run
    comment_calls: int = 0
    polls: int = 0
    webhook_s: float = 0.0
    read_s: float = 0.0
    settle_passes: int = 0
    settle_s: float = 0.0  # the worker's settling passes, all of them
    last_settle_s: float = 0.0  # the last one, after the late webhooks
    export_s: float = 0.0
    export_peak_kib: int = 0
    entrants: int = 0
    draw_verified: bool = False
    problems: list[str] = field(default_factory=list)  # what went wrong, if anything did

    @property
    def bound(self) -> int:
        """⌈comments ÷ 50⌉ comment pages, plus one media listing per poll."""
        return math.ceil(self.comments / COMMENTS_PAGE) + self.polls

    @property
    def ratio(self) -> float:
        """Calls ÷ bound."""
        return self.calls / self.bound


def simulator_config() -> SimulatorConfig:
    """A world of the brand account alone: nothing published but what the run adds."""
    return SimulatorConfig(
        seed=11,
        accounts=(ACCOUNT,),
        default_rate_per_hour=0.0,
        backfill_hours=0.0,
        cross_post_ratio=0.0,
        tag_rate_per_hour=0.0,
        app_secret=APP_SECRET,
    )


def worker_config(mongo_uri: str, database: str) -> dict[str, Any]:
    """The worker's (and the organiser's commands') config: the brand with comments on, and
    the giveaway on its post, given by permalink."""
    return {
        "graph": {"api_version": API_VERSION, "app_secret": APP_SECRET},
        "store": {"mongodb_uri": mongo_uri, "database": database, "timeout_s": STORE_TIMEOUT_S},
        "server": {"host": "127.0.0.1", "port": 0, "webhook_verify_token": "bench"},
        "polling": {"comment_posts": 0},
        "ratelimit": {"account_calls_per_hour": 4800},  # the simulator's BUC budget
        "accounts": [
            {
                "name": ACCOUNT_NAME,
                "ig_user_id": ACCOUNT.ig_user_id,
                "access_token": ACCOUNT.access_token,
                "username": ACCOUNT.username,
                "hashtags": [],
                "tags": False,
                "mentions": False,
                "comments": True,
            }
        ],
        "campaigns": [
            {
                "id": CAMPAIGN,
                "account": ACCOUNT_NAME,
                "kind": "comments",
                "posts": [f"https://www.instagram.com/p/{SHORTCODE}/"],
                "starts_at": T0,
                "ends_at": T0 + timedelta(days=30),
                "min_mentions": 1,
                "one_entry_per_user": True,
            }
        ],
    }


class SettlingIngestor(CommentIngestor):
    """The worker's comment ingestor, and its settling pass run inline every
    :data:`SETTLE_EVERY` comments stored (the worker runs it every minute, beside the ingest).

    A pass judges the whole giveaway and writes only the verdicts that changed, in one bulk:
    run once over everything at the end, it would write every verdict at once, which on
    SecantusDB takes longer than any store timeout at 50,000 comments.
    """

    def __init__(self, store: Store, metrics: Metrics, scorer: Scorer, settings: Settings) -> None:
        super().__init__(store, metrics, scorer)
        self._settling = CommentSettling(store, settings, self.take_changed)
        self._since = 0
        self.passes = 0
        self.seconds = 0.0
        self.last_s = 0.0  # the last pass

    async def ingest(
        self, comments: Sequence[Comment], source: CommentSource, seen_at: datetime
    ) -> CommentIngest:
        """Store ``comments``; then the settling pass, when its turn has come."""
        result = await super().ingest(comments, source, seen_at)
        self._since += len(comments)
        if self._since >= SETTLE_EVERY:
            await self.settle()
        return result

    async def settle(self) -> None:
        """One settling pass, timed."""
        self._since = 0
        started = time.perf_counter()
        await self._settling.settle()
        self.last_s = time.perf_counter() - started
        self.seconds += self.last_s
        self.passes += 1


@dataclass
class Parts:
    """The worker's parts the run drives, built by its own factories."""

    settings: Settings
    database: AsyncDatabase[Document]
    store: Store
    context: PollerContext
    ingestor: SettlingIngestor
    virtual: VirtualTime


def build(
    settings: Settings,
    database: AsyncDatabase[Document],
    session: aiohttp.ClientSession,
    base_url: str,
    clock: ManualClock,
) -> Parts:
    """The governed Graph client, the poller context and the comment ingestor."""
    store = Store(database)
    metrics = Metrics(CollectorRegistry())
    virtual = VirtualTime(clock, actors=1)  # the comments feed's loop is the only actor
    governed = governor(
        metrics=metrics,
        policy=policy_for(settings),
        accounts_by_ig_id={WHO.ig_user_id: WHO.account},
        clock=clock,
        sleep=virtual.sleep,
    )
    client = graph_client(
        session=session,
        graph=settings.graph,
        metrics=metrics,
        base_url=base_url,
        retry=retry_policy(settings),
        governor=governed,
        sleep=virtual.sleep,
    )
    context = PollerContext(
        api=InstagramApi(client),
        store=store,
        ingestor=Ingestor(store, metrics),
        accounts=Accounts({WHO.account: WHO}, metrics=metrics, clock=clock),
        metrics=metrics,
        clock=clock,
    )
    ingestor = SettlingIngestor(store, metrics, sentiment_scorer(), settings)
    return Parts(settings, database, store, context, ingestor, virtual)


async def _post_all(
    session: aiohttp.ClientSession, url: str, world: World, outbox: Sequence[tuple[str, str]]
) -> int:
    """POST the queued deliveries, signed, a few at once; how many were answered 200."""
    pending = iter(outbox)
    accepted = 0

    async def sender() -> None:
        nonlocal accepted
        for ig_user_id, comment_id in pending:
            comment = world.comment(comment_id)
            assert comment is not None
            body = json.dumps(comment_envelope(world, ig_user_id, comment)).encode()
            headers = {
                "Content-Type": "application/json",
                "X-Hub-Signature-256": signature(body, APP_SECRET),
            }
            async with session.post(url, data=body, headers=headers) as response:
                accepted += response.status == 200

    async with asyncio.TaskGroup() as group:
        for _ in range(DELIVERIES_AT_ONCE):
            group.create_task(sender())
    return accepted


async def deliver(
    parts: Parts, world: World, outbox: Sequence[tuple[str, str]], session: aiohttp.ClientSession
) -> tuple[int, Counter[str]]:
    """POST ``outbox`` to the worker's web server (its receiver stores them in the inbox), then
    work the inbox off (:func:`work_off`): how many deliveries the receiver took, and the
    outcomes of the events."""
    settings, context = parts.settings, parts.context
    receiver = webhook_receiver(
        settings=settings,
        store=parts.store,
        metrics=context.metrics,
        clock=context.clock,
        arrived=asyncio.Event(),
    )
    async with web_server(
        settings=settings,
        store=parts.store,
        metrics=context.metrics,
        registry=context.metrics.registry,
        webhooks=receiver,
        close_timeout_s=5.0,
    ) as port:
        url = f"http://127.0.0.1:{port}/webhooks/instagram"
        accepted = await _post_all(session, url, world, outbox)
    _say(f"  {accepted:,} webhooks stored in the inbox")
    return accepted, await work_off(parts)


async def work_off(parts: Parts) -> Counter[str]:
    """Settle every inbox event due as the inbox worker does: its store's claim, then its own
    handler (``process``); how many settled with each outcome (``as_delivered`` when the
    change carried the whole comment)."""
    context = parts.context
    worker: InboxWorker = inbox(
        settings=parts.settings,
        context=context,
        accounts_by_ig_id={WHO.ig_user_id: WHO.account},
        replica=WORKER,
        comment_ingestor=parts.ingestor,
    )
    lease = timedelta(seconds=parts.settings.polling.inbox_claim_s)
    outcomes: Counter[str] = Counter()
    while (claimed := await parts.store.inbox.claim(WORKER, context.clock(), lease)) is not None:
        outcomes[await worker.process(claimed)] += 1
        if outcomes.total() % PROGRESS_EVERY == 0:
            _say(f"  {outcomes.total():,} inbox events settled")
    return outcomes


class Watched:
    """The comments feed, its polls counted; ``done`` is set by the first poll that read the
    post to its end (did not stop at its page bound), or once ``max_polls`` were made."""

    def __init__(self, inner: Feed, done: asyncio.Event, max_polls: int) -> None:
        self._inner = inner
        self._done = done
        self._max_polls = max_polls
        self.source = inner.source
        self.scope = inner.scope
        self.interval_s = inner.interval_s
        self.page_size = inner.page_size
        self.polls = 0
        self.complete = False

    @property
    def feature(self) -> str:
        """The wrapped feed's feature."""
        return self._inner.feature

    async def poll(self, fence: int | None = None) -> PollResult:
        """The wrapped feed's poll, counted."""
        self.polls += 1
        try:
            result = await self._inner.poll(fence)
        finally:
            if self.polls >= self._max_polls:
                self._done.set()
        _say(f"  poll {self.polls}: {result.pages} calls, {result.new:,} new")
        if not result.hit_bound:
            self.complete = True
            self._done.set()
        return result


async def read(parts: Parts, comments: int) -> tuple[int, bool]:
    """Run the worker's scheduler on the comments feed until a poll reads the post to its end;
    (polls made, whether one did)."""
    settings, context = parts.settings, parts.context
    feeds = comment_feeds(settings=settings, context=context, ingestor=parts.ingestor)
    assert len(feeds) == 1
    done = asyncio.Event()
    # A read of 200 pages a poll needs ⌈pages ÷ 200⌉ polls; far more means it never ends.
    watched = Watched(feeds[0], done, max_polls=math.ceil(comments / COMMENTS_PAGE / 200) + 20)
    rules = policy_for(settings)
    polls = scheduler(
        feeds=[watched],
        store=parts.store,
        metrics=context.metrics,
        accounts=context.accounts,
        pacing=pacing(
            polling=settings.polling, budget_per_hour=lambda scope: rules(scope).budget_per_hour
        ),
        clock=context.clock,
        wait=parts.virtual.wait,
    )
    await polls.run(done)
    return watched.polls, watched.complete


async def compare(database: AsyncDatabase[Document], world: World, media_id: str) -> Giveaway:
    """The stored comments against the simulator's truth (stored, missing, duplicated, differ
    filled in)."""
    truth = {c.id: c for c in world.truth(media_id)}
    found = Giveaway(comments=len(truth))
    seen: set[str] = set()
    fields = {"media_id": 1, "text": 1, "username": 1, "timestamp": 1}
    async for doc in database["comments"].find({}, fields):
        found.stored += 1
        comment_id = str(doc["_id"])
        seen.add(comment_id)
        expected = truth.get(comment_id)
        if expected is None:
            continue
        if (doc.get("media_id"), doc.get("text"), doc.get("username"), doc.get("timestamp")) != (
            expected.media_id,
            expected.text,
            expected.username,
            expected.timestamp,
        ):
            found.differ += 1
    found.missing = len(truth.keys() - seen)
    found.duplicated = found.stored - len(seen & truth.keys())
    return found


@dataclass(frozen=True)
class Ran:
    """One command's run in a process of its own."""

    exit: int
    seconds: float
    output: str
    peak_rss_kib: int = 0


def command(args: Sequence[str], *, peak: Path | None = None) -> Ran:
    """``listener ARGS…`` in a fresh process (under :mod:`bench.peak` when ``peak`` is where
    its report goes): exit code, wall time, stdout and stderr, and its peak memory."""
    launcher = ["-m", "bench.peak", str(peak)] if peak is not None else ["-m", "listener"]
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, *launcher, *args], cwd=ROOT, capture_output=True, text=True, check=False
    )
    seconds = time.perf_counter() - started
    output = (done.stdout + done.stderr).strip()
    if peak is None or done.returncode != 0:
        return Ran(done.returncode, seconds, output)
    report = json.loads(peak.read_text(encoding="utf-8"))
    return Ran(done.returncode, seconds, output, int(report["peak_rss_kib"]))


def _failed(what: str, ran: Ran) -> str:
    last = ran.output.splitlines()[-1:] or ["(no output)"]
    return f"{what} exited {ran.exit}: {last[0][:200]}"


def organise(config: Path, folder: Path, result: Giveaway) -> None:
    """Export the entrants, commit, draw and verify, as the organiser would (into ``result``)."""
    common = ["--config", str(config), "--campaign", CAMPAIGN]
    exported = folder / "entrants-export.csv"
    ran = command(
        ["export", "entrants", *common, "--output", str(exported)], peak=folder / "peak.json"
    )
    if ran.exit != 0:
        result.problems.append(_failed("export entrants", ran))
        return
    result.export_s, result.export_peak_kib = ran.seconds, ran.peak_rss_kib
    with exported.open(encoding="utf-8", newline="") as rows:
        result.entrants = sum(1 for _ in rows) - 1  # the header; no text holds a line break
    entrants, record = folder / "entrants.csv", folder / "draw.json"
    seed_hash = hashlib.sha256(DRAW_SEED.encode()).hexdigest()
    steps = [
        (
            "draw commit",
            ["draw", "commit", *common, "--seed-hash", seed_hash, "--output", str(entrants)],
        ),
        (
            "draw",
            [
                "draw",
                *common,
                "--winners",
                str(WINNERS),
                "--alternates",
                str(ALTERNATES),
                "--seed",
                DRAW_SEED,
                "--output",
                str(record),
            ],
        ),
        ("draw verify", ["draw", "verify", str(record), "--entrants", str(entrants)]),
    ]
    for what, args in steps:
        ran = command(args)
        if ran.exit != 0:
            result.problems.append(_failed(what, ran))
            return
    result.draw_verified = "verified" in ran.output


async def giveaway(mongo_uri: str, comments: int, folder: Path) -> Giveaway:
    """One size, from the first comment to the verified draw."""
    clock = ManualClock(T0)
    async with (
        serve(simulator_config(), clock=clock) as sim,
        fresh_database(mongo_uri, f"comments_{comments}", timeout_s=STORE_TIMEOUT_S) as database,
        aiohttp.ClientSession() as session,
    ):
        world = sim.world
        media_id = world.add_post(
            timestamp=T0,
            caption="Giveaway! Tag a friend",
            owner=ACCOUNT.ig_user_id,
            shortcode=SHORTCODE,
        )
        world.webhook_drop_ratio = DROP_RATIO
        world.publish_comments(media_id, comments, start=T0 + timedelta(minutes=1), notify=True)
        clock.advance(timedelta(minutes=2, seconds=comments))  # after the last comment
        config = write_config(folder / "listener.toml", worker_config(mongo_uri, database.name))
        parts = build(load_settings(config), database, session, sim.base_url, clock)
        await parts.store.ensure_indexes()
        result = await _run(parts, world, media_id, session)
        await asyncio.to_thread(organise, config, folder, result)
    _say(
        f"{comments:,}: {result.missing} missing, {result.duplicated} duplicated, calls ÷ bound "
        f"{result.ratio:.3f}, export {result.export_s:.1f} s, "
        f"{result.export_peak_kib / 1024:.0f} MiB, draw verified: {result.draw_verified}"
    )
    return result


async def _run(
    parts: Parts, world: World, media_id: str, session: aiohttp.ClientSession
) -> Giveaway:
    """Webhooks on time, the read, late webhooks; the store against the truth."""
    outbox = world.take_outbox()
    half = len(outbox) // 2
    comments = len(world.truth(media_id))
    started = time.perf_counter()
    delivered, outcomes = await deliver(parts, world, outbox[:half], session)
    webhook_s = time.perf_counter() - started
    _say(f"{comments:,}: {delivered:,} webhooks delivered and settled in {webhook_s:.0f} s")
    started = time.perf_counter()
    polls, complete = await read(parts, comments)
    read_s = time.perf_counter() - started
    _say(f"{comments:,}: read in {polls} polls, {read_s:.0f} s; late webhooks")
    started = time.perf_counter()
    late, late_outcomes = await deliver(parts, world, outbox[half:], session)
    webhook_s += time.perf_counter() - started
    await parts.ingestor.settle()
    result = await compare(parts.database, world, media_id)
    settling = parts.ingestor
    result.settle_passes, result.settle_s, result.last_settle_s = (
        settling.passes,
        settling.seconds,
        settling.last_s,
    )
    if not complete:
        result.problems.append(f"no poll read the post to its end in {polls} polls")
    unsettled = (outcomes + late_outcomes) - Counter({"as_delivered": delivered + late})
    if unsettled or delivered + late != len(outbox):
        result.problems.append(
            f"of {len(outbox)} webhooks, {delivered + late} taken; not stored as delivered: "
            f"{dict(unsettled)}"
        )
    result.dropped, result.delivered = world.webhooks_dropped, delivered + late
    result.polls, result.webhook_s, result.read_s = polls, webhook_s, read_s
    result.calls = len(world.stats.log)
    result.comment_calls = world.stats.count("comments")
    return result


async def measure(mongo_uri: str, sizes: Sequence[int]) -> list[Giveaway]:
    """Every size in turn, each in a database and a folder of its own."""
    results = []
    for comments in sizes:
        with tempfile.TemporaryDirectory(prefix="bench-comments-") as folder:
            results.append(await giveaway(mongo_uri, comments, Path(folder)))
    return results


def _met(ok: bool) -> str:
    return "**met**" if ok else "**not met**"


def _row(r: Giveaway) -> str:
    verified = "yes" if r.draw_verified else "**no**"
    return (
        f"| {r.comments:,} | {r.dropped:,} ({r.dropped / r.comments:.0%}) | {r.delivered:,} | "
        f"{r.stored:,} | **{r.missing}** | **{r.duplicated}** | {r.differ} | {r.polls} | "
        f"{r.calls:,} ({r.comment_calls:,} comment pages) | {r.bound:,} | **{r.ratio:.3f}** | "
        f"{r.webhook_s:.0f} s / {r.read_s:.0f} s | {r.export_s:.1f} s | "
        f"{r.export_peak_kib / 1024:.1f} MiB | {r.entrants:,} | {verified} |"
    )


def _verdicts(results: Sequence[Giveaway]) -> list[str]:
    small, large = results[0], results[-1]
    complete = all(r.missing == 0 and r.duplicated == 0 for r in results)
    calls = all(r.ratio <= CALLS_GOAL for r in results)
    growth = (
        large.export_peak_kib / small.export_peak_kib if small.export_peak_kib else float("nan")
    )
    drawn = all(r.draw_verified for r in results)
    lines = [
        f"- Complete: 0 missing and 0 duplicated at every size: {_met(complete)}.",
        f"- Calls ÷ bound ≤ {CALLS_GOAL} at every size: {_met(calls)}.",
        f"- Export memory flat: peak {small.export_peak_kib / 1024:.1f} MiB at "
        f"{small.comments:,} comments, {large.export_peak_kib / 1024:.1f} MiB at "
        f"{large.comments:,}: **{growth:.2f}** × (goal ≤ {MEMORY_GOAL}: "
        f"{_met(growth <= MEMORY_GOAL)}).",
        f"- Draw verified from the record and the frozen list at every size: {_met(drawn)}.",
    ]
    lines += [f"- Failed at {r.comments:,}: {p}" for r in results for p in r.problems]
    return lines


def _method(results: Sequence[Giveaway]) -> list[str]:
    sizes = " and ".join(f"{r.comments:,}" for r in results)
    settles = "; ".join(
        f"at {r.comments:,}: {r.settle_passes} pass{'es' if r.settle_passes != 1 else ''}, "
        f"{r.settle_s:.0f} s in all, the last {r.last_settle_s:.1f} s"
        for r in results
    )
    return [
        f"One giveaway post of the brand account, {sizes} comments a second apart, each with "
        f"its signed `comments` webhook, {DROP_RATIO:.0%} of them dropped at random. Half of the "
        "webhooks left are POSTed to the worker's own web server (signature checked, stored in "
        "the inbox) and worked off by the inbox worker's handler before the read, the other "
        "half after it (late deliveries), each claimed by the worker's own inbox claim. The "
        "comments poller, under the worker's scheduler and governor on virtual time, reads the "
        "post (given by permalink) until a poll reaches its end. The worker's settling pass "
        f"judges the giveaway every {SETTLE_EVERY:,} comments stored (the worker runs it every "
        f"minute) and once more at the end ({settles}). Then the stored `comments` are "
        "compared with the simulator's truth, and `listener export entrants`, `draw commit`, "
        "`draw` and `draw verify` run as the organiser would, each in a fresh process, on a "
        "SecantusDB server in its own process, standalone (no replica set). What is measured "
        "here is calls, completeness and memory, not write speed, and as a single-node replica "
        "set SecantusDB keeps the reply of every retryable write for 30 minutes, at most "
        f"{RETRYABLE_RECORDS:,}, and past that cap sorts them all at each write: at 20,000 "
        "comments the webhooks before the read were worked off in 293 s on a replica set, 84 s "
        "standalone (see docs/operations.md, The embedded store).",
        "",
        "Calls are every Graph call the simulator answered in the run; the bound is "
        f"⌈comments ÷ {COMMENTS_PAGE}⌉ comment pages plus one media listing per poll. "
        "Duplicated counts documents beyond the truth's (stored twice, or not in it); fields ≠ "
        "truth counts stored comments whose text, author or time (a webhook's is its delivery "
        "time until a poll gives the real one) differ. Export time is the command's wall time "
        "(start-up included, and the settling pass it runs first, which reads every comment of "
        "the giveaway and finds nothing changed); its memory is the process's peak resident set "
        "(`VmHWM`).",
        "",
    ]


def render(results: Sequence[Giveaway], wall_s: float) -> str:
    """The markdown section for RESULTS.md."""
    return "\n".join(
        [
            f"## Comment giveaway: {results[-1].comments:,} comments read completely",
            "",
            *_method(results),
            "| comments | webhooks dropped | delivered | stored | missing | duplicated | "
            "fields ≠ truth | polls | Graph calls | bound | calls ÷ bound (goal ≤ 1.10) | "
            "webhooks / read (wall) | export | export peak | entrants | draw verified |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
            *(_row(r) for r in results),
            "",
            *_verdicts(results),
            "",
            f"_Run in {wall_s:.0f} s._",
            "",
        ]
    )


def section(*, quick: bool = False) -> str:
    """Run every size and render the section."""
    sizes = QUICK_SIZES if quick else SIZES
    configure_logging(level="warning", stream=sys.stderr)
    started = time.perf_counter()
    results: list[Giveaway] = []
    try:
        # Standalone: no retryable-write records to sort at every write (see :func:`_method`).
        with secantus(standalone=True) as server:
            results = asyncio.run(measure(server.uri, sizes))
    except AssertionError as exc:  # a server that hangs on its stop costs no figures
        if not results:
            raise
        _say(f"the server did not stop cleanly: {str(exc)[:200]}")
    return render(results, time.perf_counter() - started)


if __name__ == "__main__":
    print(section(quick="--quick" in sys.argv[1:]))
