"""One-shot operator commands: ``check``, ``token refresh``, ``quota``; token expiries.

Composed like :mod:`listener.app`: each command opens what it needs (the simulator in demo
mode, MongoDB, an HTTP session, one Graph client per host), uses it and closes it in reverse
order. It prints one line per finding, ``<status>: <subject>: <text>`` with status ``ok``,
``note`` (nothing to fix), ``warning`` or ``problem``, then a summary line. The exit code is 0
only when there is no warning and no problem. Tokens and secrets are never printed or logged.

Which token is checked or renewed: the stored renewed token while it stands in for the
configured one (:class:`~listener.store.tokens.TokenRepository`), else the configured one.

``debug_token`` (expiry and scopes) is asked for Facebook Login accounts only: whether it reads
Instagram Login tokens is unverified. Their expiry is known from their last refresh.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping, Sequence
from contextlib import AsyncExitStack, aclosing, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO

import aiohttp
import structlog
from prometheus_client import CollectorRegistry

from listener.demo import graph_hosts
from listener.enrich.contests import hashtags as caption_hashtags
from listener.enrich.draw import DrawRecord
from listener.errors import (
    AuthError,
    BadRequestError,
    GraphError,
    GraphPermissionError,
    ObjectUnavailableError,
    StoreUnavailableError,
)
from listener.graph.client import GraphClient, RetryPolicy
from listener.graph.instagram import Credentials, InstagramApi
from listener.graph.tokens import Login, NewToken, TokenApi
from listener.graph.wire import MediaPage
from listener.metrics import Metrics
from listener.ratelimit.ledger import MAX_SLOTS, QuotaPlan, plan
from listener.settings import AccountSettings, Settings
from listener.store.embedded import embedded_server
from listener.store.mongo import connect
from listener.store.store import Store
from listener.store.tokens import TokenRepository

log = structlog.get_logger("listener.admin")

EXIT_OK = 0
EXIT_FAILURE = 1
EXPIRY_WARNING = timedelta(days=7)
"""A token with less than this left to live is a warning: renew it now."""

FEATURE_SCOPES: Mapping[Login, Mapping[str, str]] = {
    "facebook": {
        "hashtags": "instagram_basic",
        "tags": "instagram_manage_comments",
        "mentions": "instagram_manage_comments",
    },
}
"""The permission each feature needs, by login; a short list, not Meta's full requirements.

Hashtag search needs ``instagram_basic`` (reference §1); ``/tags`` and mention lookups need
``instagram_manage_comments`` (§2). Scopes come from ``debug_token``, asked for Facebook Login
accounts only, so there is no Instagram Login entry.
"""

NO_APP = "set graph.app_id and graph.app_secret"


def _utcnow() -> datetime:
    return datetime.now(UTC)


def features(account: AccountSettings) -> tuple[str, ...]:
    """The features an account has switched on, in a fixed order."""
    wanted = {
        "hashtags": bool(account.hashtags),
        "tags": account.tags,
        "mentions": account.mentions,
    }
    return tuple(name for name, on in wanted.items() if on)


def missing_scopes(account: AccountSettings, scopes: tuple[str, ...]) -> dict[str, list[str]]:
    """Scope → the account's features that need it, for each scope the token lacks (pure)."""
    needs = FEATURE_SCOPES.get(account.login, {})
    missing: dict[str, list[str]] = {}
    for feature in features(account):
        scope = needs.get(feature)
        if scope is not None and scope not in scopes:
            missing.setdefault(scope, []).append(feature)
    return missing


def describe_expiry(expires_at: datetime | None, now: datetime) -> str:
    """``expires 2027-01-28 (60 days left)``, ``never expires`` or ``expired 2026-11-01`` (pure)."""
    if expires_at is None:
        return "never expires"
    if expires_at <= now:
        return f"expired {expires_at:%Y-%m-%d}"
    days = (expires_at - now) // timedelta(days=1)
    return f"expires {expires_at:%Y-%m-%d} ({days} day{'' if days == 1 else 's'} left)"


