"""Domain values shared along the data path: what a media is and where it was seen.

Plain frozen dataclasses, no I/O: the Graph layer builds them from wire models, the store
turns them into MongoDB documents.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any


class SourceKind(StrEnum):
    """How a media reached us; the ``kind`` of a source in the contract's ``media.sources``."""

    HASHTAG_RECENT = "hashtag_recent"
    HASHTAG_TOP = "hashtag_top"
    TAGS = "tags"
    MENTION_MEDIA = "mention_media"
    MENTION_COMMENT = "mention_comment"
    COMMENTS = "comments"
    """The comments poller's feed (its poll state and lease); never a media's source."""


@dataclass(frozen=True, slots=True)
class Source:
    """One place a media was seen: the feed kind, the account that saw it, the hashtag if any."""

    kind: SourceKind
    account: str
    hashtag: str | None = None

    @property
    def metric_hashtag(self) -> str:
        """The bounded ``hashtag`` label: the hashtag, or empty for non-hashtag sources."""
        return self.hashtag or ""


@dataclass(frozen=True, slots=True)
class Media:
    """An Instagram media as the Graph API described it at one sighting.

    ``username`` is ``None`` where the API withholds it (hashtag edges never give it);
    counts are ``None`` where the owner hid them.
    """

    id: str
    timestamp: datetime
    caption: str = ""
    permalink: str | None = None
    media_type: str | None = None
    like_count: int | None = None
    comments_count: int | None = None
    username: str | None = None


@dataclass(frozen=True, slots=True)
class Sighting:
    """A media seen through one source at one moment: the unit the store ingests."""

    media: Media
    source: Source
    seen_at: datetime


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    """One change of a webhook delivery, as stored in the inbox before Meta gets its 200.

    ``key`` identifies the change whatever delivery brought it (Meta retries for 36 hours), so
    storing it twice is a no-op. ``problem`` is set when the change cannot be used; it is kept,
    as a dead letter, rather than lost.
    """

    key: str
    field: str
    ig_user_id: str
    media_id: str | None = None
    comment_id: str | None = None
    username: str | None = None
    sent_at: datetime | None = None
    value: dict[str, Any] = dataclasses.field(default_factory=dict)
    problem: str | None = None


class CommentSource(StrEnum):
    """How a comment on the account's own post reached us (the contract's ``comments.sources``)."""

    POLL = "comments_poll"
    WEBHOOK = "comments_webhook"


@dataclass(frozen=True, slots=True)
class Comment:
    """A comment on one of the account's own posts, as one sighting described it.

    A webhook delivery carries no ``timestamp`` and no ``like_count``: ``None`` there, and the
    store keeps what a poll said (or, for a comment not yet polled, the delivery's time).
    ``parent_id`` is set on a reply only.
    """

    id: str
    media_id: str
    account: str
    text: str = ""
    username: str | None = None
    user_id: str | None = None
    timestamp: datetime | None = None
    like_count: int | None = None
    parent_id: str | None = None
    hidden: bool | None = None
