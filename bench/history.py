"""Stored history at a million: the per-minute periodic cost, and the entrant export.

The worker runs for months, so what it does every minute must cost what arrives, not what it
has stored; and an export must stream whatever the number of entrants. One history per size
(10,000 and 1,000,000 media of one account, every one an entrant of a campaign) on a
SecantusDB server in its own process (see :func:`_history` for how it is written). Then:

- **Periodic cost**: the worker's minute is one settling pass
  (:func:`listener.contests.settle.settle`), which also keeps the counters of the identity
  gauges. Timed with nothing new, and after 100 new media, a median of several passes each;
  the documents it read are counted on the wire (PyMongo's command monitoring).
- **Export**: ``export_entrants`` (CSV, JSON, NDJSON) against a raw cursor read of the same
  documents, each in a fresh process whose peak RSS is its memory; and the pre-export settle.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

from prometheus_client import CollectorRegistry
from pymongo import AsyncMongoClient, MongoClient, monitoring
from pymongo.errors import PyMongoError

from listener.contests.export import FORMATS, export_entrants, projection
from listener.contests.settle import settle
from listener.contests.verdicts import Scopes
from listener.enrich.contests import Rules
from listener.enrich.enricher import Campaign, Enricher
from listener.metrics import Metrics
from listener.models import Media, Sighting, Source, SourceKind
from listener.pollers.ingest import Ingestor
from listener.store.mongo import Document, connect
from listener.store.store import Store
from testbed import Secantus, secantus
from testbed.processes import ROOT

SIZES: Final = tuple(
    int(n) for n in os.environ.get("LISTENER_BENCH_HISTORY_SIZES", "10000,1000000").split(",")
)
QUICK_SIZES: Final = (2_000, 20_000)
ARRIVALS: Final = 100  # new media between two passes in the "with arrivals" case
REPEATS: Final = 11
QUICK_REPEATS: Final = 5
PAGE: Final = 500  # media per ingest call (the worker ingests a page of 50; larger fills faster)
INGESTED: Final = 10_000  # media stored through the ingest and settled; the rest are copies
COPY_BATCH: Final = 5_000
READ_TIMEOUT_S: Final = 3600.0
COST_GOAL: Final = 1.5
SPEED_GOAL: Final = 0.5
MEMORY_GOAL: Final = 1.2  # "flat": peak at the largest size ÷ at the smallest
T0: Final = datetime(2026, 6, 1, tzinfo=UTC)
ACCOUNT: Final = "brand"
CAMPAIGN: Final = Campaign(
    "summer",
    ACCOUNT,
    Rules(
        campaign_id="summer",
        account=ACCOUNT,
        starts_at=T0,
        ends_at=T0 + timedelta(days=400),
        hashtags=("summerdrop",),
        own_username=ACCOUNT,
    ),
)
SCOPES: Final = Scopes((CAMPAIGN,), (ACCOUNT,))
HASHTAG: Final = Source(SourceKind.HASHTAG_RECENT, ACCOUNT, "summerdrop")


def _say(message: str) -> None:
    print(f"[history {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@dataclass
class Reads(monitoring.CommandListener):
    """Documents the client read (from ``find``/``getMore`` replies) while ``on``."""

    on: bool = False
    documents: int = 0
    commands: Counter[str] = field(default_factory=Counter)

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if self.on:
            self.commands[event.command_name] += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        if self.on and event.command_name in ("find", "getMore", "aggregate"):
            cursor = event.reply.get("cursor", {})
            self.documents += len(cursor.get("firstBatch", cursor.get("nextBatch", [])))

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        """Nothing to count."""


def _media(number: int) -> Media:
    """An entrant: a hashtag media inside the campaign's window, its author unknown."""
    return Media(
        id=f"18{number:016d}",
        timestamp=T0 + timedelta(seconds=30 * number),
        caption=f"Loving it #summerdrop @friend{number % 997} @pal{number % 89} ☀️ day {number}",
        permalink=f"https://www.instagram.com/p/B{number:010d}/",
        media_type="IMAGE",
        like_count=number % 50,
        comments_count=number % 7,
    )