class _Report:
    """The lines a command prints, and whether anything needs a human."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self.problems = 0
        self.warnings = 0

    def line(self, status: str, subject: str, text: str) -> None:
        one_line = " ".join(text.split())
        self._out.write(f"{status}: {subject}: {one_line}\n")

    def ok(self, subject: str, text: str) -> None:
        self.line("ok", subject, text)

    def note(self, subject: str, text: str) -> None:
        self.line("note", subject, text)

    def warning(self, subject: str, text: str) -> None:
        self.warnings += 1
        self.line("warning", subject, text)

    def problem(self, subject: str, text: str) -> None:
        self.problems += 1
        self.line("problem", subject, text)

    def finish(self, command: str) -> int:
        if not self.problems and not self.warnings:
            self._out.write(f"{command}: all well\n")
            return EXIT_OK
        counts = [_plural(self.problems, "problem"), _plural(self.warnings, "warning")]
        self._out.write(f"{command}: {', '.join(c for c in counts if c)}\n")
        return EXIT_FAILURE


def _plural(count: int, noun: str) -> str:
    return "" if count == 0 else f"{count} {noun}{'' if count == 1 else 's'}"


# -- resources ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Tools:
    api: TokenApi
    store: Store | None  # None when the store could not even be started
    tokens: TokenRepository | None
    instagram: InstagramApi


@asynccontextmanager
async def _open(
    settings: Settings, report: _Report, clock: Callable[[], datetime]
) -> AsyncIterator[_Tools]:
    """Start the simulator (demo), MongoDB and the Graph clients; close them in reverse order."""
    async with AsyncExitStack() as stack:
        hosts = await stack.enter_async_context(graph_hosts(settings))
        store: Store | None = None
        tokens: TokenRepository | None = None
        try:
            if settings.store.embedded:
                uri = await stack.enter_async_context(embedded_server(settings.store.embedded_path))
            else:
                uri = settings.store.mongodb_uri.get_secret_value()
        except StoreUnavailableError as exc:
            report.problem("store", str(exc))
        else:
            database = await stack.enter_async_context(
                connect(uri, settings.store.database, timeout_s=settings.store.timeout_s)
            )
            store = Store(database)
            tokens = TokenRepository(database["tokens"])
        session = await stack.enter_async_context(aiohttp.ClientSession())
        metrics = Metrics(CollectorRegistry())  # a one-shot command exposes no metrics
        limits = settings.ratelimit
        retry = RetryPolicy(limits.max_attempts, limits.backoff_initial_s, limits.backoff_max_s)

        def client(base_url: str) -> GraphClient:
            return GraphClient(
                session,
                base_url=base_url,
                api_version=settings.graph.api_version,
                app_secret=settings.graph.app_secret.get_secret_value(),
                timeout_s=settings.graph.timeout_s,
                metrics=metrics,
                retry=retry,
            )

        facebook = client(hosts.facebook)
        api = TokenApi(facebook, client(hosts.instagram), clock=clock)
        yield _Tools(api, store, tokens, InstagramApi(facebook))


async def _reachable(tools: _Tools, report: _Report, *, quiet: bool) -> TokenRepository | None:
    """The token repository when MongoDB answers a ping; a problem line when it does not."""
    if tools.store is None:
        return None
    try:
        await tools.store.ping()
    except StoreUnavailableError as exc:
        report.problem("store", str(exc)[:300])
        return None
    if not quiet:
        report.ok("store", "MongoDB answers")
    return tools.tokens


async def _current_token(
    tokens: TokenRepository | None, account: AccountSettings, configured: str
) -> str:
    if tokens is None:
        return configured
    try:
        return await tokens.current(account.name, configured)
    except StoreUnavailableError:
        return configured


def _app_credentials(settings: Settings) -> tuple[str, str] | None:
    app_id, secret = settings.graph.app_id, settings.graph.app_secret.get_secret_value()
    return (app_id, secret) if app_id and secret else None


@dataclass(frozen=True)
class _Command:
    """One command's collaborators, and the per-account steps of ``check`` and ``refresh``."""

    settings: Settings
    api: TokenApi
    tokens: TokenRepository | None
    report: _Report
    clock: Callable[[], datetime]

    async def check_account(self, account: AccountSettings) -> None:
        """Does the token work, how long does it live, does it carry the scopes needed."""
        configured = account.access_token.get_secret_value()
        if not configured:
            self.report.problem(account.name, "no access_token configured")
            return
        token = await _current_token(self.tokens, account, configured)
        if not await self._works(account, token):
            return
        if account.login == "instagram":
            await self._stored_expiry(account, configured)
        else:
            await self._debugged(account, token)

    async def _works(self, account: AccountSettings, token: str) -> bool:
        who = Credentials(account.name, account.ig_user_id, token)
        try:
            await self.api.verify(who, login=account.login)
        except (AuthError, GraphPermissionError) as exc:
            self.report.problem(account.name, f"token refused: {exc}")
            return False
        except ObjectUnavailableError as exc:
            self.report.problem(
                account.name,
                f"ig_user_id {account.ig_user_id} does not exist or this token cannot read it: "
                f"{exc}",
            )
            return False
        except GraphError as exc:
            self.report.problem(account.name, f"Graph API call failed: {exc}")
            return False
        return True

    async def _stored_expiry(self, account: AccountSettings, configured: str) -> None:
        expires_at = None
        if self.tokens is not None:
            try:
                expires_at = await self.tokens.expiry(account.name, configured)
            except StoreUnavailableError:
                expires_at = None
        if expires_at is None:
            self.report.note(
                account.name, "token valid; expiry unknown until `listener token refresh` runs"
            )
        else:
            self._expiry(account.name, expires_at)

    async def _debugged(self, account: AccountSettings, token: str) -> None:
        name = account.name
        credentials = _app_credentials(self.settings)
        if credentials is None:
            self.report.note(name, f"token valid; token expiry unknown: {NO_APP}")
            return
        try:
            info = await self.api.debug(*credentials, token, account=name)
        except GraphError as exc:
            hint = "are graph.app_id and graph.app_secret right?"
            self.report.problem(name, f"token valid, but debug_token failed ({hint}): {exc}")
            return
        if not info.is_valid:
            self.report.problem(name, f"token invalid: {info.problem}")
            return
        self._expiry(name, info.expires_at)
        for scope, needed_by in missing_scopes(account, info.scopes).items():
            self.report.problem(name, f"token lacks {scope}, needed for {', '.join(needed_by)}")

    def _expiry(self, name: str, expires_at: datetime | None) -> None:
        now = self.clock()
        text = f"token valid, {describe_expiry(expires_at, now)}"
        if expires_at is not None and expires_at - now < EXPIRY_WARNING:
            self.report.warning(name, f"{text}: renew it with `listener token refresh`")
        else:
            self.report.ok(name, text)

    async def renew(self, account: AccountSettings) -> None:
        """Exchange or refresh the account's token at Meta and store the new one."""
        configured = account.access_token.get_secret_value()
        if not configured:
            self.report.problem(account.name, "no access_token configured")
            return
        token = await _current_token(self.tokens, account, configured)
        new = await self._renewed(account, token)
        if new is not None:
            await self._keep(account, configured, new)

    async def _renewed(self, account: AccountSettings, token: str) -> NewToken | None:
        name = account.name
        try:
            if account.login == "instagram":
                return await self.api.refresh_instagram(token, account=name)
            credentials = _app_credentials(self.settings)
            if credentials is None:
                self.report.problem(
                    name, f"not renewed: a Facebook token exchange needs the app: {NO_APP}"
                )
                return None
            return await self.api.exchange_facebook(*credentials, token, account=name)
        except GraphError as exc:
            self.report.problem(name, f"not renewed: {exc}")
            return None

    async def _keep(self, account: AccountSettings, configured: str, new: NewToken) -> None:
        name, now = account.name, self.clock()
        expiry = describe_expiry(new.expires_at, now)
        if self.settings.simulator.enabled:
            self.report.note(
                name, f"renewed, {expiry}; not stored: the built-in simulator forgets it"
            )
            return
        assert self.tokens is not None  # refresh runs only with a reachable store
        try:
            await self.tokens.save(name, new.access_token, new.expires_at, configured, now)
        except StoreUnavailableError as exc:
            self.report.problem(name, f"renewed but not stored (the old token still works): {exc}")
            return
        log.info(
            "token.renewed",
            account=name,
            expires_at=None if new.expires_at is None else new.expires_at.isoformat(),
        )
        self.report.ok(name, f"renewed, {expiry}")


