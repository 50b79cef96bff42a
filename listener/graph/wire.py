"""Wire models of the Graph API and the mapping of Meta's error bodies to the error tree.

Pure: no I/O. Models ignore unknown fields (Meta adds fields without notice) and a single
media of the wrong shape is reported and skipped, never allowed to sink its page. Counts are
64-bit integers, as MongoDB stores them: a count beyond is a media of the wrong shape.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, field_validator

from listener.errors import (
    AuthError,
    BadRequestError,
    GraphError,
    GraphPermissionError,
    MalformedResponseError,
    ObjectUnavailableError,
    ThrottledError,
    TransientError,
)
from listener.models import Comment, Media

# Meta's throttle codes: platform (4 app, 17 user, 32 pages, 613 custom) and the business
# use case family 80000-80014 (80002 = Instagram).
THROTTLE_CODES = frozenset({4, 17, 32, 613}) | frozenset(range(80000, 80015))
AUTH_CODES = frozenset({102, 190})
TRANSIENT_CODES = frozenset({1, 2})
# Code 100 with subcode 33 ("Object with ID '…' does not exist, cannot be loaded due to missing
# permissions, or does not support this operation"): a deleted, private or expired object. An
# answer about that object; whether it hides a throttle is the choke point's call, on evidence.
OBJECT_UNAVAILABLE = (100, 33)
_OBJECT_ID = re.compile(r"Object with ID '(\d{1,32})'")

TIMESTAMP_RESOLUTION = timedelta(seconds=1)
"""Meta's ``timestamp`` carries whole seconds (``2026-11-29T10:15:00+0000``): a media stamped
``s`` was published at some moment in ``[s, s + TIMESTAMP_RESOLUTION)``."""

Count = Annotated[int, Field(ge=-(2**63), lt=2**63)]
"""A count as MongoDB can store it (a signed 64-bit integer)."""


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class WireMedia(_Wire):
    """An IG Media as returned by hashtag edges, ``/tags`` and mention expansions."""

    id: str
    timestamp: AwareDatetime
    caption: str | None = None
    permalink: str | None = None
    media_type: str | None = None
    like_count: Count | None = None
    comments_count: Count | None = None
    username: str | None = None

    @field_validator("timestamp")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)

    def to_media(self) -> Media:
        """The domain value."""
        return Media(
            id=self.id,
            timestamp=self.timestamp,
            caption=self.caption or "",
            permalink=self.permalink,
            media_type=self.media_type,
            like_count=self.like_count,
            comments_count=self.comments_count,
            username=self.username,
        )


class Cursors(_Wire):
    """Cursor-based paging cursors; hashtag edges only ever send ``after``."""

    before: str | None = None
    after: str | None = None


class Paging(_Wire):
    """The ``paging`` object; ``next`` is absent on ``/tags`` even when more pages exist."""

    cursors: Cursors = Cursors()
    next: str | None = None


class _Envelope(_Wire):
    data: list[Any]
    paging: Paging | None = None


@dataclass(frozen=True)
class MediaPage:
    """One page of media: the good items, how many items were rejected, and the paging."""

    media: list[Media]
    paging: Paging
    rejected: list[str] = field(default_factory=list)


def parse_media_page(body: Any, *, endpoint: str) -> MediaPage:
    """Parse a ``{"data": [...], "paging": {...}}`` body; items of the wrong shape are rejected."""
    envelope = _validated(_Envelope, body, endpoint)
    media: list[Media] = []
    rejected: list[str] = []
    for item in envelope.data:
        try:
            media.append(WireMedia.model_validate(item).to_media())
        except ValidationError as exc:
            rejected.append(_first_problem(exc))
    return MediaPage(media=media, paging=envelope.paging or Paging(), rejected=rejected)


_M = TypeVar("_M", bound=_Wire)


class _MentionedMedia(_Wire):
    mentioned_media: WireMedia


class WireComment(_Wire):
    """A comment as ``mentioned_comment`` returns it, with the media it was left on if asked.

    ``media`` is optional: an answer that lacks it (a client that did not ask, or Meta leaving
    it out) is still a comment, and its media is fetched on its own.
    """

    id: str
    text: str | None = None
    timestamp: AwareDatetime | None = None
    username: str | None = None
    media: WireMedia | None = None


class _MentionedComment(_Wire):
    mentioned_comment: WireComment


class _CommentMedia(_Wire):
    media: WireMedia


@dataclass(frozen=True)
class MentionedComment:
    """A comment that @mentions the account, and the media it was left on when Meta gave it."""

    id: str
    text: str
    username: str | None
    media: Media | None


def parse_mentioned_media(body: Any, *, endpoint: str) -> Media:
    """The media of a ``mentioned_media`` field expansion."""
    return _validated(_MentionedMedia, body, endpoint).mentioned_media.to_media()


def parse_mentioned_comment(body: Any, *, endpoint: str) -> MentionedComment:
    """The comment (and, when present, its media) of a ``mentioned_comment`` field expansion."""
    comment = _validated(_MentionedComment, body, endpoint).mentioned_comment
    return MentionedComment(
        id=comment.id,
        text=comment.text or "",
        username=comment.username,
        media=None if comment.media is None else comment.media.to_media(),
    )


def parse_comment_media(body: Any, *, endpoint: str) -> Media:
    """The media of a comment node asked for ``media{…}`` (``GET /{comment-id}``)."""
    return _validated(_CommentMedia, body, endpoint).media.to_media()


class _MediaRef(_Wire):
    id: str


class _CommentNode(_Wire):
    id: str
    text: str | None = None
    timestamp: AwareDatetime | None = None
    username: str | None = None
    hidden: bool | None = None
    parent_id: str | None = None
    media: _MediaRef | None = None


@dataclass(frozen=True)
class CommentState:
    """A comment on the account's own post as Meta serves it now (``GET /{comment-id}``)."""

    id: str
    text: str
    timestamp: datetime | None
    username: str | None
    hidden: bool
    parent_id: str | None
    media_id: str | None


