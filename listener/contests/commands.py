"""The contest commands: export entrants, settle (re-evaluate), commit to a draw, draw, verify.

Each opens only the store (embedded or the configured MongoDB), runs a settling pass first
(:mod:`listener.contests.settle`: only what changed since the last one) so exports and draws
see settled verdicts, and closes everything on the way out. Errors a user
can fix come out as :class:`ContestError` with one line saying what to do.

Files hold personal data and are written whole or not at all (:func:`private_output`): a
temporary file beside the target, readable by its owner only (0600), renamed over it once
complete. A failed command (unknown campaign, database down, disk full) leaves what was there
byte for byte.
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from listener.assembly.store import open_store
from listener.contests import certificate
from listener.contests import comments as comment_giveaways
from listener.contests.campaigns import campaign as campaign_rules
from listener.contests.campaigns import comment_campaigns, scopes
from listener.contests.export import (
    ENTRANTS_CSV,
    ExportSummary,
    Format,
    Listing,
    media_listing,
    read_entrants,
    write_entrants,
)
from listener.contests.settle import Settlement, settle
from listener.enrich.contests import Rules, rules_document, rules_version
from listener.enrich.draw import (
    LEGACY_ENTRANTS_FORMAT,
    DrawCommit,
    DrawRecord,
    commit,
    record_draw,
    verify,
)
from listener.errors import ListenerError
from listener.settings import CampaignSettings, Settings
from listener.store.store import Store


class ContestError(ListenerError):
    """A contest command cannot go on; the message says why and what to do."""


@dataclass(frozen=True)
class Commitment:
    """What ``listener draw commit`` froze, and what the frozen list holds."""

    frozen: DrawCommit
    summary: ExportSummary


def _utcnow() -> datetime:
    return datetime.now(UTC)


@asynccontextmanager
async def _store(settings: Settings) -> AsyncIterator[Store]:
    async with open_store(settings) as store:
        await store.ping()
        await store.ensure_indexes()
        yield store


async def settled(store: Store, settings: Settings, full: Iterable[str] = ()) -> list[Settlement]:
    """Run a settling pass over every configured campaign; ``full``: campaigns judged in full.

    Comment giveaways are judged whole each time (:func:`comment_giveaways.settle`).
    """
    result = await settle(store.media, scopes(settings), now=_utcnow(), full=full)
    await settle_comment_giveaways(store, settings)
    return result.campaigns


async def settle_comment_giveaways(
    store: Store, settings: Settings, *, strict: bool = True
) -> list[comment_giveaways.CommentSettlement]:
    """Judge every comment giveaway whole (:func:`comment_giveaways.settle`).

    A campaign post given as a permalink nobody resolved yet is a :class:`ContestError`;
    ``strict=False`` (the worker, which resolves them as it polls) skips that campaign instead.
    """
    found: list[comment_giveaways.CommentSettlement] = []
    for config in comment_campaigns(settings):
        try:
            rules = await comment_rules(store, settings, config)
        except ContestError:
            if strict:
                raise
            continue
        found.append(await comment_giveaways.settle(store.comments, config.id, rules))
    return found


async def comment_rules(store: Store, settings: Settings, config: CampaignSettings) -> Rules:
    """A comment giveaway's rules, its permalinks resolved through what the worker stored."""
    known = await store.comment_polls.resolutions(config.account)
    try:
        posts = comment_giveaways.resolve_posts(config, known)
    except comment_giveaways.UnresolvedPostError as exc:
        raise ContestError(
            f"{exc} (or not resolved yet: run the worker, or give the media id)"
        ) from None
    return comment_giveaways.with_posts(campaign_rules(settings, config).rules, posts)


async def _listing(
    store: Store, settings: Settings, config: CampaignSettings, *, include_all: bool
) -> Listing:
    """What the export of ``config`` lists: its media, or its comments."""
    if config.kind == "comments":
        rules = await comment_rules(store, settings, config)
        return comment_giveaways.listing(
            store.comments, config.id, rules.posts, include_all=include_all
        )
    return media_listing(
        store.media,
        config.id,
        include_all=include_all,
        window=(config.starts_at, config.ends_at),
    )


async def reevaluate_campaigns(
    settings: Settings, campaign_id: str | None, *, full: bool = False
) -> list[Settlement]:
    """``listener contests reevaluate``: settle what changed; ``full``: re-judge every media.

    With a campaign id, only that campaign is judged in full and reported.
    """
    chosen = [settings.campaign(campaign_id)] if campaign_id else list(settings.campaigns)
    ids = [c.id for c in chosen]
    async with _store(settings) as store:
        results = await settled(store, settings, ids if full else ())
        return [r for r in results if r.campaign in ids]


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
        await settled(store, settings)
        listing = await _listing(store, settings, config, include_all=include_all)
        try:
            return await write_entrants(
                out, listing, fmt=fmt, include_all=include_all, progress=progress
            )
        except ValueError as exc:
            raise ContestError(f"cannot export {config.id!r}: {exc}") from None


