r"""The verifiable draw: commit to a secret seed, freeze the entrants, reveal, rank, record.

Pure: the seed, the exported entrant file's bytes, the entry ids and the times come in as
arguments; storing the commitment and the record is the caller's job.

**Protocol (commit–reveal).**

1. *Commit.* Before the draw the organiser picks a secret seed (``openssl rand -hex 32``) and
   publishes only ``commitment(seed)`` = SHA-256 hex of its UTF-8 bytes, together with the
   frozen entrant list: ``entrants_digest(file)`` = SHA-256 hex of the exported file's exact
   bytes, and the number of entrants. See :func:`commit`.
2. *Draw.* The seed is revealed and checked against the commitment; every entry id gets a
   ticket, ``HMAC-SHA256(key = seed, message = entry id)`` in lower-case hex (both UTF-8), and
   the entries are ranked by ascending ticket (equal tickets, which do not happen in practice,
   by id). The first ``winners`` are the winners, the next ``alternates`` the alternates.
   Ranking depends only on the seed and the *set* of ids, not on their order in the file.
3. *Verify.* Anyone holding the record and the exported file re-checks the digest, the
   commitment and the ranking (:func:`verify`), or does it by hand:

.. code-block:: sh

    SEED='the revealed seed'
    sha256sum entrants.csv                                # = entrants_digest
    printf '%s' "$SEED" | openssl dgst -sha256 -r         # = seed_commitment
    printf '%s' "$ID" | openssl dgst -sha256 -hmac "$SEED" -r   # = the ticket of entry $ID
    # all tickets, ranked (ids one per line in ids.txt); the first lines are the winners:
    while IFS= read -r id; do
      t=$(printf '%s' "$id" | openssl dgst -sha256 -hmac "$SEED" -r | cut -c1-64)
      printf '%s %s\n' "$t" "$id"
    done < ids.txt | LC_ALL=C sort

``LC_ALL=C sort`` orders lines bytewise, which for 64-hex tickets followed by the id is exactly
"ticket, then id". (``printf '%s'`` matters: ``echo`` would add a newline to the message.)

**What the record also says.** The entrant list's format (``entrants_format``; a record without
it used :data:`LEGACY_ENTRANTS_FORMAT`), so that a verifier reads the list as it was written; the
campaign's rules as a document whose version is ``rules_version`` (checked by :func:`verify`);
and, for each winner and alternate, what the list says of it: its permalink and its author's
username, with ``verify_author`` where the author is unknown — the organiser must then confirm
who posted it before announcing. :func:`verify` checks all of it against the list.

**What it proves, and what it does not.** The entrant list and the seed are both fixed before
anyone (organiser included) can compute the outcome from them — *provided the seed was
committed before the list could be known*. An organiser who picks the seed after seeing the
final list could try many seeds privately and commit to one it likes. So commit to the seed
hash before entries close (``committed_at`` before the campaign's ``ends_at``), or derive the
seed from a public value drawn after the commitment (a lottery result, a drand round).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, TypeVar

from listener.enrich.contests import version_of

ALGORITHM: Final = "hmac-sha256-rank/1"
"""Name and version of the ranking; a record naming another one is not verified by this code."""
LEGACY_ENTRANTS_FORMAT: Final = "entrants-csv/1"
"""The entrant list format of records (and commitments) made before the format was recorded."""

_HEX64_LENGTH: Final = 64
_T = TypeVar("_T")
_D = TypeVar("_D")


def entrants_digest(data: bytes) -> str:
    """SHA-256 hex of the exported entrant file's exact bytes: any changed byte changes it."""
    return hashlib.sha256(data).hexdigest()


def commitment(seed: str) -> str:
    """SHA-256 hex of the seed's UTF-8 bytes: published before the draw, the seed after."""
    return hashlib.sha256(seed.encode("utf-8")).hexdigest()


def check_commitment(seed: str, commitment: str) -> bool:
    """Whether ``seed`` is the one committed to; constant-time, hex case ignored."""
    expected = hashlib.sha256(seed.encode("utf-8")).hexdigest().encode("ascii")
    return hmac.compare_digest(expected, commitment.strip().lower().encode("utf-8"))


def ticket(seed: str, entry_id: str) -> str:
    """HMAC-SHA256 hex of the entry id under the seed: ``openssl dgst -sha256 -hmac SEED``."""
    return hmac.new(seed.encode("utf-8"), entry_id.encode("utf-8"), hashlib.sha256).hexdigest()


