"""Typed Instagram endpoints on top of the choke point: what each call asks and what it returns.

Field lists live here, next to the endpoints that accept them: hashtag edges refuse
``username``, so asking for it would turn every poll into an error.

Calls about an object that came from outside (a webhook's media or comment id) name it as the
call's ``subject``: Meta's "object missing" answer is then about that object, not the account.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Literal

import structlog

from listener.errors import MalformedResponseError
from listener.graph.client import GraphClient
from listener.graph.paging import PageWalk
from listener.graph.wire import (
    CommentPage,
    CommentState,
    MediaPage,
    MentionedComment,
    OwnMediaPage,
    parse_comment_media,
    parse_comment_page,
    parse_comment_state,
    parse_id_list,
    parse_media_page,
    parse_mentioned_comment,
    parse_mentioned_media,
    parse_own_comment,
    parse_own_media_page,
)
from listener.models import Comment, Media

log = structlog.get_logger("listener.graph")

HASHTAG_MEDIA_FIELDS = "id,caption,media_type,permalink,timestamp,like_count,comments_count"
"""Hashtag edges refuse ``username``: asking for it would fail every call (reference §1c)."""
AUTHORED_MEDIA_FIELDS = f"{HASHTAG_MEDIA_FIELDS},username"
"""``/tags`` and mention expansions do give the author."""
COMMENT_FIELDS = f"id,text,timestamp,username,media{{{AUTHORED_MEDIA_FIELDS}}}"
COMMENT_STATE_FIELDS = "id,text,timestamp,username,hidden,parent_id,media{id}"
"""A comment on the account's own post, as ``draw recheck`` reads it again."""
OWN_MEDIA_FIELDS = "id,permalink,timestamp,comments_count,is_comment_enabled"
"""What the comments poller needs of the account's own media (reference §10)."""
OWN_COMMENT_FIELDS = "id,text,timestamp,username,from,like_count,parent_id,hidden"
"""A comment on the account's own media; ``username``/``from`` need manage-comments."""
HashtagEdge = Literal["recent_media", "top_media"]


@dataclass(frozen=True)
class Credentials:
    """Who a call is made for: the account's name (for metrics), IG user id and token."""

    account: str
    ig_user_id: str
    token: str = field(repr=False)


