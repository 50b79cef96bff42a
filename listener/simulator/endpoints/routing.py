"""Which endpoint a Graph API path names, from the world's accounts, hashtags and comments (pure).

Paths may carry a ``vX.Y`` prefix or not. An account id takes the user edges (``tags``,
``recently_searched_hashtags``, ``media``) or, alone, the user node, counted as the mention
expansion it carries; a hashtag id takes ``recent_media`` and ``top_media``; a media id takes
``comments``; a readable comment id is a node, with the edge ``replies``. Anything else routes
to ``unknown`` with the error Meta gives for it, raised once the caller is authenticated.
"""

from __future__ import annotations

import re
from typing import Final

from listener.simulator import errors
from listener.simulator.endpoints.call import GraphRequest, Route
from listener.simulator.world import World

# Token endpoints authenticate in their own ways (app token, client secret).
TOKEN_PATHS: Final = {
    "debug_token": "debug_token",
    "oauth/access_token": "oauth_access_token",
    "refresh_access_token": "refresh_access_token",
}

_VERSION: Final = re.compile(r"v\d+\.\d+")
_USER_EDGES: Final = frozenset({"tags", "recently_searched_hashtags", "media"})
_HASHTAG_EDGES: Final = frozenset({"recent_media", "top_media"})
_MENTION_EXPANSIONS: Final = ("mentioned_media", "mentioned_comment")


def resolve(world: World, request: GraphRequest) -> Route:
    """Map a path (with or without a ``vX.Y`` prefix) to an endpoint of the world."""
    segments = [part for part in request.path.split("/") if part]
    if segments and _VERSION.fullmatch(segments[0]):
        segments = segments[1:]
    if not segments:
        return Route("unknown", error=errors.unknown_object(""))
    node, edges = segments[0], segments[1:]
    if node == "ig_hashtag_search" and not edges:
        return Route("ig_hashtag_search")
    token_endpoint = TOKEN_PATHS.get("/".join(segments))
    if token_endpoint is not None:
        return Route(token_endpoint)
    return _node_route(world, node, edges, request.query.get("fields", ""))


def _node_route(world: World, node: str, edges: list[str], fields: str) -> Route:
    """The route of a node id (an account, a hashtag or a comment) and its edge, if any."""
    user = node if world.account(node) is not None else None
    tag = node if user is None and world.hashtag_name(node) is not None else None
    if user is None and tag is None:
        return _object_route(world, node, edges)
    if not edges:
        endpoint = _user_endpoint(fields) if user else "hashtag"
    elif len(edges) == 1 and edges[0] in (_USER_EDGES if user else _HASHTAG_EDGES):
        endpoint = edges[0]
    else:
        return Route("unknown", tag, user, errors.unknown_path("/".join(edges)))
    return Route(endpoint, tag, user)


def _object_route(world: World, node: str, edges: list[str]) -> Route:
    """The route of a media's ``comments``, a comment node or its ``replies``."""
    if world.post(node) is not None and edges == ["comments"]:
        return Route("comments", media_id=node)
    if world.comment(node) is None:  # unknown, deleted or private: Meta's 100/33
        return Route("unknown", error=errors.unknown_object(node))
    if edges == ["replies"]:
        return Route("replies", comment_id=node)
    if edges:
        return Route("unknown", error=errors.unknown_path("/".join(edges)))
    return Route("comment", comment_id=node)


def _user_endpoint(fields: str) -> str:
    """The user node is counted as the mention expansion it carries, if any."""
    for expansion in _MENTION_EXPANSIONS:
        if expansion in fields:
            return expansion
    return "user"
