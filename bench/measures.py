"""What a run is measured by: call efficiency, coverage, calls into throttled scopes (pure).

A run leaves a :class:`RunRecord`: the simulator's call log, the polls each contender made (when
each began and how many media it stored for the first time), the media it captured, and the
media it could have captured. Everything here is arithmetic on those records.

Definitions (also written into RESULTS.md):

- **lower bound**: per poll, ``max(1, ⌈new / page_size⌉)`` calls, the calls an oracle polling at
  the same instants would need to fetch exactly the poll's new media; summed over the run's
  polls. ``ratio`` = ``recent_media`` calls answered by the simulator ÷ lower bound.
- **eligible media**: media published after the run started whose 24 h ``recent_media`` window
  closed before the run ended (``start < timestamp ≤ end − 24 h``); a media is **captured** if
  the contender had it by the end. Coverage = captured eligible ÷ eligible.
- **calls into a throttled scope**: calls the simulator recorded for the throttled scope between
  the throttle's start and end; the ones after the first refusal are the ones a client that
  heeds the refusal would not have made.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bench.scenarios import Scenario, Throttle
from listener.simulator import CallRecord
from listener.simulator.world import BUC_ENDPOINTS, PLATFORM_ENDPOINTS

EDGE = "recent_media"
SEARCH = "ig_hashtag_search"
# MongoDB keeps datetimes to the millisecond; the virtual clock has microseconds.
_STORE_RESOLUTION = timedelta(milliseconds=1)


@dataclass(frozen=True)
class Poll:
    """One poll of one hashtag feed: when it began, how many media it stored first, and how
    many each of its answered pages brought."""

    hashtag: str
    started_at: datetime
    new: int
    pages: tuple[int, ...] = ()  # new media brought by each answered page, in order


@dataclass(frozen=True)
class RunRecord:
    """Everything one contender's run on one scenario left behind."""

    contender: str
    scenario: Scenario
    ig_user_id: str
    calls: Sequence[CallRecord]
    polls: Sequence[Poll]
    captured: frozenset[str]
    eligible: Mapping[str, Mapping[str, datetime]]  # hashtag -> media id -> published at
    wall_s: float
    cpu_s: float
    slept_s: float = 0.0  # real-time sleeps the contender asked for (pyfacebook's rate limiter)


@dataclass(frozen=True)
class Efficiency:
    """Calls made against the calls an oracle would need."""

    edge_calls: int  # recent_media calls the simulator answered, whatever the outcome
    refused: int  # of which refused by a throttle
    search_calls: int  # ig_hashtag_search calls
    polls: int
    lower_bound: int
    captured: int
    empty_pages: int  # answered pages that brought nothing new, beyond one for an empty poll
    split_pages: int  # pages that brought new media beyond the ⌈new / page size⌉ needed

    @property
    def ratio(self) -> float:
        """``recent_media`` calls ÷ lower bound."""
        return self.edge_calls / self.lower_bound if self.lower_bound else math.nan


@dataclass(frozen=True)
class Coverage:
    """Eligible media captured, overall and per hashtag."""

    by_tag: Mapping[str, tuple[int, int]]  # hashtag -> (captured, eligible)

    @property
    def eligible(self) -> int:
        """Eligible media over all hashtags."""
        return sum(total for _, total in self.by_tag.values())

    @property
    def captured(self) -> int:
        """Captured eligible media over all hashtags."""
        return sum(got for got, _ in self.by_tag.values())

    @property
    def share(self) -> float:
        """Captured ÷ eligible."""
        return self.captured / self.eligible if self.eligible else math.nan


@dataclass(frozen=True)
class Exposure:
    """What reached the simulator in a throttled scope while the throttle lasted."""

    throttle: Throttle
    in_scope: int  # calls recorded for the throttled scope during the throttle
    refused: int  # of which refused
    after_first_refusal: int  # calls in scope recorded after the first refusal
    hashtag_after_refusal: int  # the account's hashtag (Platform) calls after the first refusal
    refused_at_min: tuple[float, ...]  # when each refusal came, minutes into the throttle


def lower_bound(polls: Iterable[Poll], page_size: int) -> int:
    """Σ over polls of ``max(1, ⌈new / page_size⌉)``."""
    return sum(max(1, math.ceil(poll.new / page_size)) for poll in polls)


def efficiency(run: RunRecord) -> Efficiency:
    """The run's call efficiency on the ``recent_media`` edge."""
    edge = [call for call in run.calls if call.endpoint == EDGE]
    return Efficiency(
        edge_calls=len(edge),
        refused=sum(1 for call in edge if call.outcome == "throttled"),
        search_calls=sum(1 for call in run.calls if call.endpoint == SEARCH),
        polls=len(run.polls),
        lower_bound=lower_bound(run.polls, run.scenario.page_size),
        captured=len(run.captured),
        empty_pages=sum(
            sum(1 for n in p.pages if n == 0) - (1 if p.new == 0 and p.pages else 0)
            for p in run.polls
        ),
        split_pages=sum(
            max(0, sum(1 for n in p.pages if n > 0) - math.ceil(p.new / run.scenario.page_size))
            for p in run.polls
        ),
    )


