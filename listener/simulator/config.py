"""What a simulated Graph API world is made of: its accounts and its knobs (frozen, pure data)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from types import MappingProxyType
from typing import Literal

TokenKind = Literal["facebook", "instagram"]
"""A Facebook user token (Facebook Login) or an Instagram user token (Instagram Login)."""

LONG_LIVED: timedelta = timedelta(days=60)  # §5: "A long-lived token generally lasts about 60 days"


@dataclass(frozen=True)
class SimAccount:
    """An Instagram professional account the simulator knows, with the token that acts for it.

    The token is issued ``token_age`` before the world starts and still has ``token_ttl`` to
    live at the start (``None``: it never expires, like a long-lived Page token). ``scopes``
    defaults to what the listener needs under the account's ``login``.
    """

    ig_user_id: str
    access_token: str
    username: str
    login: TokenKind = "facebook"
    token_ttl: timedelta | None = LONG_LIVED
    token_age: timedelta = timedelta(0)
    scopes: tuple[str, ...] | None = None


def _no_rates() -> Mapping[str, float]:
    return MappingProxyType({})


@dataclass(frozen=True)
class SimulatorConfig:
    """Everything that shapes a simulated world; the same config and clock give the same world."""

    seed: int = 7
    accounts: tuple[SimAccount, ...] = ()
    # Tag name -> new posts per hour. These are the "known" hashtags: only they cross-post
    # into each other, and they are always generated together so that order of queries never
    # changes what exists. Other tags get `default_rate_per_hour`.
    hashtag_rates: Mapping[str, float] = field(default_factory=_no_rates)
    default_rate_per_hour: float = 60.0
    backfill_hours: float = 30.0  # history before start, so posts older than 24 h exist
    cross_post_ratio: float = 0.1  # share of posts that carry two known hashtags
    tag_rate_per_hour: float = 6.0  # posts tagging each account (/tags)
    app_secret: str | None = None  # when set, appsecret_proof is required and checked
    app_id: str | None = None  # when set, app tokens and client_id must name it; else any id
    app_calls_per_hour: int = 4800  # platform budget behind X-App-Usage (200 * users)
    buc_calls_per_hour: int = 4800  # per-account budget behind X-Business-Use-Case-Usage
    sensitive_hashtags: frozenset[str] = frozenset()
    # False: `mentioned_comment` leaves `media` out even when asked, as in the one public
    # capture of that answer; the client must then read the media from the comment node.
    mentioned_comment_media: bool = True
