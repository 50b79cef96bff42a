"""The media collection on a real MongoDB wire server: one document per media, merged sightings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pymongo import DESCENDING
from pymongo.asynchronous.database import AsyncDatabase

from listener.models import Media, Sighting, Source, SourceKind
from listener.store.mongo import Document
from listener.store.store import Store
from tests.conftest import Commands

T0 = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
RECENT = Source(SourceKind.HASHTAG_RECENT, "brand", "summerdrop")
TOP = Source(SourceKind.HASHTAG_TOP, "brand", "summerdrop")
OTHER_TAG = Source(SourceKind.HASHTAG_RECENT, "brand", "sunset")


def media(media_id: str = "1", **kw: object) -> Media:
    fields: dict[str, object] = {"timestamp": T0 - timedelta(hours=1), "caption": "hi #summerdrop"}
    fields.update(kw)
    return Media(id=media_id, **fields)  # type: ignore[arg-type]  # each case's fields, typed as a plain mapping


async def test_first_sighting_creates_the_contract_document(store: Store) -> None:
    """A new media is stored with the contract's fields, UTC timestamps and one source."""
    result = await store.media.ingest([Sighting(media(like_count=3, permalink="p"), RECENT, T0)])
    assert result.new == ["1"]
    doc = await store.media.get("1")
    assert doc is not None
    assert doc["timestamp"] == T0 - timedelta(hours=1)
    assert doc["first_seen_at"] == doc["last_seen_at"] == T0
    assert doc["sources"] == [
        {"kind": "hashtag_recent", "account": "brand", "hashtag": "summerdrop"}
    ]
    assert doc["like_count"] == 3
    assert "username" not in doc


async def test_sightings_merge_into_one_document(store: Store) -> None:
    """Seen again from other sources, a media keeps one document, three sources, first/last seen."""
    await store.media.ingest([Sighting(media(like_count=1), RECENT, T0)])
    later = T0 + timedelta(minutes=5)
    result = await store.media.ingest(
        [Sighting(media(like_count=9), TOP, later), Sighting(media(), OTHER_TAG, later)]
    )
    assert result.new == []
    assert result.duplicate == ["1"]
    assert await store.media.count() == 1
    doc = await store.media.get("1")
    assert doc is not None
    assert len(doc["sources"]) == 3
    assert doc["first_seen_at"] == T0
    assert doc["last_seen_at"] == later
    assert doc["like_count"] == 9


async def test_same_source_twice_is_not_repeated(store: Store) -> None:
    """Sources hold no repeats, whether the repeat comes in one batch or a later one."""
    await store.media.ingest([Sighting(media(), RECENT, T0), Sighting(media(), RECENT, T0)])
    await store.media.ingest([Sighting(media(), RECENT, T0 + timedelta(minutes=1))])
    doc = await store.media.get("1")
    assert doc is not None
    assert doc["sources"] == [
        {"kind": "hashtag_recent", "account": "brand", "hashtag": "summerdrop"}
    ]


async def test_out_of_order_writes_keep_first_and_last_seen(store: Store) -> None:
    """A late older sighting moves neither first_seen_at forward nor last_seen_at back."""
    await store.media.ingest([Sighting(media(), RECENT, T0)])
    await store.media.ingest([Sighting(media(), TOP, T0 - timedelta(minutes=10))])
    await store.media.ingest([Sighting(media(), TOP, T0 - timedelta(minutes=5))])
    doc = await store.media.get("1")
    assert doc is not None
    assert doc["first_seen_at"] == T0 - timedelta(minutes=10)
    assert doc["last_seen_at"] == T0


async def test_username_from_a_later_source_fills_in(store: Store) -> None:
    """A hashtag media gets its author once a source that knows it sees it; none erases it."""
    await store.media.ingest([Sighting(media(), RECENT, T0)])
    await store.media.ingest(
        [Sighting(media(username="ana"), Source(SourceKind.TAGS, "brand"), T0)]
    )
    await store.media.ingest([Sighting(media(), RECENT, T0 + timedelta(minutes=1))])
    doc = await store.media.get("1")
    assert doc is not None
    assert doc["username"] == "ana"


