"""Comment giveaways: judging the stored comments of a campaign's posts, and their export.

A comment campaign's entries are the top-level comments of its posts (``posts`` resolved to
media ids, see :func:`resolve_posts`). They are judged by the same pure rules as media
(:mod:`listener.enrich.contests`), with the comment's text as the caption; one entry per user
needs the comments in order of time, so a settling pass streams them in that order (keeping
only the authors entered) and writes only the verdicts that changed, a batch at a time.

The export lists ``entry_number, comment_id, media_id, username, timestamp, text, sentiment,
sentiment_score`` (``--all``: then ``eligible`` and ``reasons``), Excel-safe as the media export
(:mod:`listener.contests.export`); a draw's tickets are HMAC-SHA256 of the comment ids.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final

from listener.contests.export import Listing, judged_cells, timestamp_cell
from listener.enrich.contests import Entry, InOrder, Rules
from listener.settings import CampaignSettings, shortcode
from listener.store.comments import CommentRepository, top_level_of

COMMENT_COLUMNS: Final = (
    "entry_number",
    "comment_id",
    "media_id",
    "username",
    "timestamp",
    "text",
    "sentiment",
    "sentiment_score",
)
ALL_COMMENT_COLUMNS: Final = (*COMMENT_COLUMNS, "eligible", "reasons")
_JUDGED_FIELDS: Final = {"media_id": 1, "text": 1, "username": 1, "timestamp": 1, "parent_id": 1}


class UnresolvedPostError(ValueError):
    """A campaign post given as a permalink that is not among the account's media."""


def resolve_posts(config: CampaignSettings, known: Mapping[str, str]) -> tuple[str, ...]:
    """The campaign's posts as media ids: ids as given, permalinks through ``known``
    (shortcode → media id, from the account's media listing); :class:`UnresolvedPostError`
    naming the first permalink that is not the account's."""
    ids: list[str] = []
    for post in config.posts:
        code = shortcode(post)
        if code is None:
            ids.append(post)
        elif code in known:
            ids.append(known[code])
        else:
            raise UnresolvedPostError(
                f"campaigns {config.id!r}: post {post} is not among account "
                f"{config.account!r}'s media"
            )
    return tuple(ids)


def with_posts(rules: Rules, posts: Sequence[str]) -> Rules:
    """The rules of a comment campaign with its posts resolved to media ids."""
    return replace(rules, posts=tuple(posts))


def entry(document: Mapping[str, Any]) -> Entry:
    """The contest entry a stored comment makes."""
    username = document.get("username")
    return Entry.from_comment(
        comment_id=str(document["_id"]),
        media_id=str(document.get("media_id")),
        timestamp=document["timestamp"],
        text=document.get("text") or "",
        username=username if isinstance(username, str) and username else None,
        parent_id=document.get("parent_id"),
    )


@dataclass(frozen=True)
class CommentSettlement:
    """What judging a comment campaign found: entries, eligible ones, verdicts written, and of
    those the first ones comments got for the campaign (eligible, not eligible)."""

    campaign: str
    judged: int
    eligible: int
    written: int
    first_eligible: int = 0
    first_ineligible: int = 0


SETTLE_BATCH: Final = 1000
"""Changed verdicts written per bulk write while settling."""


async def settle(comments: CommentRepository, campaign: str, rules: Rules) -> CommentSettlement:
    """Judge every top-level comment of the campaign's posts; write the changed verdicts.

    The comments stream in ``(timestamp, _id)`` order (the ``media_time`` index), so one entry
    per user needs only the set of authors entered, and the changes are written a batch at a
    time: memory follows the number of entrants' handles, not the comments' text.
    """
    judge = InOrder(rules)
    judged = eligible = written = first_eligible = first_ineligible = 0
    changed: dict[str, dict[str, Any]] = {}
    async for document in comments.stream(
        top_level_of(rules.posts),
        sort=[("timestamp", 1), ("_id", 1)],
        projection={**_JUDGED_FIELDS, f"contests.{campaign}": 1},
    ):
        verdict = judge.judge(entry(document))
        judged += 1
        eligible += verdict.eligible
        before = (document.get("contests") or {}).get(campaign)
        if before is None:
            first_eligible += verdict.eligible
            first_ineligible += not verdict.eligible
        if before != verdict.as_document():
            changed[str(document["_id"])] = {f"contests.{campaign}": verdict.as_document()}
        if len(changed) >= SETTLE_BATCH:
            written += await _write(comments, changed)
    written += await _write(comments, changed)
    return CommentSettlement(
        campaign,
        judged,
        eligible,
        written,
        first_eligible=first_eligible,
        first_ineligible=first_ineligible,
    )


async def _write(comments: CommentRepository, changed: dict[str, dict[str, Any]]) -> int:
    """Write the changed verdicts and empty ``changed``; how many were written."""
    count = len(changed)
    await comments.set_many(changed)
    changed.clear()
    return count


def row(document: Mapping[str, Any], campaign: str, entry_number: int | None) -> dict[str, Any]:
    """One export row from a stored comment document (pure)."""
    return {
        "entry_number": entry_number,
        "comment_id": str(document["_id"]),
        "media_id": str(document.get("media_id") or ""),
        "username": document.get("username") or "",
        "timestamp": timestamp_cell(document.get("timestamp")),
        "text": document.get("text") or "",
        **judged_cells(document, campaign),
    }


def listing(
    comments: CommentRepository, campaign: str, posts: Sequence[str], *, include_all: bool
) -> Listing:
    """What the export of a comment campaign lists (see :func:`~export.write_entrants`)."""

    def documents(eligible: bool) -> AsyncIterator[dict[str, Any]]:
        return comments.stream(
            {**top_level_of(posts), f"contests.{campaign}.eligible": eligible},
            sort=[("timestamp", 1), ("_id", 1)],
            projection={
                "media_id": 1,
                "username": 1,
                "timestamp": 1,
                "text": 1,
                "sentiment": 1,
                f"contests.{campaign}": 1,
            },
        )

    return Listing(
        ALL_COMMENT_COLUMNS if include_all else COMMENT_COLUMNS,
        documents,
        lambda document, number: row(document, campaign, number),
    )