@dataclass
class Pass:
    """One timed settling pass."""

    seconds: float
    documents: int
    server_cpu_s: float
    judged: int


@dataclass
class Export:
    """One export (or raw read) of every entrant, in a process of its own."""

    what: str
    seconds: float
    rows: int
    written: int
    peak_rss_kib: int
    error: str = ""  # why the read failed, if it did


@dataclass
class Size:
    """What one history size gave."""

    stored: int
    fill_s: float = 0.0
    first_settle_s: float = 0.0
    idle: list[Pass] = field(default_factory=list)
    arrivals: list[Pass] = field(default_factory=list)
    pre_export_settle_s: float = 0.0
    raw: Export | None = None
    exports: list[Export] = field(default_factory=list)


class _Sink(io.RawIOBase):
    """Counts bytes and keeps none of them."""

    def __init__(self) -> None:
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.size += len(data)
        return len(data)


async def _fill(ingestor: Ingestor, start: int, count: int) -> None:
    for first in range(start, start + count, PAGE):
        numbers = range(first, min(first + PAGE, start + count))
        await ingestor.ingest([Sighting(_media(n), HASHTAG, T0) for n in numbers])


def _copy(uri: str, database: str, start: int, count: int) -> None:
    """Media ``start`` … ``start + count - 1`` as the worker stores and settles them: the
    settled document of media 0 with the fields that differ from media to media replaced; the
    settling counters move by as many."""
    db: Any = MongoClient(uri, tz_aware=True)[database]
    template = db["media"].find_one({"_id": _media(0).id})
    assert template is not None
    batch = []
    for number in range(start, start + count):
        media = _media(number)
        batch.append(
            {
                **template,
                "_id": media.id,
                "timestamp": media.timestamp,
                "caption": media.caption,
                "permalink": media.permalink,
                "like_count": media.like_count,
                "comments_count": media.comments_count,
            }
        )
        if len(batch) == COPY_BATCH:
            db["media"].insert_many(batch, ordered=False)
            batch.clear()
        if (number - start) % 100_000 == 0 and number > start:
            _say(f"  {number:,} media stored")
    if batch:
        db["media"].insert_many(batch, ordered=False)
    counts = {f"counts.{entry}": count for entry in template["tally"]["c"]}
    db["settling"].update_one({"_id": "media"}, {"$inc": counts})
    db.client.close()


async def _timed_pass(store: Store, reads: Reads, server: Secantus) -> Pass:
    reads.documents = 0
    reads.on = True
    cpu = server.cpu_s() or 0.0
    started = time.perf_counter()
    result = await settle(store.media, SCOPES, now=datetime.now(UTC))
    seconds = time.perf_counter() - started
    reads.on = False
    judged = sum(c.judged for c in result.campaigns)
    return Pass(seconds, reads.documents, (server.cpu_s() or 0.0) - cpu, judged)


async def _read(uri: str, database: str, what: str) -> dict[str, Any]:
    """Export (or, for ``raw``, read) every entrant; run by :func:`_child`."""
    # SecantusDB reads and sorts every entrant before the first batch (minutes at a million):
    # the driver must wait that long for it, where the worker's store waits at most 120 s.
    async with connect(uri, database, timeout_s=READ_TIMEOUT_S) as db:
        started = time.perf_counter()
        if what == "raw":
            rows = 0
            cursor = db["media"].find(
                {f"contests.{CAMPAIGN.id}.eligible": True},
                projection(CAMPAIGN.id),
                sort=[("timestamp", 1), ("_id", 1)],
                batch_size=500,
            )
            async for _ in cursor:
                rows += 1
            return {
                "seconds": time.perf_counter() - started,
                "rows": rows,
                "written": 0,
                "hwm": _hwm(),
            }
        sink = _Sink()
        summary = await export_entrants(Store(db).media, CAMPAIGN.id, sink, fmt=what)  # type: ignore[arg-type]  # a sink counting bytes, not a full BinaryIO
        return {
            "seconds": time.perf_counter() - started,
            "rows": summary.entrants,
            "written": sink.size,
            "hwm": _hwm(),
        }


