"""Accounts as the pollers see them: current credentials, and what a human must fix.

An auth error (code 190: expired or revoked token) stops every feed of that account until its
token is replaced (config reload on SIGHUP, or a restart); a permission error (code 10,
200-299) stops only the feature that needs the missing permission. Each is logged once, as an
error naming what to do, and lifted when the token changes. Other accounts carry on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal

import structlog

from listener.errors import AuthError, GraphError, GraphPermissionError
from listener.graph.instagram import Credentials
from listener.metrics import Metrics

log = structlog.get_logger("listener.pollers")


@dataclass(frozen=True)
class Permission:
    """What one feature of the pollers needs from Meta."""

    switch: Literal["hashtags", "tags", "mentions", "comments"]
    """The account setting that turns the feature on."""
    scope: str
    """The scope ``debug_token`` must list for a Facebook Login token (``listener check``)."""
    needs: str
    """Everything it needs, for the operator's log line when Meta refuses it."""


_PUBLIC_CONTENT = Permission(
    "hashtags", "instagram_basic", "instagram_basic and the Instagram Public Content Access feature"
)
_COMMENTS = "instagram_basic, instagram_manage_comments and pages_read_engagement"

PERMISSIONS: Final[Mapping[str, Permission]] = {
    "hashtag_recent": _PUBLIC_CONTENT,
    "hashtag_top": _PUBLIC_CONTENT,
    "tags": Permission("tags", "instagram_manage_comments", _COMMENTS),
    "mention_media": Permission("mentions", "instagram_manage_comments", _COMMENTS),
    "mention_comment": Permission("mentions", "instagram_manage_comments", _COMMENTS),
    "comments": Permission("comments", "instagram_manage_comments", _COMMENTS),
}
"""Feature → what it needs from Meta (reference §1a, §2a, §2b); the one table of permissions.

Hashtag search needs ``instagram_basic`` (reference §1); ``/tags``, mention lookups and the
comments of the account's own posts (with their ``username``, since August 2024) need
``instagram_manage_comments`` (§2, §10). ``scope`` is a short list, not Meta's full requirements.
"""


class Accounts:
    """Credentials by account name, and the accounts or features stopped until a human acts."""

    def __init__(
        self,
        credentials: Mapping[str, Credentials],
        *,
        metrics: Metrics,
        clock: Callable[[], datetime],
    ) -> None:
        self._credentials = dict(credentials)
        self._metrics = metrics
        self._clock = clock
        self._auth_failed: dict[str, str] = {}
        self._disabled: dict[tuple[str, str], str] = {}

    @property
    def names(self) -> list[str]:
        """Every configured account."""
        return list(self._credentials)

    def who(self, account: str) -> Credentials:
        """The account's current credentials."""
        return self._credentials[account]

    def blocked(self, account: str, feature: str) -> str | None:
        """Why ``feature`` of ``account`` must not call Meta now, or ``None``."""
        return self._auth_failed.get(account) or self._disabled.get((account, feature))

    def report(self, account: str, feature: str, error: GraphError) -> bool:
        """Record an error that needs a human; True if it stopped something."""
        if isinstance(error, AuthError):
            if account not in self._auth_failed:
                log.error(
                    "account.auth_failed",
                    account=account,
                    error=str(error),
                    action="replace the access token, then send SIGHUP or restart",
                )
                # The token is unusable now: expiry "now" makes the expiry alert fire.
                self._metrics.token_expiry.labels(account).set(self._clock().timestamp())
            self._auth_failed[account] = f"token rejected: {error}"
            return True
        if isinstance(error, GraphPermissionError):
            if (account, feature) not in self._disabled:
                log.error(
                    "feature.disabled",
                    account=account,
                    feature=feature,
                    needs=_needs(feature),
                    error=str(error),
                )
            self._disabled[(account, feature)] = f"permission missing: {error}"
            return True
        return False

    def replace(self, credentials: Mapping[str, Credentials]) -> list[str]:
        """Take new credentials (a reload); accounts whose token changed are tried again."""
        changed = [
            name
            for name, new in credentials.items()
            if name in self._credentials and new.token != self._credentials[name].token
        ]
        self._credentials.update({n: c for n, c in credentials.items() if n in self._credentials})
        for name in changed:
            self._auth_failed.pop(name, None)
            for key in [k for k in self._disabled if k[0] == name]:
                del self._disabled[key]
            log.info("account.token_replaced", account=name)
        return changed


def _needs(feature: str) -> str:
    permission = PERMISSIONS.get(feature)
    return "a permission Meta did not name" if permission is None else permission.needs