class InstagramApi:
    """The Instagram Graph API endpoints the listener uses."""

    def __init__(self, client: GraphClient) -> None:
        self._client = client

    async def hashtag_id(self, who: Credentials, name: str) -> str:
        """The global, static id of hashtag ``name`` (``ig_hashtag_search``)."""
        ids = await self._client.get(
            "ig_hashtag_search",
            {"user_id": who.ig_user_id, "q": name},
            token=who.token,
            endpoint="ig_hashtag_search",
            account=who.account,
            parse=lambda body: parse_id_list(body, endpoint="ig_hashtag_search"),
        )
        if not ids:
            raise MalformedResponseError(
                f"no id returned for hashtag {name!r}", endpoint="ig_hashtag_search"
            )
        return ids[0]

    async def recently_searched_hashtags(self, who: Credentials) -> list[str]:
        """Ids of the hashtags the account spent in the rolling 7 days, as Meta counts them.

        Meta says when none of them was spent; the slot ledger assumes the worst.
        """
        return await self._client.get(
            f"{who.ig_user_id}/recently_searched_hashtags",
            {"limit": "30"},
            token=who.token,
            endpoint="recently_searched_hashtags",
            account=who.account,
            parse=lambda body: parse_id_list(body, endpoint="recently_searched_hashtags"),
        )

    async def hashtag_media(
        self,
        who: Credentials,
        hashtag_id: str,
        edge: HashtagEdge,
        *,
        page_size: int,
        max_pages: int,
    ) -> AsyncGenerator[MediaPage, None]:
        """Pages of a hashtag edge, following ``paging.next`` until the end, a repeat or the bound.

        The caller may stop early (``break`` inside ``contextlib.aclosing``).
        """
        url = self._client.url(f"{hashtag_id}/{edge}")
        params = {
            "user_id": who.ig_user_id,
            "fields": HASHTAG_MEDIA_FIELDS,
            "limit": str(page_size),
        }
        walk = PageWalk()
        request: str | None = walk.first(url, params)
        pages = 0
        while request is not None and pages < max_pages:
            page = await self._client.request(
                request,
                {},
                token=who.token,
                endpoint=edge,
                account=who.account,
                parse=lambda body: parse_media_page(body, endpoint=edge),
            )
            if page.rejected:
                log.warning(
                    "media.rejected",
                    endpoint=edge,
                    count=len(page.rejected),
                    first=page.rejected[0],
                )
            pages += 1
            yield page
            request = walk.after_next_link(page.paging)

    async def tagged_media(
        self, who: Credentials, *, page_size: int, max_pages: int
    ) -> AsyncGenerator[MediaPage, None]:
        """Pages of ``/tags``, newest first, built from the ``after`` cursor.

        Meta sends ``before``/``after`` cursors here but never ``next`` (reference §2a), so each
        request after the first is the first one with ``after`` set; a repeated cursor ends it.
        """
        url = self._client.url(f"{who.ig_user_id}/tags")
        params = {"fields": AUTHORED_MEDIA_FIELDS, "limit": str(page_size)}
        walk = PageWalk()
        request: str | None = walk.first(url, params)
        pages = 0
        while request is not None and pages < max_pages:
            page = await self._client.request(
                request,
                {},
                token=who.token,
                endpoint="tags",
                account=who.account,
                parse=lambda body: parse_media_page(body, endpoint="tags"),
            )
            if page.rejected:
                log.warning("media.rejected", endpoint="tags", count=len(page.rejected))
            pages += 1
            yield page
            if not page.media:
                return
            request = walk.after_cursor(request, page.paging)

    async def mentioned_media(self, who: Credentials, media_id: str) -> Media:
        """The media whose caption @mentions the account (id from a ``mentions`` webhook)."""
        return await self._client.get(
            who.ig_user_id,
            {"fields": f"mentioned_media.media_id({media_id}){{{AUTHORED_MEDIA_FIELDS}}}"},
            token=who.token,
            endpoint="mentioned_media",
            account=who.account,
            parse=lambda body: parse_mentioned_media(body, endpoint="mentioned_media"),
            subject=media_id,
        )

    async def mentioned_comment(self, who: Credentials, comment_id: str) -> MentionedComment:
        """The comment that @mentions the account, with the media it was left on.

        The media is asked for, but an answer without it is read (``media`` is ``None``): the
        caller then fetches it with :meth:`comment_media`.
        """
        return await self._client.get(
            who.ig_user_id,
            {"fields": f"mentioned_comment.comment_id({comment_id}){{{COMMENT_FIELDS}}}"},
            token=who.token,
            endpoint="mentioned_comment",
            account=who.account,
            parse=lambda body: parse_mentioned_comment(body, endpoint="mentioned_comment"),
            subject=comment_id,
        )

    async def comment_media(self, who: Credentials, comment_id: str) -> Media:
        """The media a comment was left on, read from the comment node (``GET /{comment-id}``).

        Meta's way to the media of a comment whose webhook or answer lacks it: "Get the album
        ID by querying the Comment ID in the webhook and request its media field".
        """
        return await self._client.get(
            comment_id,
            {"fields": f"media{{{AUTHORED_MEDIA_FIELDS}}}"},
            token=who.token,
            endpoint="comment",
            account=who.account,
            parse=lambda body: parse_comment_media(body, endpoint="comment"),
            subject=comment_id,
        )

    async def comment_state(self, who: Credentials, comment_id: str) -> CommentState:
        """A comment on the account's own post as Meta serves it now; a deleted comment is
        :class:`~listener.errors.ObjectUnavailableError` (100/33)."""
        return await self._client.get(
            comment_id,
            {"fields": COMMENT_STATE_FIELDS},
            token=who.token,
            endpoint="comment",
            account=who.account,
            parse=lambda body: parse_comment_state(body, endpoint="comment"),
            subject=comment_id,
        )

    async def own_media(
        self, who: Credentials, *, page_size: int, max_pages: int
    ) -> AsyncGenerator[OwnMediaPage, None]:
        """Pages of the account's own media (``/{ig-user-id}/media``), following ``next``."""
        url = self._client.url(f"{who.ig_user_id}/media")
        walk = PageWalk()
        request: str | None = walk.first(url, {"fields": OWN_MEDIA_FIELDS, "limit": str(page_size)})
        pages = 0
        while request is not None and pages < max_pages:
            page = await self._client.request(
                request,
                {},
                token=who.token,
                endpoint="media",
                account=who.account,
                parse=lambda body: parse_own_media_page(body, endpoint="media"),
            )
            pages += 1
            yield page
            request = walk.after_next_link(page.paging)

    async def comment_page(
        self, who: Credentials, media_id: str, *, page_size: int, after: str | None = None
    ) -> CommentPage:
        """One page of the media's top-level comments (``/{ig-media-id}/comments``), from the
        ``after`` cursor of the page before it (the first page without one)."""
        params = {"fields": OWN_COMMENT_FIELDS, "limit": str(page_size)}
        if after is not None:
            params["after"] = after
        return await self._client.get(
            f"{media_id}/comments",
            params,
            token=who.token,
            endpoint="comments",
            account=who.account,
            parse=lambda body: parse_comment_page(
                body, endpoint="comments", account=who.account, media_id=media_id
            ),
            subject=media_id,
        )

    async def own_comment(self, who: Credentials, comment_id: str) -> Comment:
        """A comment on the account's own media, with the media it is on (``GET /{comment-id}``):
        how a ``comments`` change on an album, which names no media, finds its album."""
        return await self._client.get(
            comment_id,
            {"fields": f"{OWN_COMMENT_FIELDS},media{{id}}"},
            token=who.token,
            endpoint="comment",
            account=who.account,
            parse=lambda body: parse_own_comment(body, endpoint="comment", account=who.account),
            subject=comment_id,
        )
