"""Which fields each node type has, and rendering only the fields asked for (pure).

Each node type is a table from field name to getter; the table is also the set of names the
type accepts, so checking and rendering cannot drift apart. A getter answering ``None`` means
Meta omits the field for this object (hidden like counts, an album's ``media_url``, a media
without children). Meta always returns ``id``: where asked for, else last (as in its samples).

Hashtag media are anonymous: "You cannot request the username field on returned media
objects" (reference §1c, §1d, §1f), so hashtag edges accept fewer media fields.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Final, TypeVar

from listener.simulator import errors
from listener.simulator.content import Comment, Post, graph_timestamp
from listener.simulator.endpoints.call import Json
from listener.simulator.fieldexpansion import FieldSpec, FieldSyntaxError, parse_fields
from listener.simulator.world import World

Context = TypeVar("Context")
Node = TypeVar("Node")
Getter = Callable[[Context, Node, FieldSpec], object]

ID_ONLY: Final = (FieldSpec("id"),)  # what a nested object shows when no sub-fields are asked
# ``owner`` only for the app user's own media, "otherwise, username field is returned instead"
# (§1f); simulated accounts never author media.
_SHOWN_AS: Final = {"owner": "username"}


def requested(query: Mapping[str, str], default: str) -> tuple[FieldSpec, ...]:
    """The ``fields`` the call asks for (``default`` when none); 100 on bad syntax."""
    try:
        return parse_fields(query.get("fields") or default) or parse_fields(default)
    except FieldSyntaxError as exc:
        raise errors.field_syntax(str(exc)) from exc


def render(
    getters: Mapping[str, Getter[Context, Node]],
    context: Context,
    node: Node,
    specs: tuple[FieldSpec, ...],
    node_id: str,
) -> Json:
    """Only the requested fields of ``node`` (``specs`` checked against ``getters`` already)."""
    out: Json = {}
    for spec in specs:
        value = getters[spec.name](context, node, spec)
        if value is not None:
            out[_SHOWN_AS.get(spec.name, spec.name)] = value
    if "id" not in out:
        out["id"] = node_id
    return out


def plain(read: Callable[[Node], object]) -> Getter[object, Node]:
    """A getter that needs only the node (most fields)."""
    return lambda _context, node, _spec: read(node)


def media(world: World, media_id: str, specs: tuple[FieldSpec, ...]) -> Json:
    """A media object with the requested fields; ``specs`` were checked for the edge already."""
    post = world.post(media_id)
    assert post is not None  # callers serve only media the world still has
    return render(_MEDIA, world, post, specs, post.id)


def comment(world: World, found: Comment, specs: tuple[FieldSpec, ...]) -> Json:
    """A comment with the requested fields."""
    return render(_COMMENT, world, found, specs, found.id)


def check(specs: tuple[FieldSpec, ...], allowed: frozenset[str], node_type: str) -> None:
    """Every requested name must be a field of ``node_type`` (else code 100)."""
    for spec in specs:
        if spec.name not in allowed:
            raise errors.nonexisting_field(spec.name, node_type)


def check_media(specs: tuple[FieldSpec, ...], allowed: frozenset[str]) -> None:
    """Media field names, recursively; on hashtag edges ``username``/``owner`` are code 100."""
    check(specs, allowed, "IGMedia")
    for spec in specs:
        if spec.name == "children" and spec.children:
            check(spec.children, CHILD_FIELDS, "IGMedia")
        elif spec.name == "comments" and spec.children:
            check_comment(spec.children)


def check_comment(specs: tuple[FieldSpec, ...], allowed: frozenset[str] | None = None) -> None:
    """Comment field names (``COMMENT_FIELDS`` unless ``allowed``), and its media's."""
    check(specs, COMMENT_FIELDS if allowed is None else allowed, "IGComment")
    for spec in specs:
        if spec.name == "media" and spec.children:
            check_media(spec.children, FULL_MEDIA_FIELDS)


def media_url(media_id: str, media_type: str) -> str:
    """Where the simulated CDN serves a media's file."""
    extension = "mp4" if media_type == "VIDEO" else "jpg"
    return f"https://scontent.cdninstagram.com/sim/{media_id}.{extension}"


