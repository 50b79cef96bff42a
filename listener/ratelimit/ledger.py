"""The 30-hashtag slot ledger of one Instagram account (pure; persistence lives elsewhere).

Meta (reference §1b): "You can query a maximum of 30 unique hashtags on behalf of an Instagram
Business or Creator Account within a rolling, 7 day period. Once you query a hashtag, it will
count against this limit for 7 days. Subsequent queries on the same hashtag within this time
frame will not count against your limit, and will not reset its initial query 7 day timer."

So each distinct hashtag holds a *slot* from its first query until 7 days later, whatever is
queried in between. Which endpoints count is not documented consistently, so a tag is taken as
spent from its first use by ANY hashtag endpoint (search, recent_media, top_media, the node).
The exact error for a 31st hashtag is undocumented too: the cap is enforced here, before asking.

Tags are compared exactly as given. Meta does not document how it folds case or accents; if
two spellings are the same hashtag to Meta they cost one slot there and two here, an error on
the safe side. Settings should normalise configured tags.

``reconcile`` folds in ``recently_searched_hashtags``, which lists the hashtag ids the account
spent in the last 7 days but not when; whatever it cannot match to a slot we hold is assumed
spent at the moment of reconciling, the latest it can have been, so it never frees too early.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Final

MAX_SLOTS: Final = 30
WINDOW: Final = timedelta(days=7)
# Slots spent on hashtag ids Meta lists but we cannot name are kept under this prefix. A real
# hashtag cannot contain ':', so these keys never collide with a tag.
UNKNOWN_ID_PREFIX: Final = "id:"


@dataclass(frozen=True)
class Admitted:
    """The tag may be queried. ``spent`` is False when it already held a slot: re-use is free."""

    ledger: Ledger
    spent: bool


@dataclass(frozen=True)
class Refused:
    """The tag would be one distinct hashtag too many; ``next_free_at`` is when a slot frees."""

    reason: str
    next_free_at: datetime


@dataclass(frozen=True)
class Ledger:
    """The account's slots: tag (or ``id:<hashtag id>``) → when it was first used.

    Slots older than :data:`WINDOW` are dead weight: every method ignores them and the ledgers
    that ``admit`` and ``reconcile`` return drop them.
    """

    slots: Mapping[str, datetime] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # A private copy behind a read-only view: the caller's dict changing later cannot change
        # a ledger, which other code may be holding as a value.
        object.__setattr__(self, "slots", MappingProxyType(dict(self.slots)))

    def active(self, now: datetime) -> dict[str, datetime]:
        """The slots still counting at ``now``; a slot frees exactly 7 days after first use."""
        return {tag: at for tag, at in self.slots.items() if now < at + WINDOW}

    def remaining(self, now: datetime) -> int:
        """How many more distinct hashtags the account may query at ``now``."""
        return max(0, MAX_SLOTS - len(self.active(now)))

    def frees_at(self, tag: str) -> datetime:
        """When ``tag``'s slot frees (``KeyError`` if it holds none)."""
        return self.slots[tag] + WINDOW

    def next_free_at(self, now: datetime) -> datetime | None:
        """When a new tag can next be admitted; ``None`` if one can be now."""
        active = self.active(now)
        if len(active) < MAX_SLOTS:
            return None
        frees = sorted(at + WINDOW for at in active.values())
        # Reconciling can leave more than 30 slots counted; then several must free first.
        return frees[len(active) - MAX_SLOTS]

    def admit(self, tag: str, now: datetime) -> Admitted | Refused:
        """Whether ``tag`` may be queried at ``now``, and the ledger after querying it.

        A tag already holding a slot is admitted free and keeps its first-use time (Meta does
        not reset the timer); a new tag takes a free slot from ``now`` or is refused.
        """
        active = self.active(now)
        if tag in active:
            return Admitted(self, spent=False)
        if len(active) >= MAX_SLOTS:
            next_free = self.next_free_at(now)
            assert next_free is not None  # the ledger is full, so some slot frees later
            return Refused(
                reason=(
                    f"hashtag {tag!r} would be the {_ordinal(len(active) + 1)} distinct hashtag"
                    f" for this account in 7 days (Meta allows {MAX_SLOTS});"
                    f" the next slot frees at {_utc(next_free)}"
                ),
                next_free_at=next_free,
            )
        return Admitted(Ledger({**active, tag: now}), spent=True)

    def reconcile(
        self,
        known_ids: Mapping[str, str],
        searched_ids: Sequence[str],
        now: datetime,
    ) -> Ledger:
        """Fold in Meta's ``recently_searched_hashtags`` (``searched_ids``) as read at ``now``.

        ``known_ids`` maps tags to hashtag ids (ids are global and static, reference §1a).
        A listed id whose tag holds a slot keeps our time. A listed id with no slot here, known
        by tag or not, takes one from ``now``, under its tag or else as ``id:<hashtag id>``:
        Meta spent it at some unknown time in the last 7 days, so it frees by now + 7 days at
        the latest. Slots Meta does not list are kept: its list may lag, and an extra slot held
        here can only make the worker more careful.
        """
        slots = self.active(now)
        tags_by_id: dict[str, list[str]] = {}
        for tag, hashtag_id in known_ids.items():
            tags_by_id.setdefault(hashtag_id, []).append(tag)

        def home(hashtag_id: str) -> str:
            """The key a known id's slot lives under: a tag of it holding a slot, else its first."""
            tags = sorted(tags_by_id[hashtag_id])
            return next((tag for tag in tags if tag in slots), tags[0])

        # An id that reconciling found unnamed may have been named since: move its slot to the
        # tag. Both times are moments by which Meta had spent it, so the earlier one is right.
        for key in [key for key in slots if key.startswith(UNKNOWN_ID_PREFIX)]:
            hashtag_id = key.removeprefix(UNKNOWN_ID_PREFIX)
            if hashtag_id in tags_by_id:
                at = slots.pop(key)
                tag = home(hashtag_id)
                slots[tag] = min(at, slots.get(tag, at))

        for hashtag_id in dict.fromkeys(searched_ids):
            if not hashtag_id:
                continue
            key = home(hashtag_id) if hashtag_id in tags_by_id else UNKNOWN_ID_PREFIX + hashtag_id
            slots.setdefault(key, now)
        return Ledger(slots)


