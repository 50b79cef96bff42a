"""The exception tree, sorted by what the caller must do.

::

    ListenerError
    ├── ConfigError            reject: the configuration is wrong; exit code 2, one line on stderr
    ├── ModelFileError         reinstall: a model file the package ships is missing or altered
    ├── StoreUnavailableError       retry later: MongoDB did not answer or refused the write
    ├── LeaseLostError     stop: another replica took the feed over (fenced write refused)
    ├── HashtagQuotaError  wait: the account's 30 hashtag slots are spent; ``next_free_at`` says
    │                      when one frees (never sent to Meta)
    ├── StoppingError      stop: the worker is stopping and cut a wait short (a pause, a
    │                      backoff); nothing failed, the work is given back or done next time
    └── GraphError             an answer from (or a failure to reach) the Graph API
        ├── TransientError     retry soon with backoff: codes 1, 2, is_transient, 5xx,
        │   │                  timeouts, connection errors
        │   └── MalformedResponseError  wrong shape of answer; retried like a transient fault
        ├── ThrottledError     back off: the scope is paused until ``retry_after_s`` has passed
        ├── AuthError          a human must act: the token is invalid or expired (code 190)
        ├── GraphPermissionError  a human must act: a permission is missing (10, 200-299)
        └── BadRequestError    reject: invalid parameter (100), other client errors; no retry
            └── ObjectUnavailableError  one object is gone, private or unreadable (100/33):
                                   settle that object, never the account's scopes

Adapters translate their libraries' exceptions into these at one boundary, with ``raise … from``.
Messages never carry tokens or the app secret.
"""

from __future__ import annotations

from datetime import datetime


class ListenerError(Exception):
    """Base of every error this package raises on purpose."""


class ConfigError(ListenerError):
    """The configuration cannot be used; the message names the key and the problem."""


class ModelFileError(ListenerError):
    """A model file shipped inside the package is missing or is not the file it should be."""


class StoreUnavailableError(ListenerError):
    """MongoDB could not be reached or did not accept the operation; try again later."""


class HashtagQuotaError(ListenerError):
    """A hashtag was not queried: it would exceed the account's 30 distinct hashtags in 7 days."""

    def __init__(self, reason: str, *, next_free_at: datetime) -> None:
        super().__init__(reason)
        self.next_free_at = next_free_at


class StoppingError(ListenerError):
    """The worker is stopping: a wait (a rate-limit pause, a backoff) ended early, on purpose."""


class LeaseLostError(ListenerError):
    """Another replica owns the feed now: this one must stop writing its state."""


class GraphError(ListenerError):
    """An error answer from the Graph API, or a failure to get one.

    ``code``, ``subcode`` and ``fbtrace_id`` are Meta's, kept so an operator can quote them to
    Meta's support; ``endpoint`` is the bounded endpoint name used in metrics.
    """

    def __init__(
        self,
        message: str,
        *,
        endpoint: str = "",
        status: int | None = None,
        code: int | None = None,
        subcode: int | None = None,
        fbtrace_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.endpoint = endpoint
        self.status = status
        self.code = code
        self.subcode = subcode
        self.fbtrace_id = fbtrace_id

    def __str__(self) -> str:
        parts = [self.message]
        if self.code is not None:
            parts.append(f"code={self.code}")
        if self.subcode is not None:
            parts.append(f"subcode={self.subcode}")
        if self.fbtrace_id:
            parts.append(f"fbtrace_id={self.fbtrace_id}")
        if self.endpoint:
            parts.append(f"endpoint={self.endpoint}")
        return " ".join(parts)


class TransientError(GraphError):
    """Meta or the network failed in a way that usually passes; retry with backoff."""


class MalformedResponseError(TransientError):
    """The Graph API answered with a body of an unexpected shape."""


class ThrottledError(GraphError):
    """A rate limit was hit; nothing may be sent to this scope for ``retry_after_s`` seconds."""

    def __init__(
        self, message: str, *, retry_after_s: float | None = None, **kwargs: object
    ) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]  # the base class's keywords, passed through as given
        self.retry_after_s = retry_after_s


class AuthError(GraphError):
    """The access token is invalid or expired: the account stops until a new token is given."""


class GraphPermissionError(GraphError):
    """The token lacks a permission or feature for this call: the feature stops for the account."""


class BadRequestError(GraphError):
    """The request itself is wrong (invalid parameter, unknown object): retrying cannot help."""


class ObjectUnavailableError(BadRequestError):
    """Meta cannot serve one object the call named: deleted, private, expired or not readable.

    Meta's code 100, subcode 33 (``GraphMethodException``). It is about that object alone: the
    account and its rate-limit scopes carry on. ``object_id`` is the id the call named, when
    the caller said which one it was.
    """

    def __init__(self, message: str, *, object_id: str | None = None, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]  # the base class's keywords, passed through as given
        self.object_id = object_id
