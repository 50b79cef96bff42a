"""The benchmark suite runs end to end on its smallest scenario and renders every table.

Figures belong to bench/RESULTS.md; these tests check only that runs leave complete records
and that the section has its tables.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bench import pyfacebook_user, runner
from bench.measures import (
    Poll,
    RunRecord,
    attribute,
    coverage,
    efficiency,
    exposure,
    lower_bound,
)
from bench.ratelimit import Contender, Job, render, run_job
from bench.scenarios import SMOKE, START
from listener.simulator import CallRecord


def check_record(record: RunRecord) -> None:
    """What every run must leave, whoever the contender."""
    assert record.scenario == SMOKE
    assert record.calls
    assert record.polls
    assert {poll.hashtag for poll in record.polls} <= set(SMOKE.tags)
    assert all(sum(poll.pages) == poll.new for poll in record.polls)
    assert set(record.eligible) == set(SMOKE.tags)
    found = efficiency(record)
    assert found.edge_calls > 0
    assert found.lower_bound >= found.polls > 0
    assert found.search_calls == len(SMOKE.tags)
    assert set(coverage(record).by_tag) == set(SMOKE.tags)
    for throttle in SMOKE.throttles:
        assert exposure(record, throttle).in_scope >= 0


@pytest.mark.parametrize("contender", ["adaptive", "naive"])
async def test_worker_run_leaves_a_complete_record(mongo_uri: str, contender: Contender) -> None:
    """The worker, adaptive or naive, runs the smoke scenario and leaves a full record."""
    record = await run_job(Job(SMOKE, contender), mongo_uri=mongo_uri)
    assert record.contender == f"listener ({contender})"
    check_record(record)


async def test_pyfacebook_run_leaves_a_complete_record(mongo_uri: str) -> None:
    """The pyfacebook user's loop runs the smoke scenario and leaves a full record."""
    pytest.importorskip("pyfacebook", reason="pip install -r bench/requirements.txt")
    record = await run_job(Job(SMOKE, "pyfacebook"), mongo_uri=mongo_uri)
    assert record.contender == pyfacebook_user.CONTENDER
    check_record(record)


async def test_section_has_every_table_and_a_row_per_run(mongo_uri: str) -> None:
    """The rendered section carries the three tables, one row per run in each."""
    record = await run_job(Job(SMOKE, "adaptive"), mongo_uri=mongo_uri)
    text = render([record])
    for heading in ("### 1.", "### 2.", "### 3."):
        assert heading in text
    assert text.count("| `smoke` | listener (adaptive) |") == 3 + len(SMOKE.throttles)


def test_lower_bound_is_one_call_per_poll_or_one_per_page_of_new_media() -> None:
    """max(1, ⌈new / page size⌉) per poll: an empty poll costs one call, 51 new cost two."""
    polls = [Poll("t", START, new) for new in (0, 1, 50, 51, 120)]
    assert lower_bound(polls, 50) == 1 + 1 + 1 + 2 + 3


def test_new_media_go_to_the_poll_and_page_under_way_when_they_were_stored() -> None:
    """A media stored first at t counts for the last poll begun by t and the page called at t."""
    at = [datetime(2026, 1, 1, 0, minute, tzinfo=UTC) for minute in (0, 10, 20)]
    page = at[1] + timedelta(seconds=30)
    seen = [("t", at[0]), ("t", at[1]), ("t", page), ("t", page), ("t", at[2])]
    calls = [
        CallRecord(when, "recent_media", "17841400000000001", "ok", hashtag="t")
        for when in (at[0], at[1], page, at[2])
    ]
    polls = attribute({"t": at}, seen, calls)
    assert [poll.new for poll in polls] == [1, 3, 1]
    assert [poll.pages for poll in polls] == [(1,), (1, 2), (1,)]


def test_results_header_says_when_where_and_how_to_reproduce() -> None:
    """RESULTS.md starts with the date, the machine and the command that reproduces it."""
    text = runner.header(datetime(2026, 11, 30, tzinfo=UTC), 12.0, ["ratelimit"])
    assert "2026-11-30" in text
    assert "CPUs" in text
    assert "`make bench`" in text


OLD_RESULTS = """# Benchmark results

- **Date**: 2026-11-29 04:36 UTC

## Rate limits: Graph calls

| a | b |
| --- | --- |
| 1 | 2 |

## Entrant export: memory stays flat

old figures
## Scale: 1,000 feeds

old scale
"""


@pytest.mark.parametrize(
    ("new", "expected", "kept"),
    [
        (
            {"scale": "## Scale: 6,100 feeds\n\nnew scale\n"},
            [
                "## Rate limits: Graph calls\n\n| a | b |\n| --- | --- |\n| 1 | 2 |\n",
                "## Scale: 6,100 feeds\n\nnew scale\n",
            ],
            ["ratelimit"],
        ),
        (
            {"burst": "## Webhook burst\n\nnew\n"},
            [
                "## Rate limits: Graph calls\n\n| a | b |\n| --- | --- |\n| 1 | 2 |\n",
                "## Webhook burst\n\nnew\n",
                "## Scale: 1,000 feeds\n\nold scale\n",
            ],
            ["ratelimit", "scale"],
        ),
    ],
)
def test_partial_run_keeps_the_other_sections_byte_for_byte(
    new: dict[str, str], expected: list[str], kept: list[str]
) -> None:
    """A partial run replaces its own sections, keeps the others as written, in registry order,
    and drops sections no benchmark owns any more."""
    parts, names = runner.merged(OLD_RESULTS, new)
    assert (parts, names) == (expected, kept)


def test_partial_run_header_names_what_it_kept_and_from_when() -> None:
    """The header of a partial run says which sections come from an earlier run, and its date."""
    text = runner.header(
        datetime(2026, 12, 5, tzinfo=UTC), 1.0, ["burst"], kept=["ratelimit"], kept_from="X"
    )
    assert "Kept from the run of X** (not re-run): ratelimit" in text
