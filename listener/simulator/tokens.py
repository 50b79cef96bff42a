"""User access tokens of the simulated world: whom each acts for, its kind, scopes, lifetime (pure).

Rules, from reference §5, with the simulator's choices marked ASSUMPTION:

- every account starts with the token of its `SimAccount`; by default issued at the world's
  start and valid for 60 days (``SimAccount.token_ttl``, ``token_age``);
- a token is expired once ``now >= expires_at``, or when the world expires the account
  (`TokenBook.expire`, which hits every token the account was ever given);
- ``fb_exchange_token`` gives a Facebook token a successor valid ``expires_in`` = 5183944 s
  (Meta's sample answer); "You can not use an expired token to request a long-lived token";
- ``ig_refresh_token`` works on an Instagram token "at least 24 hours old but has not expired";
  the successor is "valid for 60 days from the date at which they are refreshed";
- ASSUMPTION: a successor does not revoke its predecessor: the old token keeps working until its
  own expiry (Meta documents nothing either way). The successor becomes the account's current
  token and keeps the predecessor's scopes.
"""

from __future__ import annotations

import random
import string
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Final

from listener.simulator.config import LONG_LIVED, SimAccount, TokenKind

FB_EXCHANGE_EXPIRES_IN: Final = timedelta(seconds=5183944)  # §5 sample: "expires_in":5183944
IG_REFRESH_EXPIRES_IN: Final = LONG_LIVED  # "valid for 60 days from the date … refreshed"
IG_REFRESH_MIN_AGE: Final = timedelta(hours=24)  # "at least 24 hours old"
DATA_ACCESS_WINDOW: Final = timedelta(days=90)  # Meta's data access expiry for user tokens

# What a token can do when its account names no scopes: all the listener needs for its login.
DEFAULT_SCOPES: Final[dict[TokenKind, tuple[str, ...]]] = {
    "facebook": (
        "instagram_basic",
        "instagram_manage_comments",
        "pages_show_list",
        "pages_read_engagement",
    ),
    "instagram": ("instagram_business_basic", "instagram_business_manage_comments"),
}
_PREFIX: Final[dict[TokenKind, str]] = {"facebook": "EAA", "instagram": "IGAA"}
_ALPHABET: Final = string.ascii_letters + string.digits


@dataclass(frozen=True)
class SimToken:
    """One user access token and what the world knows about it."""

    value: str = field(repr=False)
    ig_user_id: str
    kind: TokenKind
    scopes: tuple[str, ...]
    issued_at: datetime
    expires_at: datetime | None  # None: never expires
    revoked: bool = False  # expired by the world (`TokenBook.expire`), whatever its date

    def is_valid(self, now: datetime) -> bool:
        """Whether the token still works at ``now``."""
        return not self.revoked and (self.expires_at is None or now < self.expires_at)


class TokenBook:
    """Every token the world has issued, by value, and each account's current one."""

    def __init__(self, accounts: Iterable[SimAccount], start: datetime, seed: int) -> None:
        self._rng = random.Random(f"{seed}|tokens")
        self._tokens: dict[str, SimToken] = {}
        self._current: dict[str, str] = {}
        for account in accounts:
            issued = start - account.token_age
            token = SimToken(
                value=account.access_token,
                ig_user_id=account.ig_user_id,
                kind=account.login,
                scopes=account.scopes
                if account.scopes is not None
                else DEFAULT_SCOPES[account.login],
                issued_at=issued,
                expires_at=None if account.token_ttl is None else start + account.token_ttl,
            )
            self._tokens[token.value] = token
            self._current[account.ig_user_id] = token.value

    def get(self, value: str) -> SimToken | None:
        """The token with this value, if the world issued it."""
        return self._tokens.get(value)

    def current(self, ig_user_id: str) -> SimToken | None:
        """The account's latest token."""
        value = self._current.get(ig_user_id)
        return None if value is None else self._tokens[value]

    def expire(self, ig_user_id: str) -> None:
        """Expire every token the account was given so far."""
        for value, token in self._tokens.items():
            if token.ig_user_id == ig_user_id:
                self._tokens[value] = replace(token, revoked=True)

    def succeed(self, old: SimToken, now: datetime, lifetime: timedelta) -> SimToken:
        """Issue ``old``'s successor, valid ``lifetime`` from ``now``; it becomes current."""
        value = _PREFIX[old.kind] + "".join(self._rng.choice(_ALPHABET) for _ in range(40))
        while value in self._tokens:  # 62^40 values: a repeat would be a freak
            value = _PREFIX[old.kind] + "".join(self._rng.choice(_ALPHABET) for _ in range(40))
        new = replace(old, value=value, issued_at=now, expires_at=now + lifetime, revoked=False)
        self._tokens[value] = new
        self._current[old.ig_user_id] = value
        return new