# -- listener check -------------------------------------------------------------------------------


async def check(settings: Settings, out: TextIO, *, clock: Callable[[], datetime] = _utcnow) -> int:
    """``listener check``: MongoDB answers, and per account the token works, lives, suffices.

    Exit code 0 only when all is well; an expiry that cannot be known (no app id and secret, or
    an Instagram Login token never refreshed here) is a note, not a failure.
    """
    report = _Report(out)
    async with _open(settings, report, clock) as tools:
        tokens = await _reachable(tools, report, quiet=False)
        if not settings.accounts:
            report.problem("accounts", "none configured: there is nothing to listen to")
        elif (refusal := settings.worker_refusal()) is not None:
            report.problem("config", f"`listener run` would refuse to start: {refusal}")
        command = _Command(settings, tools.api, tokens, report, clock)
        for account in settings.accounts:
            await command.check_account(account)
    return report.finish("check")


# -- listener token refresh -----------------------------------------------------------------------


async def refresh_tokens(
    settings: Settings,
    out: TextIO,
    account: str | None = None,
    *,
    clock: Callable[[], datetime] = _utcnow,
) -> int:
    """``listener token refresh``: renew each account's token (or ``account``'s) and store it.

    Facebook Login tokens are exchanged for a long-lived one (``fb_exchange_token``), Instagram
    Login tokens refreshed (``ig_refresh_token``). Nothing is asked of Meta while MongoDB cannot
    keep the result. In demo mode the simulator forgets its tokens when it stops, so nothing is
    stored. An unknown ``account`` is a :class:`~listener.errors.ConfigError`.
    """
    chosen = [settings.account(account)] if account is not None else list(settings.accounts)
    report = _Report(out)
    if not chosen:
        report.problem("accounts", "none configured: there is no token to renew")
        return report.finish("token refresh")
    async with _open(settings, report, clock) as tools:
        tokens = await _reachable(tools, report, quiet=True)
        if tokens is None:
            report.problem("tokens", "none renewed: a renewed token could not be stored")
        else:
            command = _Command(settings, tools.api, tokens, report, clock)
            for chosen_account in chosen:
                await command.renew(chosen_account)
    return report.finish("token refresh")


