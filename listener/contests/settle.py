"""Settling contest verdicts and the counters behind the identity gauges, as media change.

A **settling pass** judges only what can have changed since the last one: the media marked
changed since (new media, media whose author was learnt or caption edited, see
:mod:`listener.store.tracking`) and, where one entry per user applies, every in-window media of
their authors (:mod:`listener.contests.verdicts`). It reads the marked media through their
index and the authors' media through theirs, so its cost follows what changed, not what is
stored. It also keeps the counters of ``listener_hashtag_media_author_known_ratio`` and
``listener_contest_author_known_ratio`` (one state document), so the gauges cost one read.

A **full pass** judges every media of a campaign's account, an author's media together (read in
author order, constant memory but for one author's media). It runs once after a campaign's rules
version changes (the version it was last settled with is recorded), for a campaign seen for the
first time, and on ``listener contests reevaluate --full``.

The worker runs a pass every minute; exports and ``draw commit`` run one before reading.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from listener.contests import verdicts as rules
from listener.contests.verdicts import Scopes, entrants_scope, identity_scope
from listener.enrich.contests import Verdict, rules_version
from listener.enrich.enricher import Campaign
from listener.store.media import MediaRepository, derived_fields
from listener.store.mongo import Document
from listener.store.tracking import Change, Seen, State

BATCH: Final = 500
SCHEMA: Final = 1
"""Version of the tracked fields: media stored before it are adopted once (see below)."""
PROJECTION: Final[Document] = {
    "caption": 1,
    "timestamp": 1,
    "username": 1,
    "authors": 1,
    "sources": 1,
    "contests": 1,
    "rev": 1,
    "tally": 1,
    "settle": 1,
}
UNTRACKED: Final[Document] = {"rev": {"$exists": False}}
"""Media written before they were tracked, or by an older version."""
UNKEYED: Final[Document] = {"username": {"$exists": True}, "author": {"$exists": False}}
"""Media an older version gave an author without its key (``--full`` repairs them)."""


@dataclass(frozen=True)
class Settlement:
    """What a pass did for one campaign: media judged, verdicts changed, and its entrants
    (all, and those whose author is known) once settled."""

    campaign: str
    judged: int
    changed: int
    eligible: int
    eligible_known: int = 0
    full: bool = False

    @property
    def author_known_ratio(self) -> float:
        """Share of the entrants whose author is known (0 when there are none)."""
        return self.eligible_known / self.eligible if self.eligible else 0.0


@dataclass(frozen=True)
class Identity:
    """An account's hashtag media: all, and those whose author is known."""

    total: int
    known: int

    @property
    def ratio(self) -> float:
        """Share of the hashtag media whose author is known (0 when there are none)."""
        return self.known / self.total if self.total else 0.0


@dataclass(frozen=True)
class SettlingPass:
    """What one pass did: per campaign, per account, and media left marked for the next."""

    campaigns: list[Settlement]
    identities: dict[str, Identity]
    remarked: int = 0


@dataclass
class _Tally:
    judged: Counter[str] = field(default_factory=Counter)
    changed: Counter[str] = field(default_factory=Counter)
    remarked: int = 0


def _changes(
    documents: Iterable[Document],
    verdicts: dict[str, dict[str, Verdict]],
    scopes: Scopes,
    marked: set[str],
    tally: _Tally,
) -> list[Change]:
    """One change per media of ``marked``, or whose verdicts differ, or whose tally entries
    differ (unless it is marked: the incremental pass records those)."""
    owned = scopes.names()
    changes = []
    for document in documents:
        media_id = rules.media_id(document)
        stored = document.get("contests") or {}
        new = {cid: v.as_document() for cid, v in verdicts.get(media_id, {}).items()}
        fields = {f"contests.{cid}": d for cid, d in new.items() if stored.get(cid) != d}
        tally.judged.update(new.keys())
        tally.changed.update(path.removeprefix("contests.") for path in fields)
        seen = Seen.of(document)
        contribution = rules.contribution(document, scopes, new)
        recorded = frozenset(e for e in seen.c if e.rpartition("/")[0] in owned)
        drifted = contribution != recorded and not document.get("settle")
        if media_id in marked or fields or drifted:
            changes.append(Change(media_id, seen, fields, contribution, settled=media_id in marked))
    return changes