async def export_file(
    settings: Settings,
    campaign_id: str,
    path: Path,
    *,
    fmt: Format = "csv",
    include_all: bool = False,
    progress: Callable[[int], None] | None = None,
) -> ExportSummary:
    """:func:`export` into ``path``, replacing it only once the export is complete (0600)."""
    settings.campaign(campaign_id)  # an unknown campaign is refused before any file is touched
    with private_output(path) as out:
        return await export(
            settings, campaign_id, out, fmt=fmt, include_all=include_all, progress=progress
        )


async def draw_commit(
    settings: Settings,
    campaign_id: str,
    seed_hash: str,
    entrants_file: Path,
    *,
    clock: Callable[[], datetime] = _utcnow,
) -> Commitment:
    """``listener draw commit``: write the canonical entrant list, freeze it with the seed hash."""
    config = settings.campaign(campaign_id)
    rules = campaign_rules(settings, config).rules
    async with _store(settings) as store:
        existing = await store.draws.load(config.id)
        if existing is not None and existing.get("record"):
            raise ContestError(f"campaign {config.id!r} has been drawn already; its record stands")
        await settled(store, settings)
        if config.kind == "comments":
            rules = await comment_rules(store, settings, config)
        data, summary = await _canonical(store, settings, config, ENTRANTS_CSV)
        try:
            frozen = commit(
                campaign_id=config.id,
                rules_version=rules_version(rules),
                exported=data,
                entry_ids=[e.entry_id for e in read_entrants(data, ENTRANTS_CSV)],
                seed_commitment=seed_hash,
                committed_at=clock(),
                entrants_format=ENTRANTS_CSV,
                rules=rules_document(rules),
            )
        except ValueError as exc:
            raise ContestError(f"cannot commit: {exc}") from None
        _write_atomically(entrants_file, data)
        await store.draws.save_commitment(
            config.id,
            {
                "rules_version": frozen.rules_version,
                "rules": frozen.rules,
                "entrants_format": frozen.entrants_format,
                "entrants_digest": frozen.entrants_digest,
                "entrant_count": frozen.entrant_count,
                "seed_commitment": frozen.seed_commitment,
                "committed_at": frozen.committed_at,
            },
        )
        return Commitment(frozen, summary)


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
            # Commitments made before the format was recorded froze a first-format list.
            entrants_format=c.get("entrants_format", LEGACY_ENTRANTS_FORMAT),
            rules=c.get("rules"),
        )
        await settled(store, settings)
        try:
            data, _ = await _canonical(store, settings, config, frozen.entrants_format)
            entrants = read_entrants(data, frozen.entrants_format)
            record = record_draw(
                frozen,
                seed=seed,
                exported=data,
                entry_ids=[e.entry_id for e in entrants],
                winners=winners,
                alternates=alternates,
                drawn_at=clock(),
                entrants=entrants,
            )
        except ValueError as exc:
            raise ContestError(f"draw refused: {exc}") from None
        text = record.to_json()
        _write_atomically(record_file, text.encode())
        _write_atomically(certificate_path(record_file), certificate.render(record).encode())
        await store.draws.save_record(config.id, text, record.drawn_at)
        return record


def certificate_path(record_file: Path) -> Path:
    """Where the certificate of a record goes: beside it, the same name with ``.html``."""
    return record_file.with_suffix(".html")


def draw_verify(record_file: Path, entrants_file: Path, html: Path | None = None) -> list[str]:
    """``listener draw verify``: every problem re-running the draw from the two files alone.

    With ``html``, a draw that verifies gets its certificate written there (again); one that
    does not gets none.
    """
    try:
        record = DrawRecord.from_json(record_file.read_text(encoding="utf-8"))
        data = entrants_file.read_bytes()
    except (OSError, ValueError) as exc:
        raise ContestError(f"cannot read the draw files: {exc}") from None
    try:
        entrants = read_entrants(data, record.entrants_format)
    except ValueError as exc:
        return [f"the entrant file cannot be read as an export: {exc}"]
    problems = verify(record, data, [e.entry_id for e in entrants], entrants)
    if html is not None and not problems:
        _write_atomically(html, certificate.render(record).encode())
    return problems


async def _canonical(
    store: Store, settings: Settings, config: CampaignSettings, csv_format: str
) -> tuple[bytes, ExportSummary]:
    """The canonical entrant list (the CSV export of the eligible entrants) in ``csv_format``."""
    buffer = io.BytesIO()
    listing = await _listing(store, settings, config, include_all=False)
    summary = await write_entrants(buffer, listing, fmt="csv", csv_format=csv_format)
    return buffer.getvalue(), summary


@contextmanager
def private_output(path: Path) -> Iterator[BinaryIO]:
    """A file written whole or not at all, readable by its owner only.

    Yields a temporary file in ``path``'s folder (``mkstemp``: mode 0600), flushed to disk and
    renamed over ``path`` when the block ends normally; removed, with ``path`` untouched, when
    it raises.
    """
    directory = path.parent if str(path.parent) else Path()
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _write_atomically(path: Path, data: bytes) -> None:
    """Write a whole file or nothing: a half-written entrant list would fail every check."""
    with private_output(path) as handle:
        handle.write(data)