async def test_batch_reports_new_and_duplicate(store: Store) -> None:
    """One bulk call tells new media from known ones, per media id."""
    await store.media.ingest([Sighting(media("a"), RECENT, T0)])
    result = await store.media.ingest(
        [
            Sighting(media("a"), RECENT, T0),
            Sighting(media("b"), RECENT, T0),
            Sighting(media("c"), RECENT, T0),
        ]
    )
    assert sorted(result.new) == ["b", "c"]
    assert result.duplicate == ["a"]


async def test_feed_state_and_hashtag_ids_persist(store: Store) -> None:
    """Hashtag ids and feed success times are kept in MongoDB."""
    assert await store.feeds.hashtag_id("summerdrop") is None
    await store.feeds.save_hashtag_id("summerdrop", "178", T0)
    assert await store.feeds.hashtag_id("summerdrop") == "178"
    await store.feeds.record_success(RECENT, now=T0, new=3, pages=1)
    await store.feeds.record_failure(RECENT, now=T0 + timedelta(minutes=1), error="boom")
    state = await store.feeds.state(RECENT)
    assert state.last_success_at == T0
    assert state.last_poll_at == T0 + timedelta(minutes=1)
    assert state.last_new == 3


async def test_a_page_of_new_media_costs_one_insert(watched: tuple[Store, Commands]) -> None:
    """New media are inserted whole in one command, with no read before it."""
    store, commands = watched
    result = await store.media.ingest([Sighting(media(i), RECENT, T0) for i in "abc"])
    assert sorted(result.new) == ["a", "b", "c"]
    assert commands.names == ["insert"]


async def test_known_media_are_merged_after_their_insert_is_refused(
    watched: tuple[Store, Commands],
) -> None:
    """A batch with known media costs its insert and one bulk of merges, whatever its size."""
    store, commands = watched
    await store.media.ingest([Sighting(media(i, like_count=1), RECENT, T0) for i in "ab"])
    commands.names.clear()
    later = T0 + timedelta(minutes=5)
    result = await store.media.ingest([Sighting(media(i, like_count=7), TOP, later) for i in "abc"])
    assert (sorted(result.new), sorted(result.duplicate)) == (["c"], ["a", "b"])
    assert commands.names == ["insert", "update"]
    for media_id in "ab":
        doc = await store.media.get(media_id)
        assert doc is not None
        assert (doc["first_seen_at"], doc["last_seen_at"], doc["like_count"]) == (T0, later, 7)
        assert len(doc["sources"]) == 2


@pytest.mark.parametrize(
    "bad",
    [media("bad", caption="sunset \ud83d"), media("bad", like_count=2**64), media("bad\udc80")],
    ids=["surrogate-caption", "count-beyond-64-bits", "surrogate-id"],
)
async def test_a_media_mongodb_cannot_store_is_refused_alone(store: Store, bad: Media) -> None:
    """One media MongoDB would refuse is left out with its reason; the page's others are stored,
    new and known alike."""
    await store.media.ingest([Sighting(media("known"), RECENT, T0)])
    later = T0 + timedelta(minutes=1)
    result = await store.media.ingest(
        [Sighting(m, TOP, later) for m in (media("known"), bad, media("new"))]
    )
    assert (result.new, result.duplicate) == (["new"], ["known"])
    assert list(result.refused) == [bad.id]
    assert await store.media.count() == 2


async def test_start_up_replaces_the_timestamp_index_by_one_with_the_id_tie_break(
    store: Store, database: AsyncDatabase[Document]
) -> None:
    """A store made by an earlier version has ``timestamp`` alone; start-up drops it and
    creates ``timestamp_id``, which the export walks in entry order."""
    await database.media.create_index([("timestamp", DESCENDING)], name="timestamp")
    await store.ensure_indexes()
    indexes = await database.media.index_information()
    assert "timestamp" not in indexes
    assert indexes["timestamp_id"]["key"] == [("timestamp", 1), ("_id", 1)]
