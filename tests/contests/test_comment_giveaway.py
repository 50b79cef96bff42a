"""A comment giveaway through the contest commands on a real MongoDB: export, draw, verify."""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from listener.contests.commands import ContestError, draw_commit, draw_run, draw_verify, export
from listener.contests.export import csv_text
from listener.models import Comment, CommentSource
from listener.settings import Settings
from listener.store.mongo import Document
from listener.store.store import Store

T0 = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
SEED = "a secret seed nobody knows"
POST = "17900000000000001"
PERMALINK = "https://www.instagram.com/p/GiveAway1/"


def settings_for(mongo_uri: str, database: AsyncDatabase[Document], post: str = POST) -> Settings:
    """Giveaway ``winter`` on the brand's post (a media id, or a permalink)."""
    return Settings(
        store={"mongodb_uri": mongo_uri, "database": database.name},
        accounts=[{"name": "brand", "ig_user_id": "1", "username": "brand", "comments": True}],
        campaigns=[
            {
                "id": "winter",
                "account": "brand",
                "kind": "comments",
                "posts": [post],
                "starts_at": "2026-12-01T00:00:00Z",
                "ends_at": "2026-12-08T00:00:00Z",
                "min_mentions": 2,
            }
        ],
    )


COMMENTS = [
    Comment("101", POST, "brand", "Me! @ana @bo", "zoe", "9", T0 + timedelta(minutes=1)),
    Comment(
        "102", POST, "brand", '=HYPERLINK("x") @ana @cy', "-yan", "9", T0 + timedelta(minutes=2)
    ),
    Comment("103", POST, "brand", "again @ana @bo", "zoe", "9", T0 + timedelta(minutes=3)),
    Comment("104", POST, "brand", "only @ana", "wu", "9", T0 + timedelta(minutes=4)),
    Comment("105", POST, "brand", "thanks @ana @bo", "brand", "9", T0, parent_id="101"),
    Comment("106", "17900000000000002", "brand", "@a @b", "vi", "9", T0),
]


async def stored(database: AsyncDatabase[Document]) -> Store:
    store = Store(database)
    await store.ensure_indexes()
    await store.comments.ingest(COMMENTS, CommentSource.POLL, T0)
    return store


async def test_export_lists_top_level_eligible_comments_excel_safe(
    mongo_uri: str, database: AsyncDatabase[Document]
) -> None:
    """Entries are numbered eligible top-level comments of the post; formulas are escaped."""
    await stored(database)
    out = io.BytesIO()
    summary = await export(settings_for(mongo_uri, database), "winter", out)
    rows = list(csv.DictReader(io.StringIO(out.getvalue().decode(), newline="")))
    assert [r["comment_id"] for r in rows] == ["101", "102"]
    assert list(rows[0]) == [
        "entry_number", "comment_id", "media_id", "username", "timestamp", "text",
        "sentiment", "sentiment_score",
    ]  # fmt: skip
    assert rows[1]["username"] == "'-yan"
    assert rows[1]["text"].startswith("'=HYPERLINK")
    assert csv_text(rows[1]["text"]) == COMMENTS[1].text
    assert summary.entrants == 2


async def test_export_all_adds_eligible_and_reasons(
    mongo_uri: str, database: AsyncDatabase[Document]
) -> None:
    """--all lists the ineligible top-level comments too, with their reason codes."""
    await stored(database)
    out = io.BytesIO()
    await export(settings_for(mongo_uri, database), "winter", out, fmt="ndjson", include_all=True)
    rows = [json.loads(line) for line in out.getvalue().decode().splitlines()]
    assert {r["comment_id"]: r["reasons"] for r in rows} == {
        "101": [],
        "102": [],
        "103": ["duplicate_user"],
        "104": ["too_few_mentions"],
    }
    assert rows[1]["text"] == COMMENTS[1].text


async def test_draw_ranks_comment_ids_and_verifies_from_files(
    mongo_uri: str, database: AsyncDatabase[Document], tmp_path: Path
) -> None:
    """The draw ranks HMAC-SHA256(seed, comment id); verify needs only the record and the list."""
    await stored(database)
    settings = settings_for(mongo_uri, database)
    entrants = tmp_path / "entrants.csv"
    record_file = tmp_path / "draw.json"
    await draw_commit(settings, "winter", hashlib.sha256(SEED.encode()).hexdigest(), entrants)
    record = await draw_run(
        settings, "winter", seed=SEED, winners=1, alternates=1, record_file=record_file
    )
    tickets = {
        i: hmac.new(SEED.encode(), i.encode(), hashlib.sha256).hexdigest() for i in ("101", "102")
    }
    assert list(record.winners) == [min(tickets, key=tickets.__getitem__)]
    assert draw_verify(record_file, entrants) == []
    assert record_file.with_suffix(".html").exists()


async def test_an_unresolved_permalink_is_a_one_line_error(
    mongo_uri: str, database: AsyncDatabase[Document]
) -> None:
    """A permalink the worker has not resolved to the account's media is refused in one line."""
    await stored(database)
    with pytest.raises(ContestError) as caught:
        await export(settings_for(mongo_uri, database, PERMALINK), "winter", io.BytesIO())
    assert "not among account 'brand'" in str(caught.value)
    assert "\n" not in str(caught.value)


async def test_a_resolved_permalink_names_its_post(
    mongo_uri: str, database: AsyncDatabase[Document]
) -> None:
    """Once resolved (shortcode → media id, kept), a permalink works like the media id."""
    store = await stored(database)
    await store.comment_polls.save_resolutions("brand", {"GiveAway1": POST})
    out = io.BytesIO()
    await export(settings_for(mongo_uri, database, PERMALINK), "winter", out)
    assert out.getvalue().count(b"\n") == 3