# -- the worker's token expiry gauge --------------------------------------------------------------


async def token_expiries(
    api: TokenApi,
    settings: Settings,
    *,
    tokens: TokenRepository | None = None,
    clock: Callable[[], datetime] = _utcnow,
) -> dict[str, float]:
    """Account → unix time its token expires (0 = never), for the expiry gauge.

    The gauge is ``listener_token_expiry_timestamp_seconds{account}``.

    Facebook Login accounts ask ``debug_token`` (when the app id and secret are set); the others
    use the expiry stored at their last renewal (when ``tokens`` is given). A token Meta calls
    invalid counts as expired now (or at its past expiry), never at a future date. An account
    whose expiry cannot be learnt now is left out, so its gauge keeps its last value.
    """
    credentials = _app_credentials(settings)
    expiries: dict[str, float] = {}
    for account in settings.accounts:
        configured = account.access_token.get_secret_value()
        if not configured:
            continue
        expires_at: datetime | None
        if account.login == "facebook" and credentials is not None:
            token = await _current_token(tokens, account, configured)
            try:
                info = await api.debug(*credentials, token, account=account.name)
            except GraphError as exc:
                log.debug("token.expiry_unknown", account=account.name, error=str(exc))
                continue
            expires_at = info.expires_at
            if not info.is_valid:
                now = clock()
                expires_at = now if expires_at is None else min(expires_at, now)
        else:
            if tokens is None:
                continue
            try:
                stored = await tokens.load(account.name)
            except StoreUnavailableError:
                continue
            if stored is None or not stored.stands_in_for(configured):
                continue
            expires_at = stored.expires_at
        expiries[account.name] = 0.0 if expires_at is None else expires_at.timestamp()
    return expiries


