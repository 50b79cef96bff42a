"""Rate-limit state shared by replicas, on a real MongoDB and a hand-moved clock."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from structlog.testing import capture_logs

from listener.pollers.sharing import REPUBLISH_S, Published, SharedLimits, worth_publishing
from listener.ratelimit.governor import Governor
from listener.ratelimit.throttle import APP_SCOPE, Policy, Scope
from listener.simulator.clock import ManualClock
from listener.store.store import Store
from tests.conftest import Commands
from tests.graphsim import NOW

SYNC_MINUTES = 2
"""How often the replicas sync in virtual time: a day is 720 syncs per replica."""
BUC = Scope("buc", "brand")
BRAND_ID = "17841400000000001"


def replicas(store: Store, clock: ManualClock, count: int) -> list[tuple[Governor, SharedLimits]]:
    """``count`` replicas' governors, each with its sync, on one store and one clock."""
    made = []
    for _ in range(count):
        governor = Governor(
            lambda scope: Policy(budget_per_hour=3600.0, default_pause_s=3600.0),
            clock=clock,
            accounts_by_ig_id={BRAND_ID: "brand"},
        )
        made.append((governor, SharedLimits(governor, store.ratelimits, clock=clock)))
    return made


def buc_usage(call_count: int, regain_minutes: int) -> dict[str, str]:
    """Meta's X-Business-Use-Case-Usage for the brand's account."""
    usage = {
        "type": "instagram",
        "call_count": call_count,
        "total_cputime": 1,
        "total_time": 1,
        "estimated_time_to_regain_access": regain_minutes,
    }
    return {"x-business-use-case-usage": json.dumps({BRAND_ID: [usage]})}


async def test_each_pause_and_resume_is_logged_once_per_replica_over_a_day(store: Store) -> None:
    """Three replicas syncing all day long log each pause and each resume once each."""
    clock = ManualClock(NOW)
    cluster = replicas(store, clock, 3)
    (a, _), (b, _), (c, _) = cluster
    script: dict[int, Callable[[], object]] = {
        # 02:00 a throttle without a regain time: the default hour.
        2 * 60: lambda: a.observe_throttle("tags", "brand", 80002, None),
        # 05:00 the app's pool, for 20 minutes.
        5 * 60: lambda: b.observe_throttle("recent_media", "brand", 4, 1200.0),
        # 13:00 usage at 100 %: half an hour; 13:10 a throttle while paused only lengthens it.
        13 * 60: lambda: c.observe_headers("brand", buc_usage(100, 30)),
        13 * 60 + 10: lambda: a.observe_throttle("tags", "brand", 80002, 7200.0),
    }
    with capture_logs() as logs:
        for minute in range(0, 24 * 60, SYNC_MINUTES):
            if minute in script:
                script[minute]()
            for _, shared in cluster:
                await shared.sync()
            clock.advance(timedelta(minutes=SYNC_MINUTES))
    counted = Counter((e["event"], e["scope"]) for e in logs if e["event"].startswith("ratelimit"))
    assert counted == {
        ("ratelimit.paused", BUC.key): 2 * 3,
        ("ratelimit.resumed", BUC.key): 2 * 3,
        ("ratelimit.paused", APP_SCOPE.key): 3,
        ("ratelimit.resumed", APP_SCOPE.key): 3,
        ("ratelimit.pause_extended", BUC.key): 3,
    }
    events = [(e["event"], e["scope"]) for e in logs if e.get("scope") == BUC.key]
    assert events[:6] == [("ratelimit.paused", BUC.key)] * 3 + [("ratelimit.resumed", BUC.key)] * 3
    assert events[-3:] == [("ratelimit.resumed", BUC.key)] * 3
    assert not any(g.paused(BUC) or g.paused(APP_SCOPE) for g, _ in cluster)


async def test_a_pause_that_ended_elsewhere_is_not_taken(store: Store) -> None:
    """A replica starting after a shared pause ended neither pauses nor logs anything."""
    clock = ManualClock(NOW)
    [(first, shared)] = replicas(store, clock, 1)
    first.observe_throttle("tags", "brand", 80002, 600.0)
    await shared.sync()
    clock.advance(timedelta(hours=1))
    [(late, late_shared)] = replicas(store, clock, 1)
    with capture_logs() as logs:
        await late_shared.sync()
        await late_shared.sync()
    assert not late.paused(BUC)
    assert [e["event"] for e in logs] == []


LATER = NOW + timedelta(seconds=REPUBLISH_S)


@pytest.mark.parametrize(
    ("last", "paused_until", "usage_ratio", "now", "publish"),
    [
        pytest.param(None, None, 0.0, NOW, False, id="never used nor paused: nothing to say"),
        pytest.param(None, None, 0.4, NOW, True, id="first usage"),
        pytest.param(None, NOW, 0.0, NOW, True, id="first pause"),
        pytest.param(Published(None, 0.4, NOW), None, 0.4, NOW, False, id="unchanged"),
        pytest.param(Published(None, 0.4, NOW), None, 0.5, NOW, True, id="usage changed"),
        pytest.param(Published(None, 0.4, NOW), None, 0.0, NOW, True, id="usage fell to zero"),
        pytest.param(Published(None, 0.4, NOW), NOW, 0.4, NOW, True, id="pause began"),
        pytest.param(
            Published(None, 0.4, NOW), None, 0.4, LATER, True, id="usage about to go stale"
        ),
        pytest.param(Published(None, 0.0, NOW), None, 0.0, LATER, False, id="zero never stale"),
        pytest.param(Published(NOW, 0.0, NOW), NOW, 0.0, LATER, False, id="same pause, long after"),
    ],
)
def test_worth_publishing(
    last: Published | None,
    paused_until: datetime | None,
    usage_ratio: float,
    now: datetime,
    publish: bool,
) -> None:
    """A scope is published when what it says changed, or its usage would go stale."""
    assert (
        worth_publishing(last, paused_until=paused_until, usage_ratio=usage_ratio, now=now)
        is publish
    )


async def test_a_sync_writes_only_the_scopes_that_changed(
    watched: tuple[Store, Commands],
) -> None:
    """An agency's hundred scopes in use cost one write when they change, none when they do not."""
    store, commands = watched
    clock = ManualClock(NOW)
    accounts = {f"1784140000000{n:04d}": f"brand{n}" for n in range(100)}
    governor = Governor(
        lambda scope: Policy(budget_per_hour=3600.0, default_pause_s=3600.0),
        clock=clock,
        accounts_by_ig_id=accounts,
    )
    shared = SharedLimits(governor, store.ratelimits, clock=clock)
    for ig_id, account in accounts.items():
        usage = {"type": "instagram", "call_count": 10, "total_cputime": 1, "total_time": 1}
        governor.observe_headers(
            account, {"x-business-use-case-usage": json.dumps({ig_id: [usage]})}
        )
    await shared.sync()
    first = list(commands.names)
    commands.names.clear()
    await shared.sync()
    idle = list(commands.names)
    commands.names.clear()
    governor.observe_throttle("tags", "brand7", 80002, 600.0)
    await shared.sync()
    assert (first, idle, commands.names) == (["update", "find"], ["find"], ["update", "find"])
    assert len(await store.ratelimits.read()) == len(accounts)
