"""Hashtag endpoints: ``ig_hashtag_search``, the hashtag node, its media edges, recent searches.

The first three spend the app's Platform budget and a slot of the account's 30 hashtags in 7
days (reference §1b); ``recently_searched_hashtags`` is an account edge on the BUC budget.

Hashtag edges page where Meta is awkward (reference §1c): ``cursors.after`` is THE SAME on every
page of a result set (it names the snapshot taken at page 1); ``next`` still advances, because
the position travels in a separate opaque ``page_token`` parameter. ``after`` alone gets the
page after the first. No ``before``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Final

from listener.simulator import errors
from listener.simulator.content import Post
from listener.simulator.endpoints import cursors, fields
from listener.simulator.endpoints.call import Call, Json
from listener.simulator.fieldexpansion import FieldSpec
from listener.simulator.world import Snapshot

RECENT_DEFAULT_LIMIT: Final = 25  # unverified: Meta documents only the maximum (§1c)
HASHTAG_MAX_LIMIT: Final = 50  # §1c/§1d: "a maximum limit of 50 results per page"
SEARCHED_DEFAULT_LIMIT: Final = 25  # §1b: "25 results per page by default"
SEARCHED_MAX_LIMIT: Final = 30  # §1b: "up to 30 per page (limit=30)"

_HASHTAG_QUERY: Final = re.compile(r"\w+")  # Unicode letters, digits, underscore; no emoji, no '#'

_HASHTAG: Final[dict[str, fields.Getter[Call, str]]] = {
    "id": fields.plain(lambda tag_id: tag_id),
    "name": lambda call, tag_id, _spec: call.world.hashtag_name(tag_id),
}
HASHTAG_FIELDS: Final = frozenset(_HASHTAG)


def hashtag_search(call: Call) -> Json:
    """``GET /ig_hashtag_search?user_id=…&q=…``: the hashtag's id, spending a slot."""
    query = call.query.get("q")
    if not query:
        raise errors.missing_parameter("q")
    if not _HASHTAG_QUERY.fullmatch(query):
        raise errors.invalid_hashtag_query(query)
    if call.world.is_sensitive(query):
        raise errors.sensitive_hashtag()
    tag_id = call.world.hashtag_id(query)
    _spend(call, tag_id)
    return {"data": [{"id": tag_id}]}


def hashtag_node(call: Call) -> Json:
    """``GET /{hashtag-id}?fields=id,name``."""
    tag_id = _usable_hashtag(call)
    specs = fields.requested(call.query, default="id,name")
    fields.check(specs, HASHTAG_FIELDS, "IGHashtag")
    _spend(call, tag_id)
    return fields.render(_HASHTAG, call, tag_id, specs, tag_id)


def recent_media(call: Call) -> Json:
    """``GET /{hashtag-id}/recent_media``: the last 24 hours, roughly newest first."""
    return _hashtag_edge(call, call.world.recent_media)


def top_media(call: Call) -> Json:
    """``GET /{hashtag-id}/top_media``: the most popular media."""
    return _hashtag_edge(call, call.world.top_media)


def _hashtag_edge(call: Call, listing: Callable[[str, datetime], list[Post]]) -> Json:
    tag_id = _usable_hashtag(call)
    specs = fields.requested(call.query, default="id")
    fields.check_media(specs, fields.HASHTAG_MEDIA_FIELDS)
    limit = call.page_size(RECENT_DEFAULT_LIMIT, HASHTAG_MAX_LIMIT)
    _spend(call, tag_id)
    snapshot, offset = _page_start(call, tag_id, listing, limit)
    page_ids = snapshot.media_ids[offset : offset + limit]
    if not page_ids:
        return {"data": []}
    return {
        "data": _served(call, page_ids, specs),
        "paging": _edge_paging(call, snapshot, offset + len(page_ids)),
    }


def _page_start(
    call: Call, tag_id: str, listing: Callable[[str, datetime], list[Post]], limit: int
) -> tuple[Snapshot, int]:
    """The snapshot a page reads and where in it: a new one at page 1, else the cursors'."""
    edge = call.route.endpoint
    after, token = call.query.get("after"), call.query.get("page_token")
    if after is None and token is None:
        posts = listing(tag_id, call.now)
        return call.world.open_snapshot(edge, tag_id, posts, limit, call.now), 0
    position = cursors.hashtag_position(after, token)
    snapshot = call.world.snapshot(position.snapshot)
    if snapshot is None or (snapshot.edge, snapshot.hashtag_id) != (edge, tag_id):
        raise errors.invalid_cursor("after")
    # `after` alone "can still be used to get the next page": the one after the first.
    offset = snapshot.first_page_size if position.offset is None else position.offset
    return snapshot, offset


def _served(call: Call, page_ids: tuple[str, ...], specs: tuple[FieldSpec, ...]) -> list[Json]:
    """The page's media; one withdrawn since the snapshot was taken is no longer served."""
    shown = [media_id for media_id in page_ids if call.world.post(media_id) is not None]
    return [fields.media(call.world, media_id, specs) for media_id in shown]


def _edge_paging(call: Call, snapshot: Snapshot, end: int) -> Json:
    after = cursors.snapshot_cursor(snapshot.number)
    paging: Json = {"cursors": {"after": after}}
    if end < len(snapshot.media_ids):
        token = cursors.page_token(snapshot.number, end)
        paging["next"] = call.page_url(after=after, page_token=token)
    return paging


def recently_searched_hashtags(call: Call) -> Json:
    """``GET /{ig-user-id}/recently_searched_hashtags``: ids, by offset cursors."""
    limit = call.page_size(SEARCHED_DEFAULT_LIMIT, SEARCHED_MAX_LIMIT)
    ids = call.world.recently_searched(call.acting_for, call.now)
    after, before = call.query.get("after"), call.query.get("before")
    if after is not None:
        start = cursors.decode_offset(after, "after")
    elif before is not None:
        start = max(0, cursors.decode_offset(before, "before") - limit)
    else:
        start = 0
    page = ids[start : start + limit]
    if not page:
        return {"data": []}
    end = start + len(page)
    paging: Json = {
        "cursors": {"before": cursors.offset_cursor(start), "after": cursors.offset_cursor(end)}
    }
    if end < len(ids):
        paging["next"] = call.page_url(after=cursors.offset_cursor(end))
    return {"data": [{"id": tag_id} for tag_id in page], "paging": paging}


def _usable_hashtag(call: Call) -> str:
    tag_id = call.route.hashtag_id
    assert tag_id is not None  # routed here only with a hashtag id
    if call.world.is_sensitive(call.world.hashtag_name(tag_id) or ""):
        raise errors.sensitive_hashtag()
    return tag_id


def _spend(call: Call, tag_id: str) -> None:
    call.world.spend_hashtag(call.acting_for, tag_id, call.now)