def _media_url_of(post: Post) -> str | None:
    """Not for albums: "not returned for album" (§1c)."""
    return None if post.media_type == "CAROUSEL_ALBUM" else media_url(post.id, post.media_type)


def _children(world: World, post: Post, spec: FieldSpec) -> Json | None:
    if not post.children:
        return None
    specs = spec.children or ID_ONLY
    return {"data": [render(_CHILD, post, child, specs, child) for child in post.children]}


def _comments(world: World, post: Post, spec: FieldSpec) -> Json:
    specs = spec.children or ID_ONLY
    return {"data": [comment(world, found, specs) for found in world.comments_on(post.id)]}


_MEDIA: Final[dict[str, Getter[World, Post]]] = {
    "id": plain(lambda post: post.id),
    "caption": plain(lambda post: post.caption),
    "children": _children,
    "comments": _comments,
    "comments_count": plain(lambda post: post.comments_count),
    # Omitted when the owner hid like counts (v11.0+, §1c).
    "like_count": plain(lambda post: None if post.like_count_hidden else post.like_count),
    "is_comment_enabled": plain(lambda post: post.comments_enabled),
    "media_product_type": plain(lambda _post: "FEED"),
    "media_type": plain(lambda post: post.media_type),
    "media_url": plain(_media_url_of),
    "owner": plain(lambda post: post.username),  # shown as ``username``
    "permalink": plain(lambda post: post.permalink),
    "shortcode": plain(lambda post: post.shortcode),
    "timestamp": plain(lambda post: graph_timestamp(post.timestamp)),
    "username": plain(lambda post: post.username),
}

# An album's children: images sharing the album's time. The context is the album.
_CHILD: Final[dict[str, Getter[Post, str]]] = {
    "id": plain(lambda child_id: child_id),
    "media_type": plain(lambda _child_id: "IMAGE"),
    "media_url": plain(lambda child_id: media_url(child_id, "IMAGE")),
    "timestamp": lambda album, _child_id, _spec: graph_timestamp(album.timestamp),
}


def _comment_media(world: World, found: Comment, spec: FieldSpec) -> Json:
    return media(world, found.media_id, spec.children or ID_ONLY)


def _replies(world: World, found: Comment, spec: FieldSpec) -> Json | None:
    if found.parent_id is not None:
        return None  # replies have no replies
    specs = spec.children or ID_ONLY
    return {"data": [comment(world, reply, specs) for reply in world.replies_to(found.id)]}


_COMMENT: Final[dict[str, Getter[World, Comment]]] = {
    "id": plain(lambda found: found.id),
    "text": plain(lambda found: found.text),
    "timestamp": plain(lambda found: graph_timestamp(found.timestamp)),
    "like_count": plain(lambda found: found.like_count),
    "username": plain(lambda found: found.username),  # unverified for this expansion (§2c)
    "media": _comment_media,
    # Since Oct 20, 2021 ``from`` and ``parent_id`` are IG Comment fields too (§10).
    "from": plain(lambda found: {"id": found.user_id, "username": found.username}),
    "parent_id": plain(lambda found: found.parent_id),
    "hidden": plain(lambda found: found.hidden),
    "replies": _replies,
}

OWN_MEDIA_FIELDS: Final = frozenset(_MEDIA)
"""Fields of the account's own media (``/{ig-user-id}/media``)."""
FULL_MEDIA_FIELDS: Final = OWN_MEDIA_FIELDS - {"is_comment_enabled", "media_product_type"}
HASHTAG_MEDIA_FIELDS: Final = FULL_MEDIA_FIELDS - {"username", "owner", "shortcode", "comments"}
CHILD_FIELDS: Final = frozenset(_CHILD)
OWN_COMMENT_FIELDS: Final = frozenset(_COMMENT)
"""Fields of a comment on the account's own media (the comments edge, the comment node)."""
COMMENT_FIELDS: Final = OWN_COMMENT_FIELDS - {"from", "parent_id", "hidden", "replies"}
"""Fields of a mentioned comment (``mentioned_comment``), as captured."""