def coverage(run: RunRecord) -> Coverage:
    """Eligible media captured, per hashtag."""
    return Coverage(
        {
            tag: (len(run.captured.intersection(media)), len(media))
            for tag, media in run.eligible.items()
        }
    )


def missed_by_hour(run: RunRecord) -> dict[int, int]:
    """Eligible media not captured, by the virtual hour (since the start) they were published."""
    start = run.scenario.end - timedelta(hours=run.scenario.hours)
    missed: Counter[int] = Counter()
    for media in run.eligible.values():
        for media_id, published in media.items():
            if media_id not in run.captured:
                missed[int((published - start).total_seconds() // 3600)] += 1
    return dict(sorted(missed.items()))


def in_scope(call: CallRecord, throttle: Throttle, ig_user_id: str) -> bool:
    """Whether ``call`` spends the scope ``throttle`` throttles."""
    if throttle.scope == "app":
        return call.endpoint in PLATFORM_ENDPOINTS
    return call.endpoint in BUC_ENDPOINTS and call.ig_user_id == ig_user_id


def exposure(run: RunRecord, throttle: Throttle) -> Exposure:
    """Calls the run made into ``throttle``'s scope while it lasted (log order is call order)."""
    during = [call for call in run.calls if throttle.starts <= call.at < throttle.ends]
    scoped = [in_scope(call, throttle, run.ig_user_id) for call in during]
    first = next(
        (i for i, call in enumerate(during) if scoped[i] and call.outcome == "throttled"), None
    )
    after = [] if first is None else list(range(first + 1, len(during)))
    refusals = [c for i, c in enumerate(during) if scoped[i] and c.outcome == "throttled"]
    return Exposure(
        throttle=throttle,
        in_scope=sum(scoped),
        refused=len(refusals),
        after_first_refusal=sum(1 for i in after if scoped[i]),
        hashtag_after_refusal=sum(
            1
            for i in after
            if during[i].endpoint in PLATFORM_ENDPOINTS and during[i].ig_user_id == run.ig_user_id
        ),
        refused_at_min=tuple((c.at - throttle.starts).total_seconds() / 60 for c in refusals),
    )


def _to_ms(at: datetime) -> datetime:
    """``at`` as MongoDB keeps it: truncated to the millisecond."""
    return at.replace(microsecond=at.microsecond // 1000 * 1000)


def attribute(
    starts: Mapping[str, Sequence[datetime]],
    first_seen: Iterable[tuple[str, datetime]],
    calls: Iterable[CallRecord],
) -> list[Poll]:
    """Polls with their new media and pages, from poll starts, ``first_seen_at`` and the calls.

    A media stored first at ``t`` belongs to the last poll of its hashtag that began at or
    before ``t`` (polls of one feed never overlap), and so does each answered ``recent_media``
    call. A page's media are stored at the instant of its call (virtual time stands still
    during a call), which gives the new media of each page.
    """
    ordered = {tag: sorted(times) for tag, times in starts.items()}

    def poll_of(tag: str, at: datetime) -> int:
        return bisect_right(ordered.get(tag, []), at + _STORE_RESOLUTION) - 1

    counts = {tag: [0] * len(times) for tag, times in ordered.items()}
    per_call: Counter[tuple[str, datetime]] = Counter()
    for tag, seen_at in first_seen:
        per_call[(tag, _to_ms(seen_at))] += 1
        index = poll_of(tag, seen_at)
        if index >= 0:
            counts[tag][index] += 1
    pages: dict[str, list[list[int]]] = {tag: [[] for _ in times] for tag, times in ordered.items()}
    for call in calls:
        if call.endpoint != EDGE or call.outcome != "ok" or call.hashtag not in ordered:
            continue
        index = poll_of(call.hashtag, call.at)
        if index >= 0:
            pages[call.hashtag][index].append(per_call[(call.hashtag, _to_ms(call.at))])
    return [
        Poll(tag, started_at, new, tuple(read))
        for tag, times in ordered.items()
        for started_at, new, read in zip(times, counts[tag], pages[tag], strict=True)
    ]


def classes(scenario: Scenario) -> dict[str, list[str]]:
    """Hashtags grouped by rate, busiest first: ``"2000/h"`` → tags."""
    grouped: dict[str, list[str]] = defaultdict(list)
    for tag in scenario.tags:
        grouped[f"{scenario.rates[tag]:g}/h"].append(tag)
    return dict(grouped)