def _problems_with_ids(entry_ids: Sequence[str]) -> list[str]:
    problems = []
    if any(not entry_id for entry_id in entry_ids):
        problems.append("an entry id is empty")
    repeated = sorted(entry_id for entry_id, n in Counter(entry_ids).items() if n > 1)
    if repeated:
        problems.append(f"entry ids listed more than once: {', '.join(repeated[:5])}")
    return problems


@dataclass(frozen=True)
class Entrant:
    """What the entrant list says of one entry: its id, permalink and author (empty: unknown)."""

    entry_id: str
    permalink: str = ""
    username: str = ""

    @property
    def verify_author(self) -> bool:
        """Whether the author is unknown, so that the organiser must confirm who posted it."""
        return not self.username

    def as_document(self) -> dict[str, Any]:
        """The record's form: ``{id, permalink, username, verify_author}``."""
        return {
            "id": self.entry_id,
            "permalink": self.permalink,
            "username": self.username,
            "verify_author": self.verify_author,
        }


def _require_seed(seed: str) -> None:
    if not seed:
        raise ValueError("the seed is empty; pick one with e.g. `openssl rand -hex 32`")


def rank(seed: str, entry_ids: Sequence[str]) -> list[str]:
    """The entry ids by ascending ticket (ties by id); the same for any order of the input.

    ``ValueError`` for an empty seed, an empty id or an id listed twice.
    """
    _require_seed(seed)
    problems = _problems_with_ids(entry_ids)
    if problems:
        raise ValueError("; ".join(problems))
    return sorted(entry_ids, key=lambda entry_id: (ticket(seed, entry_id), entry_id))


@dataclass(frozen=True)
class DrawResult:
    """Winners and alternates in rank order, and every entrant's ticket (id → hex)."""

    winners: tuple[str, ...]
    alternates: tuple[str, ...]
    tickets: dict[str, str]


def draw(seed: str, entry_ids: Sequence[str], winners: int, alternates: int = 0) -> DrawResult:
    """The first ``winners`` of :func:`rank`, then up to ``alternates`` more (what is left).

    ``ValueError`` when there would be no winner, more winners than entrants, or a bad id list.
    """
    if winners < 1:
        raise ValueError(f"a draw needs at least 1 winner, got {winners}")
    if alternates < 0:
        raise ValueError(f"alternates cannot be negative, got {alternates}")
    ranked = rank(seed, entry_ids)
    if winners > len(ranked):
        raise ValueError(f"{winners} winners asked for but there are only {len(ranked)} entrants")
    return DrawResult(
        winners=tuple(ranked[:winners]),
        alternates=tuple(ranked[winners : winners + alternates]),
        tickets={entry_id: ticket(seed, entry_id) for entry_id in sorted(entry_ids)},
    )


def _utc(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} needs a time zone, got naive {value.isoformat()}")
    return value.astimezone(UTC)


def _is_hex64(value: str) -> bool:
    return len(value) == _HEX64_LENGTH and all(c in "0123456789abcdef" for c in value)


@dataclass(frozen=True)
class DrawCommit:
    """What is frozen before the draw: the entrant list's digest, count and format, the seed's
    hash, and the rules (their document, when recorded, and version)."""

    campaign_id: str
    rules_version: str
    entrants_digest: str
    entrant_count: int
    seed_commitment: str
    committed_at: datetime
    entrants_format: str = LEGACY_ENTRANTS_FORMAT
    rules: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "committed_at", _utc(self.committed_at, "committed_at"))
        object.__setattr__(self, "seed_commitment", self.seed_commitment.strip().lower())
        if not _is_hex64(self.seed_commitment):
            raise ValueError(
                "the seed commitment must be 64 hex digits (the SHA-256 of the seed), "
                f"got {self.seed_commitment!r}"
            )


def commit(
    *,
    campaign_id: str,
    rules_version: str,
    exported: bytes,
    entry_ids: Sequence[str],
    seed_commitment: str,
    committed_at: datetime,
    entrants_format: str,
    rules: Mapping[str, Any] | None = None,
) -> DrawCommit:
    """Freeze the entrant list (the exported bytes, in ``entrants_format``, and the ids read
    from them), the seed hash and the rules.

    ``ValueError`` for a malformed commitment, an empty list, a bad id list, or a rules
    document that is not the one ``rules_version`` names.
    """
    problems = _problems_with_ids(entry_ids)
    if not entry_ids:
        problems.append("there are no entrants to draw from")
    if rules is not None and version_of(rules) != rules_version:
        problems.append(f"the rules document is not rules version {rules_version}")
    if problems:
        raise ValueError("; ".join(problems))
    return DrawCommit(
        campaign_id=campaign_id,
        rules_version=rules_version,
        entrants_digest=entrants_digest(exported),
        entrant_count=len(entry_ids),
        seed_commitment=seed_commitment,
        committed_at=committed_at,
        entrants_format=entrants_format,
        rules=rules,
    )