def _revs(documents: Iterable[Document]) -> dict[str, int | None]:
    return {rules.media_id(d): d.get("rev") for d in documents}


async def _confirm(
    media: MediaRepository,
    query: Document,
    before: Sequence[Document],
) -> int:
    """Mark again every author's media whose set or revisions changed while they were judged.

    Their verdicts depend on each other; one that changed (or appeared) since the read means
    the ones just written may be stale, and whichever pass wrote last cannot tell. Marking them
    makes the next pass judge them again.
    """
    after = [d async for d in media.stream(query, sort=[("_id", 1)], projection=PROJECTION)]
    old, new = _revs(before), _revs(after)
    moved = {i for i in old.keys() | new.keys() if old.get(i) != new.get(i)}
    if not moved:
        return 0
    documents = [*before, *after]
    touched = {
        a
        for d in documents
        if rules.media_id(d) in moved
        for a in [rules.author(d), *(d.get("authors") or [])]
        if a is not None
    }
    return await media.tracker.remark(
        rules.media_id(d)
        for d in documents
        if touched & {rules.author(d), *(d.get("authors") or [])}
    )


async def _incremental(
    media: MediaRepository, scopes: Scopes, now: datetime, tally: _Tally
) -> None:
    tracker = media.tracker
    grouping = {c.account for c in scopes.campaigns if c.rules.one_entry_per_user}
    async for batch in tracker.marked(PROJECTION, BATCH):
        state = await tracker.state()
        clear = state.live(now) <= scopes.names()
        # An author's media are read together only where a campaign judges them together
        # (one entry per user, on an account that saw them): elsewhere a verdict depends on its
        # media alone, and a prolific author would cost all their media every pass.
        keys = sorted(
            {
                a
                for d in batch
                if rules.accounts(d) & grouping
                for a in [rules.author(d), *(d.get("authors") or [])]
                if a
            }
        )
        query: Document = {"authors": {"$in": keys}}
        related = (
            [d async for d in media.stream(query, sort=[("_id", 1)], projection=PROJECTION)]
            if keys
            else []
        )
        verdicts = rules.settle_changed(scopes.campaigns, batch, related)
        documents = {rules.media_id(d): d for d in batch}
        documents.update((rules.media_id(d), d) for d in related)
        marked = {rules.media_id(d) for d in batch}
        changes = _changes(documents.values(), verdicts, scopes, marked, tally)
        committed = await tracker.commit(changes, scopes.names(), clear=clear)
        tally.remarked += committed.remarked
        if keys:
            tally.remarked += await _confirm(media, query, related)


async def _full(media: MediaRepository, campaign: Campaign, scopes: Scopes, tally: _Tally) -> None:
    """Judge every media of the campaign's account, author by author (see the module doc)."""
    tracker = media.tracker
    group: list[Document] = []
    chunk: list[Document] = []

    async def commit_chunk() -> None:
        verdicts, by_author = _judge_chunk(campaign, chunk)
        changes = _changes(chunk, verdicts, scopes, set(), tally)
        committed = await tracker.commit(changes, scopes.names(), clear=False)
        tally.remarked += committed.remarked
        if by_author:
            query: Document = {
                "sources.account": campaign.account,
                "author": {"$in": sorted(by_author)},
            }
            known = [d for d in chunk if rules.author(d) is not None]
            tally.remarked += await _confirm(media, query, known)
        chunk.clear()

    documents = media.stream(
        {"sources.account": campaign.account},
        sort=[("author", 1), ("timestamp", 1), ("_id", 1)],
        projection=PROJECTION,
    )
    author: str | None = None
    async for document in documents:
        key = rules.author(document)
        if key is None or key != author:
            chunk.extend(group)
            group.clear()
            if len(chunk) >= BATCH:
                await commit_chunk()
            author = key
        group.append(document)
    chunk.extend(group)
    await commit_chunk()


