"""Catching up on a backlog: the page bound of a poll, and the backlog a poll leaves behind."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from listener.pollers.catchup import CATCH_UP_LIMIT, CatchUp, after_poll, catch_up_bound

T0 = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
EARLIER = T0 - timedelta(hours=1)
LATER = T0 + timedelta(hours=1)


@pytest.mark.parametrize(
    ("max_pages", "last_pages", "bound"),
    [
        pytest.param(10, None, 10, id="not-catching-up"),
        pytest.param(10, 10, 20, id="first-catch-up-rereads-the-last-poll"),
        pytest.param(10, 20, 30, id="each-catch-up-keeps-max-pages-of-progress"),
        pytest.param(10, 45, 50, id="capped-at-the-limit"),
        pytest.param(2, 2, 4, id="small-bound"),
    ],
)
def test_catch_up_bound_rereads_the_last_poll_then_makes_progress(
    max_pages: int, last_pages: int | None, bound: int
) -> None:
    """A catching-up poll may read the previous poll's pages again plus a full bound more."""
    assert catch_up_bound(max_pages, last_pages) == bound


@pytest.mark.parametrize(
    ("state", "pages", "hit_bound", "oldest_read", "after"),
    [
        pytest.param(CatchUp(), 3, False, T0, CatchUp(None, 3), id="no-backlog-stays-none"),
        pytest.param(CatchUp(), 10, True, T0, CatchUp(T0, 10), id="bound-hit-starts-a-backlog"),
        pytest.param(
            CatchUp(), 10, True, None, CatchUp(None, 10), id="bound-hit-on-empty-pages-no-floor"
        ),
        pytest.param(
            CatchUp(T0, 10), 20, True, LATER, CatchUp(T0, 20), id="backlog-keeps-the-lower-floor"
        ),
        pytest.param(
            CatchUp(T0, 10), 20, True, EARLIER, CatchUp(EARLIER, 20), id="backlog-floor-moves-down"
        ),
        pytest.param(
            CatchUp(T0, 10), 12, False, EARLIER, CatchUp(None, 12), id="read-below-floor-is-done"
        ),
        pytest.param(
            CatchUp(T0, 10), 4, False, LATER, CatchUp(T0, 4), id="stopped-above-floor-keeps-it"
        ),
        pytest.param(
            CatchUp(T0, 10), 4, False, None, CatchUp(T0, 4), id="nothing-read-keeps-the-floor"
        ),
        pytest.param(
            CatchUp(T0, 40),
            50,
            True,
            EARLIER,
            CatchUp(None, 50, abandoned=True),
            id="at-the-limit-the-backlog-is-abandoned",
        ),
        pytest.param(
            CatchUp(None, 50, abandoned=True),
            10,
            True,
            T0,
            CatchUp(T0, 10),
            id="after-abandoning-a-new-backlog-starts-at-the-plain-bound",
        ),
    ],
)
def test_after_poll_moves_the_backlog(
    state: CatchUp, pages: int, hit_bound: bool, oldest_read: datetime | None, after: CatchUp
) -> None:
    """The backlog after a poll follows the page bound and where the poll stopped reading."""
    assert (
        after_poll(state, max_pages=10, pages=pages, hit_bound=hit_bound, oldest_read=oldest_read)
        == after
    )


def test_a_growing_backlog_is_abandoned_after_the_limit() -> None:
    """Polls that always hit their bound read more each time, then give up at the limit."""
    state, bounds = CatchUp(), []
    while not state.abandoned:
        bound = state.bound(10)
        bounds.append(bound)
        state = after_poll(state, max_pages=10, pages=bound, hit_bound=True, oldest_read=T0)
    assert bounds == [10, 20, 30, 40, 50]
    assert bounds[-1] == 10 * CATCH_UP_LIMIT
