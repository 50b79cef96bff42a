"""The seeded scenarios the benchmarks run: hashtags and their rates, budget, length, throttles.

Every contender of one scenario meets the same simulated world: same seed, same posts, same
scripted throttles at the same virtual times. Worlds start empty (no backfill) and hashtags do
not cross-post, so that each media belongs to exactly one hashtag feed and "new to the store"
means "new to that feed".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final, Literal

START: Final = datetime(2026, 11, 30, 0, 0, tzinfo=UTC)
"""Virtual time at which every run starts."""

ThrottleScope = Literal["app", "account"]


@dataclass(frozen=True)
class Throttle:
    """A throttle scripted into the simulator: ``scope`` refuses calls with ``code`` a while.

    ``app`` is the app's Platform pool (every hashtag call); ``account`` is the account's
    Business Use Case pool (``/tags``, mentions, ``recently_searched_hashtags``).
    """

    scope: ThrottleScope
    code: int
    at_h: float
    minutes: float

    @property
    def starts(self) -> datetime:
        """When the throttle begins."""
        return START + timedelta(hours=self.at_h)

    @property
    def ends(self) -> datetime:
        """When the throttle is over."""
        return self.starts + timedelta(minutes=self.minutes)

    @property
    def label(self) -> str:
        """How tables name the throttle."""
        scope = "app (Platform)" if self.scope == "app" else "account BUC"
        return f"{scope}, code {self.code}, {self.minutes:g} min at +{self.at_h:g} h"


@dataclass(frozen=True)
class Scenario:
    """One seeded world and the budget every contender must live within."""

    name: str
    summary: str
    rates: Mapping[str, float]  # hashtag -> new posts per hour
    budget_per_hour: int  # the app's Platform budget: Meta's limit and the worker's policy
    hours: float
    seed: int = 2026
    throttles: tuple[Throttle, ...] = ()
    page_size: int = 50
    max_pages: int = 10  # the worker's default page bound, used by every contender
    tags_interval_s: float = 600.0  # the worker's default /tags interval (the BUC scope's traffic)
    tags_per_hour: float = 6.0  # posts tagging the account (what /tags returns)

    @property
    def tags(self) -> list[str]:
        """The hashtags, in the order they are configured (and visited by a fixed loop)."""
        return list(self.rates)

    @property
    def end(self) -> datetime:
        """When the run ends."""
        return START + timedelta(hours=self.hours)

    @property
    def naive_interval_s(self) -> float:
        """What a user picks for a fixed round-robin within the budget: one poll per feed each
        ``feeds × 3600 / budget`` seconds, i.e. budget ÷ feeds polls an hour per feed."""
        return 3600.0 * len(self.rates) / self.budget_per_hour


# In the order a user would list them: not sorted by rate, since a fixed loop visits them so.
_SKEWED = {
    "quiet_a": 5.0,
    "mid_a": 100.0,
    "busy": 1000.0,
    "quiet_b": 5.0,
    "mid_b": 100.0,
    "quiet_c": 5.0,
}
_THROTTLES = (
    Throttle("app", 4, at_h=6.0, minutes=20.0),
    Throttle("account", 80002, at_h=9.0, minutes=30.0),
)

AMPLE: Final = Scenario(
    name="ample",
    summary="budget suffices: 200 calls/h (Meta's Platform limit for one app user)",
    rates=_SKEWED,
    budget_per_hour=200,
    hours=36.0,
    throttles=_THROTTLES,
)
TIGHT: Final = Scenario(
    name="tight",
    summary="tight budget: 60 calls/h shared by the six feeds",
    rates=_SKEWED,
    budget_per_hour=60,
    hours=36.0,
    throttles=_THROTTLES,
)
SMOKE: Final = Scenario(
    name="smoke",
    summary="smallest: three feeds, two virtual hours, one app throttle",
    rates={"quiet": 3.0, "busy": 300.0, "mid": 30.0},
    budget_per_hour=120,
    hours=2.0,
    throttles=(Throttle("app", 4, at_h=1.0, minutes=10.0),),
)
