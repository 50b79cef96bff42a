"""The Graph API request choke point: every call to Meta passes through :meth:`GraphClient.request`.

It signs the call (``appsecret_proof`` when an app secret is set), times it, counts it by
endpoint and outcome, and turns every failure (HTTP, Meta's error body, timeouts, a body that
is not JSON) into the error tree of :mod:`listener.errors`. Tokens travel as query parameters,
as Meta expects, but are never part of a URL that is logged or raised.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlsplit

import aiohttp
import structlog
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from listener.errors import (
    AuthError,
    GraphError,
    MalformedResponseError,
    ThrottledError,
    TransientError,
)
from listener.graph.wire import error_from_answer
from listener.metrics import Metrics
from listener.ratelimit.governor import Governor, Sleep

log = structlog.get_logger("listener.graph")


T = TypeVar("T")
Parse = Callable[[Any], T]
"""Reads a decoded JSON body into a value; raises MalformedResponseError on the wrong shape."""


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded exponential backoff with full jitter, for transient failures only."""

    max_attempts: int = 4
    initial_s: float = 1.0
    max_s: float = 60.0


def _log_retry(state: RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome is not None else None
    log.info(
        "graph.retrying",
        attempt=state.attempt_number,
        wait_s=round(state.upcoming_sleep, 2),
        error=str(error),
    )


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
        governor: Governor | None = None,
        retry: RetryPolicy = RetryPolicy(),
        sleep: Sleep = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._session = session
        self._base = base_url.rstrip("/")
        self._origin = urlsplit(self._base)[:2]
        self._version = api_version
        self._app_secret = app_secret
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._metrics = metrics
        self._governor = governor
        self._retry = retry
        self._sleep = sleep
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

        Each attempt first waits for the call's rate-limit scopes (a paused scope gets no
        call). Transient failures are retried with bounded, jittered exponential backoff;
        throttles pause their scope and are raised; auth, permission and bad-request errors
        are raised at once: retrying cannot help them.
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
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(TransientError),
            stop=stop_after_attempt(self._retry.max_attempts),
            wait=wait_random_exponential(multiplier=self._retry.initial_s, max=self._retry.max_s),
            sleep=self._sleep,
            before_sleep=_log_retry,
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await self._attempt(
                    bare, query, endpoint=endpoint, account=account, parse=parse
                )
        raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover

    async def _attempt(
        self, url: str, query: Mapping[str, str], *, endpoint: str, account: str, parse: Parse[T]
    ) -> T:
        if self._governor is not None:
            await self._governor.acquire(endpoint, account)
        started = self._clock()
        error: GraphError | None = None
        try:
            return parse(await self._send(url, query, endpoint=endpoint, account=account))
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
        regain_s = None
        if self._governor is not None:
            regain_s = self._governor.observe_headers(
                account, {k.lower(): v for k, v in headers.items()}
            )
        body = _decode(raw)
        if status >= 400 or (isinstance(body, Mapping) and "error" in body):
            error = error_from_answer(status, body, endpoint=endpoint, retry_after_s=regain_s)
            if isinstance(error, ThrottledError) and self._governor is not None:
                self._governor.observe_throttle(endpoint, account, error.code, error.retry_after_s)
            raise error
        if self._governor is not None:
            self._governor.observe_success(endpoint, account)
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