@dataclass(frozen=True)
class DrawRecord:
    """Everything needed to re-run and check a draw, with the seed revealed.

    ``winners_asked`` / ``alternates_asked`` are the numbers the draw was run with, so that a
    record cannot silently drop an alternate or promote one to winner: there may be fewer
    alternates than asked, when the entrants ran out, never fewer winners. ``drawn`` is what
    the entrant list says of each winner and alternate, in rank order (empty in records made
    before it was kept). ``to_json`` / ``from_json`` round-trip exactly; times are stored as
    UTC ISO 8601.
    """

    campaign_id: str
    rules_version: str
    entrants_digest: str
    entrant_count: int
    seed: str
    seed_commitment: str
    committed_at: datetime
    drawn_at: datetime
    winners: tuple[str, ...]
    alternates: tuple[str, ...]
    winners_asked: int
    alternates_asked: int
    algorithm: str = ALGORITHM
    entrants_format: str = LEGACY_ENTRANTS_FORMAT
    rules: Mapping[str, Any] | None = None
    drawn: tuple[Entrant, ...] = field(default=())

    def __post_init__(self) -> None:
        object.__setattr__(self, "committed_at", _utc(self.committed_at, "committed_at"))
        object.__setattr__(self, "drawn_at", _utc(self.drawn_at, "drawn_at"))
        object.__setattr__(self, "winners", tuple(self.winners))
        object.__setattr__(self, "alternates", tuple(self.alternates))
        object.__setattr__(self, "drawn", tuple(self.drawn))

    def entrant(self, entry_id: str) -> Entrant:
        """What the record says of a drawn entry (only its id, in records that say nothing)."""
        for known in self.drawn:
            if known.entry_id == entry_id:
                return known
        return Entrant(entry_id)

    def to_json(self) -> str:
        """The record as pretty, key-sorted JSON (stable bytes for the same record)."""
        data = {
            "algorithm": self.algorithm,
            "campaign_id": self.campaign_id,
            "rules_version": self.rules_version,
            "entrants_digest": self.entrants_digest,
            "entrant_count": self.entrant_count,
            "seed": self.seed,
            "seed_commitment": self.seed_commitment,
            "committed_at": _iso(self.committed_at),
            "drawn_at": _iso(self.drawn_at),
            "winners": list(self.winners),
            "alternates": list(self.alternates),
            "winners_asked": self.winners_asked,
            "alternates_asked": self.alternates_asked,
            "entrants_format": self.entrants_format,
            "rules": None if self.rules is None else dict(self.rules),
            "drawn": [entrant.as_document() for entrant in self.drawn],
        }
        return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str) -> DrawRecord:
        """Parse :meth:`to_json` output; ``ValueError`` naming the first problem otherwise."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"draw record is not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            # A malformed file is bad input like any other: callers catch one ValueError.
            raise ValueError("draw record must be a JSON object")  # noqa: TRY004
        unknown = sorted(set(data) - _RECORD_KEYS)
        if unknown:
            raise ValueError(f"draw record has unknown keys: {', '.join(unknown)}")
        return cls(
            campaign_id=_field(data, "campaign_id", str),
            rules_version=_field(data, "rules_version", str),
            entrants_digest=_field(data, "entrants_digest", str),
            entrant_count=_field(data, "entrant_count", int),
            seed=_field(data, "seed", str),
            seed_commitment=_field(data, "seed_commitment", str),
            committed_at=_time(data, "committed_at"),
            drawn_at=_time(data, "drawn_at"),
            winners=_ids(data, "winners"),
            alternates=_ids(data, "alternates"),
            winners_asked=_field(data, "winners_asked", int),
            alternates_asked=_field(data, "alternates_asked", int),
            algorithm=_field(data, "algorithm", str),
            entrants_format=_optional(data, "entrants_format", str, LEGACY_ENTRANTS_FORMAT),
            rules=_optional(data, "rules", dict, None),
            drawn=_drawn(data),
        )


_RECORD_KEYS: Final = frozenset(
    {
        "algorithm",
        "campaign_id",
        "rules_version",
        "entrants_digest",
        "entrant_count",
        "seed",
        "seed_commitment",
        "committed_at",
        "drawn_at",
        "winners",
        "alternates",
        "winners_asked",
        "alternates_asked",
        "entrants_format",
        "rules",
        "drawn",
    }
)
_DRAWN_KEYS: Final = frozenset({"id", "permalink", "username", "verify_author"})


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _field(data: dict[str, Any], key: str, kind: type[_T]) -> _T:
    if key not in data:
        raise ValueError(f"draw record lacks {key!r}")
    value = data[key]
    # bool is an int to Python, never a count to us.
    if not isinstance(value, kind) or isinstance(value, bool):
        # A malformed file is bad input like any other: callers catch one ValueError.
        raise ValueError(f"draw record {key!r} must be a {kind.__name__}, got {value!r}")  # noqa: TRY004
    return value


def _optional(data: dict[str, Any], key: str, kind: type[_T], default: _D) -> _T | _D:
    """A key records made before it existed lack (``null`` counts as absent)."""
    if data.get(key) is None:
        return default
    return _field(data, key, kind)


def _drawn(data: dict[str, Any]) -> tuple[Entrant, ...]:
    entries = _optional(data, "drawn", list, [])
    drawn = []
    for entry in entries:
        if not isinstance(entry, dict) or set(entry) != _DRAWN_KEYS:
            raise ValueError(f"draw record 'drawn' entries need exactly {sorted(_DRAWN_KEYS)}")
        entrant = Entrant(
            entry_id=_field(entry, "id", str),
            permalink=_field(entry, "permalink", str),
            username=_field(entry, "username", str),
        )
        if entry["verify_author"] is not entrant.verify_author:
            raise ValueError(
                f"draw record: entry {entrant.entry_id} says verify_author "
                f"{entry['verify_author']!r} with username {entrant.username!r}"
            )
        drawn.append(entrant)
    return tuple(drawn)


def _time(data: dict[str, Any], key: str) -> datetime:
    text = _field(data, key, str)
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"draw record {key!r} is not an ISO 8601 time: {text!r}") from None
    if value.tzinfo is None:
        raise ValueError(f"draw record {key!r} needs a time zone: {text!r}")
    return value


def _ids(data: dict[str, Any], key: str) -> tuple[str, ...]:
    values = _field(data, key, list)
    if not all(isinstance(value, str) for value in values):
        raise ValueError(f"draw record {key!r} must be a list of strings")
    return tuple(values)


def record_draw(
    frozen: DrawCommit,
    *,
    seed: str,
    exported: bytes,
    entry_ids: Sequence[str],
    winners: int,
    alternates: int,
    drawn_at: datetime,
    entrants: Sequence[Entrant] = (),
) -> DrawRecord:
    """Run the draw against what was committed; ``ValueError`` if anything differs from it.

    ``entrants`` is what the list says of each entry (read from ``exported`` like the ids);
    the record keeps it for the winners and alternates. Refuses a seed that does not match the
    commitment, an entrant file whose bytes or count changed since the commit, and everything
    :func:`draw` refuses.
    """
    _require_seed(seed)
    if not check_commitment(seed, frozen.seed_commitment):
        raise ValueError(
            "the seed does not match the commitment made at "
            f"{_iso(frozen.committed_at)} (its SHA-256 is {commitment(seed)}, "
            f"the commitment is {frozen.seed_commitment})"
        )
    digest = entrants_digest(exported)
    if digest != frozen.entrants_digest:
        raise ValueError(
            f"the entrant list changed since the commit: its SHA-256 is {digest}, "
            f"the committed one is {frozen.entrants_digest}"
        )
    if len(entry_ids) != frozen.entrant_count:
        raise ValueError(
            f"{len(entry_ids)} entry ids given but {frozen.entrant_count} were committed"
        )
    result = draw(seed, entry_ids, winners, alternates)
    said = {entrant.entry_id: entrant for entrant in entrants}
    return DrawRecord(
        campaign_id=frozen.campaign_id,
        rules_version=frozen.rules_version,
        entrants_digest=frozen.entrants_digest,
        entrant_count=frozen.entrant_count,
        seed=seed,
        seed_commitment=frozen.seed_commitment,
        committed_at=frozen.committed_at,
        drawn_at=drawn_at,
        winners=result.winners,
        alternates=result.alternates,
        winners_asked=winners,
        alternates_asked=alternates,
        entrants_format=frozen.entrants_format,
        rules=frozen.rules,
        drawn=tuple(
            said[entry_id] for entry_id in (*result.winners, *result.alternates) if entry_id in said
        ),
    )


def verify(
    record: DrawRecord,
    exported_bytes: bytes,
    entry_ids: Sequence[str],
    entrants: Sequence[Entrant] = (),
) -> list[str]:
    """Every problem found re-running the draw from the record and the export; empty = verified.

    ``entry_ids`` (and ``entrants``, what the list says of each) must be read from
    ``exported_bytes`` in ``record.entrants_format`` (the export format is not this module's
    business): the digest check then covers them too.
    """
    problems = [
        *_problems_with_rules(record),
        *_problems_with_drawn(record, entrants),
        *_problems_with_list(record, exported_bytes, entry_ids),
        *_problems_with_commitment(record),
    ]
    if not record.seed or _problems_with_ids(entry_ids):
        return problems  # nothing to re-run: rank() would refuse
    return problems + _problems_with_rerun(record, entry_ids)


def _problems_with_rules(record: DrawRecord) -> list[str]:
    """Whether this verifier knows the record's algorithm, and its rules are the version named."""
    problems: list[str] = []
    if record.algorithm != ALGORITHM:
        problems.append(f"unknown algorithm {record.algorithm!r}; this verifier knows {ALGORITHM}")
    if record.rules is not None and version_of(record.rules) != record.rules_version:
        problems.append(
            f"the recorded rules are version {version_of(record.rules)}, the record says "
            f"{record.rules_version}"
        )
    return problems


