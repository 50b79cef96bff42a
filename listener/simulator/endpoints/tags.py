"""``GET /{ig-user-id}/tags``: media the account is tagged in, newest first (BUC budget).

Paging is cursors only (reference §2a): ``cursors.before`` and ``cursors.after`` are places in
the newest-first list, and "the response will not include previous or next fields"; asking past
the end gives ``{"data": []}``.
"""

from __future__ import annotations

from typing import Final

from listener.simulator.content import Post
from listener.simulator.endpoints import cursors, fields
from listener.simulator.endpoints.call import Call, Json

TAGS_DEFAULT_LIMIT: Final = 25  # unverified
TAGS_MAX_LIMIT: Final = 100  # unverified: the usual Graph edge maximum


def tags(call: Call) -> Json:
    """A page of the account's tagged media, from the ``after`` or ``before`` cursor."""
    specs = fields.requested(call.query, default="id")
    fields.check_media(specs, fields.FULL_MEDIA_FIELDS)
    limit = call.page_size(TAGS_DEFAULT_LIMIT, TAGS_MAX_LIMIT)
    posts = call.world.tagged_media(call.acting_for, call.now)  # newest first
    after, before = call.query.get("after"), call.query.get("before")
    if after is not None:
        bound = cursors.decode_key(after, "after")
        page = [p for p in posts if media_key(p) < bound][:limit]
    elif before is not None:
        bound = cursors.decode_key(before, "before")
        page = [p for p in posts if media_key(p) > bound][-limit:]
    else:
        page = posts[:limit]
    if not page:
        return {"data": []}
    ends = {
        "before": cursors.key_cursor(media_key(page[0])),
        "after": cursors.key_cursor(media_key(page[-1])),
    }
    data = [fields.media(call.world, post.id, specs) for post in page]
    return {"data": data, "paging": {"cursors": ends}}


def media_key(post: Post) -> cursors.Key:
    """A post's place in a newest-first list: by time, then id."""
    return int(post.timestamp.timestamp()), post.id
