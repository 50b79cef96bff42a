"""Access tokens at Meta: inspect one, exchange it for a long-lived one, refresh it (reference §5).

Every call goes through the choke point (:class:`GraphClient`) under a bounded endpoint name:
``debug_token``, ``oauth_access_token``, ``refresh_access_token`` and ``user`` (the live check
that a token acts for its account). Tokens, the app secret and the app token ``APPID|SECRET``
travel only as query parameters, which the client never puts in a logged URL or an exception;
an error text that quotes one anyway (Meta's messages do not, today) is redacted here.

Hosts: ``debug_token`` and ``fb_exchange_token`` live on graph.facebook.com; Instagram Login
tokens are refreshed on graph.instagram.com, hence the second client. Whether ``debug_token``
reads Instagram Login tokens is unverified, so callers use it for Facebook Login tokens.

Also here: when each configured account's token expires (:func:`token_expiries`, the worker's
expiry gauge), from ``debug_token`` or from the renewed token the store keeps.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal, Protocol

import structlog
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from listener.errors import (
    AuthError,
    ConfigError,
    GraphError,
    MalformedResponseError,
    StoreUnavailableError,
)
from listener.graph.client import GraphClient
from listener.graph.instagram import Credentials
from listener.logs import remember_secret

Login = Literal["facebook", "instagram"]
"""Which token an account holds: a Facebook user token or an Instagram user token."""

EpochSeconds = Annotated[int, Field(ge=0, le=253_402_300_799)]
"""A moment as Unix seconds that a date can hold (up to the end of year 9999)."""
Lifetime = Annotated[int, Field(ge=0, le=10**10)]
"""A token's lifetime in seconds: three centuries at most, so adding it to now stays a date."""

log = structlog.get_logger("listener.graph")

REDACTED = "[redacted]"


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class TokenInfo:
    """What ``debug_token`` says about a token.

    ``expires_at`` is ``None`` when the token never expires (Meta's ``0``) or Meta gave no date
    (a token it cannot read); ``problem`` is Meta's reason when the token is not valid.
    """

    is_valid: bool
    expires_at: datetime | None
    scopes: tuple[str, ...]
    user_id: str | None
    problem: str | None


@dataclass(frozen=True)
class NewToken:
    """A token Meta just issued, and when it expires (``None``: never)."""

    access_token: str = field(repr=False)
    expires_at: datetime | None


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _DebugError(_Wire):
    code: int | None = None
    subcode: int | None = None
    message: str = ""


def _codes(error: _DebugError) -> tuple[tuple[str, int | None], ...]:
    return (("code", error.code), ("subcode", error.subcode))


class _DebugData(_Wire):
    is_valid: bool
    expires_at: EpochSeconds | None = None
    scopes: tuple[str, ...] = ()
    user_id: str | None = None
    error: _DebugError | None = None

    @field_validator("user_id", mode="before")
    @classmethod
    def _text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class _DebugAnswer(_Wire):
    data: _DebugData


class _TokenAnswer(_Wire):
    access_token: str
    token_type: str | None = None
    expires_in: Lifetime | None = None


class _UserAnswer(_Wire):
    id: str


def _read(model: type[_Wire], body: Any, *, endpoint: str) -> Any:
    """Validate ``body``; the error names the field, never the values (a token is one)."""
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        raise MalformedResponseError(
            f"answer of unexpected shape: {where}: {first['msg']}", endpoint=endpoint
        ) from None


def parse_debug_token(body: Any, *, hidden: tuple[str, ...] = ()) -> TokenInfo:
    """What a ``debug_token`` answer says (pure); ``hidden`` texts never reach ``problem``."""
    data = _read(_DebugAnswer, body, endpoint="debug_token").data
    problem = None
    if data.error is not None:
        codes = [f"{name} {value}" for name, value in _codes(data.error) if value is not None]
        reason = _redact(data.error.message or "not valid", hidden)
        problem = f"{reason} ({', '.join(codes)})" if codes else reason
    elif not data.is_valid:
        problem = "not valid"
    return TokenInfo(
        is_valid=data.is_valid,
        expires_at=datetime.fromtimestamp(data.expires_at, UTC) if data.expires_at else None,
        scopes=data.scopes,
        user_id=data.user_id,
        problem=problem,
    )


