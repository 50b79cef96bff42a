"""Governor arithmetic: spacing, soft-threshold stretch, pauses on usage and throttles, waits."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from listener.ratelimit.throttle import (
    APP_SCOPE,
    Policy,
    Scope,
    ScopeState,
    buc_budget_per_hour,
    is_paused,
    observe_success,
    observe_throttle,
    observe_usage,
    platform_budget_per_hour,
    record_call,
    resumed,
    spacing_s,
    stretch_factor,
    wait_s,
)

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
# 3600 calls per hour: one call a second, so spacings read directly as stretch factors.
POLICY = Policy(budget_per_hour=3600, default_pause_s=300.0)


def at(seconds: float) -> datetime:
    """T0 plus ``seconds``."""
    return T0 + timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("ratio", "factor"),
    [
        pytest.param(0.0, 1.0, id="idle"),
        pytest.param(0.74, 1.0, id="74%-below-soft"),
        pytest.param(0.75, 1.0, id="75%-at-soft-not-yet-stretched"),
        pytest.param(0.80, 1.0 + 7 * 0.05 / 0.25, id="80%"),
        pytest.param(0.90, 1.0 + 7 * 0.15 / 0.25, id="90%"),
        pytest.param(1.00, 8.0, id="100%-max-stretch"),
        pytest.param(1.50, 8.0, id="150%-capped"),
        pytest.param(9.00, 8.0, id="900%-capped"),
    ],
)
def test_stretch_factor_across_the_soft_threshold(ratio: float, factor: float) -> None:
    """Below the soft threshold no stretch; above it linear to max_stretch at 100 %, then capped."""
    assert stretch_factor(ratio, POLICY) == pytest.approx(factor)
    assert spacing_s(ScopeState(usage_ratio=ratio), POLICY) == pytest.approx(factor)


@pytest.mark.parametrize(
    ("policy", "ratio", "spacing"),
    [
        pytest.param(Policy(budget_per_hour=200), 0.0, 18.0, id="200-per-hour-base"),
        pytest.param(Policy(budget_per_hour=200), 1.0, 144.0, id="200-per-hour-max"),
        pytest.param(Policy(budget_per_hour=60, max_stretch=2.0), 1.0, 120.0, id="small-cap"),
        pytest.param(Policy(budget_per_hour=60, max_stretch=1.0), 1.0, 60.0, id="no-stretch"),
        pytest.param(Policy(budget_per_hour=60, soft_threshold=0.5), 0.75, 60 * 4.5, id="soft-50%"),
        pytest.param(Policy(budget_per_hour=60, soft_threshold=0.0), 0.5, 60 * 4.5, id="soft-0%"),
    ],
)
def test_spacing_is_the_budget_spread_over_the_hour(
    policy: Policy, ratio: float, spacing: float
) -> None:
    """Spacing is 3600 / budget, times the stretch the policy gives at the usage ratio."""
    assert spacing_s(ScopeState(usage_ratio=ratio), policy) == pytest.approx(spacing)


@pytest.mark.parametrize(
    ("before", "ratio", "regain_s", "paused_until"),
    [
        pytest.param(ScopeState(), 0.5, None, None, id="low-usage-no-pause"),
        pytest.param(ScopeState(), 0.99, 60.0, None, id="regain-ignored-below-100%"),
        pytest.param(ScopeState(), 1.0, 19 * 60.0, at(19 * 60), id="100%-pause-until-regain"),
        pytest.param(ScopeState(), 1.2, None, at(300), id="100%-no-regain-default"),
        pytest.param(ScopeState(), 1.0, 0.0, at(300), id="regain-0-default"),
        pytest.param(
            ScopeState(paused_until=at(3600)), 1.0, 60.0, at(3600), id="longer-pause-kept"
        ),
        pytest.param(
            ScopeState(paused_until=at(30)), 1.0, 60.0, at(60), id="shorter-pause-extended"
        ),
        pytest.param(
            ScopeState(paused_until=at(3600)), 0.1, None, at(3600), id="low-usage-keeps-pause"
        ),
    ],
)
def test_observe_usage_records_ratio_and_pauses_at_100(
    before: ScopeState, ratio: float, regain_s: float | None, paused_until: datetime | None
) -> None:
    """Usage is recorded; at 100 % the scope pauses for Meta's regain time or the default."""
    after = observe_usage(before, ratio, regain_s, T0, POLICY)
    assert after.usage_ratio == ratio
    assert after.paused_until == paused_until


@pytest.mark.parametrize(
    ("before", "retry_after_s", "paused_until"),
    [
        pytest.param(ScopeState(), 120.0, at(120), id="retry-after-given"),
        pytest.param(ScopeState(), None, at(300), id="no-retry-after-default"),
        pytest.param(ScopeState(), 0.0, at(300), id="zero-default"),
        pytest.param(ScopeState(), -5.0, at(300), id="negative-default"),
        pytest.param(ScopeState(), float("nan"), at(300), id="nan-default"),
        pytest.param(ScopeState(paused_until=at(900)), 60.0, at(900), id="longer-pause-kept"),
        pytest.param(ScopeState(paused_until=at(10)), 60.0, at(60), id="shorter-pause-extended"),
        pytest.param(ScopeState(paused_until=at(-10)), None, at(300), id="elapsed-pause-renewed"),
    ],
)
def test_observe_throttle_pauses_and_never_shortens(
    before: ScopeState, retry_after_s: float | None, paused_until: datetime
) -> None:
    """A throttle pauses for retry-after or the default, and never cuts a longer pause short."""
    assert observe_throttle(before, retry_after_s, T0, POLICY).paused_until == paused_until


