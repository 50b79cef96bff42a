"""The verifiable draw: tickets, ranking, refusals, commit, record, JSON and verification."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import shutil
import subprocess
import textwrap
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from listener.enrich import draw as draw_module
from listener.enrich.contests import version_of
from listener.enrich.draw import (
    ALGORITHM,
    LEGACY_ENTRANTS_FORMAT,
    DrawCommit,
    DrawRecord,
    Entrant,
    check_commitment,
    commit,
    commitment,
    draw,
    entrants_digest,
    rank,
    record_draw,
    ticket,
    verify,
)

SEED = "b7e1c2d09f3a4e5b8c6d7e8f9a0b1c2d"
IDS = [f"1790000000000{n:04d}" for n in range(25)]
EXPORTED = ("media_id\n" + "\n".join(IDS) + "\n").encode()
COMMITTED_AT = datetime(2026, 6, 30, 12, tzinfo=UTC)
DRAWN_AT = datetime(2026, 7, 2, 12, tzinfo=UTC)
FORMAT = "entrants-csv/2"
RULES = {
    "schema": "contest-rules/2",
    "hashtags": ["summerdrop"],
    "starts_at": "2026-06-01T00:00:00+00:00",
    "ends_at": "2026-07-01T00:00:00+00:00",
    "min_mentions": 1,
    "exclude_usernames": ["brand"],
    "one_entry_per_user": True,
    "own_username": "brand",
    "unknown_authors": "eligible",
}
RULES_VERSION = version_of(RULES)
ENTRANTS = [
    Entrant(i, f"https://www.instagram.com/p/{i}/", f"fan{n}" if n % 3 else "")
    for n, i in enumerate(IDS)
]
"""What the list says of each entrant: every third author unknown."""


def frozen(seed: str = SEED) -> DrawCommit:
    """The commitment made before the draw for IDS and ``seed``."""
    return commit(
        campaign_id="summerdrop-2026",
        rules_version=RULES_VERSION,
        exported=EXPORTED,
        entry_ids=IDS,
        seed_commitment=commitment(seed),
        committed_at=COMMITTED_AT,
        entrants_format=FORMAT,
        rules=RULES,
    )


def recorded(winners: int = 3, alternates: int = 2) -> DrawRecord:
    """A draw of IDS with SEED, recorded."""
    return record_draw(
        frozen(),
        seed=SEED,
        exported=EXPORTED,
        entry_ids=IDS,
        winners=winners,
        alternates=alternates,
        drawn_at=DRAWN_AT,
        entrants=ENTRANTS,
    )


@pytest.mark.parametrize(
    ("seed", "entry_id"),
    [
        ("key", "abc"),
        (SEED, IDS[0]),
        ("seed with spaces and ünïcödé", "17900000000000001"),
        ("x", "1"),
    ],
)
def test_ticket_is_hmac_sha256_of_the_id_keyed_by_the_seed(seed: str, entry_id: str) -> None:
    """The ticket is exactly HMAC-SHA256(key=seed, msg=id) in hex, both UTF-8."""
    expected = hmac.new(seed.encode(), entry_id.encode(), hashlib.sha256).hexdigest()
    assert ticket(seed, entry_id) == expected


def test_ticket_known_answer() -> None:
    """A fixed vector anyone can re-check: printf '%s' abc | openssl dgst -sha256 -hmac key."""
    assert ticket("key", "abc") == (
        "9c196e32dc0175f86f4b1cb89289d6619de6bee699e4c378e68309ed97a1a6ab"
    )


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
@pytest.mark.parametrize(("seed", "entry_id"), [(SEED, IDS[3]), ("seed with spaces", "42")])
def test_the_documented_openssl_one_liner_gives_the_ticket(seed: str, entry_id: str) -> None:
    """`printf '%s' ID | openssl dgst -sha256 -hmac SEED -r` prints the ticket first."""
    out = subprocess.run(
        ["openssl", "dgst", "-sha256", "-hmac", seed, "-r"],
        input=entry_id.encode(),
        capture_output=True,
        check=True,
    ).stdout.decode()
    assert out.split()[0] == ticket(seed, entry_id)


HAND_RANKING = r"""
while IFS= read -r id; do
  t=$(printf '%s' "$id" | openssl dgst -sha256 -hmac "$SEED" -r | cut -c1-64)
  printf '%s %s\n' "$t" "$id"