# -- listener quota -------------------------------------------------------------------------------


async def quota(settings: Settings, out: TextIO, *, clock: Callable[[], datetime] = _utcnow) -> int:
    """``listener quota``: per account, the hashtags holding slots, when each frees, who waits.

    Read from the shared ledger in MongoDB (what every replica has spent, and what Meta listed at
    the last start-up), not from Meta: looking costs no rate limit and no slot.
    """
    report = _Report(out)
    async with _open(settings, report, clock) as tools:
        if await _reachable(tools, report, quiet=True) is None or tools.store is None:
            return report.finish("quota")
        now = clock()
        for account in settings.accounts:
            try:
                ledger, _ = await tools.store.slots.load(account.name)
            except StoreUnavailableError as exc:
                report.problem(account.name, str(exc)[:300])
                continue
            _print_plan(out, account.name, plan(account.hashtags, ledger, now), now)
    return report.finish("quota")


def _print_plan(out: TextIO, account: str, quota_plan: QuotaPlan, now: datetime) -> None:
    used = MAX_SLOTS - quota_plan.remaining
    out.write(f"{account}: {used} of {MAX_SLOTS} hashtags used in the rolling 7 days, ")
    out.write(f"{quota_plan.remaining} free\n")
    for slot in (*quota_plan.in_use, *quota_plan.others):
        configured = "" if slot in quota_plan.in_use else "  (not configured now)"
        left = _days(slot.frees_at - now)
        out.write(f"  {slot.tag:<32} frees {_utc(slot.frees_at)} (in {left}){configured}\n")
    for waiting in quota_plan.waiting:
        when = (
            f"can start {_utc(waiting.starts_at)}"
            if waiting.starts_at is not None
            else "waits until a configured hashtag is removed"
        )
        out.write(f"  {waiting.tag:<32} waiting: {when}\n")


def _days(span: timedelta) -> str:
    hours = max(span.total_seconds(), 0) / 3600
    return f"{hours / 24:.1f} days" if hours >= 48 else f"{hours:.1f} hours"