@pytest.mark.parametrize(
    ("before", "ratio"),
    [
        pytest.param(ScopeState(usage_ratio=0.2), 1.0, id="low-raised-to-1"),
        pytest.param(ScopeState(usage_ratio=1.3), 1.3, id="higher-kept"),
    ],
)
def test_throttle_resumes_at_most_stretched_pace(before: ScopeState, ratio: float) -> None:
    """After a throttle the scope counts as exhausted until a header says otherwise."""
    after = observe_throttle(before, 60.0, T0, POLICY)
    assert after.usage_ratio == ratio
    assert spacing_s(after, POLICY) == pytest.approx(8.0)


@pytest.mark.parametrize(
    ("state", "now", "expected"),
    [
        pytest.param(ScopeState(), T0, 0.0, id="idle-never-called"),
        pytest.param(ScopeState(last_call_at=at(-1)), T0, 0.0, id="spacing-just-elapsed"),
        pytest.param(ScopeState(last_call_at=at(-10)), T0, 0.0, id="spacing-long-elapsed"),
        pytest.param(ScopeState(last_call_at=T0), T0, 1.0, id="right-after-a-call"),
        pytest.param(ScopeState(last_call_at=at(-0.25)), T0, 0.75, id="part-way"),
        pytest.param(
            ScopeState(usage_ratio=0.9, last_call_at=T0), T0, 5.2, id="stretched-after-a-call"
        ),
        pytest.param(ScopeState(paused_until=at(90)), T0, 90.0, id="paused-remaining-pause"),
        pytest.param(
            ScopeState(paused_until=at(90), last_call_at=at(-500)),
            T0,
            90.0,
            id="paused-old-call",
        ),
        pytest.param(ScopeState(paused_until=at(90)), at(90), 0.0, id="pause-ends-exactly"),
        pytest.param(ScopeState(paused_until=at(90)), at(100), 0.0, id="pause-elapsed"),
        pytest.param(
            ScopeState(usage_ratio=1.0, paused_until=at(2), last_call_at=T0),
            T0,
            8.0,
            id="spacing-outlasts-short-pause",
        ),
    ],
)
def test_wait_is_the_later_of_pause_and_spacing(
    state: ScopeState, now: datetime, expected: float
) -> None:
    """Zero when a call may go; else the time left of the pause or of the spacing, the later."""
    assert wait_s(state, now, POLICY) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("state", "now", "paused", "after_resume"),
    [
        pytest.param(ScopeState(), T0, False, ScopeState(), id="never-paused"),
        pytest.param(
            ScopeState(paused_until=at(1)),
            T0,
            True,
            ScopeState(paused_until=at(1)),
            id="running-pause-kept",
        ),
        pytest.param(
            ScopeState(paused_until=T0), T0, False, ScopeState(), id="ends-exactly-cleared"
        ),
        pytest.param(
            ScopeState(usage_ratio=1.0, paused_until=at(-1)),
            T0,
            False,
            ScopeState(usage_ratio=1.0),
            id="elapsed-cleared-usage-kept",
        ),
    ],
)
def test_pause_ends_at_paused_until(
    state: ScopeState, now: datetime, paused: bool, after_resume: ScopeState
) -> None:
    """A pause holds strictly before paused_until; resumed() clears only an elapsed pause."""
    assert is_paused(state, now) is paused
    assert resumed(state, now) == after_resume


def test_a_paused_scope_gets_zero_calls() -> None:
    """Walking the clock through a throttle, no moment inside the pause allows a call."""
    state = observe_usage(record_call(ScopeState(), T0), 1.0, 600.0, T0, POLICY)
    for second in range(600):
        assert wait_s(state, at(second), POLICY) > 0
    assert wait_s(resumed(state, at(600)), at(600), POLICY) == 0.0


def test_record_call_sets_spacing_from_now() -> None:
    """After a call the next may go exactly one spacing later, and not before."""
    policy = Policy(budget_per_hour=120)
    state = record_call(ScopeState(last_call_at=at(-100)), T0)
    assert state.last_call_at == T0
    assert wait_s(state, at(29.9), policy) == pytest.approx(0.1)
    assert wait_s(state, at(30), policy) == 0.0


@pytest.mark.parametrize(
    ("users", "per_hour"),
    [
        pytest.param(0, 0.0, id="no-users"),
        pytest.param(1, 200.0, id="one-user"),
        pytest.param(100, 20_000.0, id="meta-example-100-users"),
    ],
)
def test_platform_budget_is_200_per_user_hour(users: int, per_hour: float) -> None:
    """Platform: calls within one hour = 200 × users (Meta: 100 users → 20,000 an hour)."""
    assert platform_budget_per_hour(users) == per_hour


