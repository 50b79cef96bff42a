"""``comments`` webhook changes of accounts with ``comments = true``: comments on their posts.

A change that carries what the comment's document needs (``id``, ``text``, ``from{id,
username}`` and ``media.id``) is stored as it came, without a Graph call; its time is the
delivery's until a poll gives the real one (``timestamp_estimated``, see
:mod:`listener.store.comments`). Meta leaves the media out of changes about album comments
("Webhook notifications for Comments on albums don't include the album ID"), and restfb-style
bodies carry only ``{text, id}``: the comment is then read from its node
(``GET /{comment-id}?fields=…,media{id}``), which also gives its author and time. A comment
deleted before that read answers 100/33: the inbox sets the change aside as a dead letter with
that reason, and the account goes on (:mod:`listener.pollers.inbox`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from listener.graph.instagram import InstagramApi
from listener.models import Comment, CommentSource
from listener.pollers.accounts import Accounts
from listener.pollers.comment_ingest import CommentIngestor

COMMENT_FIELDS: Final = frozenset({"comments"})
"""Webhook fields whose changes are comments on the account's own posts."""


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _digits(value: Any) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value if isinstance(value, str) and value.isdigit() and len(value) <= 32 else None


def delivered_comment(value: Mapping[str, Any], account: str) -> Comment | None:
    """The comment a change describes in full, or ``None`` when it lacks something (pure)."""
    author = value.get("from")
    media = value.get("media")
    if not isinstance(author, Mapping) or not isinstance(media, Mapping):
        return None
    comment_id, media_id = _digits(value.get("id")), _digits(media.get("id"))
    text, username = _text(value.get("text")), _text(author.get("username"))
    if comment_id is None or media_id is None or text is None or not username:
        return None
    return Comment(
        id=comment_id,
        media_id=media_id,
        account=account,
        text=text,
        username=username,
        user_id=_digits(author.get("id")),
        parent_id=_digits(value.get("parent_id")),
    )


@dataclass(frozen=True)
class Stored:
    """What storing one change did: the comment, whether it was new, whether Meta was asked,
    and why the store refused it (``None`` when it did not)."""

    comment_id: str
    media_id: str
    new: bool
    fetched: bool
    refused: str | None = None


class CommentEvents:
    """Stores the comments of ``comments`` changes, fetching only what a change lacks."""

    def __init__(
        self,
        *,
        api: InstagramApi,
        ingestor: CommentIngestor,
        accounts: Accounts,
        comments_on: Collection[str],
    ) -> None:
        self._api = api
        self._ingestor = ingestor
        self._accounts = accounts
        self._on = frozenset(comments_on)

    def handles(self, field: str, account: str) -> bool:
        """Whether a change of ``field`` for ``account`` is a comment on its own posts."""
        return field in COMMENT_FIELDS and account in self._on

    async def store(
        self, value: Mapping[str, Any], comment_id: str, account: str, now: datetime
    ) -> Stored:
        """Store the change's comment; raises the Graph error of a fetch that failed."""
        comment = delivered_comment(value, account)
        fetched = comment is None
        if comment is None:
            comment = await self._api.own_comment(self._accounts.who(account), comment_id)
        result = await self._ingestor.ingest([comment], CommentSource.WEBHOOK, now)
        return Stored(
            comment_id=comment.id,
            media_id=comment.media_id,
            new=bool(result.new),
            fetched=fetched,
            refused=result.refused.get(comment.id),
        )
