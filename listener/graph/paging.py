"""Pagination decisions, pure: which request comes after a page, and when to stop.

Two shapes exist. Hashtag edges send ``paging.next`` (and an ``after`` cursor that Meta says is
the same on every page, so the cursor alone cannot detect a loop). ``/tags`` sends ``before`` and
``after`` cursors but never ``next``: the next request is built from ``after``. Either way a
request already made in this walk is never made again: that is how a repeated cursor ends it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from listener.graph.wire import Paging

# Parameters the client adds itself; they must not make two equal requests look different.
_OWN_PARAMS = frozenset({"access_token", "appsecret_proof"})


def strip_credentials(url: str) -> str:
    """``url`` without access token or proof (Meta's ``next`` links carry the token).

    Parameters are sorted so that two spellings of one request compare equal.
    """
    parts = urlsplit(url)
    query = sorted(
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in _OWN_PARAMS
    )
    return urlunsplit(parts._replace(query=urlencode(query)))


@dataclass
class PageWalk:
    """State of one pagination walk: the requests made so far."""

    seen: set[str] = field(default_factory=set)

    def first(self, url: str, params: Mapping[str, str]) -> str:
        """Record the request that fetches the first page; returns it as one URL."""
        request = strip_credentials(f"{url}?{urlencode(dict(params))}")
        self.seen.add(request)
        return request

    def after_next_link(self, paging: Paging) -> str | None:
        """The ``next`` URL to follow, or ``None`` at the end or when it repeats a request."""
        if not paging.next:
            return None
        return self._fresh(strip_credentials(paging.next))

    def after_cursor(self, request: str, paging: Paging) -> str | None:
        """``request`` with ``after`` set to the page's ``after`` cursor, or ``None`` at the end."""
        cursor = paging.cursors.after
        if not cursor:
            return None
        parts = urlsplit(strip_credentials(request))
        query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "after"]
        query.append(("after", cursor))
        return self._fresh(urlunsplit(parts._replace(query=urlencode(query))))

    def _fresh(self, request: str) -> str | None:
        if request in self.seen:
            return None
        self.seen.add(request)
        return request