@pytest.mark.parametrize(
    ("impressions", "per_hour"),
    [
        pytest.param(0, 0.0, id="no-impressions"),
        pytest.param(1, 200.0, id="one-impression"),
        pytest.param(10, 2000.0, id="ten"),
        pytest.param(3, 600.0, id="three"),
    ],
)
def test_buc_budget_is_the_day_spread_per_hour(impressions: int, per_hour: float) -> None:
    """BUC: calls within 24 hours = 4800 × impressions, paced as a twenty-fourth per hour."""
    assert buc_budget_per_hour(impressions) == pytest.approx(per_hour)


@pytest.mark.parametrize(
    "build",
    [
        pytest.param(lambda: platform_budget_per_hour(-1), id="negative-users"),
        pytest.param(lambda: buc_budget_per_hour(-1), id="negative-impressions"),
        pytest.param(lambda: Policy(budget_per_hour=0), id="zero-budget"),
        pytest.param(lambda: Policy(budget_per_hour=float("inf")), id="infinite-budget"),
        pytest.param(lambda: Policy(budget_per_hour=1, soft_threshold=1.0), id="soft-1"),
        pytest.param(lambda: Policy(budget_per_hour=1, soft_threshold=-0.1), id="soft-negative"),
        pytest.param(lambda: Policy(budget_per_hour=1, max_stretch=0.5), id="shrinking-stretch"),
        pytest.param(lambda: Policy(budget_per_hour=1, default_pause_s=0), id="zero-pause"),
        pytest.param(lambda: Scope("app", "acct"), id="app-with-account"),
        pytest.param(lambda: Scope("buc"), id="buc-without-account"),
        pytest.param(lambda: Scope("nope"), id="unknown-kind"),  # type: ignore[arg-type]  # an unknown scope kind, on purpose
        pytest.param(lambda: Scope.parse("buc"), id="parse-buc-without-account"),
        pytest.param(lambda: Scope.parse("platform"), id="parse-unknown"),
    ],
)
def test_invalid_configuration_is_rejected(build: Callable[[], object]) -> None:
    """Nonsense budgets, policies and scopes fail loudly at construction, not mid-flight."""
    with pytest.raises(ValueError):  # noqa: PT011 - each case has its own message; any will do
        build()


@pytest.mark.parametrize(
    ("scope", "key"),
    [
        pytest.param(APP_SCOPE, "app", id="app"),
        pytest.param(Scope("buc", "17841400000000001"), "buc:17841400000000001", id="buc"),
        pytest.param(Scope("buc", "a:b"), "buc:a:b", id="buc-account-with-colon"),
    ],
)
def test_scope_keys_round_trip(scope: Scope, key: str) -> None:
    """A scope is named app or buc:<account>, and parsing the name gives the scope back."""
    assert scope.key == key
    assert str(scope) == key
    assert Scope.parse(key) == scope


@pytest.mark.parametrize(
    ("strikes", "pause_s"),
    [
        (0, 300.0),
        (1, 600.0),
        (2, 1200.0),
        (3, 2400.0),
        (4, 4800.0),
        (5, 9600.0),
        (6, 14400.0),
        (9, 14400.0),
    ],
)
def test_throttles_in_a_row_without_regain_time_double_the_pause(
    strikes: int, pause_s: float
) -> None:
    """With no regain time from Meta, each throttle in a row doubles the default pause, capped."""
    state = ScopeState(strikes=strikes)
    after = observe_throttle(state, None, T0, Policy(budget_per_hour=100.0, default_pause_s=300.0))
    assert after.paused_until == T0 + timedelta(seconds=pause_s)
    assert after.strikes == strikes + 1


def test_a_success_ends_the_run_of_throttles() -> None:
    """After a call goes through, the next throttle starts again from the default pause."""
    assert observe_success(ScopeState(strikes=3)).strikes == 0


def test_metas_regain_time_wins_over_the_doubling() -> None:
    """When Meta says when access returns, that is the pause, however many strikes."""
    after = observe_throttle(ScopeState(strikes=5), 120.0, T0, Policy(budget_per_hour=100.0))
    assert after.paused_until == T0 + timedelta(seconds=120)


def test_default_pause_outlasts_the_platform_window() -> None:
    """Without a regain time the pause is an hour: every call Meta counted has aged out by then."""
    after = observe_throttle(ScopeState(), None, T0, Policy(budget_per_hour=100.0))
    assert after.paused_until == T0 + timedelta(hours=1)


def test_doubling_never_caps_below_the_default_pause() -> None:
    """A default pause above ``max_pause_s`` is still honoured in full."""
    policy = Policy(budget_per_hour=100.0, default_pause_s=7200.0, max_pause_s=3600.0)
    after = observe_throttle(ScopeState(strikes=3), None, T0, policy)
    assert after.paused_until == T0 + timedelta(hours=2)
