"""The rate-limit benchmark: Graph calls, coverage and throttle handling, side by side.

Contenders, each on the same seeded scenarios:

- ``adaptive``: the worker's scheduler as it ships (``Pacing()`` defaults).
- ``naive``: the worker with a fixed round-robin, ``Pacing(adaptive=False)``, every feed at the
  interval a user would pick for the budget (feeds × 3600 ÷ budget seconds).
- ``pyfacebook``: a user's fixed-interval loop on ``python-facebook-api`` (same interval).

Runs are spread over worker processes (each with a SecantusDB process of its own, one fresh
database per run);
each returns a :class:`~bench.measures.RunRecord` and the section is rendered from those.
"""

from __future__ import annotations

import asyncio
import math
import multiprocessing
import sys
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Final, Literal

from bench import pyfacebook_user, worker
from bench.measures import (
    RunRecord,
    classes,
    coverage,
    efficiency,
    exposure,
    missed_by_hour,
)
from bench.scenarios import AMPLE, TIGHT, Scenario
from listener.logs import configure_logging
from listener.simulator.world import PLATFORM_ENDPOINTS
from testbed import secantus

Contender = Literal["adaptive", "naive", "pyfacebook"]

SCENARIOS: Final = (AMPLE, TIGHT)
CONTENDERS: Final[dict[str, tuple[Contender, ...]]] = {
    # The fixed round-robin is the baseline the adaptive scheduler must beat on a tight budget;
    # on the ample one it would only spend the whole budget (and the most wall time) to show it.
    AMPLE.name: ("adaptive", "pyfacebook"),
    TIGHT.name: ("adaptive", "naive", "pyfacebook"),
}
COVERAGE_GOAL: Final = 0.995
ADVANTAGE_GOAL_PP: Final = 20.0
RATIO_GOAL: Final = 1.10


@dataclass(frozen=True)
class Job:
    """One contender on one scenario."""

    scenario: Scenario
    contender: Contender


async def run_job(job: Job, *, mongo_uri: str) -> RunRecord:
    """Run one job in this process against the MongoDB at ``mongo_uri``."""
    if job.contender == "pyfacebook":
        return await pyfacebook_user.run(job.scenario)
    return await worker.run(job.scenario, job.contender, mongo_uri=mongo_uri)


def run_job_alone(job: Job) -> RunRecord:
    """Run one job with a SecantusDB of its own (the worker-process entry point).

    A standalone server (no replica set, so no oplog to write): the worker uses neither
    transactions nor change streams, and each upsert costs about a third less.
    """
    configure_logging(level="error", stream=sys.stderr)
    with secantus(standalone=True) as server:
        return asyncio.run(run_job(job, mongo_uri=server.uri))


def jobs(scenarios: Sequence[Scenario], *, with_pyfacebook: bool) -> list[Job]:
    """Every job of the benchmark, the longest first so that processes finish together."""
    found = [
        Job(scenario, contender)
        for scenario in scenarios
        for contender in CONTENDERS.get(scenario.name, ("adaptive", "naive", "pyfacebook"))
        if with_pyfacebook or contender != "pyfacebook"
    ]
    cost = {"naive": 2.0, "adaptive": 1.5, "pyfacebook": 1.0}
    return sorted(found, key=lambda j: -j.scenario.budget_per_hour * cost[j.contender])


def measure(todo: Sequence[Job], *, workers: int) -> list[RunRecord]:
    """Run ``todo`` over ``workers`` processes (in this process when 1); records in job order."""
    if workers <= 1:
        return [run_job_alone(job) for job in todo]
    # spawn, not fork: every run starts threads (the pyfacebook loop).
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        return list(pool.map(run_job_alone, todo))


def section(*, workers: int) -> str:
    """Run the rate-limit benchmark and render its section of RESULTS.md."""
    with_pyfacebook = pyfacebook_user.available()
    if not with_pyfacebook:
        print(
            f"bench: {pyfacebook_user.REQUIREMENT} is not installed, so the pyfacebook contender "
            "is skipped: .venv/bin/pip install -r bench/requirements.txt",
            file=sys.stderr,
        )
    records = measure(jobs(SCENARIOS, with_pyfacebook=with_pyfacebook), workers=workers)
    return render(records, pyfacebook_missing=not with_pyfacebook)


# -- rendering ----------------------------------------------------------------------------------


