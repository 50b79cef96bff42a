"""The evidence rule: when an "object missing" answer (100/33) is a throttle, by tables."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from listener.ratelimit.disguise import (
    NEAR_LIMIT_RATIO,
    RUN_OBJECTS,
    RUN_WINDOW_S,
    Run,
    judge,
    near_limit,
)

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    """T0 plus ``seconds``."""
    return T0 + timedelta(seconds=seconds)


def run(*misses: tuple[str, float]) -> Run:
    """A run of (object id, seconds after T0)."""
    return Run(tuple((object_id, at(s)) for object_id, s in misses))


@pytest.mark.parametrize(
    ("before", "object_id", "usage", "now_s", "throttle"),
    [
        pytest.param(Run(), "m1", 0.0, 0, False, id="one-gone-object"),
        pytest.param(Run(), "m1", 0.5, 0, False, id="one-gone-object-at-half-usage"),
        pytest.param(Run(), "m1", 0.89, 0, False, id="just-under-the-usage-evidence"),
        pytest.param(Run(), "m1", NEAR_LIMIT_RATIO, 0, True, id="usage-near-the-limit"),
        pytest.param(Run(), "m1", 1.0, 0, True, id="usage-at-the-limit"),
        pytest.param(run(("m1", 0)), "m2", 0.0, 10, False, id="two-different-objects"),
        pytest.param(
            run(("m1", 0), ("m2", 10)), "m3", 0.0, 20, True, id="three-different-in-a-row"
        ),
        pytest.param(
            run(("m1", 0), ("m2", 10)), "m2", 0.0, 20, False, id="same-object-again-counts-once"
        ),
        pytest.param(
            run(("m1", 0), ("m2", 10)),
            "m3",
            0.0,
            RUN_WINDOW_S + 1,
            False,
            id="oldest-outside-the-window",
        ),
        pytest.param(
            run(("m1", 0), ("m2", 10)), "m3", 0.0, RUN_WINDOW_S, True, id="edge-of-the-window"
        ),
    ],
)
def test_verdict(before: Run, object_id: str, usage: float, now_s: float, throttle: bool) -> None:
    """A 100/33 is a throttle only with usage near the limit or several different objects."""
    assert judge(before, object_id, usage, at(now_s)).throttle is throttle


def test_an_object_verdict_remembers_the_miss() -> None:
    """The run keeps one entry per object, the newest time, oldest entry first."""
    verdict = judge(run(("m1", 0), ("m2", 5)), "m1", 0.0, at(8))
    assert verdict.run == run(("m2", 5), ("m1", 8))
    assert verdict.reason == ""


def test_a_throttle_verdict_starts_the_run_afresh_and_names_its_evidence() -> None:
    """After a throttle the run is empty; the reason says which evidence it was."""
    by_run = judge(run(("m1", 0), ("m2", 4)), "m3", 0.0, at(12))
    assert by_run.run == Run()
    assert by_run.reason == f"{RUN_OBJECTS} different objects answered missing in 12 s"
    by_usage = judge(Run(), "m1", 0.97, at(0))
    assert by_usage.reason == "usage at 97% of the limit"


@pytest.mark.parametrize(
    ("ratio", "near"), [(0.0, False), (0.75, False), (0.899, False), (0.9, True), (1.3, True)]
)
def test_near_limit(ratio: float, near: bool) -> None:
    """Usage evidence starts at NEAR_LIMIT_RATIO."""
    assert near_limit(ratio) is near