def _redact(text: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return text


@contextmanager
def _secrets_hidden(*secrets: str) -> Iterator[None]:
    """Re-raise any GraphError with ``secrets`` removed from its text."""
    try:
        yield
    except GraphError as exc:
        exc.message = _redact(exc.message, secrets)
        exc.args = (exc.message,)
        raise


class TokenApi:
    """The token endpoints, on the Facebook host and (for Instagram Login) the Instagram host."""

    def __init__(
        self,
        client: GraphClient,
        instagram_client: GraphClient | None = None,
        *,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._client = client
        self._instagram = instagram_client
        self._clock = clock

    def _host(self, login: Login) -> GraphClient:
        if login == "facebook":
            return self._client
        if self._instagram is None:
            raise ConfigError("Instagram Login accounts need the graph.instagram.com client")
        return self._instagram

    async def debug(
        self, app_id: str, app_secret: str, input_token: str, *, account: str
    ) -> TokenInfo:
        """``debug_token`` with the app token: validity, expiry, scopes of ``input_token``.

        The token is the call's subject (named ``token:<account>``, never by its value): an
        "object missing" answer is about it, not a throttle, unless the usage says otherwise.
        """
        app_token = f"{app_id}|{app_secret}"
        hidden = (input_token, app_token, app_secret)
        with _secrets_hidden(*hidden):
            return await self._client.get(
                "debug_token",
                {"input_token": input_token},
                token=app_token,
                endpoint="debug_token",
                account=account,
                parse=lambda body: parse_debug_token(body, hidden=hidden),
                subject=f"token:{account}",
            )

    async def exchange_facebook(
        self, app_id: str, app_secret: str, token: str, *, account: str
    ) -> NewToken:
        """``fb_exchange_token``: a long-lived (about 60 days) Facebook user token for ``token``.

        Meta answers a wrong client secret with code 1, which reads as transient (the client
        retries it); it leaves here as an :class:`AuthError`: only a human can fix the secret.
        """
        params = {
            "grant_type": "fb_exchange_token",
            "client_id": app_id,
            "client_secret": app_secret,
            "fb_exchange_token": token,
        }
        try:
            with _secrets_hidden(token, app_secret):
                return await self._new_token(
                    self._client,
                    "oauth/access_token",
                    params,
                    token=token,
                    endpoint="oauth_access_token",
                    account=account,
                )
        except GraphError as exc:
            if exc.code == 1 and "client secret" in exc.message.lower():
                raise AuthError(
                    f"{exc.message} (check graph.app_id and graph.app_secret)",
                    endpoint=exc.endpoint,
                    status=exc.status,
                    code=exc.code,
                    subcode=exc.subcode,
                    fbtrace_id=exc.fbtrace_id,
                ) from exc
            raise

    async def refresh_instagram(self, token: str, *, account: str) -> NewToken:
        """``ig_refresh_token``: 60 more days for an Instagram Login token at least 24 hours old."""
        params = {"grant_type": "ig_refresh_token"}
        with _secrets_hidden(token):
            return await self._new_token(
                self._host("instagram"),
                "refresh_access_token",
                params,
                token=token,
                endpoint="refresh_access_token",
                account=account,
            )

    async def verify(self, who: Credentials, *, login: Login) -> None:
        """Prove with one live call that ``who.token`` works and acts for ``who.ig_user_id``.

        The id comes from the configuration: Meta's "object missing" answer for it is an
        :class:`~listener.errors.ObjectUnavailableError` (a wrong or unreadable id), not a
        throttle, unless the answer's usage says otherwise.
        """
        with _secrets_hidden(who.token):
            answer: _UserAnswer = await self._host(login).get(
                who.ig_user_id,
                {"fields": "id"},
                token=who.token,
                endpoint="user",
                account=who.account,
                parse=lambda body: _read(_UserAnswer, body, endpoint="user"),
                subject=who.ig_user_id,
            )
        if answer.id != who.ig_user_id:
            raise MalformedResponseError(
                f"asked for IG user {who.ig_user_id}, got {answer.id}", endpoint="user"
            )

    async def _new_token(
        self,
        client: GraphClient,
        path: str,
        params: Mapping[str, str],
        *,
        token: str,
        endpoint: str,
        account: str,
    ) -> NewToken:
        answer: _TokenAnswer = await client.get(
            path,
            params,
            token=token,
            endpoint=endpoint,
            account=account,
            parse=lambda body: _read(_TokenAnswer, body, endpoint=endpoint),
        )
        remember_secret(answer.access_token)  # a secret from now on, wherever it ends up
        expires_at = None
        if answer.expires_in:
            expires_at = self._clock() + timedelta(seconds=answer.expires_in)
        return NewToken(access_token=answer.access_token, expires_at=expires_at)


# -- expiry of the configured accounts' tokens -----------------------------------------------------


class TokenHolder(Protocol):
    """An account as the expiry needs it (the settings' account fits)."""

    @property
    def name(self) -> str: ...
    @property
    def login(self) -> Login: ...
    @property
    def access_token(self) -> SecretStr: ...


class Renewed(Protocol):
    """A renewed token as stored."""

    @property
    def expires_at(self) -> datetime | None: ...
    def stands_in_for(self, configured_token: str) -> bool: ...


class RenewedTokens(Protocol):
    """Where renewed tokens are kept (the store's token repository fits)."""

    async def load(self, account: str) -> Renewed | None: ...
    async def current(self, account: str, configured_token: str) -> str: ...


async def current_token(tokens: RenewedTokens | None, account: str, configured: str) -> str:
    """The renewed token while it stands in for ``configured``; ``configured`` when unknown."""
    if tokens is None:
        return configured
    try:
        return await tokens.current(account, configured)
    except StoreUnavailableError:
        return configured


async def token_expiries(
    api: TokenApi,
    accounts: Sequence[TokenHolder],
    *,
    app: tuple[str, str] | None,
    tokens: RenewedTokens | None = None,
    clock: Callable[[], datetime] = _utcnow,
) -> dict[str, float]:
    """Account → unix time its token expires (0 = never), for the expiry gauge.

    The gauge is ``listener_token_expiry_timestamp_seconds{account}``.

    Facebook Login accounts ask ``debug_token`` (when ``app``, the app id and secret, is known);
    the others use the expiry stored at their last renewal (when ``tokens`` is given). A token
    Meta calls invalid counts as expired now (or at its past expiry), never at a future date.
    An account whose expiry cannot be learnt now is left out, so its gauge keeps its last value.
    """
    expiries: dict[str, float] = {}
    for account in accounts:
        configured = account.access_token.get_secret_value()
        if not configured:
            continue
        if account.login == "facebook" and app is not None:
            token = await current_token(tokens, account.name, configured)
            try:
                info = await api.debug(*app, token, account=account.name)
            except GraphError as exc:
                log.debug("token.expiry_unknown", account=account.name, error=str(exc))
                continue
            expires_at = info.expires_at
            if not info.is_valid:
                now = clock()
                expires_at = now if expires_at is None else min(expires_at, now)
        else:
            stored = await _stored(tokens, account.name)
            if stored is None or not stored.stands_in_for(configured):
                continue
            expires_at = stored.expires_at
        expiries[account.name] = 0.0 if expires_at is None else expires_at.timestamp()
    return expiries


async def _stored(tokens: RenewedTokens | None, account: str) -> Renewed | None:
    if tokens is None:
        return None
    try:
        return await tokens.load(account)
    except StoreUnavailableError:
        return None