def _problems_with_list(
    record: DrawRecord, exported_bytes: bytes, entry_ids: Sequence[str]
) -> list[str]:
    """Whether the exported list is the one drawn from: its digest, its count, its ids."""
    problems: list[str] = []
    digest = entrants_digest(exported_bytes)
    if digest != record.entrants_digest:
        problems.append(
            f"entrant list digest mismatch: the file's SHA-256 is {digest}, the record says "
            f"{record.entrants_digest} (the list changed)"
        )
    if len(entry_ids) != record.entrant_count:
        problems.append(
            f"entrant count mismatch: {len(entry_ids)} ids, the record says {record.entrant_count}"
        )
    problems.extend(_problems_with_ids(entry_ids))
    return problems


def _problems_with_commitment(record: DrawRecord) -> list[str]:
    """Whether the seed matches its commitment, made before the draw, for possible counts."""
    problems: list[str] = []
    if not record.seed:
        problems.append("the record's seed is empty")
    elif not check_commitment(record.seed, record.seed_commitment):
        problems.append(
            f"the seed does not match the commitment: its SHA-256 is {commitment(record.seed)}, "
            f"the commitment is {record.seed_commitment}"
        )
    if record.drawn_at < record.committed_at:
        problems.append(
            f"drawn at {_iso(record.drawn_at)}, before the commitment at "
            f"{_iso(record.committed_at)}"
        )
    if record.winners_asked < 1 or record.alternates_asked < 0:
        problems.append(
            f"impossible counts: {record.winners_asked} winners and "
            f"{record.alternates_asked} alternates asked for"
        )
    return problems


