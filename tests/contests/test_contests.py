"""Contests end to end on a real MongoDB: verdicts at ingest, re-evaluation, export, the draw."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from listener.contests.campaigns import campaigns
from listener.contests.commands import (
    ContestError,
    draw_commit,
    draw_run,
    draw_verify,
    export,
    reevaluate_campaigns,
)
from listener.contests.export import read_entry_ids
from listener.enrich.enricher import Enricher
from listener.errors import ConfigError
from listener.metrics import Metrics
from listener.models import Sighting
from listener.pollers.ingest import Ingestor
from listener.settings import Settings
from listener.store.mongo import Document
from listener.store.store import Store
from tests.contests.campaign import (
    HASHTAG,
    SEED,
    SEED_HASH,
    T0,
    TAGS,
    media,
    rows_of,
    settings_for,
)


@pytest.fixture
async def seeded(mongo_uri: str, database: AsyncDatabase[Document], metrics: Metrics) -> Settings:
    """Six media through the real ingest path: eligible, duplicate author, unknown author, …"""
    settings = settings_for(mongo_uri, database)
    store = Store(database)
    await store.ensure_indexes()
    ingestor = Ingestor(store, metrics, Enricher(None, campaigns(settings)))
    await ingestor.ingest(
        [
            Sighting(
                media("101", minutes=1, caption="#summerdrop with @ana", username="zoe"), TAGS, T0
            ),
            Sighting(
                media("102", minutes=2, caption="#SummerDrop @bo @brand", username="yan"), TAGS, T0
            ),
            Sighting(
                media("103", minutes=3, caption="#summerdrop again @ana", username="zoe"), TAGS, T0
            ),
            Sighting(media("104", minutes=4, caption="no tag @ana", username="xi"), TAGS, T0),
            Sighting(
                media("105", minutes=5, caption="#summerdrop @brand", username="wu"), TAGS, T0
            ),
        ]
    )
    await ingestor.ingest(
        [Sighting(media("106", minutes=6, caption="#summerdrop @cy"), HASHTAG, T0)]
    )
    return settings


async def test_export_lists_eligible_entrants_in_order(seeded: Settings) -> None:
    """Eligible entrants only, numbered by publication time, with the documented columns."""
    rows = await rows_of(seeded)
    assert [(r["entry_number"], r["media_id"]) for r in rows] == [
        ("1", "101"),
        ("2", "102"),
        ("3", "106"),
    ]
    assert list(rows[0]) == [
        "entry_number",
        "media_id",
        "permalink",
        "username",
        "identity_source",
        "timestamp",
        "caption",
        "sentiment",
        "sentiment_score",
    ]
    assert rows[0]["username"] == "zoe"
    assert rows[0]["identity_source"] == "tags"
    assert rows[0]["timestamp"] == "2026-06-10T12:01:00Z"


async def test_export_all_gives_every_reason(seeded: Settings) -> None:
    """--all adds the ineligible media with their reason codes."""
    rows = {r["media_id"]: r for r in await rows_of(seeded, include_all=True)}
    assert rows["103"]["reasons"] == "duplicate_user"
    assert rows["104"]["reasons"] == "missing_hashtag"
    assert rows["105"]["reasons"] == "too_few_mentions"
    assert rows["106"]["reasons"] == ""
    assert rows["106"]["username"] == ""
    assert rows["101"]["eligible"] == "true"


@pytest.mark.parametrize("fmt", ["json", "ndjson"])
async def test_json_formats_carry_the_same_entrants(seeded: Settings, fmt: str) -> None:
    """JSON and NDJSON exports list the same entrants as CSV."""
    rows = await rows_of(seeded, fmt=fmt)
    assert [(r["entry_number"], r["media_id"]) for r in rows] == [
        (1, "101"),
        (2, "102"),
        (3, "106"),
    ]


async def test_changed_rules_are_applied_to_stored_media(
    seeded: Settings, mongo_uri: str, database: AsyncDatabase[Document]
) -> None:
    """With min_mentions lowered to 0, the media that lacked a mention becomes an entrant."""
    relaxed = settings_for(mongo_uri, database, min_mentions=0, exclude_usernames=[])
    ids = [r["media_id"] for r in await rows_of(relaxed)]
    assert ids == ["101", "102", "105", "106"]


async def test_unknown_campaign_is_a_config_error(seeded: Settings) -> None:
    """Exporting a campaign that is not configured names the known ones."""
    with pytest.raises(ConfigError, match=r"unknown campaign 'nope'.*summer"):
        await export(seeded, "nope", io.BytesIO())


async def test_commit_draw_verify(seeded: Settings, tmp_path: Path) -> None:
    """Commit, draw with the committed seed, and verify from the two files alone."""
    entrants = tmp_path / "entrants.csv"
    done = await draw_commit(seeded, "summer", SEED_HASH, entrants)
    assert done.frozen.entrant_count == 3
    assert (done.summary.entrants, done.summary.known_authors) == (3, 2)
    assert read_entry_ids(entrants.read_bytes()) == ["101", "102", "106"]
    record_file = tmp_path / "draw.json"
    record = await draw_run(
        seeded, "summer", seed=SEED, winners=1, alternates=2, record_file=record_file
    )
    assert sorted(record.winners + record.alternates) == ["101", "102", "106"]
    assert {e.entry_id: e.verify_author for e in record.drawn} == {
        "101": False,
        "102": False,
        "106": True,
    }
    assert draw_verify(record_file, entrants) == []
    again = json.loads(record_file.read_text())
    assert again["seed"] == SEED


async def test_a_changed_byte_fails_verification(seeded: Settings, tmp_path: Path) -> None:
    """One byte changed in the entrant list makes verification fail."""
    entrants, record_file = tmp_path / "e.csv", tmp_path / "r.json"
    await draw_commit(seeded, "summer", SEED_HASH, entrants)
    await draw_run(seeded, "summer", seed=SEED, winners=1, alternates=0, record_file=record_file)
    data = bytearray(entrants.read_bytes())
    data[-2] = ord("9") if data[-2] != ord("9") else ord("8")
    entrants.write_bytes(bytes(data))
    assert draw_verify(record_file, entrants)


async def test_wrong_seed_is_refused(seeded: Settings, tmp_path: Path) -> None:
    """A seed that does not hash to the commitment is refused, and nothing is recorded."""
    await draw_commit(seeded, "summer", SEED_HASH, tmp_path / "e.csv")
    with pytest.raises(ContestError, match="does not match the commitment"):
        await draw_run(
            seeded, "summer", seed="guess", winners=1, alternates=0, record_file=tmp_path / "r.json"
        )
    assert not (tmp_path / "r.json").exists()


async def test_a_list_changed_since_commit_is_refused(
    seeded: Settings, tmp_path: Path, database: AsyncDatabase[Document], metrics: Metrics
) -> None:
    """A new entrant after the commit makes the draw refuse: the frozen list is not this one."""
    await draw_commit(seeded, "summer", SEED_HASH, tmp_path / "e.csv")
    late = media("107", minutes=7, caption="#summerdrop @dee", username="vic")
    await Ingestor(Store(database), metrics, Enricher(None, campaigns(seeded))).ingest(
        [Sighting(late, TAGS, T0)]
    )
    with pytest.raises(ContestError, match="entrant list changed"):
        await draw_run(
            seeded, "summer", seed=SEED, winners=1, alternates=0, record_file=tmp_path / "r.json"
        )


async def test_draw_without_commitment_is_refused(seeded: Settings, tmp_path: Path) -> None:
    """Drawing before committing says to commit first."""
    with pytest.raises(ContestError, match="draw commit"):
        await draw_run(
            seeded, "summer", seed=SEED, winners=1, alternates=0, record_file=tmp_path / "r.json"
        )


async def test_reevaluate_full_judges_everything_and_incremental_only_changes(
    seeded: Settings, database: AsyncDatabase[Document], metrics: Metrics
) -> None:
    """A campaign's first pass and --full judge all six media; later passes only what changed."""
    [first] = await reevaluate_campaigns(seeded, "summer")
    assert (first.full, first.changed, first.eligible) == (True, 1, 3)  # 103: duplicate_user
    [full] = await reevaluate_campaigns(seeded, "summer", full=True)
    assert (full.full, full.judged, full.changed, full.eligible) == (True, 6, 0, 3)
    [idle] = await reevaluate_campaigns(seeded, "summer")
    assert (idle.full, idle.judged, idle.changed, idle.eligible) == (False, 0, 0, 3)
    earlier = media("100", minutes=0, caption="#summerdrop first @ana", username="zoe")
    await Ingestor(Store(database), metrics, Enricher(None, campaigns(seeded))).ingest(
        [Sighting(earlier, TAGS, T0)]
    )
    [after] = await reevaluate_campaigns(seeded, "summer")
    assert (after.judged, after.changed, after.eligible) == (3, 1, 3)
    rows = {r["media_id"]: r for r in await rows_of(seeded, include_all=True)}
    assert rows["101"]["reasons"] == "duplicate_user"
    assert rows["100"]["eligible"] == "true"