done < ids.txt | LC_ALL=C sort
"""


@pytest.mark.skipif(
    shutil.which("openssl") is None or shutil.which("bash") is None,
    reason="openssl or bash is not installed",
)
def test_the_documented_shell_ranking_matches_rank(tmp_path: Path) -> None:
    """The module docstring's openssl loop ranks the entrants exactly as rank() does."""
    ids = [*IDS[:8], "id with spaces", "ünïcödé"]
    (tmp_path / "ids.txt").write_text("\n".join(reversed(ids)) + "\n", encoding="utf-8")
    out = subprocess.run(
        ["bash", "-c", HAND_RANKING],
        cwd=tmp_path,
        env={"SEED": "a seed, with spaces", "PATH": os.environ["PATH"]},
        capture_output=True,
        check=True,
    ).stdout.decode("utf-8")
    lines = out.splitlines()
    assert [line.split(" ", 1)[1] for line in lines] == rank("a seed, with spaces", ids)
    assert [line.split(" ", 1)[0] for line in lines] == [
        ticket("a seed, with spaces", i) for i in rank("a seed, with spaces", ids)
    ]
    assert textwrap.indent(HAND_RANKING.strip(), "    ") in (draw_module.__doc__ or "")


def test_commitment_is_sha256_of_the_seed() -> None:
    """The commitment is the SHA-256 hex of the seed's UTF-8 bytes (sha256sum of the seed)."""
    assert commitment("abc") == ("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    assert commitment(SEED) == hashlib.sha256(SEED.encode()).hexdigest()


@pytest.mark.parametrize(
    ("seed", "claimed", "matches"),
    [
        (SEED, commitment(SEED), True),
        (SEED, commitment(SEED).upper(), True),
        (SEED, commitment(SEED) + "\n", True),
        (SEED + " ", commitment(SEED), False),
        ("other", commitment(SEED), False),
        (SEED, commitment(SEED)[:-1], False),
        (SEED, "", False),
        (SEED, "é" * 64, False),
    ],
)
def test_check_commitment(seed: str, claimed: str, matches: bool) -> None:
    """Only the exact seed matches its commitment; hex case and surrounding space are ignored."""
    assert check_commitment(seed, claimed) is matches


def test_entrants_digest_is_sha256_of_the_bytes() -> None:
    """The digest is sha256 of the exported file's exact bytes; one changed byte changes it."""
    assert entrants_digest(EXPORTED) == hashlib.sha256(EXPORTED).hexdigest()
    assert entrants_digest(EXPORTED + b"\n") != entrants_digest(EXPORTED)


def test_rank_is_by_ascending_ticket() -> None:
    """Entries are ranked by their ticket, lowest first."""
    ranked = rank(SEED, IDS)
    tickets = [ticket(SEED, entry_id) for entry_id in ranked]
    assert tickets == sorted(tickets)
    assert sorted(ranked) == sorted(IDS)


@pytest.mark.parametrize(
    "order",
    [IDS, list(reversed(IDS)), IDS[12:] + IDS[:12], sorted(IDS, key=lambda i: i[::-1])],
)
def test_rank_does_not_depend_on_input_order(order: list[str]) -> None:
    """The same set of ids gives the same ranking in any order."""
    assert rank(SEED, order) == rank(SEED, IDS)


def test_same_seed_and_list_give_the_same_winners() -> None:
    """A draw is a function of seed and list: running it again gives the same result."""
    assert draw(SEED, IDS, 3, 2) == draw(SEED, list(IDS), 3, 2)


def test_another_seed_gives_another_ranking() -> None:
    """The seed decides the order."""
    assert rank(SEED, IDS) != rank(SEED + "x", IDS)


@pytest.mark.parametrize(
    ("entrants", "winners", "alternates", "n_winners", "n_alternates"),
    [
        (25, 3, 2, 3, 2),
        (25, 1, 0, 1, 0),
        (5, 3, 5, 3, 2),
        (3, 3, 2, 3, 0),
        (1, 1, 1, 1, 0),
    ],
)
def test_draw_counts(
    entrants: int, winners: int, alternates: int, n_winners: int, n_alternates: int
) -> None:
    """Winners come first in rank order; alternates get what is left, up to the number asked."""
    ids = IDS[:entrants]
    result = draw(SEED, ids, winners, alternates)
    ranked = rank(SEED, ids)
    assert len(result.winners) == n_winners
    assert len(result.alternates) == n_alternates
    assert (*result.winners, *result.alternates) == tuple(ranked[: n_winners + n_alternates])
    assert result.tickets == {entry_id: ticket(SEED, entry_id) for entry_id in ids}


def test_honest_record_with_alternates_run_out_verifies() -> None:
    """Asking for more alternates than are left records fewer, and that still verifies."""
    ids = IDS[:5]
    exported = "\n".join(ids).encode()
    made = commit(
        campaign_id="c",
        rules_version="v",
        exported=exported,
        entry_ids=ids,
        seed_commitment=commitment(SEED),
        committed_at=COMMITTED_AT,
        entrants_format=FORMAT,
    )
    record = record_draw(
        made,
        seed=SEED,
        exported=exported,
        entry_ids=ids,
        winners=3,
        alternates=5,
        drawn_at=DRAWN_AT,
    )
    assert (len(record.winners), len(record.alternates), record.alternates_asked) == (3, 2, 5)
    assert verify(record, exported, ids) == []


@pytest.mark.parametrize(
    ("seed", "ids", "winners", "alternates", "message"),
    [
        (SEED, IDS, 0, 0, "at least 1 winner, got 0"),
        (SEED, IDS, -1, 0, "at least 1 winner"),
        (SEED, IDS, 1, -1, "alternates cannot be negative"),
        (SEED, IDS[:2], 3, 0, "3 winners asked for but there are only 2 entrants"),
        (SEED, [], 1, 0, "only 0 entrants"),
        (SEED, [*IDS, IDS[4]], 1, 0, f"listed more than once: {IDS[4]}"),
        (SEED, [*IDS, ""], 1, 0, "an entry id is empty"),
        ("", IDS, 1, 0, "the seed is empty"),
    ],
)
def test_draw_refuses(
    seed: str, ids: list[str], winners: int, alternates: int, message: str
) -> None:
    """No winner, too many winners, repeated or empty ids and an empty seed are refused."""
    with pytest.raises(ValueError, match=message):
        draw(seed, ids, winners, alternates)


def test_commit_freezes_digest_and_count() -> None:
    """The commit holds the export's digest, the entrant count and the normalised seed hash."""
    made = commit(
        campaign_id="c",
        rules_version="v",
        exported=EXPORTED,
        entry_ids=IDS,
        seed_commitment=commitment(SEED).upper(),
        committed_at=COMMITTED_AT.astimezone(timezone(timedelta(hours=2))),
        entrants_format=FORMAT,
    )
    assert made == DrawCommit(
        campaign_id="c",
        rules_version="v",
        entrants_digest=entrants_digest(EXPORTED),
        entrant_count=len(IDS),
        seed_commitment=commitment(SEED),
        committed_at=COMMITTED_AT,
        entrants_format=FORMAT,
    )
    assert made.committed_at.tzinfo is UTC


@pytest.mark.parametrize(
    ("ids", "claimed", "rules", "message"),
    [
        (IDS, "not-hex", RULES, "must be 64 hex digits"),
        (IDS, SEED, RULES, "must be 64 hex digits"),
        ([], commitment(SEED), RULES, "no entrants"),
        ([*IDS, IDS[0]], commitment(SEED), RULES, "listed more than once"),
        (IDS, commitment(SEED), {**RULES, "min_mentions": 0}, "not rules version"),
    ],
)
def test_commit_refuses(ids: list[str], claimed: str, rules: dict[str, Any], message: str) -> None:
    """A commit needs a real SHA-256 hex, a non-empty list without repeats, and its rules."""
    with pytest.raises(ValueError, match=message):
        commit(
            campaign_id="c",
            rules_version=RULES_VERSION,
            exported=EXPORTED,
            entry_ids=ids,
            seed_commitment=claimed,
            committed_at=COMMITTED_AT,
            entrants_format=FORMAT,
            rules=rules,
        )


def test_record_draw_reproduces_draw() -> None:
    """The record carries the committed values, the revealed seed and draw()'s result."""
    record = recorded()
    result = draw(SEED, IDS, 3, 2)
    assert record.winners == result.winners
    assert record.alternates == result.alternates
    assert record.seed == SEED
    assert record.seed_commitment == commitment(SEED)
    assert record.entrants_digest == entrants_digest(EXPORTED)
    assert record.entrant_count == len(IDS)
    assert (record.winners_asked, record.alternates_asked) == (3, 2)
    assert record.algorithm == ALGORITHM == "hmac-sha256-rank/1"
    assert (record.entrants_format, record.rules) == (FORMAT, RULES)


def test_record_says_what_the_list_says_of_each_drawn_entry() -> None:
    """Winners then alternates, in rank order, with permalink, author and verify_author."""
    record = recorded()
    said = {e.entry_id: e for e in ENTRANTS}
    assert record.drawn == tuple(said[i] for i in (*record.winners, *record.alternates))
    documents = json.loads(record.to_json())["drawn"]
    assert [d["id"] for d in documents] == [*record.winners, *record.alternates]
    assert all(d["verify_author"] is (d["username"] == "") for d in documents)
    assert {d["verify_author"] for d in documents} == {True, False}


@pytest.mark.parametrize(
    ("seed", "exported", "ids", "message"),
    [
        ("a different seed", EXPORTED, IDS, "seed does not match the commitment"),
        (SEED + "\n", EXPORTED, IDS, "seed does not match the commitment"),
        (SEED, EXPORTED + b" ", IDS, "entrant list changed since the commit"),
        (SEED, EXPORTED, IDS[:-1], "24 entry ids given but 25 were committed"),
        ("", EXPORTED, IDS, "the seed is empty"),
    ],
)
def test_record_draw_refuses_what_differs_from_the_commit(
    seed: str, exported: bytes, ids: list[str], message: str
) -> None:
    """A seed not matching the commitment, or a changed entrant list, stops the draw."""
    with pytest.raises(ValueError, match=message):
        record_draw(
            frozen(),
            seed=seed,
            exported=exported,
            entry_ids=ids,
            winners=1,
            alternates=0,
            drawn_at=DRAWN_AT,
        )


def test_json_round_trip() -> None:
    """to_json then from_json gives the same record, and the same JSON again."""
    record = recorded()
    text = record.to_json()
    assert DrawRecord.from_json(text) == record
    assert DrawRecord.from_json(text).to_json() == text
    assert '"committed_at": "2026-06-30T12:00:00Z"' in text


def test_json_round_trip_keeps_other_zones_as_utc() -> None:
    """Times given with any offset are stored as the same instant in UTC."""
    record = replace(recorded(), drawn_at=DRAWN_AT.astimezone(timezone(timedelta(hours=-7))))
    again = DrawRecord.from_json(record.to_json())
    assert again == record
    assert again.drawn_at == DRAWN_AT
    assert again.drawn_at.tzinfo == UTC


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not json", "not valid JSON"),
        ("[]", "must be a JSON object"),
        ('{"seed": "x"}', "lacks 'campaign_id'"),
    ],
)
def test_from_json_refuses_malformed_text(text: str, message: str) -> None:
    """Garbage is refused with a message naming the problem."""
    with pytest.raises(ValueError, match=message):
        DrawRecord.from_json(text)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("entrant_count", "25", "'entrant_count' must be a int"),
        ("entrant_count", True, "'entrant_count' must be a int"),
        ("winners_asked", None, "'winners_asked' must be a int"),
        ("winners", "abc", "'winners' must be a list"),
        ("winners", [1, 2], "'winners' must be a list of strings"),
        ("drawn_at", "yesterday", "'drawn_at' is not an ISO 8601 time"),
        ("drawn_at", "2026-07-02T12:00:00", "'drawn_at' needs a time zone"),
        ("extra", 1, "unknown keys: extra"),
    ],
)
def test_from_json_refuses_wrong_fields(key: str, value: object, message: str) -> None:
    """Every field is type-checked; unknown keys are refused rather than ignored."""
    data = json.loads(recorded().to_json())
    data[key] = value
    with pytest.raises(ValueError, match=message):
        DrawRecord.from_json(json.dumps(data))


