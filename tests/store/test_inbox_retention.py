"""The inbox's retention on a real MongoDB wire server: settled events expire by a TTL index."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pymongo.asynchronous.database import AsyncDatabase

from listener.models import WebhookEvent
from listener.store.inbox import DEAD, DONE, InboxRepository, Retention
from listener.store.mongo import Document, connect
from listener.web.payload import event_key
from testbed import Secantus

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
KEEP = Retention(done=timedelta(days=2), dead=timedelta(days=30))
LEASE = timedelta(minutes=5)


def event(media_id: str, problem: str | None = None) -> WebhookEvent:
    value = {"media_id": media_id}
    return WebhookEvent(
        key=event_key("1784", "mentions", value),
        field="mentions",
        ig_user_id="1784",
        media_id=media_id,
        value=value,
        problem=problem,
    )


async def settle(inbox: InboxRepository, *media_ids: str, how: str) -> None:
    """Claim and settle one event per media id, as done or as a dead letter."""
    await inbox.add([event(m) for m in media_ids], NOW)
    for _ in media_ids:
        claimed = await inbox.claim("w", NOW, LEASE)
        assert claimed is not None
        if how == DONE:
            assert await inbox.done(claimed, "w", NOW, {"media_id": claimed.media_id})
        else:
            assert await inbox.dead(claimed, "w", NOW, "gone")


async def test_ttl_index_deletes_by_each_events_own_date(
    database: AsyncDatabase[Document],
) -> None:
    """The inbox has a TTL index on expire_at that expires at the date itself (0 s after it)."""
    inbox = InboxRepository(database["inbox"], KEEP)
    await inbox.ensure_indexes()
    indexes = await database["inbox"].index_information()
    assert indexes["settled_expiry"]["key"] == [("expire_at", 1)]
    assert indexes["settled_expiry"]["expireAfterSeconds"] == 0


async def test_settled_events_expire_after_their_retention_waiting_ones_never(
    database: AsyncDatabase[Document],
) -> None:
    """done → done retention, dead (settled or refused on arrival) → dead retention, else none."""
    inbox = InboxRepository(database["inbox"], KEEP)
    await inbox.ensure_indexes()
    await settle(inbox, "m-done", how=DONE)
    await settle(inbox, "m-dead", how=DEAD)
    await inbox.add([event("m-refused", problem="no media_id"), event("m-waiting")], NOW)
    expiry = {doc["media_id"]: doc.get("expire_at") async for doc in database["inbox"].find({})}
    assert expiry == {
        "m-done": NOW + KEEP.done,
        "m-dead": NOW + KEEP.dead,
        "m-refused": NOW + KEEP.dead,
        "m-waiting": None,
    }


async def test_events_settled_before_expiry_dates_existed_get_theirs(
    database: AsyncDatabase[Document],
) -> None:
    """Making the indexes dates old settled events from done_at (or received_at), once."""
    collection = database["inbox"]
    await collection.insert_many(
        [
            {"_id": "a", "status": DONE, "done_at": NOW, "received_at": NOW},
            {"_id": "b", "status": DEAD, "received_at": NOW},
            {"_id": "c", "status": "pending", "received_at": NOW},
        ]
    )
    await InboxRepository(collection, KEEP).ensure_indexes()
    expiry = {doc["_id"]: doc.get("expire_at") async for doc in collection.find({})}
    assert expiry == {"a": NOW + KEEP.done, "b": NOW + KEEP.dead, "c": None}


async def test_secantusdb_deletes_expired_settled_events(tmp_path: Path) -> None:
    """SecantusDB honours the TTL index: its sweep deletes settled events past their date only."""
    server = Secantus(tmp_path / "secantus")
    server.start()
    try:
        async with connect(server.uri, f"t_{uuid.uuid4().hex[:8]}", timeout_s=5) as db:
            inbox = InboxRepository(db["inbox"], KEEP)
            await inbox.ensure_indexes()
            await settle(inbox, "m-old", how=DONE)  # settled in 2026: long expired
            await inbox.add([event("m-waiting")], NOW)
            fresh = datetime.now(UTC)
            await inbox.add([event("m-refused-now", problem="bad")], fresh)
            # The sweep SecantusDB runs every 60 s, asked for now (a SecantusDB command).
            await db.client.admin.command("secantusAdmin.pruneTtl")
            left = sorted([doc["media_id"] async for doc in db["inbox"].find({})])
            assert left == ["m-refused-now", "m-waiting"]
    finally:
        server.stop()
