"""The governor: the async shell that makes every Graph call wait for its rate-limit scopes.

Each call names its endpoint and account. Platform endpoints (hashtag search, ``recent_media``,
``top_media``) spend the app's shared pool; every other endpoint spends the account's
business-use-case scope. A user-level throttle (code 17) stops every call made with that
account's token, whatever its pool; a business-use-case throttle (80002) stops only that
account's business-use-case calls, its hashtag calls go on. Calls of one scope are spaced by
:func:`~listener.ratelimit.throttle.wait_s`, and a paused scope receives zero calls.

Time and sleeping are injected so tests can run on a hand-moved clock; metrics are reported
through the ``on_usage`` callback, so this package imports no metrics library.

Logs follow transitions: ``ratelimit.paused`` when a scope goes from running to paused (a pause
that only grows is ``ratelimit.pause_extended``, at info), ``ratelimit.resumed`` once when it
ends, and ``ratelimit.header_garbled`` for the first unreadable usage header after readable
ones. A pause learnt from another replica is merged only while it still runs: one that has
ended is history, and applying it again would end (and log) it again at every merge.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterator, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, Final

import structlog

from listener.ratelimit.disguise import Verdict, judge
from listener.ratelimit.throttle import (
    APP_SCOPE,
    Policy,
    Scope,
    ScopeState,
    is_paused,
    observe_success,
    observe_throttle,
    observe_usage,
    record_call,
    resumed,
    wait_s,
)
from listener.ratelimit.usage import Usage, parse_app_usage, parse_buc_usage, worst

log = structlog.get_logger("listener.ratelimit")

PLATFORM_ENDPOINTS: Final = frozenset({"ig_hashtag_search", "hashtag", "recent_media", "top_media"})
"""Endpoints metered by Meta's Platform rate limits (reference §1g); all others are BUC."""
APP_THROTTLE_CODES: Final = frozenset({4})
"""Codes that say the app's pool is exhausted."""
ACCOUNT_THROTTLE_CODES: Final = frozenset(range(80000, 80015))
"""Codes that say the account's business use case pool is exhausted (its /tags, mentions)."""
USER_THROTTLE_CODES: Final = frozenset({17})
"""The user's own request limit: every call made with that account's token waits."""

_RESOLUTION_S: Final = 0.001
"""Waits shorter than this are not slept: clocks and sleeps are not finer than that."""

Sleep = Callable[[float], Coroutine[Any, Any, None]]
UsageListener = Callable[[Scope, Usage], None]


