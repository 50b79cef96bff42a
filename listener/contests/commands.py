"""The contest commands: export entrants, re-evaluate, commit to a draw, draw, verify a draw.

Each opens only the store (embedded or the configured MongoDB), re-judges the campaign first
so exports and draws see settled verdicts, and closes everything on the way out. Errors a user
can fix come out as :class:`ContestError` with one line saying what to do.
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from listener.contests.campaigns import campaign as campaign_rules
from listener.contests.export import ExportSummary, Format, export_entrants, read_entry_ids
from listener.contests.reevaluate import Reevaluation, reevaluate
from listener.enrich.contests import rules_version
from listener.enrich.draw import DrawCommit, DrawRecord, commit, record_draw, verify
from listener.errors import ListenerError
from listener.settings import Settings
from listener.store.mongo import open_database
from listener.store.store import Store


class ContestError(ListenerError):
    """A contest command cannot go on; the message says why and what to do."""


def _utcnow() -> datetime:
    return datetime.now(UTC)


@asynccontextmanager
async def _store(settings: Settings) -> AsyncIterator[Store]:
    async with open_database(
        settings.store.mongodb_uri.get_secret_value(),
        embedded_path=settings.store.embedded_path,
        database=settings.store.database,
        timeout_s=settings.store.timeout_s,
    ) as database:
        store = Store(database)
        await store.ping()
        await store.ensure_indexes()
        yield store


async def reevaluate_campaigns(settings: Settings, campaign_id: str | None) -> list[Reevaluation]:
    """``listener contests reevaluate``: re-judge stored media for one campaign or all."""
    chosen = [settings.campaign(campaign_id)] if campaign_id else list(settings.campaigns)
    async with _store(settings) as store:
        return [await reevaluate(store.media, campaign_rules(settings, c)) for c in chosen]


async def export(
    settings: Settings,
    campaign_id: str,
    out: BinaryIO,
    *,
    fmt: Format = "csv",
    include_all: bool = False,
    progress: Callable[[int], None] | None = None,
) -> ExportSummary:
    """``listener export entrants``: settle the verdicts, then stream the export to ``out``."""
    config = settings.campaign(campaign_id)
    async with _store(settings) as store:
        await reevaluate(store.media, campaign_rules(settings, config))
        return await export_entrants(
            store.media, config.id, out, fmt=fmt, include_all=include_all, progress=progress
        )


async def draw_commit(
    settings: Settings,
    campaign_id: str,
    seed_hash: str,
    entrants_file: Path,
    *,
    clock: Callable[[], datetime] = _utcnow,
) -> DrawCommit:
    """``listener draw commit``: write the canonical entrant list, freeze it with the seed hash."""
    config = settings.campaign(campaign_id)
    rules = campaign_rules(settings, config).rules
    async with _store(settings) as store:
        existing = await store.draws.load(config.id)
        if existing is not None and existing.get("record"):
            raise ContestError(f"campaign {config.id!r} has been drawn already; its record stands")
        await reevaluate(store.media, campaign_rules(settings, config))
        data = await _canonical(store, config.id)
        try:
            frozen = commit(
                campaign_id=config.id,
                rules_version=rules_version(rules),
                exported=data,
                entry_ids=read_entry_ids(data),
                seed_commitment=seed_hash,
                committed_at=clock(),
            )
        except ValueError as exc:
            raise ContestError(f"cannot commit: {exc}") from None
        _write_atomically(entrants_file, data)
        await store.draws.save_commitment(
            config.id,
            {
                "rules_version": frozen.rules_version,
                "entrants_digest": frozen.entrants_digest,
                "entrant_count": frozen.entrant_count,
                "seed_commitment": frozen.seed_commitment,
                "committed_at": frozen.committed_at,
            },
        )
        return frozen


async def draw_run(
    settings: Settings,
    campaign_id: str,
    *,
    seed: str,
    winners: int,
    alternates: int,
    record_file: Path,
    clock: Callable[[], datetime] = _utcnow,
) -> DrawRecord:
    """``listener draw``: check the seed and the list against the commitment, draw, record."""
    config = settings.campaign(campaign_id)
    async with _store(settings) as store:
        stored = await store.draws.load(config.id)
        if stored is None or "commitment" not in stored:
            raise ContestError(
                f"campaign {config.id!r} has no commitment: run `listener draw commit` first"
            )
        if stored.get("record"):
            raise ContestError(f"campaign {config.id!r} has been drawn already; its record stands")
        c = stored["commitment"]
        frozen = DrawCommit(
            campaign_id=config.id,
            rules_version=c["rules_version"],
            entrants_digest=c["entrants_digest"],
            entrant_count=int(c["entrant_count"]),
            seed_commitment=c["seed_commitment"],
            committed_at=c["committed_at"],
        )
        await reevaluate(store.media, campaign_rules(settings, config))
        data = await _canonical(store, config.id)
        try:
            record = record_draw(
                frozen,
                seed=seed,
                exported=data,
                entry_ids=read_entry_ids(data),
                winners=winners,
                alternates=alternates,
                drawn_at=clock(),
            )
        except ValueError as exc:
            raise ContestError(f"draw refused: {exc}") from None
        text = record.to_json()
        _write_atomically(record_file, text.encode())
        await store.draws.save_record(config.id, text, record.drawn_at)
        return record


def draw_verify(record_file: Path, entrants_file: Path) -> list[str]:
    """``listener draw verify``: every problem re-running the draw from the two files alone."""
    try:
        record = DrawRecord.from_json(record_file.read_text(encoding="utf-8"))
        data = entrants_file.read_bytes()
    except (OSError, ValueError) as exc:
        raise ContestError(f"cannot read the draw files: {exc}") from None
    try:
        ids = read_entry_ids(data)
    except (ValueError, KeyError) as exc:
        return [f"the entrant file cannot be read as an export: {exc}"]
    return verify(record, data, ids)


async def _canonical(store: Store, campaign_id: str) -> bytes:
    buffer = io.BytesIO()
    await export_entrants(store.media, campaign_id, buffer, fmt="csv")
    return buffer.getvalue()


def _write_atomically(path: Path, data: bytes) -> None:
    """Write a whole file or nothing: a half-written entrant list would fail every check."""
    directory = path.parent if str(path.parent) else Path()
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