def test_verify_accepts_an_honest_draw() -> None:
    """The record and the exported list alone reproduce the draw: no problems."""
    record = DrawRecord.from_json(recorded().to_json())
    assert verify(record, EXPORTED, IDS) == []
    assert verify(record, EXPORTED, list(reversed(IDS))) == []


def flip_one_byte(data: bytes, at: int) -> bytes:
    """``data`` with the byte at ``at`` changed."""
    return data[:at] + bytes([data[at] ^ 1]) + data[at + 1 :]


@pytest.mark.parametrize("at", [0, len(EXPORTED) // 2, len(EXPORTED) - 1])
def test_verify_fails_when_one_byte_of_the_export_changes(at: int) -> None:
    """Any changed byte of the exported entrant file is a digest mismatch."""
    problems = verify(recorded(), flip_one_byte(EXPORTED, at), IDS)
    assert any("entrant list digest mismatch" in p for p in problems)


def test_verify_fails_when_an_entrant_is_swapped() -> None:
    """A changed list (one id swapped, same count) fails the digest and the reproduction."""
    ids = [*IDS[:-1], "17900000000009999"]
    exported = ("media_id\n" + "\n".join(ids) + "\n").encode()
    problems = verify(recorded(winners=25, alternates=0), exported, ids)
    assert any("digest mismatch" in p for p in problems)
    assert any("winners do not reproduce" in p for p in problems)


HONEST = recorded()


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"seed": SEED + "x"}, ["seed does not match the commitment", "winners do not"]),
        ({"seed_commitment": commitment("other")}, ["seed does not match the commitment"]),
        ({"seed": ""}, ["seed is empty"]),
        ({"winners": HONEST.winners[::-1]}, ["winners do not reproduce"]),
        ({"winners": (*HONEST.winners, HONEST.alternates[0])}, ["winners do not reproduce"]),
        ({"alternates": ()}, ["alternates do not reproduce"]),
        ({"winners": ()}, ["winners do not reproduce"]),
        ({"winners_asked": 0}, ["impossible counts: 0 winners"]),
        ({"alternates_asked": -1}, ["impossible counts"]),
        ({"winners_asked": 26, "winners": tuple(IDS)}, ["only 25 entrants"]),
        ({"alternates_asked": 1}, ["alternates do not reproduce"]),
        ({"entrant_count": 24}, ["entrant count mismatch: 25 ids, the record says 24"]),
        ({"entrants_digest": "0" * 64}, ["digest mismatch"]),
        ({"algorithm": "random.choice/1"}, ["unknown algorithm 'random.choice/1'"]),
        ({"drawn_at": COMMITTED_AT - timedelta(seconds=1)}, ["before the commitment"]),
    ],
)
def test_verify_reports_each_tampering(changes: dict[str, Any], expected: list[str]) -> None:
    """Each altered field of the record is reported as a problem."""
    problems = verify(replace(HONEST, **changes), EXPORTED, IDS)
    for fragment in expected:
        assert any(fragment in p for p in problems), (fragment, problems)