def _hwm() -> int:
    """This process's peak resident set (``VmHWM``, KiB; reset by ``exec``, unlike
    ``ru_maxrss``, which would count the parent's memory at the fork)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/self/status")


def _child(uri: str, database: str, what: str) -> Export:
    """Run :func:`_read` in a fresh process: its time, and its peak resident set."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.history", "--read", uri, database, what],
        cwd=ROOT,
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        last = done.stderr.decode(errors="replace").strip().splitlines()[-1:]
        return Export(what, float("nan"), 0, 0, 0, error=" ".join(last)[:300])
    result = json.loads(done.stdout)
    return Export(what, result["seconds"], result["rows"], result["written"], result["hwm"])


@dataclass
class History:
    """One stored history, in a database of its own."""

    size: Size
    name: str
    store: Store
    ingestor: Ingestor
    next_id: int


async def _build(server: Secantus, database: Any, stored: int) -> History:
    """Store and settle a history of ``stored`` media (see :func:`_history`)."""
    size = Size(stored)
    store = Store(database)
    await store.ensure_indexes()
    ingestor = Ingestor(store, Metrics(CollectorRegistry()), Enricher(None, [CAMPAIGN]))
    ingested = min(stored, INGESTED)
    _say(f"{stored:,} media: ingesting {ingested:,}")
    clock = time.perf_counter()
    await _fill(ingestor, 0, ingested)
    size.fill_s = time.perf_counter() - clock
    clock = time.perf_counter()
    await settle(store.media, SCOPES, now=datetime.now(UTC))
    size.first_settle_s = time.perf_counter() - clock
    _say(f"{stored:,} media: ingest {size.fill_s:.0f} s, settled {size.first_settle_s:.0f} s")
    if stored > ingested:
        clock = time.perf_counter()
        await asyncio.to_thread(_copy, server.uri, database.name, ingested, stored - ingested)
        _say(f"{stored:,} media: copies stored in {time.perf_counter() - clock:.0f} s")
    await settle(store.media, SCOPES, now=datetime.now(UTC))  # anything the first re-marked
    return History(size, database.name, store, ingestor, stored)


async def _exports(server: Secantus, history: History) -> None:
    size, name = history.size, history.name
    await _fill(history.ingestor, history.next_id, ARRIVALS)  # arrived since the last pass
    clock = time.perf_counter()
    await settle(history.store.media, SCOPES, now=datetime.now(UTC))
    size.pre_export_settle_s = time.perf_counter() - clock
    _say(f"{size.stored:,} media: raw read and exports")
    size.raw = await asyncio.to_thread(_child, server.uri, name, "raw")
    for fmt in FORMATS:
        size.exports.append(await asyncio.to_thread(_child, server.uri, name, fmt))
        _say(f"  {fmt}: {size.exports[-1].seconds:.1f} s (raw {size.raw.seconds:.1f} s)")


async def _measure(server: Secantus, sizes: Sequence[int], repeats: int) -> list[Size]:
    """Build every history, time their passes in turn (so that other load on the machine
    weighs on every size alike), then export each."""
    reads = Reads()
    client: AsyncMongoClient[Document] = AsyncMongoClient(
        server.uri, tz_aware=True, event_listeners=[reads]
    )
    names = [f"history_{stored}" for stored in sizes]
    try:
        histories = [
            await _build(server, client[name], stored)
            for name, stored in zip(names, sizes, strict=True)
        ]
        _say(f"periodic passes, {repeats} of each")
        for _ in range(repeats):
            for history in histories:
                history.size.idle.append(await _timed_pass(history.store, reads, server))
            for history in histories:
                await _fill(history.ingestor, history.next_id, ARRIVALS)
                history.next_id += ARRIVALS
            for history in histories:
                history.size.arrivals.append(await _timed_pass(history.store, reads, server))
        for history in histories:
            await _exports(server, history)
    finally:
        # Best effort: the server and its files go when the benchmark ends, and a connection
        # the server dropped while a child sorted a million entrants must not cost the results.
        for name in names:
            with contextlib.suppress(PyMongoError):
                await client.drop_database(name)
        await client.close()
    return [history.size for history in histories]