@dataclass(frozen=True)
class HeldSlot:
    """A slot as ``listener quota`` shows it.

    ``new`` marks a configured tag that holds no slot yet but fits: it takes one on its first
    poll, so ``first_used_at`` is the planning time.
    """

    tag: str
    first_used_at: datetime
    frees_at: datetime
    new: bool = False


@dataclass(frozen=True)
class WaitingTag:
    """A configured tag that does not fit, and when it could start.

    ``starts_at`` is ``None`` when no slot it could take will ever free: every slot is held by
    a configured tag, so one must be dropped from the configuration first.
    """

    tag: str
    starts_at: datetime | None


@dataclass(frozen=True)
class QuotaPlan:
    """Where an account's 30 slots go: configured tags in use, tags waiting, other holders.

    ``others`` are slots held by tags no longer configured or by ids Meta listed that we
    cannot name; ``remaining`` is the free slots left once every fitting tag has started.
    """

    in_use: tuple[HeldSlot, ...]
    waiting: tuple[WaitingTag, ...]
    others: tuple[HeldSlot, ...]
    remaining: int


def plan(configured: Sequence[str], ledger: Ledger, now: datetime) -> QuotaPlan:
    """How the configured tags fit the account's slots at ``now``, in configuration order.

    Tags that fit are started (on paper) in order; the rest wait. Tags in use keep their slots:
    polling re-spends a slot the moment it frees. So only slots held by ``others`` ever pass to
    a waiting tag, in the order they free, the first waiting tag taking the first one.
    """
    wanted = list(dict.fromkeys(configured))
    projected = ledger
    in_use: list[HeldSlot] = []
    refused: list[str] = []
    for tag in wanted:
        admission = projected.admit(tag, now)
        if isinstance(admission, Refused):
            refused.append(tag)
            continue
        projected = admission.ledger
        in_use.append(
            HeldSlot(tag, projected.slots[tag], projected.frees_at(tag), new=admission.spent)
        )

    active = projected.active(now)
    others = sorted(
        (HeldSlot(key, at, at + WINDOW) for key, at in active.items() if key not in wanted),
        key=lambda slot: (slot.frees_at, slot.tag),
    )
    # With more than 30 slots counted, the first few to free only bring the count back to 30.
    surplus = max(0, len(active) - MAX_SLOTS)
    opening = [slot.frees_at for slot in others[surplus:]]
    waiting = tuple(
        WaitingTag(tag, opening[index] if index < len(opening) else None)
        for index, tag in enumerate(refused)
    )
    return QuotaPlan(
        in_use=tuple(in_use),
        waiting=waiting,
        others=tuple(others),
        remaining=projected.remaining(now),
    )


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _utc(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
