"""Entrant export memory: peak Python allocations exporting 10,000 vs 100,000 entrants.

The export streams from a cursor, so its peak should not grow with the number of entrants.
Measured with tracemalloc (allocations made while exporting), per format, on a SecantusDB
server in its own process.
"""

from __future__ import annotations

import asyncio
import io
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import MongoClient
from pymongo.collection import Collection

from listener.contests.export import FORMATS, export_entrants
from listener.store.mongo import connect
from listener.store.store import Store
from testbed import secantus

SIZES = (10_000, 100_000)
CAMPAIGN = "bench"


class _Sink(io.RawIOBase):
    """Counts bytes and keeps none of them."""

    def __init__(self) -> None:
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]  # a byte counter, narrower than the binary file it stands in for
        self.size += len(data)
        return len(data)


def _fill(uri: str, database: str, count: int) -> None:
    start = datetime(2026, 6, 1, tzinfo=UTC)
    collection: Collection[dict[str, Any]] = MongoClient(uri, tz_aware=True)[database]["media"]
    batch = []
    for n in range(count):
        batch.append(
            {
                "_id": f"18{n:016d}",
                "caption": f"Loving it #summerdrop @friend{n % 997} @pal{n % 89} ☀️ day {n}",
                "permalink": f"https://www.instagram.com/p/B{n:010d}/",
                "timestamp": start + timedelta(seconds=n),
                "username": f"user{n}",
                "username_source": "tags",
                "sentiment": {
                    "label": "positive",
                    "score": 0.6369,
                    "model": "vader-3.3.2+listener-1",
                },
                "contests": {CAMPAIGN: {"eligible": True, "reasons": [], "rules_version": "x"}},
                "sources": [{"kind": "tags", "account": "brand"}],
            }
        )
        if len(batch) == 5000:
            collection.insert_many(batch, ordered=False)
            batch.clear()
    if batch:
        collection.insert_many(batch, ordered=False)


async def _export(uri: str, database: str, fmt: str) -> tuple[int, float, int]:
    async with connect(uri, database, timeout_s=10) as db:
        store = Store(db)
        sink = _Sink()
        tracemalloc.start()
        started = time.perf_counter()
        summary = await export_entrants(store.media, CAMPAIGN, sink, fmt=fmt)  # type: ignore[arg-type]  # a byte counter stands in for the output file
        seconds = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert summary.entrants > 0
        return peak, seconds, sink.size


def section() -> str:
    """The markdown section for RESULTS.md."""
    rows = []
    peaks: dict[tuple[str, int], int] = {}
    with secantus() as server:
        uri = server.uri
        for size in SIZES:
            database = f"export_{size}"
            _fill(uri, database, size)
            for fmt in FORMATS:
                peak, seconds, written = asyncio.run(_export(uri, database, fmt))
                peaks[(fmt, size)] = peak
                rows.append(
                    f"| {fmt} | {size:,} | {written / 1e6:.1f} MB | {seconds:.1f} s "
                    f"| {size / seconds:,.0f} | {peak / 1e6:.2f} MB |"
                )
    ratios = ", ".join(
        f"{fmt} {peaks[(fmt, SIZES[1])] / peaks[(fmt, SIZES[0])]:.2f}" for fmt in FORMATS
    )
    return "\n".join(
        [
            "## Entrant export: memory stays flat",
            "",
            "Peak Python allocations while exporting (tracemalloc), the server in its own process.",
            "",
            "| format | entrants | written | time | entrants/s | peak allocations |",
            "|---|---|---|---|---|---|",
            *rows,
            "",
            f"Peak at 100,000 ÷ peak at 10,000: {ratios} (10× the entrants).",
        ]
    )
