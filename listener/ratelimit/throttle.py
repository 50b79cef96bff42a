"""The per-scope governor's arithmetic: when the next call of a rate-limit scope may go (pure).

A scope is one budget that Meta meters on its own (reference §1g, §4):

- ``app``: Platform rate limits, one pool for the whole app. Hashtag Search (and Business
  Discovery) are "subject to Platform Rate limiting", so every hashtag call of every account
  shares it; ``X-App-Usage`` reports it.
- ``buc:<account>``: Business Use Case limits, one per Instagram account (tags, mentions, media,
  ``recently_searched_hashtags``); ``X-Business-Use-Case-Usage`` reports it.

Within a scope calls are spaced evenly at the budget. Once the usage Meta reports passes a
soft threshold the gap stretches in proportion, so the worker slows down before Meta has to
stop it. At 100 % usage, or on a throttle error, the scope pauses and receives zero calls until
Meta's estimate of regaining access (or a default pause) has passed: calls made while throttled
only extend the throttle.

Every function takes the state, an observation, ``now`` (tz-aware UTC) and the policy, and
returns a new state or a number. Sleeping, locking and metrics belong to the async shell.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Final, Literal

from listener.ratelimit.disguise import Run

ScopeKind = Literal["app", "buc"]

PLATFORM_CALLS_PER_USER_PER_HOUR: Final = 200
BUC_CALLS_PER_IMPRESSION_PER_DAY: Final = 4800


@dataclass(frozen=True)
class Scope:
    """A rate-limit scope: the app's Platform pool, or one account's Business Use Case pool."""

    kind: ScopeKind
    account: str = ""

    def __post_init__(self) -> None:
        if self.kind not in ("app", "buc"):
            raise ValueError(f"scope kind must be 'app' or 'buc', not {self.kind!r}")
        if self.kind == "app" and self.account:
            raise ValueError("the app scope is shared by every account; it takes no account")
        if self.kind == "buc" and not self.account:
            raise ValueError("a buc scope belongs to one account; give the account")

    @property
    def key(self) -> str:
        """``app`` or ``buc:<account>``: how logs and persisted state name the scope."""
        return "app" if self.kind == "app" else f"buc:{self.account}"

    @classmethod
    def parse(cls, key: str) -> Scope:
        """The scope named by ``key`` (the inverse of :attr:`key`)."""
        if key == "app":
            return cls("app")
        kind, sep, account = key.partition(":")
        if kind != "buc" or not sep:
            raise ValueError(f"scope must be 'app' or 'buc:<account>', not {key!r}")
        return cls("buc", account)

    def __str__(self) -> str:
        return self.key


APP_SCOPE: Final = Scope("app")


@dataclass(frozen=True)
class ScopeState:
    """What the governor knows about one scope.

    ``usage_ratio`` is the last usage Meta reported (1.0 = throttled); ``paused_until`` is when a
    pause ends (``None``: not paused, or the pause has been cleared); ``last_call_at`` is when the
    last call of the scope was let through.
    """

    usage_ratio: float = 0.0
    paused_until: datetime | None = None
    last_call_at: datetime | None = None
    strikes: int = 0
    """Throttles in a row with no successful call between them."""
    missing: Run = field(default_factory=Run)
    """The "object missing" answers since the last success (:mod:`~listener.ratelimit.disguise`)."""


@dataclass(frozen=True)
class Policy:
    """How a scope is paced.

    ``budget_per_hour`` is the calls per hour the scope may make; ``soft_threshold`` the usage
    ratio above which the gap between calls stretches; ``max_stretch`` the largest factor it
    stretches by; ``default_pause_s`` the pause when Meta says throttled without saying how long.

    That default is an hour: Meta's Platform limit counts calls over a rolling hour, so an hour
    without calls outlasts any lockout that usage caused, and a shorter guess is answered by a
    probe into the throttle. ``recent_media`` keeps 24 hours, so the hour costs latency, not
    media: the feeds catch up when the pause ends. ``max_pause_s`` caps the doubling after
    throttles in a row; it is never shorter than ``default_pause_s``.
    """

    budget_per_hour: float
    soft_threshold: float = 0.75
    default_pause_s: float = 3600.0
    max_stretch: float = 8.0
    max_pause_s: float = 14_400.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.budget_per_hour) and self.budget_per_hour > 0):
            raise ValueError(f"budget_per_hour must be positive, not {self.budget_per_hour}")
        if not 0.0 <= self.soft_threshold < 1.0:
            raise ValueError(f"soft_threshold must be in [0, 1), not {self.soft_threshold}")
        if not (math.isfinite(self.default_pause_s) and self.default_pause_s > 0):
            raise ValueError(f"default_pause_s must be positive, not {self.default_pause_s}")
        if not (math.isfinite(self.max_stretch) and self.max_stretch >= 1.0):
            raise ValueError(f"max_stretch must be at least 1, not {self.max_stretch}")


def platform_budget_per_hour(app_users: int) -> float:
    """Calls per hour of the app's Platform pool, by Meta's formula.

    Meta: "Calls within one hour = 200 * Number of Users", where "Number of Users is based on
    the number of unique daily active users an app has". The pool is app-wide: "If your app has
    100 users, the app can make 20,000 calls per hour".
    """
    if app_users < 0:
        raise ValueError(f"app_users cannot be negative, not {app_users}")
    return float(PLATFORM_CALLS_PER_USER_PER_HOUR * app_users)


def buc_budget_per_hour(impressions_24h: int) -> float:
    """Calls per hour of one account's Business Use Case pool, by Meta's formula.

    Meta: "Calls within 24 hours = 4800 * Number of Impressions", where "Number of Impressions
    is the number of times any content from the app user's Instagram professional account has
    entered a person's screen within the last 24 hours", counted per app and account over a
    rolling 24 h. The governor paces per hour, so the day's budget is spread evenly over it:
    4800 × impressions / 24.
    """
    if impressions_24h < 0:
        raise ValueError(f"impressions_24h cannot be negative, not {impressions_24h}")
    return BUC_CALLS_PER_IMPRESSION_PER_DAY * impressions_24h / 24.0


def observe_usage(
    state: ScopeState,
    usage_ratio: float,
    regain_s: float | None,
    now: datetime,
    policy: Policy,
) -> ScopeState:
    """Record the usage a response reported; at 1.0 or more, pause the scope.

    The pause lasts Meta's ``regain_s`` (``estimated_time_to_regain_access``), or the policy's
    default when Meta gives none. A longer pause already in force is kept.
    """
    recorded = replace(state, usage_ratio=usage_ratio)
    if usage_ratio < 1.0:
        return recorded
    return _pause(recorded, _pause_s(regain_s, policy), now)


def observe_throttle(
    state: ScopeState,
    retry_after_s: float | None,
    now: datetime,
    policy: Policy,
) -> ScopeState:
    """Pause the scope after Meta refused a call with a throttle code.

    The pause lasts ``retry_after_s`` or the policy's default; a longer pause already in force
    is never shortened. Usage is taken as at least 1.0: until a response reports otherwise, the
    scope resumes at the most stretched pace rather than at full speed into the same wall.
    """
    exhausted = replace(state, usage_ratio=max(state.usage_ratio, 1.0), strikes=state.strikes + 1)
    if _given(retry_after_s) is None:
        # No regain time from Meta: each throttle in a row doubles the default pause (capped),
        # so a long lockout is probed a few times, never hammered.
        cap = max(policy.max_pause_s, policy.default_pause_s)
        pause = min(policy.default_pause_s * 2 ** (exhausted.strikes - 1), cap)
        return _pause(exhausted, pause, now)
    return _pause(exhausted, _pause_s(retry_after_s, policy), now)


def stretch_factor(usage_ratio: float, policy: Policy) -> float:
    """How much the gap between calls stretches at ``usage_ratio``.

    1 up to the soft threshold, then rising linearly to ``max_stretch`` at 100 % usage, and
    capped there.
    """
    soft = policy.soft_threshold
    if not usage_ratio > soft:
        return 1.0
    factor = 1.0 + (policy.max_stretch - 1.0) * (usage_ratio - soft) / (1.0 - soft)
    return min(factor, policy.max_stretch)


def spacing_s(state: ScopeState, policy: Policy) -> float:
    """The minimum gap in seconds between two calls of the scope.

    The budget spread evenly over the hour (3600 / budget_per_hour), stretched by usage.
    """
    return 3600.0 / policy.budget_per_hour * stretch_factor(state.usage_ratio, policy)


def wait_s(state: ScopeState, now: datetime, policy: Policy) -> float:
    """Seconds until a call of the scope may go; 0 when it may go now.

    A paused scope waits until the pause ends (it receives zero calls meanwhile); any scope
    waits until ``spacing_s`` has passed since its last call. Both hold, so the answer is the
    later of the two and one sleep suffices.
    """
    pause_left = 0.0
    if state.paused_until is not None:
        pause_left = (state.paused_until - now).total_seconds()
    gap_left = 0.0
    if state.last_call_at is not None:
        gap_left = spacing_s(state, policy) - (now - state.last_call_at).total_seconds()
    return max(pause_left, gap_left, 0.0)


def record_call(state: ScopeState, now: datetime) -> ScopeState:
    """The state after a call of the scope was let through at ``now``."""
    return replace(state, last_call_at=now)


def is_paused(state: ScopeState, now: datetime) -> bool:
    """Whether the scope is paused at ``now``; a pause ends at ``paused_until`` exactly."""
    return state.paused_until is not None and now < state.paused_until


def resumed(state: ScopeState, now: datetime) -> ScopeState:
    """The state with an elapsed pause cleared; a pause still running is kept."""
    if state.paused_until is None or is_paused(state, now):
        return state
    return replace(state, paused_until=None)


def observe_success(state: ScopeState) -> ScopeState:
    """A call of the scope succeeded: the run of throttles and of "object missing" is over."""
    if state.strikes == 0 and not state.missing.misses:
        return state
    return replace(state, strikes=0, missing=Run())


def _given(given_s: float | None) -> float | None:
    # Meta sends 0 when it has no estimate; a non-positive or absent wait means "none given".
    if given_s is None or not math.isfinite(given_s) or given_s <= 0:
        return None
    return given_s


def _pause_s(given_s: float | None, policy: Policy) -> float:
    given = _given(given_s)
    return policy.default_pause_s if given is None else given


def _pause(state: ScopeState, pause_s: float, now: datetime) -> ScopeState:
    until = now + timedelta(seconds=pause_s)
    if state.paused_until is not None and state.paused_until >= until:
        return state
    return replace(state, paused_until=until)
