"""The Graph API request choke point: every call to Meta passes through :meth:`GraphClient.request`.

It signs the call (``appsecret_proof`` when an app secret is set), times it, counts it by
endpoint and outcome, and turns every failure (HTTP, Meta's error body, timeouts, a body that
is not JSON or is nested too deeply to read) into the error tree of :mod:`listener.errors`.
Tokens travel as query parameters, as Meta expects, but are never part of a URL that is logged
or raised.

Meta's "object missing" answer (code 100, subcode 33) is about one object: a call that names
an object from outside (a mention's media, a comment, a drawn entry, a configured account id)
says which as its ``subject``, and the answer is an :class:`ObjectUnavailableError` for it
unless there is evidence of a throttle (:mod:`listener.ratelimit.disguise`). A call on the
worker's own objects (its hashtag feeds, its ``/tags``) names no subject: there the answer has
only ever meant Meta under load, and it pauses the call's scope like any throttle.
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
    ObjectUnavailableError,
    ThrottledError,
    TransientError,
)
from listener.graph.wire import error_from_answer
from listener.metrics import Metrics
from listener.ratelimit.disguise import near_limit
from listener.ratelimit.governor import Governor, Sleep
from listener.ratelimit.usage import parse_app_usage, parse_buc_usage

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
        subject: str | None = None,
    ) -> T:
        """GET a versioned ``path`` with ``params`` and read the answer with ``parse``."""
        return await self.request(
            self.url(path),
            params,
            token=token,
            endpoint=endpoint,
            account=account,
            parse=parse,
            subject=subject,
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
        subject: str | None = None,
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

        ``subject`` is the id of the object the call asks about when it comes from outside the
        worker (see the module docstring); an "object missing" answer is then about it.
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
                    bare, query, endpoint=endpoint, account=account, parse=parse, subject=subject
                )
        raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover

    async def _attempt(
        self,
        url: str,
        query: Mapping[str, str],
        *,
        endpoint: str,
        account: str,
        parse: Parse[T],
        subject: str | None,
    ) -> T:
        if self._governor is not None:
            await self._governor.acquire(endpoint, account)
        started = self._clock()
        error: GraphError | None = None
        try:
            body = await self._send(url, query, endpoint=endpoint, account=account, subject=subject)
            return parse(body)
        except GraphError as exc:
            error = exc
            raise
        finally:
            self._metrics.graph_duration.labels(endpoint).observe(self._clock() - started)
            self._metrics.graph_requests.labels(endpoint, _outcome(error)).inc()

    async def _send(
        self,
        url: str,
        query: Mapping[str, str],
        *,
        endpoint: str,
        account: str,
        subject: str | None,
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
        lowered = {k.lower(): v for k, v in headers.items()}
        if self._governor is not None:
            regain_s = self._governor.observe_headers(account, lowered)
        body = _decode(raw)
        if status >= 400 or (isinstance(body, Mapping) and "error" in body):
            error = error_from_answer(status, body, endpoint=endpoint, retry_after_s=regain_s)
            if isinstance(error, ObjectUnavailableError):
                error = self._judged(
                    error,
                    endpoint=endpoint,
                    account=account,
                    subject=subject,
                    headers=lowered,
                    regain_s=regain_s,
                )
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

    def _judged(
        self,
        error: ObjectUnavailableError,
        *,
        endpoint: str,
        account: str,
        subject: str | None,
        headers: Mapping[str, str],
        regain_s: float | None,
    ) -> GraphError:
        """An "object missing" answer: about ``subject``, or a throttle on evidence."""
        if subject is None:
            evidence = "asked of the worker's own account or hashtag, where it means load"
        elif self._governor is not None:
            verdict = self._governor.observe_missing(endpoint, account, subject)
            if not verdict.throttle:
                error.object_id = subject
                return error
            evidence = verdict.reason
        elif near_limit(_answer_usage(headers)):
            evidence = "the answer's usage headers are near the limit"
        else:
            error.object_id = subject
            return error
        return ThrottledError(
            f"{error.message} (read as a throttle: {evidence})",
            retry_after_s=regain_s,
            endpoint=error.endpoint,
            status=error.status,
            code=error.code,
            subcode=error.subcode,
            fbtrace_id=error.fbtrace_id,
        )


def _answer_usage(headers: Mapping[str, str]) -> float:
    """The highest usage one answer's headers report, for a client without a governor."""
    app = parse_app_usage(headers.get("x-app-usage")).usage
    buc = parse_buc_usage(headers.get("x-business-use-case-usage")).by_object.values()
    return max((usage.ratio() for usage in (app, *buc) if usage is not None), default=0.0)


_NOT_JSON = object()


def _decode(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        return _NOT_JSON
