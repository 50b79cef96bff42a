"""Rate-limit bookkeeping: rolling one-hour call counts and scripted throttles (pure).

Two scopes, as Meta has them (reference §1g, §4):

- **app** (Platform rate limits): hashtag endpoints of every account share one budget, reported
  in ``X-App-Usage`` as whole-number percentages; at 100 % calls fail with code 4.
- **BUC** (Business Use Case), one per IG user: tags, mentioned_*, recently_searched_hashtags and
  the user node, reported in ``X-Business-Use-Case-Usage``; at 100 % calls fail with 80002 and
  ``estimated_time_to_regain_access`` (minutes) says when usage falls below the budget.

Meta's BUC budget is really per 24 h (4800 x impressions); the simulator uses a rolling hour
with a configurable budget, which is what the header's ``call_count`` describes anyway.
Calls refused by a throttle are not counted: they used no budget.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

USAGE_WINDOW: Final = timedelta(hours=1)


@dataclass(frozen=True)
class Usage:
    """One scope's usage as Meta reports it: percentages of the budget, and minutes to wait."""

    call_count: int
    total_time: int
    total_cputime: int
    regain_minutes: int = 0

    @property
    def exhausted(self) -> bool:
        """Meta throttles when any of the three percentages reaches 100."""
        return max(self.call_count, self.total_time, self.total_cputime) >= 100


@dataclass(frozen=True)
class ScriptedThrottle:
    """A throttle set by a test: calls in the scope fail with ``code`` until ``until``.

    ``disguised``: the calls fail as Meta has been seen to fail them under load, with the
    "object missing" answer (100/33) for whatever they asked about, while the usage headers
    show the scope at its limit.
    """

    code: int
    until: datetime
    disguised: bool = False


class RollingCalls:
    """Times of the calls made in the last hour, for one scope."""

    def __init__(self) -> None:
        self._times: deque[datetime] = deque()

    def add(self, at: datetime) -> None:
        """Count a call made at ``at``."""
        self._times.append(at)

    def count(self, now: datetime) -> int:
        """Calls in the hour before ``now``."""
        while self._times and self._times[0] <= now - USAGE_WINDOW:
            self._times.popleft()
        return len(self._times)

    def usage(self, budget: int, now: datetime) -> Usage:
        """Usage against ``budget`` calls per hour. Time and CPU are modelled as fixed fractions
        of the call share, so ``call_count`` is always the one that reaches 100 first."""
        calls = self.count(now)
        regain = 0
        if calls >= budget:
            # Usage drops below 100 % once (calls - budget + 1) of the oldest calls age out.
            frees_at = self._times[calls - budget] + USAGE_WINDOW
            regain = minutes_until(frees_at, now)
        return Usage(
            call_count=calls * 100 // budget,
            total_time=calls * 60 // budget,
            total_cputime=calls * 40 // budget,
            regain_minutes=regain,
        )


def minutes_until(moment: datetime, now: datetime) -> int:
    """Whole minutes from ``now`` to ``moment``, rounded up (0 when already past)."""
    return max(0, math.ceil((moment - now).total_seconds() / 60))


def with_throttle(usage: Usage, throttle: ScriptedThrottle | None, now: datetime) -> Usage:
    """``usage`` as reported while ``throttle`` is active: call_count at least 100, regain set."""
    if throttle is None or throttle.until <= now:
        return usage
    return Usage(
        call_count=max(usage.call_count, 100),
        total_time=usage.total_time,
        total_cputime=usage.total_cputime,
        regain_minutes=max(usage.regain_minutes, minutes_until(throttle.until, now)),
    )