@pytest.mark.parametrize(
    ("ids", "expected"),
    [
        ([*IDS[:-1], IDS[0]], "listed more than once"),
        ([*IDS[:-1], ""], "an entry id is empty"),
    ],
)
def test_verify_reports_bad_id_lists_without_raising(ids: list[str], expected: str) -> None:
    """A repeated or empty id is a problem to report, not a crash."""
    assert any(expected in p for p in verify(recorded(), EXPORTED, ids))


def test_a_record_from_before_formats_were_recorded_still_verifies() -> None:
    """Without entrants_format, rules and drawn, a record reads as the first format."""
    data = json.loads(recorded().to_json())
    for key in ("entrants_format", "rules", "drawn"):
        del data[key]
    old = DrawRecord.from_json(json.dumps(data))
    assert (old.entrants_format, old.rules, old.drawn) == (LEGACY_ENTRANTS_FORMAT, None, ())
    assert old.entrant(old.winners[0]) == Entrant(old.winners[0])
    assert verify(old, EXPORTED, IDS, ENTRANTS) == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"verify_author": False, "username": ""}, "says verify_author False"),
        ({"verify_author": "yes"}, "says verify_author 'yes'"),
        ({"extra": 1}, "'drawn' entries need exactly"),
        ({"permalink": None}, "'permalink' must be a str"),
    ],
)
def test_from_json_refuses_drawn_entries_that_contradict_themselves(
    change: dict[str, Any], message: str
) -> None:
    """A drawn entry has exactly its four keys, typed, and verify_author means no username."""
    data = json.loads(recorded().to_json())
    data["drawn"][0] |= change
    with pytest.raises(ValueError, match=message):
        DrawRecord.from_json(json.dumps(data))


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"rules": {**RULES, "min_mentions": 0}}, "the recorded rules are version"),
        ({"rules_version": "0" * 16}, "the record says 0000000000000000"),
        ({"drawn": HONEST.drawn[1:]}, "the record describes"),
        (
            {
                "drawn": (
                    replace(HONEST.drawn[0], permalink="https://evil.example/"),
                    *HONEST.drawn[1:],
                )
            },
            "the record says https://evil.example/",
        ),
        (
            {"drawn": (replace(HONEST.drawn[0], username="someone.else"), *HONEST.drawn[1:])},
            "by @someone.else, the entrant list says",
        ),
    ],
)
def test_verify_checks_the_rules_and_drawn_entries_against_the_list(
    changes: dict[str, Any], expected: str
) -> None:
    """Recorded rules must be their version; each drawn entry must be as the list says."""
    assert verify(HONEST, EXPORTED, IDS, ENTRANTS) == []
    problems = verify(replace(HONEST, **changes), EXPORTED, IDS, ENTRANTS)
    assert any(expected in p for p in problems), problems


def test_drawn_record_needs_aware_times() -> None:
    """Naive times cannot be put on a timeline, so records refuse them."""
    with pytest.raises(ValueError, match="drawn_at needs a time zone"):
        replace(recorded(), drawn_at=datetime(2026, 7, 2))  # noqa: DTZ001
