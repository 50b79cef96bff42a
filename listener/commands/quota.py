"""``listener quota``: per account, the hashtags holding slots, when each frees, who waits."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TextIO

from listener.commands.report import Report
from listener.commands.tools import open_tools, reachable, utcnow
from listener.errors import StoreUnavailableError
from listener.ratelimit.ledger import MAX_SLOTS, QuotaPlan, plan
from listener.settings import Settings


async def quota(settings: Settings, out: TextIO, *, clock: Callable[[], datetime] = utcnow) -> int:
    """``listener quota``: per account, the hashtags holding slots, when each frees, who waits.

    Read from the shared ledger in MongoDB (what every replica has spent, and what Meta listed at
    the last start-up), not from Meta: looking costs no rate limit and no slot.
    """
    report = Report(out)
    async with open_tools(settings, report, clock) as tools:
        if await reachable(tools, report, quiet=True) is None or tools.store is None:
            return report.finish("quota")
        now = clock()
        for account in settings.accounts:
            try:
                ledger, _ = await tools.store.slots.load(account.name)
            except StoreUnavailableError as exc:
                report.problem(account.name, str(exc)[:300])
                continue
            _print_plan(out, account.name, plan(account.hashtags, ledger, now), now)
    return report.finish("quota")


def _print_plan(out: TextIO, account: str, quota_plan: QuotaPlan, now: datetime) -> None:
    used = MAX_SLOTS - quota_plan.remaining
    out.write(f"{account}: {used} of {MAX_SLOTS} hashtags used in the rolling 7 days, ")
    out.write(f"{quota_plan.remaining} free\n")
    for slot in (*quota_plan.in_use, *quota_plan.others):
        configured = "" if slot in quota_plan.in_use else "  (not configured now)"
        left = _days(slot.frees_at - now)
        out.write(f"  {slot.tag:<32} frees {_utc(slot.frees_at)} (in {left}){configured}\n")
    for waiting in quota_plan.waiting:
        when = (
            f"can start {_utc(waiting.starts_at)}"
            if waiting.starts_at is not None
            else "waits until a configured hashtag is removed"
        )
        out.write(f"  {waiting.tag:<32} waiting: {when}\n")


def _days(span: timedelta) -> str:
    hours = max(span.total_seconds(), 0) / 3600
    return f"{hours / 24:.1f} days" if hours >= 48 else f"{hours:.1f} hours"


def _utc(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