def _problems_with_rerun(record: DrawRecord, entry_ids: Sequence[str]) -> list[str]:
    """Whether re-running the draw on ``entry_ids`` gives the recorded winners and alternates."""
    problems: list[str] = []
    ranked = rank(record.seed, entry_ids)
    cut = max(record.winners_asked, 0)
    expected_winners = tuple(ranked[:cut])
    expected_alternates = tuple(ranked[cut : cut + max(record.alternates_asked, 0)])
    if len(expected_winners) < record.winners_asked:
        problems.append(
            f"{record.winners_asked} winners asked for but there are only {len(ranked)} entrants"
        )
    if record.winners != expected_winners:
        problems.append(
            f"winners do not reproduce: the record says {', '.join(record.winners)}, "
            f"re-running gives {', '.join(expected_winners)}"
        )
    if record.alternates != expected_alternates:
        problems.append(
            f"alternates do not reproduce: the record says {', '.join(record.alternates)}, "
            f"re-running gives {', '.join(expected_alternates)}"
        )
    return problems


def _problems_with_drawn(record: DrawRecord, entrants: Sequence[Entrant]) -> list[str]:
    """Whether the record's word on each drawn entry is the list's (records that say nothing
    are not checked)."""
    if not record.drawn:
        return []
    drawn_ids = [entrant.entry_id for entrant in record.drawn]
    expected_ids = [*record.winners, *record.alternates]
    if drawn_ids != expected_ids:
        return [
            f"the record describes {', '.join(drawn_ids) or 'no entry'} but drew "
            f"{', '.join(expected_ids)}"
        ]
    listed = {entrant.entry_id: entrant for entrant in entrants}
    return [
        f"entry {said.entry_id}: the record says {_describe(said)}, the entrant list says "
        f"{_describe(listed[said.entry_id])}"
        for said in record.drawn
        if said.entry_id in listed and listed[said.entry_id] != said
    ]


def _describe(entrant: Entrant) -> str:
    author = f"@{entrant.username}" if entrant.username else "an unknown author"
    return f"{entrant.permalink or 'no permalink'} by {author}"
