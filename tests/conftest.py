"""Shared fixtures: a real MongoDB wire server (SecantusDB, or LISTENER_TEST_MONGODB_URI),
one fresh database per test, and a fresh metrics registry per test. Plugins: the simulator's
fixtures, and skips that fail in CI (``tests.skips``)."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from pymongo import AsyncMongoClient, monitoring
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import AutoReconnect

from listener.metrics import Metrics
from listener.store.mongo import Document, connect
from listener.store.store import Store
from testbed import Secantus


@pytest.fixture(scope="session")
def mongo_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A MongoDB URI shared by the session: LISTENER_TEST_MONGODB_URI, else an embedded server."""
    external = os.environ.get("LISTENER_TEST_MONGODB_URI")
    if external:
        yield external
        return
    server = Secantus(tmp_path_factory.mktemp("secantus"))
    server.start()
    try:
        yield server.uri
    finally:
        server.stop()


@pytest.fixture
async def database(mongo_uri: str) -> AsyncIterator[AsyncDatabase[Document]]:
    """A database of its own for one test, dropped afterwards.

    A test that ran a command line with ``subprocess.run`` blocked the event loop meanwhile; the
    driver's heartbeat then times out when the loop resumes, and the pool reset it causes cancels
    the drop in flight (``AutoReconnect``). The drop is asked once more on the fresh pool.
    """
    name = f"t_{uuid.uuid4().hex[:12]}"
    async with connect(mongo_uri, name, timeout_s=5) as db:
        yield db
        try:
            await db.client.drop_database(name)
        except AutoReconnect:
            await db.client.drop_database(name)


@pytest.fixture
async def store(database: AsyncDatabase[Document]) -> Store:
    """A store with its indexes, on the test's database."""
    store = Store(database)
    await store.ensure_indexes()
    return store


@pytest.fixture
def registry() -> CollectorRegistry:
    """A fresh Prometheus registry."""
    return CollectorRegistry()


@pytest.fixture
def metrics(registry: CollectorRegistry) -> Metrics:
    """The worker's metrics on a fresh registry."""
    return Metrics(registry)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """An empty folder for an embedded server's data."""
    path = tmp_path / "data"
    path.mkdir()
    return path


pytest_plugins = ["tests.commandenv", "tests.graphsim", "tests.skips"]


class Commands(monitoring.CommandListener):
    """The names of the commands a client sends, in order."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.names.append(event.command_name)

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@pytest.fixture
async def watched(
    mongo_uri: str, database: AsyncDatabase[Document], store: Store
) -> AsyncIterator[tuple[Store, Commands]]:
    """The test's store through a client that records every command it sends."""
    commands = Commands()
    client: AsyncMongoClient[Document] = AsyncMongoClient(
        mongo_uri, tz_aware=True, event_listeners=[commands]
    )
    try:
        yield Store(client[database.name]), commands
    finally:
        await client.close()
