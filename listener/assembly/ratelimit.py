"""The governor: every Graph call asks it first, within each scope's budget."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from functools import partial

from listener.metrics import Metrics
from listener.ratelimit.governor import Governor, Sleep
from listener.ratelimit.throttle import (
    Policy,
    Scope,
    buc_budget_per_hour,
    platform_budget_per_hour,
)
from listener.ratelimit.usage import Usage
from listener.settings import Settings


def policy_for(
    settings: Settings, replicas: Callable[[], int] = lambda: 1
) -> Callable[[Scope], Policy]:
    """Each scope's budget and thresholds, from the settings (Meta's formulas by default).

    The budget is Meta's for the whole app (or account); ``replicas`` live replicas share it.
    """
    limits = settings.ratelimit
    app_budget = limits.app_calls_per_hour or platform_budget_per_hour(limits.app_users)
    account_budget = limits.account_calls_per_hour or buc_budget_per_hour(
        limits.account_impressions_24h
    )

    def policy(scope: Scope) -> Policy:
        budget = app_budget if scope.kind == "app" else account_budget
        return Policy(
            budget_per_hour=budget / max(replicas(), 1),
            soft_threshold=limits.soft_threshold,
            default_pause_s=limits.default_pause_s,
        )

    return policy


def governor(
    *,
    metrics: Metrics,
    policy: Callable[[Scope], Policy],
    accounts_by_ig_id: Mapping[str, str],
    clock: Callable[[], datetime],
    sleep: Sleep,
) -> Governor:
    """The governor of ``policy``, its usage and pauses exported as metrics.

    ``listener_throttled`` is registered with it as its source, read at scrape time.
    """
    built = Governor(
        policy,
        clock=clock,
        sleep=sleep,
        accounts_by_ig_id=accounts_by_ig_id,
        on_usage=partial(export_usage, metrics),
        on_garbled=metrics.usage_header_problems.inc,
    )
    metrics.register_throttled(partial(throttled_samples, built))
    return built


def export_usage(metrics: Metrics, scope: Scope, usage: Usage) -> None:
    """Set the usage-ratio gauges from one answer's usage header."""
    for name, value in usage.metrics().items():
        metrics.rate_limit_usage.labels(scope.kind, scope.account, name).set(value)


def throttled_samples(governor: Governor) -> list[tuple[tuple[str, ...], float]]:
    """``listener_throttled`` at scrape time: 1 for each scope paused now, else 0."""
    return [
        ((scope.kind, scope.account), 1.0 if governor.paused(scope) else 0.0)
        for scope, _ in governor.scopes()
    ]
