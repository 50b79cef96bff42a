"""The Graph API request choke point: every call to Meta passes through :meth:`GraphClient.request`.

It signs the call (``appsecret_proof`` when an app secret is set), times it, counts it by
endpoint and outcome, and turns every failure (HTTP, Meta's error body, timeouts, a body that
is not JSON) into the error tree of :mod:`listener.errors`. Tokens travel as query parameters,
as Meta expects, but are never part of a URL that is logged or raised.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol, TypeVar
from urllib.parse import parse_qsl, urlsplit

import aiohttp
import structlog

from listener.errors import (
    AuthError,
    GraphError,
    MalformedResponseError,
    ThrottledError,
    TransientError,
)
from listener.graph.wire import error_from_answer
from listener.metrics import Metrics

log = structlog.get_logger("listener.graph")


T = TypeVar("T")
Parse = Callable[[Any], T]
"""Reads a decoded JSON body into a value; raises MalformedResponseError on the wrong shape."""


class ResponseObserver(Protocol):
    """Sees every answer's headers (usage headers feed the rate-limit governor)."""

    def observe(self, *, endpoint: str, account: str, headers: Mapping[str, str]) -> None:
        """Called once per answer, success or error."""


def appsecret_proof(token: str, app_secret: str) -> str:
    """Meta's ``appsecret_proof``: hex HMAC-SHA256 of the token keyed by the app secret."""
    return hmac.new(app_secret.encode(), token.encode(), hashlib.sha256).hexdigest()


def _outcome(error: GraphError | None) -> str:
    if error is None:
        return "ok"
    if isinstance(error, ThrottledError):
        return "throttled"
    if isinstance(error, AuthError):
        return "auth_error"
    if isinstance(error, MalformedResponseError):
        return "server_error"
    if isinstance(error, TransientError):
        return "network_error" if error.status is None else "server_error"
    return "client_error"


class GraphClient:
    """Speaks HTTP to one Graph API host for any number of accounts."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        base_url: str,
        api_version: str,
        app_secret: str,
        timeout_s: float,
        metrics: Metrics,
        observer: ResponseObserver | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._session = session
        self._base = base_url.rstrip("/")
        self._origin = urlsplit(self._base)[:2]
        self._version = api_version
        self._app_secret = app_secret
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._metrics = metrics
        self._observer = observer
        self._clock = clock

    def url(self, path: str) -> str:
        """The absolute versioned URL of ``path`` (``ig_hashtag_search``, ``123/recent_media``)."""
        return f"{self._base}/{self._version}/{path.lstrip('/')}"

    async def get(
        self,
        path: str,
        params: Mapping[str, str],
        *,
        token: str,
        endpoint: str,
        account: str,
        parse: Parse[T],
    ) -> T:
        """GET a versioned ``path`` with ``params`` and read the answer with ``parse``."""
        return await self.request(
            self.url(path), params, token=token, endpoint=endpoint, account=account, parse=parse
        )

    async def request(
        self,
        url: str,
        params: Mapping[str, str],
        *,
        token: str,
        endpoint: str,
        account: str,
        parse: Parse[T],
    ) -> T:
        """GET ``url`` (absolute, on the configured host) plus ``params``; the one choke point.

        ``parse`` runs inside it, so an answer of the wrong shape is counted and raised like
        any other failure of the call.

        ``url`` may carry its own query (a ``next`` link). It must point at the configured host:
        a link elsewhere is refused rather than handed the token.
        """
        parts = urlsplit(url)
        if parts[:2] != self._origin:
            raise MalformedResponseError(
                f"refusing to follow a link to another host ({parts.scheme}://{parts.netloc})",
                endpoint=endpoint,
            )
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        query.update(params)
        query["access_token"] = token
        if self._app_secret:
            query["appsecret_proof"] = appsecret_proof(token, self._app_secret)
        bare = parts._replace(query="").geturl()
        started = self._clock()
        error: GraphError | None = None
        try:
            return parse(await self._send(bare, query, endpoint=endpoint, account=account))
        except GraphError as exc:
            error = exc
            raise
        finally:
            self._metrics.graph_duration.labels(endpoint).observe(self._clock() - started)
            self._metrics.graph_requests.labels(endpoint, _outcome(error)).inc()

    async def _send(
        self, url: str, query: Mapping[str, str], *, endpoint: str, account: str
    ) -> Any:
        try:
            async with self._session.get(url, params=query, timeout=self._timeout) as response:
                raw = await response.read()
                headers = response.headers
                status = response.status
        except TimeoutError:
            raise TransientError("timed out", endpoint=endpoint) from None
        except aiohttp.ClientError as exc:
            # The exception text may quote the URL with its query; keep only the class name.
            raise TransientError(
                f"connection failed: {type(exc).__name__}", endpoint=endpoint
            ) from None
        if self._observer is not None:
            self._observer.observe(endpoint=endpoint, account=account, headers=headers)
        body = _decode(raw)
        if status >= 400 or (isinstance(body, Mapping) and "error" in body):
            raise error_from_answer(status, body, endpoint=endpoint, retry_after_s=None)
        if body is _NOT_JSON:
            raise MalformedResponseError(
                f"HTTP {status} answer is not JSON", endpoint=endpoint, status=status
            )
        return body


_NOT_JSON = object()


def _decode(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return _NOT_JSON
