"""Fixtures of the resilience tests: a restartable SecantusDB process and a view of it."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pymongo import MongoClient
from pymongo.database import Database

from listener.store.mongo import connect
from listener.store.store import Store
from testbed import Secantus


@pytest.fixture
def mongo(tmp_path: Path) -> Iterator[Secantus]:
    """A SecantusDB of the test's own on a fixed port (tests stop and restart it)."""
    server = Secantus(tmp_path / "db", log_path=tmp_path / "mongo.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def _create_indexes(uri: str, name: str) -> None:
    async with connect(uri, name, timeout_s=10) as db:
        await Store(db).ensure_indexes()


@pytest.fixture
def mongo_db(mongo: Secantus) -> Iterator[Database[dict[str, Any]]]:
    """A fresh database on ``mongo`` with the worker's indexes, read with PyMongo's sync client.

    The indexes are made here, before any worker starts, because SecantusDB 0.7.0b3 can
    livelock when ``createIndexes`` creates a collection while an insert creates the same one
    (a worker's start-up index task racing its first poll or a webhook): both calls hang and
    the server cannot stop. Real MongoDB has no such race; the worker makes the same indexes
    again at start-up, as a no-op.
    """
    name = f"r_{uuid.uuid4().hex[:10]}"
    asyncio.run(_create_indexes(mongo.uri, name))
    client: MongoClient[dict[str, Any]] = MongoClient(
        mongo.uri, tz_aware=True, serverSelectionTimeoutMS=10_000
    )
    try:
        yield client[name]
    finally:
        client.close()
