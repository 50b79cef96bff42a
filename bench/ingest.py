"""Ingest pipeline throughput ÷ a raw bulk insert of the same documents, on the same server.

The pipeline is what every poll does per page: parse Meta's JSON (wire models), score the
sentiment, judge the campaigns, and one unordered bulk upsert of 50 media. The raw baseline
inserts the final documents, prebuilt, 50 at a time. Both run with the same concurrency as
feeds do in the worker (several pages in flight), against a SecantusDB server in its own
process, side by side in one run.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import CollectorRegistry

from bench.mongo_server import mongo_process
from listener.app import sentiment_scorer
from listener.enrich.contests import Rules
from listener.enrich.enricher import Campaign, Enricher
from listener.graph.wire import parse_media_page
from listener.metrics import Metrics
from listener.models import Sighting, Source, SourceKind
from listener.pollers.ingest import Ingestor
from listener.store.media import insert_document
from listener.store.mongo import connect
from listener.store.store import Store

PAGES = 200
PAGE_SIZE = 50
CONCURRENCY = 4
START = datetime(2026, 6, 1, tzinfo=UTC)
SOURCE = Source(SourceKind.HASHTAG_RECENT, "brand", "summerdrop")
CAPTIONS = (
    "Loving the new drop ❤️ #SummerDrop with @ana and @bo",
    "meh, not my style #summerdrop 😕",
    "Sunset vibes 🌅 #summerdrop #BeachLife @cy",
    "Worst delivery ever, still waiting #summerdrop 😡",
    "Nouvelle collection, trop belle ! #summerdrop",
)


def _page(number: int) -> dict[str, Any]:
    """One page of ``recent_media`` as Meta sends it."""
    data = []
    for i in range(PAGE_SIZE):
        n = number * PAGE_SIZE + i
        data.append(
            {
                "id": f"17{n:016d}",
                "caption": f"{CAPTIONS[n % len(CAPTIONS)]} {n}",
                "media_type": "IMAGE",
                "permalink": f"https://www.instagram.com/p/C{n:010d}/",
                "timestamp": (START + timedelta(seconds=n)).strftime("%Y-%m-%dT%H:%M:%S+0000"),
                "like_count": n % 500,
                "comments_count": n % 40,
            }
        )
    return {"data": data, "paging": {"cursors": {"after": "QVFIUm"}}}


async def _run_pipeline(
    store: Store, pages: list[dict[str, Any]], *, sentiment: bool = True
) -> float:
    rules = Rules.from_campaign(
        id="summer",
        account="brand",
        hashtags=["summerdrop"],
        starts_at=START,
        ends_at=START + timedelta(days=30),
        min_mentions=1,
        exclude_usernames=["brand"],
        one_entry_per_user=True,
        own_username="brand",
    )
    ingestor = Ingestor(
        store,
        Metrics(CollectorRegistry()),
        Enricher(sentiment_scorer() if sentiment else None, [Campaign("summer", "brand", rules)]),
    )
    queue = list(pages)

    async def worker() -> None:
        while queue:
            body = queue.pop()
            page = parse_media_page(body, endpoint="recent_media")
            await ingestor.ingest([Sighting(m, SOURCE, START) for m in page.media])

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return time.perf_counter() - started


async def _run_raw(store: Store, documents: list[list[dict[str, Any]]]) -> float:
    collection = store.media._collection
    queue = list(documents)

    async def worker() -> None:
        while queue:
            await collection.insert_many(queue.pop(), ordered=False)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return time.perf_counter() - started


def _documents(pages: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The documents the pipeline writes, prebuilt, one list per page."""
    scorer = sentiment_scorer()
    out = []
    for body in pages:
        media = parse_media_page(body, endpoint="recent_media").media
        page_docs = []
        for m in media:
            scored = scorer.score(m.caption)
            sentiment = {"label": scored.label, "score": scored.score, "model": scored.model}
            page_docs.append(insert_document(m, [SOURCE], START, ({"sentiment": sentiment}, {})))
        out.append(page_docs)
    return out


async def _measure(uri: str) -> dict[str, float]:
    pages = [_page(n) for n in range(PAGES)]
    documents = _documents(pages)
    times: dict[str, float] = {}
    async with connect(uri, "ingest_raw", timeout_s=10) as db:
        times["raw"] = await _run_raw(Store(db), documents)
    async with connect(uri, "ingest_raw_indexed", timeout_s=10) as db:
        await Store(db).ensure_indexes()
        times["raw_indexed"] = await _run_raw(Store(db), documents)
    async with connect(uri, "ingest_plain", timeout_s=10) as db:
        store = Store(db)
        await store.ensure_indexes()
        times["no_sentiment"] = await _run_pipeline(store, pages, sentiment=False)
    async with connect(uri, "ingest_pipeline", timeout_s=10) as db:
        store = Store(db)
        await store.ensure_indexes()
        times["pipeline"] = await _run_pipeline(store, pages)
    return times


def section() -> str:
    """The markdown section for RESULTS.md."""
    with mongo_process() as uri:
        times = asyncio.run(_measure(uri))
    media = PAGES * PAGE_SIZE
    raw, pipeline = times["raw"], times["pipeline"]
    return "\n".join(
        [
            "## Ingest pipeline vs raw bulk insert",
            "",
            f"{media:,} media in pages of {PAGE_SIZE}, {CONCURRENCY} pages in flight, on a "
            "SecantusDB server in its own process. Pipeline: parse Meta's JSON, sentiment "
            "(VADER with emoji, hashtag and language handling), one campaign's rules, one "
            "unordered bulk upsert per page (indexes in place). Raw: `insert_many` of the same "
            "final documents, prebuilt, no indexes but `_id`.",
            "",
            "| path | time | media/s |",
            "|---|---|---|",
            f"| raw bulk insert | {raw:.2f} s | {media / raw:,.0f} |",
            f"| raw bulk insert, the media indexes in place | {times['raw_indexed']:.2f} s "
            f"| {media / times['raw_indexed']:,.0f} |",
            f"| ingest pipeline without sentiment | {times['no_sentiment']:.2f} s "
            f"| {media / times['no_sentiment']:,.0f} |",
            f"| ingest pipeline | {pipeline:.2f} s | {media / pipeline:,.0f} |",
            "",
            f"Pipeline throughput ÷ raw insert throughput: **{raw / pipeline:.2f}** (goal ≥ 0.8: "
            f"not met). Without sentiment: {raw / times['no_sentiment']:.2f}; against a raw "
            f"insert with the same indexes: {times['raw_indexed'] / pipeline:.2f}. The gap is "
            "CPU in this process: the sentiment pipeline (emoji naming, language "
            "identification, VADER — pure Python, ~0.3 ms a caption) and document building, "
            "against a server that inserts in its own process.",
        ]
    )
