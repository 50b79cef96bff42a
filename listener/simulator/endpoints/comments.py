"""The account's own media and their comments: ``/{ig-user-id}/media``, ``/{ig-media-id}/comments``,
``/{ig-comment-id}/replies`` and the comment node (BUC budget; reference §10).

What Meta documents, and what the simulator chooses where it does not:

- ``/{ig-media-id}/comments`` lists the media's **top-level** comments; replies come through
  ``/{ig-comment-id}/replies`` or a ``replies{…}`` expansion (IG Media comments reference).
- Paging is by cursors (``before``/``after``), with a ``next`` link while more pages follow; at
  most :data:`COMMENTS_MAX_LIMIT` per page. The **order** of the pages is not documented: tools
  built on the edge describe it as newest first, which the simulator serves (unverified). A
  comment published while a client pages therefore appears *before* the page it started from.
- ``username`` and ``from`` need the manage-comments permission (``instagram_manage_comments``
  or ``instagram_business_manage_comments``): "Starting August 27, 2024, the
  instagram_business_manage_comments will be required to access the username field" (comment
  moderation guide). Without it the simulator answers code 10 naming the field.
- A post whose comments are turned off (``is_comment_enabled = false``) lists none (what Meta
  answers there is unverified).
- A deleted comment, or a media that is not the caller's, answers 100/33 for its id.
"""

from __future__ import annotations

from bisect import bisect_left
from typing import Final

from listener.simulator import errors
from listener.simulator.endpoints import auth, cursors, fields
from listener.simulator.endpoints.call import Call, Json
from listener.simulator.fieldexpansion import FieldSpec

COMMENTS_DEFAULT_LIMIT: Final = 25  # unverified
COMMENTS_MAX_LIMIT: Final = 50
MEDIA_DEFAULT_LIMIT: Final = 25  # unverified
MEDIA_MAX_LIMIT: Final = 100  # unverified: the usual Graph edge maximum
MANAGE_COMMENTS: Final = frozenset(
    {"instagram_manage_comments", "instagram_business_manage_comments"}
)
_NEEDS_MANAGE_COMMENTS: Final = ("username", "from")


def own_media(call: Call) -> Json:
    """``GET /{ig-user-id}/media``: the account's posts, newest first, cursor-paged."""
    specs = fields.requested(call.query, default="id")
    fields.check_media(specs, fields.OWN_MEDIA_FIELDS)
    keys = call.world.own_media(call.acting_for, call.now)
    page, ends, more = _page(call, keys, MEDIA_DEFAULT_LIMIT, MEDIA_MAX_LIMIT)
    data = [fields.media(call.world, media_id, specs) for _, media_id in page]
    return _listing(call, data, ends, more)


def media_comments(call: Call) -> Json:
    """``GET /{ig-media-id}/comments``: top-level comments, newest first, cursor-paged."""
    media_id = call.route.media_id
    assert media_id is not None  # routed here only with a media the world has
    post = call.world.post(media_id)
    if post is None or post.owner != call.acting_for:
        raise errors.unknown_object(media_id)
    specs = _comment_specs(call)
    if not post.comments_enabled:
        return {"data": []}
    keys = call.world.top_level_keys(media_id)
    page, ends, more = _page(call, keys, COMMENTS_DEFAULT_LIMIT, COMMENTS_MAX_LIMIT)
    data = []
    for _, comment_id in page:
        found = call.world.comment(comment_id)
        if found is not None:  # deleted since: its place stays, the comment does not
            data.append(fields.comment(call.world, found, specs))
    return _listing(call, data, ends, more)


def replies(call: Call) -> Json:
    """``GET /{ig-comment-id}/replies``: the comment's replies, oldest first (one page)."""
    comment_id = call.route.comment_id
    assert comment_id is not None
    specs = _comment_specs(call)
    found = call.world.replies_to(comment_id)
    limit = call.page_size(COMMENTS_DEFAULT_LIMIT, COMMENTS_MAX_LIMIT)
    return {"data": [fields.comment(call.world, reply, specs) for reply in found[:limit]]}


def comment_node(call: Call) -> Json:
    """``GET /{ig-comment-id}?fields=…`` (``media`` gives an album comment's album)."""
    comment_id = call.route.comment_id
    assert comment_id is not None  # routed here only with a readable comment
    comment = call.world.comment(comment_id)
    assert comment is not None
    specs = _comment_specs(call)
    return fields.comment(call.world, comment, specs)


def _comment_specs(call: Call) -> tuple[FieldSpec, ...]:
    """The requested comment fields, refused (code 10) where the token may not read them."""
    specs = fields.requested(call.query, default="id")
    fields.check_comment(specs, fields.OWN_COMMENT_FIELDS)
    if not MANAGE_COMMENTS & set(auth.scopes(call)):
        for spec in specs:
            if spec.name in _NEEDS_MANAGE_COMMENTS:
                raise errors.missing_permission("instagram_manage_comments", spec.name)
    return specs


def _page(
    call: Call, keys: list[cursors.Key], default: int, maximum: int
) -> tuple[list[cursors.Key], dict[str, str], bool]:
    """A newest-first page of ``keys`` (sorted oldest first) from the ``after``/``before``
    cursor: the page, its cursors, and whether older items follow."""
    limit = call.page_size(default, maximum)
    after, before = call.query.get("after"), call.query.get("before")
    if after is not None:
        end = bisect_left(keys, cursors.decode_key(after, "after"))
        start = max(0, end - limit)
    elif before is not None:
        start = bisect_left(keys, cursors.decode_key(before, "before")) + 1
        start = min(start, len(keys))
        end = min(len(keys), start + limit)
    else:
        end = len(keys)
        start = max(0, end - limit)
    page = keys[start:end][::-1]
    if not page:
        return [], {}, False
    ends = {"before": cursors.key_cursor(page[0]), "after": cursors.key_cursor(page[-1])}
    return page, ends, start > 0


def _listing(call: Call, data: list[Json], ends: dict[str, str], more: bool) -> Json:
    if not ends:
        return {"data": []}
    paging: Json = {"cursors": ends}
    if more:
        paging["next"] = call.page_url(after=ends["after"])
    return {"data": data, "paging": paging}
