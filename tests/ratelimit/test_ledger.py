"""The 30-hashtag ledger: admitting, refusing the 31st, free re-use, expiry, reconcile, plan."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from listener.ratelimit.ledger import (
    MAX_SLOTS,
    WINDOW,
    Admitted,
    HeldSlot,
    Ledger,
    QuotaPlan,
    Refused,
    WaitingTag,
    plan,
)

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def hours(n: float) -> datetime:
    """T0 plus ``n`` hours."""
    return T0 + timedelta(hours=n)


def full(start: datetime = T0, step_h: float = 1.0, prefix: str = "t") -> Ledger:
    """Thirty slots, tag t0 first used at ``start``, each next one ``step_h`` hours later."""
    return Ledger({f"{prefix}{i}": start + timedelta(hours=i * step_h) for i in range(MAX_SLOTS)})


def admitted(ledger: Ledger, tag: str, now: datetime) -> Admitted:
    """Admit ``tag``, failing the test if it is refused."""
    result = ledger.admit(tag, now)
    assert isinstance(result, Admitted), result
    return result


def test_thirty_distinct_tags_are_admitted_then_the_31st_refused() -> None:
    """Slots are spent one per new tag up to 30; the 31st is refused with when one frees."""
    ledger = Ledger()
    for i in range(MAX_SLOTS):
        assert ledger.remaining(hours(i)) == MAX_SLOTS - i
        result = admitted(ledger, f"t{i}", hours(i))
        assert result.spent
        ledger = result.ledger
    assert ledger.remaining(hours(30)) == 0
    refused = ledger.admit("t30", hours(30))
    assert refused == Refused(
        reason=(
            "hashtag 't30' would be the 31st distinct hashtag for this account in 7 days"
            " (Meta allows 30); the next slot frees at 2026-03-08T12:00:00Z"
        ),
        next_free_at=T0 + WINDOW,
    )


@pytest.mark.parametrize(
    ("ledger", "tag", "now", "spent", "slots_after"),
    [
        pytest.param(Ledger(), "a", T0, True, {"a": T0}, id="first-tag-spends"),
        pytest.param(Ledger({"a": T0}), "a", hours(1), False, {"a": T0}, id="reuse-free"),
        pytest.param(
            Ledger({"a": T0}), "a", T0 + WINDOW - timedelta(seconds=1), False, {"a": T0},
            id="reuse-last-second-timer-not-reset",
        ),
        pytest.param(
            Ledger({"a": T0}), "a", T0 + WINDOW, True, {"a": T0 + WINDOW},
            id="at-7-days-slot-freed-and-spent-anew",
        ),
        pytest.param(
            Ledger({"a": T0, "old": T0 - WINDOW}), "b", hours(1), True,
            {"a": T0, "b": hours(1)}, id="expired-slots-dropped",
        ),
        pytest.param(full(), "t5", hours(40), False, dict(full().slots), id="reuse-when-full"),
        pytest.param(Ledger({"a": T0}), "A", T0, True, {"a": T0, "A": T0}, id="case-distinct"),
    ],
)  # fmt: skip
def test_admit_spends_only_new_tags(
    ledger: Ledger, tag: str, now: datetime, spent: bool, slots_after: dict[str, datetime]
) -> None:
    """A new tag takes a slot from now; a held tag is free and keeps its first-use time."""
    result = admitted(ledger, tag, now)
    assert result.spent is spent
    assert result.ledger.slots == slots_after


@pytest.mark.parametrize(
    ("now", "remaining", "next_free_at"),
    [
        pytest.param(T0 + WINDOW - timedelta(microseconds=1), 0, T0 + WINDOW, id="just-before"),
        pytest.param(T0 + WINDOW, 1, None, id="exactly-7-days-frees"),
        pytest.param(hours(7 * 24 + 2.5), 3, None, id="three-freed"),
        pytest.param(hours(7 * 24 + 29), 30, None, id="all-freed"),
    ],
)
def test_slots_free_exactly_seven_days_after_first_use(
    now: datetime, remaining: int, next_free_at: datetime | None
) -> None:
    """A slot counts strictly before first use + 7 days and is free from that instant."""
    ledger = full()
    assert ledger.remaining(now) == remaining
    assert ledger.next_free_at(now) == next_free_at
    assert isinstance(ledger.admit("new", now), Admitted) is (remaining > 0)


@pytest.mark.parametrize(
    ("now", "next_free_at"),
    [
        pytest.param(T0, T0 + WINDOW, id="earliest-slot"),
        pytest.param(hours(7 * 24), hours(7 * 24 + 1), id="after-first-freed-and-retaken"),
    ],
)
def test_refusal_names_the_next_free_slot(now: datetime, next_free_at: datetime) -> None:
    """Refused carries the moment the earliest active slot frees, in the reason too."""
    ledger = full()
    if now >= T0 + WINDOW:
        ledger = admitted(ledger, "x", now).ledger
    result = ledger.admit("y", now)
    assert isinstance(result, Refused)
    assert result.next_free_at == next_free_at
    assert result.reason.endswith(next_free_at.strftime("%Y-%m-%dT%H:%M:%SZ"))


def test_frees_at_is_first_use_plus_window() -> None:
    """frees_at gives first use + 7 days, unchanged by re-use."""
    ledger = admitted(Ledger({"a": T0}), "a", hours(100)).ledger
    assert ledger.frees_at("a") == T0 + WINDOW
    with pytest.raises(KeyError):
        ledger.frees_at("b")


def test_ledger_is_a_value() -> None:
    """Changing the dict a ledger was built from does not change the ledger."""
    source = {"a": T0}
    ledger = Ledger(source)
    source["b"] = T0
    assert ledger == Ledger({"a": T0})
    assert ledger.active(T0) == {"a": T0}


@pytest.mark.parametrize(
    ("ledger", "known", "searched", "slots_after"),
    [
        pytest.param(
            Ledger({"a": hours(-10)}), {"a": "1"}, ["1"], {"a": hours(-10)},
            id="held-tag-keeps-our-time",
        ),
        pytest.param(
            Ledger(), {}, ["9"], {"id:9": T0}, id="unknown-id-spent-now",
        ),
        pytest.param(
            Ledger(), {"b": "2"}, ["2"], {"b": T0}, id="known-tag-without-slot-spent-now",
        ),
        pytest.param(
            Ledger({"b": T0 - WINDOW - timedelta(hours=1)}), {"b": "2"}, ["2"], {"b": T0},
            id="expired-slot-but-listed-spent-now",
        ),
        pytest.param(
            Ledger({"a": hours(-5)}), {}, [], {"a": hours(-5)}, id="unlisted-slot-kept",
        ),
        pytest.param(
            Ledger({"id:9": hours(-30)}), {}, ["9"], {"id:9": hours(-30)},
            id="unknown-id-seen-before-keeps-earlier-time",
        ),
        pytest.param(
            Ledger({"id:9": T0 - WINDOW}), {}, ["9"], {"id:9": T0},
            id="unknown-id-expired-but-listed-again",
        ),
        pytest.param(
            Ledger({"id:9": hours(-30)}), {"c": "9"}, ["9"], {"c": hours(-30)},
            id="unknown-id-named-later-moves-to-tag",
        ),
        pytest.param(
            Ledger({"id:9": hours(-30), "c": hours(-50)}), {"c": "9"}, [],
            {"c": hours(-50)}, id="named-id-merges-keeping-earlier-time",
        ),
        pytest.param(
            Ledger({"id:9": hours(-30), "c": hours(-20)}), {"c": "9"}, [],
            {"c": hours(-30)}, id="named-id-earlier-than-our-use",
        ),
        pytest.param(
            Ledger(), {"x": "5", "X": "5"}, ["5", "5"], {"X": T0},
            id="duplicate-id-and-two-spellings-one-slot",
        ),
        pytest.param(
            Ledger({"x": hours(-1)}), {"x": "5", "X": "5"}, ["5"], {"x": hours(-1)},
            id="any-spelling-holding-a-slot-covers-the-id",
        ),
        pytest.param(Ledger(), {}, [""], {}, id="empty-id-ignored"),
    ],
)  # fmt: skip
def test_reconcile_with_recently_searched(
    ledger: Ledger,
    known: dict[str, str],
    searched: list[str],
    slots_after: dict[str, datetime],
) -> None:
    """Listed ids occupy slots; unknown ones from now (never freeing early); ours are kept."""
    assert ledger.reconcile(known, searched, T0).slots == slots_after


def test_reconcile_can_overfill_and_then_refuses_until_enough_free() -> None:
    """Ids Meta lists beyond our 30 count too: a new tag waits until the count drops below 30."""
    ledger = full(start=hours(-100)).reconcile({}, ["901", "902"], T0)
    assert len(ledger.active(T0)) == 32
    assert ledger.remaining(T0) == 0
    # t0 and t1 free first but only bring the count back to 30; t2 frees the slot.
    assert ledger.next_free_at(T0) == hours(-100 + 2) + WINDOW
    result = ledger.admit("new", T0)
    assert isinstance(result, Refused)
    assert "33rd distinct hashtag" in result.reason


def test_plan_shows_in_use_waiting_and_others() -> None:
    """The quota plan: held and new tags with their free times, waiting tags, other holders."""
    ledger = Ledger(
        {
            "coke": hours(-48),
            **{f"old{i}": hours(-100 + i) for i in range(27)},
            "id:77": hours(-1),
        }
    )
    result = plan(["coke", "pepsi", "fanta", "sprite", "coke"], ledger, T0)
    assert result == QuotaPlan(
        in_use=(
            HeldSlot("coke", hours(-48), hours(-48) + WINDOW),
            HeldSlot("pepsi", T0, T0 + WINDOW, new=True),
        ),
        waiting=(
            WaitingTag("fanta", hours(-100) + WINDOW),
            WaitingTag("sprite", hours(-99) + WINDOW),
        ),
        others=(
            *(HeldSlot(f"old{i}", hours(-100 + i), hours(-100 + i) + WINDOW) for i in range(27)),
            HeldSlot("id:77", hours(-1), hours(-1) + WINDOW),
        ),
        remaining=0,
    )


@pytest.mark.parametrize(
    ("configured", "ledger", "in_use", "waiting", "remaining"),
    [
        pytest.param([], Ledger(), [], [], 30, id="nothing-configured"),
        pytest.param(["a", "b"], Ledger(), ["a", "b"], [], 28, id="room-for-all"),
        pytest.param(
            ["a", "b"], Ledger({"a": hours(-200)}), ["a", "b"], [], 28,
            id="expired-slot-restarted",
        ),
        pytest.param(
            [f"t{i}" for i in range(30)] + ["late"], full(), [f"t{i}" for i in range(30)],
            [("late", None)], 0, id="all-slots-configured-waiting-never",
        ),
        pytest.param(
            ["t0", "x", "y"], full(start=hours(-10)), ["t0"],
            [("x", hours(-9) + WINDOW), ("y", hours(-8) + WINDOW)], 0,
            id="waiting-take-others-slots-in-order",
        ),
        pytest.param(
            ["x", "y"], full(start=hours(-10), prefix="o").reconcile({}, ["1"], T0), [],
            [("x", hours(-9) + WINDOW), ("y", hours(-8) + WINDOW)], 0,
            id="overfull-first-frees-only-refill",
        ),
    ],
)  # fmt: skip
def test_plan_table(
    configured: list[str],
    ledger: Ledger,
    in_use: list[str],
    waiting: list[tuple[str, datetime | None]],
    remaining: int,
) -> None:
    """Tags fit in configuration order; waiting ones start as non-configured slots free."""
    result = plan(configured, ledger, T0)
    assert [slot.tag for slot in result.in_use] == in_use
    assert [(w.tag, w.starts_at) for w in result.waiting] == waiting
    assert result.remaining == remaining


def test_plan_does_not_change_the_ledger() -> None:
    """Planning is on paper: the ledger passed in still holds what it held."""
    ledger = Ledger({"a": T0})
    plan(["b", "c"], ledger, T0)
    assert ledger == Ledger({"a": T0})
