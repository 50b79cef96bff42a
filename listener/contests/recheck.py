"""``listener draw recheck``: before announcing, ask Meta whether each drawn entry still stands.

A drawn media is looked for in the feeds it came from; a drawn comment is read again from its
node (``GET /{comment-id}``): deleted (100/33) or hidden, it is withdrawn with that reason, and
its text, author and time are judged again by the campaign's rules. The draw's record is never
changed: the results are kept beside it.

It prints like the operator commands (:mod:`listener.commands.report`) and opens what they open
(:mod:`listener.commands.tools`).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping, Sequence
from contextlib import aclosing
from datetime import datetime
from functools import partial
from typing import Any, TextIO

from listener.commands.report import Report
from listener.commands.tools import Tools, open_tools, reachable, utcnow
from listener.contests.commands import ContestError, comment_rules
from listener.enrich.contests import Entry, Rules, judge
from listener.enrich.contests import hashtags as caption_hashtags
from listener.enrich.draw import DrawRecord
from listener.errors import BadRequestError, GraphError, ObjectUnavailableError
from listener.graph.instagram import Credentials
from listener.graph.wire import CommentState, MediaPage
from listener.settings import Settings

RECHECK_PAGES = 10
"""How many pages of a feed to walk looking for a drawn media (500 media at 50 a page)."""


async def recheck(
    settings: Settings,
    out: TextIO,
    campaign_id: str,
    *,
    clock: Callable[[], datetime] = utcnow,
) -> int:
    """``listener draw recheck``: before announcing, ask Meta whether each drawn entry still stands.

    A drawn media is looked for in the feeds it came from; a drawn comment is read again from its
    node (``GET /{comment-id}``): deleted (100/33) or hidden, it is withdrawn with that reason, and
    its text, author and time are judged again by the campaign's rules. The draw's record is never
    changed: the results are kept beside it.

        For each winner and alternate, in drawn order: is the media still reachable through a feed
        it came from (its mention, ``/tags``, or its hashtag's ``top_media``/``recent_media``), and
        does its caption still carry the campaign's hashtags? An entry Meta no longer serves, or
        whose caption lost a hashtag, is marked withdrawn with the reason — never silently dropped.
        An entry no feed can show any more (older than recent_media's 24 hours, not in top media)
        is "unconfirmed": nothing proves it was withdrawn. The results are kept with the draw.
    """
    config = settings.campaign(campaign_id)
    account = settings.account(config.account)
    report = Report(out)
    async with open_tools(settings, report, clock) as tools:
        if await reachable(tools, report, quiet=True) is None or tools.store is None:
            return report.finish("recheck")
        stored = await tools.store.draws.load(config.id)
        if stored is None or not stored.get("record"):
            report.problem(config.id, "not drawn yet: run `listener draw` first")
            return report.finish("recheck")
        record = DrawRecord.from_json(stored["record"])
        who = await tools.credentials(account)
        check: Callable[[str], Awaitable[tuple[str, str]]]
        if config.kind == "comments":
            try:
                rules = await comment_rules(tools.store, settings, config)
            except ContestError as exc:
                report.problem(config.id, str(exc))
                return report.finish("recheck")
            check = partial(_recheck_comment, tools, who, rules)
        else:
            check = partial(_recheck_one, tools, who, config.hashtags)
        key = "comment_id" if config.kind == "comments" else "media_id"
        results: list[dict[str, str]] = []
        winners_left = record.winners_asked
        for rank, media_id in enumerate((*record.winners, *record.alternates), start=1):
            status, reason = await check(media_id)
            results.append({key: media_id, "status": status, "reason": reason})
            role = "winner" if rank <= len(record.winners) else "alternate"
            text = f"{status}" + (f": {reason}" if reason else "")
            line = report.warning if status == "withdrawn" else report.ok
            line(f"{role} {rank} {media_id}", text)
        final = [r[key] for r in results if r["status"] != "withdrawn"][:winners_left]
        out.write(f"winners after the re-check, in drawn order: {', '.join(final) or 'none'}\n")
        await tools.store.draws.save_recheck(config.id, {"checked_at": clock(), "results": results})
    return report.finish("recheck")


async def _recheck_one(
    tools: Tools, who: Credentials, hashtags: Sequence[str], media_id: str
) -> tuple[str, str]:
    """(status, reason) of one drawn media: ok, withdrawn or unconfirmed."""
    assert tools.store is not None
    document = await tools.store.media.get(media_id)
    if document is None:
        return "withdrawn", "no longer in the store"
    kinds = {s.get("kind") for s in document.get("sources", [])}
    try:
        caption = await _fresh_caption(tools, who, document, kinds, media_id)
    except BadRequestError as exc:
        gone = isinstance(exc, ObjectUnavailableError)
        why = "gone at Meta (deleted, private or expired)" if gone else "Meta no longer serves it"
        return "withdrawn", f"{why}: {exc.message}"
    except GraphError as exc:
        return "unconfirmed", f"Meta did not answer: {exc}"
    if caption is None:
        return "unconfirmed", "no feed shows it any more (older than 24 h and not a top media)"
    present = set(caption_hashtags(caption))
    missing = [tag for tag in hashtags if tag.casefold() not in present]
    if missing:
        return "withdrawn", f"the caption no longer carries #{', #'.join(missing)}"
    return "ok", ""


async def _recheck_comment(
    tools: Tools, who: Credentials, rules: Rules, comment_id: str
) -> tuple[str, str]:
    """(status, reason) of one drawn comment: ok, withdrawn (deleted, hidden, or no longer
    within the rules) or unconfirmed (Meta did not answer)."""
    try:
        now = await tools.instagram.comment_state(who, comment_id)
    except ObjectUnavailableError as exc:
        return "withdrawn", f"deleted at Meta (or its post is): {exc.message}"
    except BadRequestError as exc:
        return "withdrawn", f"Meta no longer serves it: {exc.message}"
    except GraphError as exc:
        return "unconfirmed", f"Meta did not answer: {exc}"
    if now.hidden:
        return "withdrawn", "hidden by the account"
    assert tools.store is not None
    return _within_rules(rules, now, await tools.store.comments.get(comment_id) or {})


def _within_rules(rules: Rules, now: CommentState, stored: Mapping[str, Any]) -> tuple[str, str]:
    """(status, reason) of a comment Meta still serves, judged again by the rules; what Meta
    left out (its time, its author) is taken from the store."""
    timestamp = now.timestamp or stored.get("timestamp")
    if timestamp is None:
        return "unconfirmed", "Meta gave no time for it and the store has none"
    verdict = judge(
        rules,
        Entry.from_comment(
            comment_id=now.id,
            media_id=now.media_id or str(stored.get("media_id") or ""),
            timestamp=timestamp,
            text=now.text,
            username=now.username or stored.get("username"),
            parent_id=now.parent_id,
        ),
    )
    if not verdict.eligible:
        return "withdrawn", f"no longer within the rules: {', '.join(verdict.reasons)}"
    return "ok", ""


async def _fresh_caption(
    tools: Tools,
    who: Credentials,
    document: Mapping[str, Any],
    kinds: set[Any],
    media_id: str,
) -> str | None:
    """The caption Meta serves now, from a feed the media came from; None if none shows it."""
    api = tools.instagram
    if "mention_media" in kinds:
        return (await api.mentioned_media(who, media_id)).caption
    walks: list[AsyncGenerator[MediaPage, None]] = []
    if "tags" in kinds:
        walks.append(api.tagged_media(who, page_size=50, max_pages=RECHECK_PAGES))
    assert tools.store is not None
    for source in document.get("sources", []):
        # Only hashtags resolved before: a re-check must not spend a hashtag slot.
        hashtag_id = await tools.store.feeds.hashtag_id(str(source.get("hashtag") or ""))
        if hashtag_id is None:
            continue
        for edge in ("top_media", "recent_media"):
            walks.append(
                api.hashtag_media(who, hashtag_id, edge, page_size=50, max_pages=RECHECK_PAGES)
            )
    for walk in walks:
        async with aclosing(walk) as pages:
            async for page in pages:
                for media in page.media:
                    if media.id == media_id:
                        return media.caption
    return None