def _median(passes: list[Pass], attribute: str) -> float:
    return float(statistics.median(getattr(p, attribute) for p in passes))


def _met(ok: bool) -> str:
    return "**met**" if ok else "**not met**"


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def _periodic(small: Size, large: Size) -> list[str]:
    rows = []
    verdicts = []
    for label, attr in (("nothing new", "idle"), (f"{ARRIVALS} new media", "arrivals")):
        a, b = getattr(small, attr), getattr(large, attr)
        ratio = _median(b, "seconds") / _median(a, "seconds")
        verdicts.append(ratio <= COST_GOAL)
        rows.append(
            f"| {label} | {_ms(_median(a, 'seconds'))} | {_ms(_median(b, 'seconds'))} | "
            f"{_median(a, 'documents'):,.0f} / {_median(b, 'documents'):,.0f} | "
            f"{_median(a, 'judged'):,.0f} / {_median(b, 'judged'):,.0f} | "
            f"{_ms(_median(a, 'server_cpu_s'))} / {_ms(_median(b, 'server_cpu_s'))} | "
            f"**{ratio:.2f}** | ≤ {COST_GOAL}: {_met(ratio <= COST_GOAL)} |"
        )
    share = _median(large.arrivals, "seconds") / 60 * 100
    return [
        f"### Per-minute periodic cost: {small.stored:,} vs {large.stored:,} stored media",
        "",
        "The worker's minute is one settling pass (contest verdicts, and the counters behind "
        "`listener_hashtag_media_author_known_ratio` and `listener_contest_author_known_ratio`, "
        "which the gauges then read from one state document). Each history: one account's "
        "hashtag media, all inside the campaign's window, stored through the worker's ingest "
        "and settled once. Each case is the median of "
        f"{len(small.idle)} passes, the sizes' passes taken in turn; documents read are those "
        "the pass's `find`/`getMore` replies carried; server CPU is the SecantusDB process's "
        "(in clock ticks of 10 ms).",
        "",
        f"| case | pass at {small.stored:,} | pass at {large.stored:,} | documents read "
        "(small / large) | media judged | server CPU | large ÷ small | goal |",
        "|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        f"At {large.stored:,} media a pass with {ARRIVALS} new media takes {share:.2f} % of its "
        f"minute. Before incremental settling the same history cost a pass over every media "
        f"(see the issue's table: 18.0 s at 200,000); here the first, full settle of "
        f"{large.stored:,} media took {large.first_settle_s:.0f} s, once. Verdict: "
        f"{_met(all(verdicts))}.",
        "",
    ]


def _speed(export: Export, raw: Export) -> float:
    """Entrants per second of ``export`` ÷ those of the raw read (NaN if either failed)."""
    if export.error or raw.error:
        return float("nan")
    return (export.rows / export.seconds) / (raw.rows / raw.seconds)


def _row(export: Export, stored: int, raw: Export) -> str:
    what = "raw cursor read" if export is raw else export.what
    if export.error:
        return f"| {what} | {stored:,} | failed: {export.error} | | | | |"
    speed = "" if export is raw else f"**{_speed(export, raw):.2f}**"
    written = "" if export is raw else f"{export.written / 1e6:,.1f} MB"
    return (
        f"| {what} | {stored:,} | {written} | {export.seconds:.1f} s | "
        f"{export.rows / export.seconds:,.0f} | {speed} | {export.peak_rss_kib / 1024:.1f} MiB |"
    )


