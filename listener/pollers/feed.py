"""What every feed is to the scheduler: a source, a rate-limit scope, a target interval, a poll."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from listener.models import Source
from listener.ratelimit.throttle import Scope


@dataclass(frozen=True)
class PollResult:
    """What one poll did, as the scheduler needs it to pace the next one.

    ``hit_bound``: the poll stopped at its page bound while pages still brought new media.
    ``oldest_new_age_s``: age of the oldest media that was new to us (``None`` if none was).
    """

    pages: int
    new: int
    duplicate: int
    hit_bound: bool = False
    oldest_new_age_s: float | None = None


class Feed(Protocol):
    """Something the scheduler polls on an interval."""

    source: Source
    scope: Scope
    interval_s: float
    page_size: int

    @property
    def feature(self) -> str:
        """The feature the feed serves (``hashtag_recent``, ``tags``…): metric label, permission."""
        ...

    async def poll(self) -> PollResult:
        """One poll; raises the error tree's errors on failure."""
        ...