class Governor:
    """Per-scope pacing and pauses for every account of one app."""

    def __init__(
        self,
        policy: Callable[[Scope], Policy],
        *,
        clock: Callable[[], datetime],
        sleep: Sleep = asyncio.sleep,
        accounts_by_ig_id: Mapping[str, str] | None = None,
        on_usage: UsageListener | None = None,
        on_garbled: Callable[[int], None] | None = None,
    ) -> None:
        self._policy = policy
        self._clock = clock
        self._sleep = sleep
        self._accounts_by_ig_id = dict(accounts_by_ig_id or {})
        self._on_usage = on_usage
        self._states: dict[Scope, ScopeState] = {}
        self._users: dict[str, ScopeState] = {}
        self._on_garbled = on_garbled
        self._garbled: str | None = None  # the header problem last logged, until one reads clean

    # -- which scopes a call needs -------------------------------------------------------------

    @staticmethod
    def scopes_for(endpoint: str, account: str) -> tuple[Scope, ...]:
        """The scope a call spends."""
        if endpoint in PLATFORM_ENDPOINTS:
            return (APP_SCOPE,)
        return (Scope("buc", account),)

    # -- waiting -------------------------------------------------------------------------------

    async def acquire(self, endpoint: str, account: str) -> None:
        """Wait until a call of ``endpoint`` for ``account`` may go, then count it as made.

        A caller reserves its turn before sleeping (the scope's next call time moves past it),
        so concurrent callers queue at the scope's spacing without holding a lock while they
        wait. A pause that begins while a caller sleeps is honoured when it wakes.
        """
        (spend,) = self.scopes_for(endpoint, account)
        policy = self._policy(spend)
        while True:
            now = self._clock()
            state = self.state(spend)
            # A user-level throttle (code 17) stops every call made with that account's token.
            user = self._user(account)
            pause = max(_pause_left(state, now), _pause_left(user, now))
            if pause >= _RESOLUTION_S:
                log.debug("ratelimit.waiting", scope=spend.key, endpoint=endpoint, seconds=pause)
                await self._sleep(pause)
                continue
            turn = wait_s(state, now, policy)
            at = now + timedelta(seconds=turn) if turn >= _RESOLUTION_S else now
            self._states[spend] = record_call(state, at)
            if at == now:
                return
            await self._sleep(turn)
            now = self._clock()
            if not self.paused(spend) and _pause_left(self._user(account), now) <= 0:
                return

    def state(self, scope: Scope) -> ScopeState:
        """The scope's state, with an elapsed pause cleared (logged as a resumption)."""
        state = self._states.get(scope, ScopeState())
        now = self._clock()
        cleared = resumed(state, now)
        if cleared is not state:
            self._states[scope] = cleared
            log.info("ratelimit.resumed", scope=scope.key)
        return cleared

    def _user(self, account: str) -> ScopeState:
        """The account's user-level state (code 17), with an elapsed pause cleared and logged."""
        state = self._users.get(account, ScopeState())
        cleared = resumed(state, self._clock())
        if cleared is not state:
            self._users[account] = cleared
            log.info("ratelimit.resumed", scope=f"user:{account}")
        return cleared

    def paused(self, scope: Scope) -> bool:
        """Whether ``scope`` is paused now."""
        return is_paused(self.state(scope), self._clock())

    def scopes(self) -> Iterator[tuple[Scope, ScopeState]]:
        """Every scope seen so far with its current state (for metrics and ``listener quota``)."""
        for scope in list(self._states):
            yield scope, self.state(scope)

    def observe_success(self, endpoint: str, account: str) -> None:
        """A call went through: the scopes it spent are no longer in a run of throttles."""
        scope = self.scopes_for(endpoint, account)[0]
        state = self._states.get(scope)
        if state is not None:
            self._states[scope] = observe_success(state)

    def merge(self, scope: Scope, *, paused_until: datetime | None, usage_ratio: float) -> None:
        """Take what another replica learnt: its pause (if longer and still running) and its
        usage (if higher)."""
        now = self._clock()
        state = self.state(scope)
        merged = replace(state, usage_ratio=max(state.usage_ratio, usage_ratio))
        # A pause that has ended is history: taken again, it would end (and be logged as a
        # resumption) again at every merge.
        if paused_until is not None and paused_until > max(now, state.paused_until or now):
            merged = replace(merged, paused_until=paused_until)
            _log_pause(scope.key, state, merged, now, by="another replica")
        self._states[scope] = merged

    # -- what Meta told us ---------------------------------------------------------------------

    def observe_headers(self, account: str, headers: Mapping[str, str]) -> float | None:
        """Read the usage headers of one answer; returns Meta's regain time for ``account``.

        ``X-Business-Use-Case-Usage`` may list Instagram usage under two ids for one account
        (the business and the Instagram account): each account's scope takes the worst of its
        entries, never the last one read.
        """
        app = parse_app_usage(headers.get("x-app-usage"))
        buc = parse_buc_usage(headers.get("x-business-use-case-usage"))
        problems = app.problems + buc.problems
        self._report_problems(problems, readable=app.usage is not None or bool(buc.by_object))
        if app.usage is not None:
            self._observe(APP_SCOPE, app.usage)
        by_owner: dict[str, Usage] = {}
        for object_id, usage in buc.by_object.items():
            owner = self._accounts_by_ig_id.get(object_id, account)
            seen = by_owner.get(owner)
            by_owner[owner] = usage if seen is None else worst(seen, usage)
        for owner, usage in by_owner.items():
            self._observe(Scope("buc", owner), usage)
        mine = by_owner.get(account)
        return None if mine is None else mine.regain_s

    def _report_problems(self, problems: tuple[str, ...], *, readable: bool) -> None:
        """Count every problem; log when the first one changes (not once per answer).

        Only a header read clean ends a run of problems: an answer without usage headers
        says nothing either way.
        """
        if not problems:
            if readable:
                self._garbled = None
            return
        if self._on_garbled is not None:
            self._on_garbled(len(problems))
        if problems[0] != self._garbled:
            log.warning("ratelimit.header_garbled", problem=problems[0], count=len(problems))
            self._garbled = problems[0]

    def observe_missing(self, endpoint: str, account: str, object_id: str) -> Verdict:
        """Judge an "object missing" answer (100/33) for ``object_id`` in the call's scope.

        A throttle verdict is logged here; pausing the scope is :meth:`observe_throttle`'s job.
        """
        scope = self.scopes_for(endpoint, account)[0]
        state = self.state(scope)
        verdict = judge(state.missing, object_id, state.usage_ratio, self._clock())
        self._states[scope] = replace(state, missing=verdict.run)
        if verdict.throttle:
            log.warning("ratelimit.disguised_throttle", scope=scope.key, evidence=verdict.reason)
        return verdict

    def observe_throttle(
        self, endpoint: str, account: str, code: int | None, retry_after_s: float | None
    ) -> Scope:
        """Pause the scope a throttle error names.

        Code 4 is the app's pool and 17 the user's (the account's scope); the business use
        case codes (80000-80014) are the account's; anything else (32, 613, a 100/33 read as a
        throttle) pauses the pool the call was spending.
        """
        now = self._clock()
        if code in USER_THROTTLE_CODES:
            user = self._user(account)
            policy = self._policy(self.scopes_for(endpoint, account)[0])
            self._users[account] = observe_throttle(user, retry_after_s, now, policy)
            _log_pause(f"user:{account}", user, self._users[account], now, code=code)
            return Scope("buc", account)
        if code in APP_THROTTLE_CODES:
            scope = APP_SCOPE
        elif code in ACCOUNT_THROTTLE_CODES:
            scope = Scope("buc", account)
        else:
            scope = self.scopes_for(endpoint, account)[0]
        before = self.state(scope)
        after = observe_throttle(before, retry_after_s, now, self._policy(scope))
        self._states[scope] = after
        _log_pause(scope.key, before, after, now, code=code)
        return scope

    def _observe(self, scope: Scope, usage: Usage) -> None:
        now = self._clock()
        before = self.state(scope)
        after = observe_usage(before, usage.ratio(), usage.regain_s, now, self._policy(scope))
        self._states[scope] = after
        if self._on_usage is not None:
            self._on_usage(scope, usage)
        _log_pause(scope.key, before, after, now, usage=usage.ratio())


def _log_pause(
    key: str, before: ScopeState, after: ScopeState, now: datetime, **fields: object
) -> None:
    """Log a pause that begins (a warning) or grows (info); nothing when it is unchanged."""
    until = after.paused_until
    if until is None or until == before.paused_until:
        return
    if is_paused(before, now):
        log.info("ratelimit.pause_extended", scope=key, until=until.isoformat(), **fields)
    else:
        log.warning("ratelimit.paused", scope=key, until=until.isoformat(), **fields)


def _pause_left(state: ScopeState, now: datetime) -> float:
    if state.paused_until is None:
        return 0.0
    return max((state.paused_until - now).total_seconds(), 0.0)
