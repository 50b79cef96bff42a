"""When Meta's "object missing" answer is a throttle in disguise (pure).

Meta answers code 100, subcode 33 ("Object with ID '…' does not exist, cannot be loaded due to
missing permissions, or does not support this operation") for a deleted, private or expired
object: an answer about that one object. People delete posts all the time, often between
mentioning the brand and the worker fetching the mention, so reading it as a throttle would
pause a whole account for one gone post. Meta has also been seen to answer it while
rate-limiting (https://github.com/airbytehq/airbyte/issues/4028), so it is read as a throttle
only on evidence:

- **usage**: the scope's usage, as Meta's headers report it, is at :data:`NEAR_LIMIT_RATIO` or
  more (the answer's own headers count: they are read first); or
- **a run**: the same answer for :data:`RUN_OBJECTS` *different* objects in a row, with no
  successful call of the scope between them, all within :data:`RUN_WINDOW_S`. One object asked
  again (an event retried) counts once.

Anything else is one gone object. A scope's :class:`Run` is its state; time comes in as
``now``; the shell (the governor) keeps the runs and the client acts on the verdict.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

NEAR_LIMIT_RATIO: Final = 0.9
"""Usage (1.0 = the limit) from which an "object missing" answer is taken for a throttle."""
RUN_OBJECTS: Final = 3
"""Different objects answered "missing" in a row that make the answers a throttle."""
RUN_WINDOW_S: Final = 60.0
"""How close together those answers must be, in seconds."""


@dataclass(frozen=True)
class Run:
    """The scope's "object missing" answers since its last success: (object id, when), oldest
    first, one entry per object."""

    misses: tuple[tuple[str, datetime], ...] = ()


@dataclass(frozen=True)
class Verdict:
    """What one "object missing" answer is: ``throttle`` with the evidence in ``reason``, or
    an answer about one object (``throttle`` false, ``reason`` empty). ``run`` is the scope's
    state after it."""

    run: Run
    throttle: bool
    reason: str = ""


def near_limit(usage_ratio: float) -> bool:
    """Whether a scope at ``usage_ratio`` is close enough to its limit to explain the answer."""
    return usage_ratio >= NEAR_LIMIT_RATIO


def judge(run: Run, object_id: str, usage_ratio: float, now: datetime) -> Verdict:
    """Read one "object missing" answer for ``object_id`` in a scope at ``usage_ratio``.

    A throttle verdict starts the run afresh: the scope pauses, and what comes after the pause
    is judged on its own.
    """
    since = now - timedelta(seconds=RUN_WINDOW_S)
    kept = [(seen, at) for seen, at in run.misses if at >= since and seen != object_id]
    misses = (*kept, (object_id, now))
    if near_limit(usage_ratio):
        return Verdict(Run(), throttle=True, reason=f"usage at {usage_ratio:.0%} of the limit")
    if len(misses) >= RUN_OBJECTS:
        span_s = (now - misses[0][1]).total_seconds()
        reason = f"{len(misses)} different objects answered missing in {span_s:.0f} s"
        return Verdict(Run(), throttle=True, reason=reason)
    return Verdict(Run(misses), throttle=False)