def _judge_chunk(
    campaign: Campaign, chunk: list[Document]
) -> tuple[dict[str, dict[str, Verdict]], dict[str, list[Document]]]:
    """The campaign's verdicts on a chunk of whole authors, and the chunk's media by author.

    Media judged alone: those without a known author, or all when the campaign keeps every
    entry. With one entry per user, each known author's media are judged together.
    """
    verdicts: dict[str, dict[str, Verdict]] = {}
    by_author: dict[str, list[Document]] = {}
    for document in chunk:
        key = rules.author(document)
        if key is not None and campaign.rules.one_entry_per_user:
            by_author.setdefault(key, []).append(document)
        elif rules.judgeable(document):
            verdict = rules.judge_alone(campaign.rules, document)
            verdicts[rules.media_id(document)] = {campaign.id: verdict}
    for members in by_author.values():
        for media_id, verdict in rules.judge_author(campaign.rules, members).items():
            verdicts[media_id] = {campaign.id: verdict}
    return verdicts, by_author


def _summary(state: State, scopes: Scopes, tally: _Tally, full: set[str]) -> SettlingPass:
    def count(scope: str, name: str) -> int:
        return state.count(f"{scope}/{name}")

    return SettlingPass(
        campaigns=[
            Settlement(
                campaign=c.id,
                judged=tally.judged[c.id],
                changed=tally.changed[c.id],
                eligible=count(entrants_scope(c.id), rules.ALL),
                eligible_known=count(entrants_scope(c.id), rules.KNOWN),
                full=c.id in full,
            )
            for c in scopes.campaigns
        ],
        identities={
            a: Identity(
                total=count(identity_scope(a), rules.ALL),
                known=count(identity_scope(a), rules.KNOWN),
            )
            for a in scopes.accounts
        },
        remarked=tally.remarked,
    )


async def settle(
    media: MediaRepository,
    scopes: Scopes,
    *,
    now: datetime,
    full: Iterable[str] = (),
) -> SettlingPass:
    """One settling pass over ``scopes``; ``full``: campaign ids to judge in full regardless.

    Campaigns whose rules version differs from the one they were last settled with in full are
    judged in full first. Media stored before they were tracked are adopted (marked) first.
    With ``full``, media an older version wrote without an author key are adopted too.
    """
    tracker = media.tracker
    forced = set(full)
    state = await tracker.recover()
    if state.schema < SCHEMA or forced:
        query: Document = {"$or": [UNTRACKED, UNKEYED]} if forced else UNTRACKED
        await tracker.adopt(query, {"username": 1}, derived_fields)
        await tracker.set_schema(SCHEMA)
    await tracker.register(scopes.names(), now)
    tally = _Tally()
    done: set[str] = set()
    for campaign in scopes.campaigns:
        version = rules_version(campaign.rules)
        scope = entrants_scope(campaign.id)
        if campaign.id in forced or state.version(scope) != version:
            # Forget the old version first: a pass that stops half-way has written verdicts of
            # the new rules, and going back to the old ones must judge everything again too.
            await tracker.set_version(scope, None)
            await _full(media, campaign, scopes, tally)
            await tracker.set_version(scope, version)
            done.add(campaign.id)
    await _incremental(media, scopes, now, tally)
    return _summary(await tracker.state(), scopes, tally, done)


def counters(state: State, scopes: Scopes) -> SettlingPass:
    """The gauges' values as a state document holds them, without settling anything."""
    return _summary(state, scopes, _Tally(), set())
