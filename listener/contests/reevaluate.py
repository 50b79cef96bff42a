"""Re-judging stored media: when a campaign's rules change, and to settle one entry per user.

Streams the media the campaign's account has seen in author order (constant memory apart from
one author's entries at a time), judges each with the pure rules — an author's entries together,
so that only their earliest eligible one stays an entry — and writes back only the verdicts
that changed, in bulk. Run at start-up, periodically by the worker, before an export, and by
``listener contests reevaluate``. The pass also counts the entrants whose author is known, so
the worker's ``listener_contest_author_known_ratio`` costs no read of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from listener.enrich.contests import Entry, Verdict, judge, judge_all
from listener.enrich.enricher import Campaign
from listener.store.media import MediaRepository

BATCH: Final = 500


@dataclass(frozen=True)
class Reevaluation:
    """What a pass did for one campaign: media judged, verdicts changed, entrants, and how many
    entrants have a known author."""

    campaign: str
    judged: int
    changed: int
    eligible: int
    eligible_known: int = 0

    @property
    def author_known_ratio(self) -> float:
        """Share of the entrants whose author is known (0 when there are none)."""
        return self.eligible_known / self.eligible if self.eligible else 0.0


def _entry(document: dict[str, Any]) -> Entry:
    timestamp: datetime = document["timestamp"]
    return Entry(
        media_id=str(document["_id"]),
        timestamp=timestamp,
        caption=document.get("caption") or "",
        username=document.get("username"),
    )


async def reevaluate(media: MediaRepository, campaign: Campaign) -> Reevaluation:
    """Bring every stored verdict of ``campaign`` up to date; only changes are written."""
    path = f"contests.{campaign.id}"
    judged = changed = eligible = eligible_known = 0
    pending: list[tuple[str, dict[str, Any]]] = []
    group: list[tuple[Entry, Any]] = []
    author: str | None = None

    async def settle(items: Sequence[tuple[Entry, Any]], verdicts: dict[str, Verdict]) -> None:
        nonlocal judged, changed, eligible, eligible_known
        for entry, stored in items:
            verdict = verdicts[entry.media_id]
            judged += 1
            eligible += verdict.eligible
            eligible_known += verdict.eligible and entry.username is not None
            document = verdict.as_document()
            if stored != document:
                pending.append((entry.media_id, {path: document}))
        if len(pending) >= BATCH:
            changed += await media.update_many_by_id(pending)
            pending.clear()

    async def close_group() -> None:
        if group:
            entries = [entry for entry, _ in group]
            await settle(group, judge_all(campaign.rules, entries))
            group.clear()

    documents = media.stream(
        {"sources.account": campaign.account, "timestamp": {"$type": "date"}},
        sort=[("username", 1), ("timestamp", 1), ("_id", 1)],
        projection={"caption": 1, "timestamp": 1, "username": 1, path: 1},
    )
    async for document in documents:
        entry = _entry(document)
        stored = document.get("contests", {}).get(campaign.id)
        if entry.username is None:
            # No author: one-entry-per-user cannot group it; it is judged on its own.
            await settle([(entry, stored)], {entry.media_id: judge(campaign.rules, entry)})
            continue
        key = entry.username.casefold()
        if key != author:
            await close_group()
            author = key
        group.append((entry, stored))
    await close_group()
    if pending:
        changed += await media.update_many_by_id(pending)
    return Reevaluation(campaign.id, judged, changed, eligible, eligible_known)