def _export_table(sizes: Sequence[Size]) -> list[str]:
    rows = []
    for size in sizes:
        assert size.raw is not None
        rows += [_row(e, size.stored, size.raw) for e in (size.raw, *size.exports)]
    small, large = sizes[0], sizes[-1]
    by_fmt_small = {e.what: e for e in small.exports}
    verdicts = []
    for export in large.exports:
        assert large.raw is not None
        if export.error or large.raw.error or by_fmt_small[export.what].error:
            verdicts.append(f"- {export.what} at {large.stored:,}: **not met** (a read failed).")
            continue
        speed = _speed(export, large.raw)
        growth = export.peak_rss_kib / by_fmt_small[export.what].peak_rss_kib
        verdicts.append(
            f"- {export.what} at {large.stored:,}: {speed:.2f} × the raw read's speed (goal ≥ "
            f"{SPEED_GOAL}: {_met(speed >= SPEED_GOAL)}); peak RSS {growth:.2f} × the peak at "
            f"{small.stored:,} (goal: flat, ≤ {MEMORY_GOAL}: {_met(growth <= MEMORY_GOAL)})."
        )
    return [
        "### Export of every entrant",
        "",
        "Each read runs in a fresh process of its own (`python -m bench.history --read …`): "
        "`export_entrants` into a sink that counts bytes, or a raw cursor read of the same "
        "documents (same filter, sort, projection and batch size of 500; documents dropped as "
        "read). Time is measured inside the process; peak memory is its peak resident set "
        "(`VmHWM`), interpreter and libraries included, so the raw read's peak is the floor.",
        "",
        "| what | entrants | written | time | entrants/s | ÷ raw read | peak RSS |",
        "|---|---|---|---|---|---|---|",
        *rows,
        "",
        *verdicts,
        f"- Pre-export settle (incremental, {ARRIVALS} new media since the last pass): "
        + ", ".join(f"{_ms(s.pre_export_settle_s)} at {s.stored:,}" for s in sizes)
        + ".",
        "",
    ]


def _history(sizes: Sequence[Size]) -> list[str]:
    ingested = ", ".join(
        f"{min(s.stored, INGESTED):,} ingested in {s.fill_s:.0f} s and settled in full in "
        f"{s.first_settle_s:.0f} s" + (f" (history of {s.stored:,})" if s.stored > INGESTED else "")
        for s in sizes
    )
    return [
        f"The first {INGESTED:,} media of a history are stored through the worker's ingest "
        "(`Ingestor`, no sentiment model) and settled; a settling pass judges all of them at "
        "first sight of the campaign. The rest of a larger history are copies of a settled "
        "document with their own id, timestamp, caption and counts, inserted raw, the settling "
        "counters moved by as many: a history the worker would have settled over months, "
        f"without spending an hour of this run on it. Here: {ingested}.",
        "",
    ]


def section(*, quick: bool = False) -> str:
    """The markdown section for RESULTS.md."""
    sizes = QUICK_SIZES if quick else SIZES
    repeats = QUICK_REPEATS if quick else REPEATS
    started = time.perf_counter()
    results: list[Size] = []
    try:
        with secantus() as server:
            results = asyncio.run(_measure(server, sizes, repeats))
    except AssertionError as exc:  # a server that hangs on its stop costs no figures
        if not results:
            raise
        _say(f"the server did not stop cleanly: {str(exc)[:200]}")
    wall = time.perf_counter() - started
    return "\n".join(
        [
            f"## Stored history at {sizes[-1]:,}: periodic cost and entrant export",
            "",
            f"One account's media, {sizes[0]:,} and {sizes[-1]:,} of them, every one an entrant "
            "of a campaign, on a SecantusDB server in its own process.",
            "",
            *_history(results),
            *_periodic(results[0], results[-1]),
            *_export_table(results),
            f"_Run in {wall:.0f} s._",
            "",
        ]
    )


def main(argv: Sequence[str]) -> None:
    """``--read URI DATABASE WHAT``: one export in this process (JSON on stdout); ``--quick``:
    the section at small sizes; else the section."""
    if argv[:1] == ["--read"]:
        uri, database, what = argv[1:4]
        print(json.dumps(asyncio.run(_read(uri, database, what))))
    else:
        print(section(quick="--quick" in argv))


if __name__ == "__main__":
    main(sys.argv[1:])