def parse_comment_state(body: Any, *, endpoint: str) -> CommentState:
    """The comment node asked for its text, author, time, ``hidden``, parent and media id."""
    node = _validated(_CommentNode, body, endpoint)
    return CommentState(
        id=node.id,
        text=node.text or "",
        timestamp=node.timestamp,
        username=node.username,
        hidden=bool(node.hidden),
        parent_id=node.parent_id,
        media_id=None if node.media is None else node.media.id,
    )


class WireOwnMedia(WireMedia):
    """One of the account's own media (``/{ig-user-id}/media``): whether comments are on."""

    is_comment_enabled: bool | None = None


@dataclass(frozen=True)
class OwnMediaPage:
    """One page of the account's own media, newest first as Meta lists them."""

    media: list[Media]
    comments_enabled: dict[str, bool]
    """Media id → ``is_comment_enabled``, where Meta said."""
    paging: Paging


def parse_own_media_page(body: Any, *, endpoint: str) -> OwnMediaPage:
    """A page of ``/{ig-user-id}/media``; items of the wrong shape are left out."""
    envelope = _validated(_Envelope, body, endpoint)
    media: list[Media] = []
    enabled: dict[str, bool] = {}
    for item in envelope.data:
        try:
            own = WireOwnMedia.model_validate(item)
        except ValidationError:
            continue
        media.append(own.to_media())
        if own.is_comment_enabled is not None:
            enabled[own.id] = own.is_comment_enabled
    return OwnMediaPage(media, enabled, envelope.paging or Paging())


class _Author(_Wire):
    id: str | None = None
    username: str | None = None


class _MediaId(_Wire):
    id: str


class WireOwnComment(_Wire):
    """A comment on the account's own media (the comments edge, the comment node)."""

    id: str
    text: str | None = None
    timestamp: AwareDatetime | None = None
    username: str | None = None
    author: _Author | None = Field(default=None, alias="from")
    like_count: Count | None = None
    parent_id: str | None = None
    hidden: bool | None = None
    media: _MediaId | None = None

    @field_validator("timestamp")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        return None if value is None else value.astimezone(UTC)

    def to_comment(self, *, account: str, media_id: str) -> Comment:
        """The domain value, on ``media_id`` (the page's media, or the node's own ``media``)."""
        author = self.author or _Author()
        return Comment(
            id=self.id,
            media_id=media_id,
            account=account,
            text=self.text or "",
            username=self.username or author.username,
            user_id=author.id,
            timestamp=self.timestamp,
            like_count=self.like_count,
            parent_id=self.parent_id,
            hidden=self.hidden,
        )