def _pct(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{100 * value:.2f} %"  # NaN: nothing was eligible


def _row(cells: Sequence[object]) -> str:
    return "| " + " | ".join(str(cell) for cell in cells) + " |"


def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    return [_row(header), _row(["---"] * len(header)), *(_row(r) for r in rows)]


def _find(records: Sequence[RunRecord], scenario: str, contender: str) -> RunRecord | None:
    return next(
        (r for r in records if r.scenario.name == scenario and r.contender.startswith(contender)),
        None,
    )


def render(records: Sequence[RunRecord], *, pyfacebook_missing: bool = False) -> str:
    """The markdown section for ``records``."""
    scenarios = list({r.scenario.name: r.scenario for r in records}.values())
    lines = ["## Rate limits: Graph calls, coverage, throttles", ""]
    lines += _setup(scenarios, pyfacebook_missing=pyfacebook_missing)
    lines += _calls(records)
    lines += _coverage(records, scenarios)
    lines += _throttles(records)
    lines += _pyfacebook(records)
    lines += _walls(records)
    return "\n".join(lines) + "\n"


def _setup(scenarios: Sequence[Scenario], *, pyfacebook_missing: bool) -> list[str]:
    lines = [
        "Every contender of a scenario meets the same simulated world (`listener.simulator`, "
        "same seed, same posts, the same throttles scripted at the same virtual times), on "
        "virtual time: hours of polling run in seconds. Worlds start empty (no backfill) and "
        "hashtags do not cross-post, so each media belongs to one hashtag. Only "
        "`recent_media` is polled (no `top_media`), with 50 media a page and the worker's "
        "default bound of 10 pages a poll for every contender.",
        "",
    ]
    rows = [
        [
            f"`{s.name}`",
            s.summary,
            ", ".join(f"{tag} {rate:g}/h" for tag, rate in s.rates.items()),
            f"{s.budget_per_hour} calls/h",
            f"{s.naive_interval_s:g} s",
            f"{s.hours:g} h",
            "; ".join(t.label for t in s.throttles) or "none",
        ]
        for s in scenarios
    ]
    header = [
        "scenario",
        "what",
        "hashtags (posts/h)",
        "Platform budget",
        "fixed interval",
        "length",
        "throttles",
    ]
    lines += _table(header, rows)
    lines += [
        "",
        "- **listener (adaptive)**: the worker as it ships: `Scheduler` with `Pacing()` "
        "defaults (intervals follow each feed's arrival rate between 60 s and 3600 s, aiming "
        "at 30 new media a poll, and share the budget by need), the `Governor` with the "
        "scenario's budget as its Platform policy (soft threshold 0.75; after a throttle "
        "without a regain time, a pause of an hour that doubles with each throttle in a row), "
        "`GraphClient` with its retry policy, `HashtagFeed`s from 300 s (a poll stopped by its "
        "bound is followed by catch-up polls that read up to 5 bounds), and the account's "
        "`TagsFeed` (600 s), which is what spends the account's BUC scope.",
        "- **listener (naive)**: the same worker with `Pacing(adaptive=False)`: every feed "
        "at the *fixed interval* a user would pick to stay within the budget, "
        "feeds × 3600 ÷ budget s (budget ÷ feeds polls an hour each).",
        "- **pyfacebook (fixed interval)**: a user's loop on `python-facebook-api` 0.24: "
        "every *fixed interval* one round over the hashtags in their configured order "
        "(`ig_hashtag_search` once per tag, then `recent_media` pages via `get_connection` "
        "and the `next` link's parameters, stopping like the worker at the first page with "
        "nothing new or at 10 pages), `/tags` every 600 s; every error is caught and the "
        "loop goes on.",
    ]
    if pyfacebook_missing:
        lines += [
            "",
            "**pyfacebook was not installed, so it was not run**: "
            "`.venv/bin/pip install -r bench/requirements.txt`, then `make bench` again.",
        ]
    return [*lines, ""]


def _calls(records: Sequence[RunRecord]) -> list[str]:
    lines = [
        "### 1. Graph calls ÷ lower bound (`recent_media`)",
        "",
        "Lower bound of a run = Σ over its polls of max(1, ⌈new media of the poll ÷ 50⌉): the "
        "calls an oracle polling at the same instants would need to fetch exactly the new "
        "media. Calls are the `recent_media` calls in the simulator's call log "
        "(`world.stats.log`), refused ones included; a poll's new media are read from the "
        "store (`first_seen_at` of each media, attributed to the poll of its hashtag that "
        "was under way; pyfacebook's loop counts them itself). `ig_hashtag_search` is "
        f"listed apart. Goal for the adaptive scheduler when the budget suffices: ≤ "
        f"{RATIO_GOAL:.2f}.",
        "",
    ]
    rows = []
    for record in records:
        e = efficiency(record)
        found_new = sum(1 for p in record.polls if p.new > 0)
        answered = sum(
            1 for c in record.calls if c.endpoint in PLATFORM_ENDPOINTS and c.outcome == "ok"
        )
        rows.append(
            [
                f"`{record.scenario.name}`",
                record.contender,
                e.polls,
                found_new,
                e.edge_calls,
                e.refused,
                e.lower_bound,
                e.edge_calls - e.lower_bound,
                e.empty_pages,
                e.split_pages,
                f"**{e.ratio:.3f}**",
                e.search_calls,
                f"{answered / record.scenario.hours:.1f}",
                e.captured,
            ]
        )
    header = [
        "scenario",
        "contender",
        "polls",
        "polls that found new media",
        "`recent_media` calls",
        "of which refused",
        "lower bound",
        "excess",
        "pages with nothing new",
        "pages splitting new media",
        "ratio",
        "`ig_hashtag_search` calls",
        "hashtag calls answered per hour",
        "media captured",
    ]
    lines += _table(header, rows)
    lines += [
        "",
        "Where the excess comes from (excess = refused + pages with nothing new + pages "
        "splitting new media − polls refused outright): a poll cannot know where its new "
        "media end, so it reads until a page tells it (a page with nothing new, or, in the "
        "worker, a page ending in known media); the oracle never reads such a page. And "
        "because the first page also carries media read before, new media that would fill "
        "⌈new ÷ 50⌉ pages may spread over one more. Refused calls are pyfacebook's, mostly: "
        "the simulator refuses with code 4 once the rolling hour's budget is spent. "
        "`ig_hashtag_search` is one call per hashtag per run for every contender (the worker "
        "keeps the ids in MongoDB).",
        "",
    ]
    return lines


def _coverage(records: Sequence[RunRecord], scenarios: Sequence[Scenario]) -> list[str]:
    lines = [
        "### 2. Coverage of the 24 h `recent_media` window",
        "",
        "Eligible media: published after the run started and whose 24 h window closed before "
        "it ended (start < timestamp ≤ end − 24 h, i.e. the first 12 h of a 36 h run), read "
        "from the simulated world. Captured: in the store by the end, through any feed "
        "(pyfacebook: received by the loop, `/tags` included: tagged media may carry the "
        "hashtags too). Coverage = captured eligible ÷ eligible. Misses are listed by the virtual "
        "hour they were published in (`+h: count`), which shows whether they cluster around a "
        "throttle.",
        "",
    ]
    rows = []
    for record in records:
        c = coverage(record)
        per_class = []
        for rate, tags in classes(record.scenario).items():
            got = sum(c.by_tag[t][0] for t in tags)
            total = sum(c.by_tag[t][1] for t in tags)
            per_class.append(f"{rate}: {_pct(got / total if total else float('nan'))}")
        misses = ", ".join(f"+{h}: {n}" for h, n in missed_by_hour(record).items()) or "none"
        rows.append(
            [
                f"`{record.scenario.name}`",
                record.contender,
                c.eligible,
                c.captured,
                f"**{_pct(c.share)}**",
                "; ".join(per_class),
                misses,
            ]
        )
    header = [
        "scenario",
        "contender",
        "eligible",
        "captured",
        "coverage",
        "by hashtag rate",
        "misses by hour published",
    ]
    lines += _table(header, rows)
    lines.append("")
    for scenario in scenarios:
        adaptive = _find(records, scenario.name, "listener (adaptive)")
        naive = _find(records, scenario.name, "listener (naive)")
        if adaptive is None:
            continue
        share = coverage(adaptive).share
        if naive is None:
            verdict = "met" if share >= COVERAGE_GOAL else "**not met**"
            lines.append(
                f"- `{scenario.name}`: adaptive coverage {_pct(share)} "
                f"(goal ≥ {_pct(COVERAGE_GOAL)}: {verdict})."
            )
            continue
        lead = 100 * (share - coverage(naive).share)
        verdict = "met" if lead >= ADVANTAGE_GOAL_PP else "**not met**"
        lines.append(
            f"- `{scenario.name}`: adaptive {_pct(share)} vs naive "
            f"{_pct(coverage(naive).share)}: **{lead:+.1f} percentage points** "
            f"(goal ≥ +{ADVANTAGE_GOAL_PP:g}: {verdict})."
        )
    return [*lines, ""]


def _throttles(records: Sequence[RunRecord]) -> list[str]:
    lines = [
        "### 3. Calls made to a throttled scope",
        "",
        "Calls the simulator recorded in the throttled scope between the throttle's start and "
        "end: the app's Platform pool (every hashtag endpoint) for code 4, the account's BUC "
        "pool (`/tags`, mentions, `recently_searched_hashtags`) for code 80002. A client that "
        "heeds the first refusal makes none after it. The last column counts the account's "
        "hashtag calls after the first refusal of a BUC throttle, which Meta (and the "
        "simulator) would have answered.",
        "",
    ]
    rows = []
    for record in records:
        for throttle in record.scenario.throttles:
            x = exposure(record, throttle)
            hashtag = str(x.hashtag_after_refusal) if throttle.scope == "account" else "—"
            shown = ", ".join(f"{m:.1f}" for m in x.refused_at_min[:4])
            more = len(x.refused_at_min) - 4
            rows.append(
                [
                    f"`{record.scenario.name}`",
                    record.contender,
                    throttle.label,
                    x.in_scope,
                    x.refused,
                    f"**{x.after_first_refusal}**",
                    (shown + (f" … (+{more})" if more > 0 else "")) or "—",
                    hashtag,
                ]
            )
    header = [
        "scenario",
        "contender",
        "throttle",
        "calls in scope during it",
        "refused",
        "after the first refusal",
        "refusals at (min into it)",
        "hashtag calls after the first refusal",
    ]
    return [*lines, *_table(header, rows), ""]


PYFACEBOOK_NOTES: Final = (
    "How it was pointed at the simulator: `IGBusinessApi(access_token=…, app_secret=…, "
    'version="v25.0", base_url=f"{simulator}/", instagram_business_id=…)`. `base_url` is a '
    "constructor argument of `GraphAPI` (default `https://graph.facebook.com/`); requests go to "
    '`base_url + "v25.0/<path>"`, with `appsecret_proof` computed from `app_secret`. Paging '
    "takes only the query of the simulator's absolute `next` links.",
    "What it does on rate limits (read from its source, `pyfacebook/api/graph.py` and "
    "`ratelimit.py`, 0.24.0): after every response it parses `X-App-Usage` and "
    "`X-Business-Use-Case-Usage` into `api.rate_limit`; `sleep_on_rate_limit=True` is the "
    "default, but without a `sleep_seconds_mapping` the sleep is 0 s. With a mapping it sleeps "
    "after every call by the *app* usage percentage only (BUC usage is parsed but ignored: "
    "`# TODO Now only check app usage`), 600 s above the highest percentage given.",
    "On code 4 or 80002 it raises `FacebookError` (with `.code`); it neither retries nor "
    "pauses, ignores `estimated_time_to_regain_access`, and the next call goes as soon as the "
    "caller makes it, so each round of the loop sends its calls into the throttle.",
    "`get_full_connections` (behind `hashtag.get_recent_media`) cannot stop at known media: it "
    "reads until `len(data) > count` (`count=100` with `limit=50` costs 3 calls), `count=None` "
    "walks the whole 24 h listing, and an error on page k loses pages 1…k−1 since it returns "
    "only at the end. Its default `children{…}` fields include `permalink`, `shortcode` and "
    "`thumbnail_url`, which the simulator refuses on carousel children (code 100), so the "
    "loop passes the worker's field lists.",
)


def _pyfacebook(records: Sequence[RunRecord]) -> list[str]:
    runs = [r for r in records if r.contender == pyfacebook_user.CONTENDER]
    if not runs:
        return []
    lines = ["### 4. pyfacebook", ""]
    lines += [f"- {note}" for note in PYFACEBOOK_NOTES]
    for run in runs:
        refused = [c for c in run.calls if c.outcome == "throttled"]
        codes = sorted({c.code for c in refused if c.code is not None})
        lines.append(
            f"- Measured, `{run.scenario.name}`: {len(refused)} calls refused "
            f"(codes {', '.join(map(str, codes)) or 'none'}), {run.slept_s:g} s slept by "
            "its rate limiter."
        )
    lines.append(
        "- Caveat on its coverage: the simulator does not count refused calls against the "
        "rolling hour (`listener/simulator/usage.py`), so calling into a throttle costs "
        "pyfacebook nothing here and it spends the whole budget; the worker's governor "
        "instead stretches its spacing once usage passes 75 % (see *hashtag calls answered "
        "per hour* in table 1). If Meta counts refused calls, pyfacebook's figures are "
        "optimistic."
    )
    return [*lines, ""]


def _walls(records: Sequence[RunRecord]) -> list[str]:
    rows = [
        [f"`{r.scenario.name}`", r.contender, len(r.calls), f"{r.wall_s:.0f} s", f"{r.cpu_s:.0f} s"]
        for r in records
    ]
    header = ["scenario", "contender", "Graph calls (all endpoints)", "wall time", "CPU time"]
    return [
        "### Runs",
        "",
        "Each run in a process of its own (simulator and contender together, SecantusDB in a "
        "process beside it; CPU time is the run's process's, the server's excluded), two at a "
        "time. A run replays identically: the world is seeded, virtual time serialises the "
        "actors, and each feed loop draws its jitter from a seeded stream of its own.",
        "",
        *_table(header, rows),
        "",
    ]
