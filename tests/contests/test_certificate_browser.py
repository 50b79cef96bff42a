"""The draw certificate in a real browser: Debian's headless chromium renders the page that
``listener draw`` wrote to its DOM, a PNG and a PDF, and the DOM says what the record says."""

from __future__ import annotations

from pathlib import Path

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from listener.contests.commands import certificate_path, draw_commit, draw_run
from listener.enrich.draw import DrawRecord, ticket
from listener.metrics import Metrics
from listener.store.mongo import Document
from tests.contests import chromium
from tests.contests.campaign import HASHTAG, SEED, SEED_HASH, TAGS, ingest, media, settings_for
from tests.contests.test_certificate import Page

pytestmark = pytest.mark.slow
FORMULA = "=cmd|' /C calc'!A0 #summerdrop @ana"


@pytest.fixture
async def drawn(
    mongo_uri: str, database: AsyncDatabase[Document], metrics: Metrics, tmp_path: Path
) -> tuple[DrawRecord, Path]:
    """A draw made by the commands over hostile entrants: its record and its certificate."""
    settings = settings_for(mongo_uri, database)
    await ingest(
        settings,
        database,
        metrics,
        [
            (media("31", minutes=1, caption=FORMULA, username="<b>zoe</b>"), TAGS),
            (media("32", minutes=2, caption="\u202eevil\u202c #summerdrop @bo"), HASHTAG),
            (media("33", minutes=3, caption="#summerdrop @cy", username="yan\u200f"), TAGS),
            (media("34", minutes=4, caption="#summerdrop @dee 🎉", username="xi"), TAGS),
            (media("35", minutes=5, caption="#summerdrop @eve", username="wu"), TAGS),
        ],
    )  # fmt: skip
    await draw_commit(settings, "summer", SEED_HASH, tmp_path / "summer-entrants.csv")
    record_file = tmp_path / "summer-draw.json"
    record = await draw_run(
        settings, "summer", seed=SEED, winners=2, alternates=3, record_file=record_file
    )
    return record, certificate_path(record_file)


def test_the_rendered_dom_says_what_the_record_says(drawn: tuple[DrawRecord, Path]) -> None:
    """Every winner and alternate, both digests, the seed and its hash, as chromium sees them."""
    record, page = drawn
    text = Page(chromium.dom(page)).text
    for value in (
        record.entrants_digest,
        record.rules_version,
        record.seed_commitment,
        record.seed,
        *record.winners,
        *record.alternates,
        *(ticket(record.seed, i) for i in (*record.winners, *record.alternates)),
        *(e.permalink for e in record.drawn),
        *(f"@{e.username}" for e in record.drawn if e.username),
    ):
        assert value in text, value
    assert len(record.drawn) == 5  # every entrant is drawn, the unknown author and <b>zoe</b> too
    assert text.count("verify author") >= 2  # the unknown author's mark and the note


def test_the_page_renders_to_a_picture(drawn: tuple[DrawRecord, Path], tmp_path: Path) -> None:
    """A screenshot of the certificate is a PNG of the window's size."""
    _, page = drawn
    png = tmp_path / "certificate.png"
    assert chromium.screenshot(page, png) == chromium.WINDOW
    assert png.stat().st_size > 10_000  # a page with text on it, not a blank frame


def test_the_page_prints_to_pdf(drawn: tuple[DrawRecord, Path], tmp_path: Path) -> None:
    """Printing the certificate gives a PDF document with at least one page."""
    _, page = drawn
    data = chromium.pdf(page, tmp_path / "certificate.pdf")
    assert data.startswith(b"%PDF-")
    assert data.rstrip().endswith(b"%%EOF")
    assert b"/Type /Page" in data or b"/Type/Page" in data