def _utc(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


# -- listener draw recheck ------------------------------------------------------------------------

RECHECK_PAGES = 10
"""How many pages of a feed to walk looking for a drawn media (500 media at 50 a page)."""


async def recheck(
    settings: Settings,
    out: TextIO,
    campaign_id: str,
    *,
    clock: Callable[[], datetime] = _utcnow,
) -> int:
    """``listener draw recheck``: before announcing, ask Meta whether each drawn entry still stands.

    For each winner and alternate, in drawn order: is the media still reachable through a feed
    it came from (its mention, ``/tags``, or its hashtag's ``top_media``/``recent_media``), and
    does its caption still carry the campaign's hashtags? An entry Meta no longer serves, or
    whose caption lost a hashtag, is marked withdrawn with the reason — never silently dropped.
    An entry no feed can show any more (older than recent_media's 24 hours, not in top media)
    is "unconfirmed": nothing proves it was withdrawn. The results are kept with the draw.
    """
    config = settings.campaign(campaign_id)
    account = settings.account(config.account)
    report = _Report(out)
    async with _open(settings, report, clock) as tools:
        if await _reachable(tools, report, quiet=True) is None or tools.store is None:
            return report.finish("recheck")
        stored = await tools.store.draws.load(config.id)
        if stored is None or not stored.get("record"):
            report.problem(config.id, "not drawn yet: run `listener draw` first")
            return report.finish("recheck")
        record = DrawRecord.from_json(stored["record"])
        who = await _credentials(tools, account)
        results: list[dict[str, str]] = []
        winners_left = record.winners_asked
        for rank, media_id in enumerate((*record.winners, *record.alternates), start=1):
            status, reason = await _recheck_one(tools, who, config.hashtags, media_id)
            results.append({"media_id": media_id, "status": status, "reason": reason})
            role = "winner" if rank <= len(record.winners) else "alternate"
            text = f"{status}" + (f": {reason}" if reason else "")
            line = report.warning if status == "withdrawn" else report.ok
            line(f"{role} {rank} {media_id}", text)
        final = [r["media_id"] for r in results if r["status"] != "withdrawn"][:winners_left]
        out.write(f"winners after the re-check, in drawn order: {', '.join(final) or 'none'}\n")
        await tools.store.draws.save_recheck(config.id, {"checked_at": clock(), "results": results})
    return report.finish("recheck")


async def _credentials(tools: _Tools, account: AccountSettings) -> Credentials:
    token = await _current_token(tools.tokens, account, account.access_token.get_secret_value())
    return Credentials(account.name, account.ig_user_id, token)


async def _recheck_one(
    tools: _Tools, who: Credentials, hashtags: Sequence[str], media_id: str
) -> tuple[str, str]:
    """(status, reason) of one drawn media: ok, withdrawn or unconfirmed."""
    assert tools.store is not None
    document = await tools.store.media.get(media_id)
    if document is None:
        return "withdrawn", "no longer in the store"
    kinds = {s.get("kind") for s in document.get("sources", [])}
    try:
        caption = await _fresh_caption(tools, who, document, kinds, media_id)
    except BadRequestError as exc:
        gone = isinstance(exc, ObjectUnavailableError)
        why = "gone at Meta (deleted, private or expired)" if gone else "Meta no longer serves it"
        return "withdrawn", f"{why}: {exc.message}"
    except GraphError as exc:
        return "unconfirmed", f"Meta did not answer: {exc}"
    if caption is None:
        return "unconfirmed", "no feed shows it any more (older than 24 h and not a top media)"
    present = set(caption_hashtags(caption))
    missing = [tag for tag in hashtags if tag.casefold() not in present]
    if missing:
        return "withdrawn", f"the caption no longer carries #{', #'.join(missing)}"
    return "ok", ""


async def _fresh_caption(
    tools: _Tools,
    who: Credentials,
    document: Mapping[str, Any],
    kinds: set[Any],
    media_id: str,
) -> str | None:
    """The caption Meta serves now, from a feed the media came from; None if none shows it."""
    api = tools.instagram
    if "mention_media" in kinds:
        return (await api.mentioned_media(who, media_id)).caption
    walks: list[AsyncGenerator[MediaPage, None]] = []
    if "tags" in kinds:
        walks.append(api.tagged_media(who, page_size=50, max_pages=RECHECK_PAGES))
    assert tools.store is not None
    for source in document.get("sources", []):
        # Only hashtags resolved before: a re-check must not spend a hashtag slot.
        hashtag_id = await tools.store.feeds.hashtag_id(str(source.get("hashtag") or ""))
        if hashtag_id is None:
            continue
        for edge in ("top_media", "recent_media"):
            walks.append(
                api.hashtag_media(who, hashtag_id, edge, page_size=50, max_pages=RECHECK_PAGES)
            )
    for walk in walks:
        async with aclosing(walk) as pages:
            async for page in pages:
                for media in page.media:
                    if media.id == media_id:
                        return media.caption
    return None