@dataclass(frozen=True)
class CommentPage:
    """One page of a media's top-level comments; how many items were of the wrong shape."""

    comments: list[Comment]
    paging: Paging
    rejected: int = 0


def parse_comment_page(body: Any, *, endpoint: str, account: str, media_id: str) -> CommentPage:
    """A page of ``/{ig-media-id}/comments``; items of the wrong shape are counted, not kept."""
    envelope = _validated(_Envelope, body, endpoint)
    comments: list[Comment] = []
    rejected = 0
    for item in envelope.data:
        try:
            wire = WireOwnComment.model_validate(item)
        except ValidationError:
            rejected += 1
            continue
        comments.append(wire.to_comment(account=account, media_id=media_id))
    return CommentPage(comments, envelope.paging or Paging(), rejected)


def parse_own_comment(body: Any, *, endpoint: str, account: str) -> Comment:
    """A comment node asked for its ``media{id}``: the comment on that media."""
    wire = _validated(WireOwnComment, body, endpoint)
    if wire.media is None:
        raise MalformedResponseError("comment answered without its media", endpoint=endpoint)
    return wire.to_comment(account=account, media_id=wire.media.id)


def _validated(model: type[_M], body: Any, endpoint: str) -> _M:
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise MalformedResponseError(
            f"answer of unexpected shape: {_first_problem(exc)}", endpoint=endpoint
        ) from None


def parse_id_list(body: Any, *, endpoint: str) -> list[str]:
    """The ids of a ``{"data": [{"id": ...}, ...]}`` answer."""
    data = body.get("data") if isinstance(body, Mapping) else None
    if not isinstance(data, list) or not all(
        isinstance(item, Mapping) and isinstance(item.get("id"), str) for item in data
    ):
        raise MalformedResponseError("expected data: [{id: ...}]", endpoint=endpoint)
    return [item["id"] for item in data]


def _first_problem(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "body"
    return f"{where}: {first['msg']}"


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def error_from_answer(  # noqa: PLR0911 - one return per error class: the table it is
    status: int,
    body: Any,
    *,
    endpoint: str,
    retry_after_s: float | None = None,
) -> GraphError:
    """Map an HTTP status and Meta's error body to the error tree (pure; never raises).

    Meta's ``is_transient`` is honoured both ways: ``true`` makes any code worth retrying,
    ``false`` makes even code 1 ("An unknown error occurred") or a 5xx final.
    """
    error = body.get("error") if isinstance(body, Mapping) else None
    if not isinstance(error, Mapping):
        kind = TransientError if status >= 500 or status == 429 else BadRequestError
        return kind(f"HTTP {status} without a Graph error body", endpoint=endpoint, status=status)
    code = _int(error.get("code"))
    subcode = _int(error.get("error_subcode"))
    trace = error.get("fbtrace_id")
    details: dict[str, Any] = {
        "endpoint": endpoint,
        "status": status,
        "code": code,
        "subcode": subcode,
        "fbtrace_id": trace if isinstance(trace, str) else None,
    }
    message = str(error.get("message") or "Graph API error")[:500]
    transient = error.get("is_transient")
    if code in THROTTLE_CODES:
        return ThrottledError(message, retry_after_s=retry_after_s, **details)
    if (code, subcode) == OBJECT_UNAVAILABLE:
        named = _OBJECT_ID.search(message)
        return ObjectUnavailableError(
            message, object_id=named.group(1) if named else None, **details
        )
    if code in AUTH_CODES:
        return AuthError(message, **details)
    if code == 10 or (code is not None and 200 <= code <= 299):
        return GraphPermissionError(message, **details)
    if code == 1 and status < 500 and "client secret" in message.lower():
        return AuthError(message, **details)  # a wrong client_secret: a human must fix it
    if transient is False:
        return BadRequestError(message, **details)
    if code in TRANSIENT_CODES or transient is True or status >= 500:
        return TransientError(message, **details)
    return BadRequestError(message, **details)
