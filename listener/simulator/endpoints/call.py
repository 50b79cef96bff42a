"""One Graph API call being answered: the request, where it routes, the reply, and its context.

`Call` is what every endpoint function receives: the world, the request, its `Route`, the time,
and (once authentication has run) the IG user the call acts for. It also owns the paging
parameters every listing shares: the page size and the ``next`` link.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlencode

from listener.simulator import errors
from listener.simulator.errors import GraphError
from listener.simulator.world import World

Json = dict[str, object]


@dataclass(frozen=True)
class GraphRequest:
    """A Graph API GET as the world sees it: no sockets, just the parts that matter."""

    path: str  # e.g. "/v25.0/17841400000000001/tags"
    query: Mapping[str, str]
    base_url: str  # scheme and host the client used, for `next` links
    authorization: str | None = None


@dataclass(frozen=True)
class GraphReply:
    """What to send back: a JSON body (or raw text), headers, and a stall for ``delay`` faults."""

    status: int
    body: Json | None = None
    text: str | None = None  # a non-JSON body (HTML), when set
    headers: Mapping[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


@dataclass(frozen=True)
class Route:
    """Which endpoint a path names; ``error`` is raised once the caller is authenticated."""

    endpoint: str
    hashtag_id: str | None = None
    ig_user_id: str | None = None
    error: GraphError | None = None
    comment_id: str | None = None
    media_id: str | None = None


@dataclass
class Call:
    """One call being answered; ``subject`` is the IG user it acts for, once known."""

    world: World
    request: GraphRequest
    route: Route
    now: datetime
    subject: str | None = None

    @property
    def query(self) -> Mapping[str, str]:
        """The request's query parameters."""
        return self.request.query

    @property
    def acting_for(self) -> str:
        """The IG user the call acts for; only endpoints that run after authentication ask."""
        assert self.subject is not None  # set by authentication before any endpoint runs
        return self.subject

    def page_size(self, default: int, maximum: int) -> int:
        """``limit``: ``default`` when absent, clamped to ``maximum`` when larger."""
        raw = self.query.get("limit")
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise errors.invalid_parameter("limit must be a positive integer") from None
        if value < 1:
            raise errors.invalid_parameter("limit must be a positive integer")
        return min(value, maximum)

    def page_url(self, **cursor: str) -> str:
        """This request again with new cursor parameters (``next`` links carry the token)."""
        query = {k: v for k, v in self.query.items() if k not in ("after", "before", "page_token")}
        query.update(cursor)
        return f"{self.request.base_url}{self.request.path}?{urlencode(query)}"
