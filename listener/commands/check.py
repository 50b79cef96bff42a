"""``listener check``: MongoDB answers, and per account the token works, lives, suffices, and
its comment campaigns name only its own posts.

``debug_token`` (expiry and scopes) is asked for Facebook Login accounts only: whether it reads
Instagram Login tokens is unverified. Their expiry is known from their last refresh.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TextIO

from listener.assembly.graph import app_credentials
from listener.commands.report import Report, describe_expiry
from listener.commands.tools import Tools, open_tools, reachable, utcnow
from listener.errors import (
    AuthError,
    GraphError,
    GraphPermissionError,
    ObjectUnavailableError,
    StoreUnavailableError,
)
from listener.graph.instagram import Credentials
from listener.graph.tokens import TokenApi, current_token
from listener.pollers.accounts import PERMISSIONS
from listener.pollers.comments import foreign_permalinks, not_theirs
from listener.settings import AccountSettings, Settings, shortcode
from listener.store.tokens import TokenRepository

EXPIRY_WARNING = timedelta(days=7)
"""A token with less than this left to live is a warning: renew it now."""

NO_APP = "set graph.app_id and graph.app_secret"


def missing_scopes(account: AccountSettings, scopes: tuple[str, ...]) -> dict[str, list[str]]:
    """Scope → the account's features that need it, for each scope the token lacks (pure).

    Scopes come from ``debug_token``, asked for Facebook Login accounts only, so an Instagram
    Login account lacks nothing here.
    """
    if account.login != "facebook":
        return {}
    switched_on = {"hashtags": bool(account.hashtags), "tags": account.tags}
    switched_on["mentions"] = account.mentions
    switched_on["comments"] = account.comments
    missing: dict[str, list[str]] = {}
    for permission in PERMISSIONS.values():
        if not switched_on[permission.switch] or permission.scope in scopes:
            continue
        needed_by = missing.setdefault(permission.scope, [])
        if permission.switch not in needed_by:
            needed_by.append(permission.switch)
    return missing


async def check(settings: Settings, out: TextIO, *, clock: Callable[[], datetime] = utcnow) -> int:
    """``listener check``: MongoDB answers, and per account the token works, lives, suffices.

    Exit code 0 only when all is well; an expiry that cannot be known (no app id and secret, or
    an Instagram Login token never refreshed here) is a note, not a failure.
    """
    report = Report(out)
    async with open_tools(settings, report, clock) as tools:
        tokens = await reachable(tools, report, quiet=False)
        if not settings.accounts:
            report.problem("accounts", "none configured: there is nothing to listen to")
        elif (refusal := settings.worker_refusal()) is not None:
            report.problem("config", f"`listener run` would refuse to start: {refusal}")
        checker = _Checker(settings, tools.api, tokens, report, clock)
        for account in settings.accounts:
            await checker.check_account(account)
            await _campaign_posts(settings, account, tools, report)
    return report.finish("check")


async def _campaign_posts(
    settings: Settings, account: AccountSettings, tools: Tools, report: Report
) -> None:
    """The account's comment campaigns name only its own posts (permalinks, by its listing)."""
    permalinks = [
        post
        for campaign in settings.campaigns
        if campaign.account == account.name and campaign.kind == "comments"
        for post in campaign.posts
        if shortcode(post) is not None
    ]
    if not permalinks or not account.access_token.get_secret_value():
        return
    try:
        foreign = await foreign_permalinks(
            tools.instagram,
            await tools.credentials(account),
            permalinks,
            max_pages=settings.polling.max_pages,
        )
    except GraphError as exc:
        report.problem(account.name, f"could not list its media for the campaign posts: {exc}")
        return
    if foreign:
        report.problem(account.name, not_theirs(account.name, foreign))


@dataclass(frozen=True)
class _Checker:
    """The per-account steps of ``check``."""

    settings: Settings
    api: TokenApi
    tokens: TokenRepository | None
    report: Report
    clock: Callable[[], datetime]

    async def check_account(self, account: AccountSettings) -> None:
        """Does the token work, how long does it live, does it carry the scopes needed."""
        configured = account.access_token.get_secret_value()
        if not configured:
            self.report.problem(account.name, "no access_token configured")
            return
        token = await current_token(self.tokens, account.name, configured)
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
        credentials = app_credentials(self.settings)
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
