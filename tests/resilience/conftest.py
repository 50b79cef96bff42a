"""Fixtures of the resilience tests: a restartable SecantusDB process and a view of it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pymongo import MongoClient
from pymongo.database import Database

from tests.mongo import free_port
from tests.resilience.procs import Mongo


@pytest.fixture
def mongo(tmp_path: Path) -> Iterator[Mongo]:
    """A SecantusDB of the test's own on a fixed port (tests stop and restart it)."""
    server = Mongo(tmp_path / "db", tmp_path / "mongo.log", free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def mongo_db(mongo: Mongo) -> Iterator[Database[dict[str, Any]]]:
    """A fresh database on ``mongo``, read with PyMongo's synchronous client."""
    client: MongoClient[dict[str, Any]] = MongoClient(
        mongo.uri, tz_aware=True, serverSelectionTimeoutMS=10_000
    )
    try:
        yield client[f"r_{uuid.uuid4().hex[:10]}"]
    finally:
        client.close()
