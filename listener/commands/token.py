"""``listener token refresh``: renew each account's token (or one account's) and store it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TextIO

import structlog

from listener.assembly.graph import app_credentials
from listener.commands.check import NO_APP
from listener.commands.report import Report, describe_expiry
from listener.commands.tools import open_tools, reachable, utcnow
from listener.errors import GraphError, StoreUnavailableError
from listener.graph.tokens import NewToken, TokenApi, current_token
from listener.settings import AccountSettings, Settings
from listener.store.tokens import TokenRepository

log = structlog.get_logger("listener.commands")


async def refresh_tokens(
    settings: Settings,
    out: TextIO,
    account: str | None = None,
    *,
    clock: Callable[[], datetime] = utcnow,
) -> int:
    """``listener token refresh``: renew each account's token (or ``account``'s) and store it.

    Facebook Login tokens are exchanged for a long-lived one (``fb_exchange_token``), Instagram
    Login tokens refreshed (``ig_refresh_token``). Nothing is asked of Meta while MongoDB cannot
    keep the result. In demo mode the simulator forgets its tokens when it stops, so nothing is
    stored. An unknown ``account`` is a :class:`~listener.errors.ConfigError`.
    """
    chosen = [settings.account(account)] if account is not None else list(settings.accounts)
    report = Report(out)
    if not chosen:
        report.problem("accounts", "none configured: there is no token to renew")
        return report.finish("token refresh")
    async with open_tools(settings, report, clock) as tools:
        tokens = await reachable(tools, report, quiet=True)
        if tokens is None:
            report.problem("tokens", "none renewed: a renewed token could not be stored")
        else:
            renewer = _Renewer(settings, tools.api, tokens, report, clock)
            for chosen_account in chosen:
                await renewer.renew(chosen_account)
    return report.finish("token refresh")


@dataclass(frozen=True)
class _Renewer:
    """The per-account steps of ``token refresh``."""

    settings: Settings
    api: TokenApi
    tokens: TokenRepository
    report: Report
    clock: Callable[[], datetime]

    async def renew(self, account: AccountSettings) -> None:
        """Exchange or refresh the account's token at Meta and store the new one."""
        configured = account.access_token.get_secret_value()
        if not configured:
            self.report.problem(account.name, "no access_token configured")
            return
        token = await current_token(self.tokens, account.name, configured)
        new = await self._renewed(account, token)
        if new is not None:
            await self._keep(account, configured, new)

    async def _renewed(self, account: AccountSettings, token: str) -> NewToken | None:
        name = account.name
        try:
            if account.login == "instagram":
                return await self.api.refresh_instagram(token, account=name)
            credentials = app_credentials(self.settings)
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
