"""The MongoDB connection on PyMongo's async API, and the embedded server for demos and tests.

``mongodb_uri = "embedded"`` starts SecantusDB (a MongoDB wire-protocol server over
WiredTiger) in this process, with its data in ``embedded_path``; everything else goes to the
URI as given. Every PyMongo failure leaves this package as :class:`StoreUnavailableError`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import pymongo
import structlog
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError, PyMongoError

from listener.errors import StoreUnavailableError

log = structlog.get_logger("listener.store")

T = TypeVar("T")
Document = dict[str, Any]


async def guarded(operation: str, call: Callable[[], Awaitable[T]]) -> T:
    """Run one MongoDB call, translating PyMongo's errors at this single boundary."""
    try:
        return await call()
    except PyMongoError as exc:
        raise StoreUnavailableError(
            f"MongoDB {operation} failed: {type(exc).__name__}: {exc}"
        ) from exc


async def guarded_upsert(operation: str, call: Callable[[], Awaitable[T]]) -> T | None:
    """Run one conditional upsert; ``None`` when it lost to a document that fails its filter.

    A filter that does not match an existing document makes the upsert insert one with the
    same ``_id``, which collides: that duplicate key is the answer "someone else holds it",
    not a failure. Other errors are translated as :func:`guarded` does.
    """

    async def collide_as_none() -> T | None:
        try:
            return await call()
        except DuplicateKeyError:
            return None

    return await guarded(operation, collide_as_none)


class _CloseNoise(logging.Filter):
    """Drops SecantusDB's close-time oplog message: it fires on every clean close, by design.

    Its ``Storage.close`` marks the store closed before persisting the oplog counters, so that
    step always fails and logs a traceback; the data checkpoint that follows is unaffected. The
    oplog only serves change streams, which the listener does not use.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("failed to persist oplog meta during close")


_SECANTUS_CLOSE_LOGGER = "secantus.storage.close"


@asynccontextmanager
async def embedded_server(path: Path) -> AsyncIterator[str]:
    """Start SecantusDB on a loopback port with its data under ``path``; yields its URI."""
    try:
        from secantus import SecantusDBServer  # noqa: PLC0415 - optional extra, loaded on demand
    except ImportError:
        raise StoreUnavailableError(
            'mongodb_uri = "embedded" needs the embedded extra: pip install "listener[embedded]"'
        ) from None
    await asyncio.to_thread(path.mkdir, parents=True, exist_ok=True)
    close_logger = logging.getLogger(_SECANTUS_CLOSE_LOGGER)
    if not any(isinstance(f, _CloseNoise) for f in close_logger.filters):
        close_logger.addFilter(_CloseNoise())
    server = SecantusDBServer(host="127.0.0.1", port=0, storage_path=str(path))
    await asyncio.to_thread(server.start)
    log.info("store.embedded_started", path=str(path), port=server.address[1])
    try:
        yield f"mongodb://127.0.0.1:{server.address[1]}/?directConnection=true"
    finally:
        await asyncio.to_thread(server.stop)
        log.info("store.embedded_stopped")


@asynccontextmanager
async def connect(
    uri: str, database: str, *, timeout_s: float, close_timeout_s: float | None = None
) -> AsyncIterator[AsyncDatabase[Document]]:
    """An ``AsyncMongoClient`` for ``uri``, closed on exit; yields the database.

    Connecting is lazy: a database that is down at start-up makes readiness fail, not start-up.
    Closing first ends the client's sessions on the server, a courtesy (the server ends idle
    sessions itself): with the server gone it would wait ``timeout_s`` to find it, so it is
    given ``close_timeout_s`` at most (default: ``timeout_s``).
    """
    timeout_ms = int(timeout_s * 1000)
    client: AsyncMongoClient[Document] = AsyncMongoClient(
        uri,
        tz_aware=True,
        serverSelectionTimeoutMS=timeout_ms,
        connectTimeoutMS=timeout_ms,
        socketTimeoutMS=max(timeout_ms, 30_000),
        retryWrites=True,
        appname="listener",
    )
    try:
        yield client[database]
    finally:
        with pymongo.timeout(timeout_s if close_timeout_s is None else close_timeout_s):
            await client.close()


@asynccontextmanager
async def open_database(
    mongodb_uri: str,
    *,
    embedded_path: Path,
    database: str,
    timeout_s: float,
    close_timeout_s: float | None = None,
) -> AsyncIterator[AsyncDatabase[Document]]:
    """The configured database: the embedded server's when ``mongodb_uri`` is ``embedded``."""
    opened = partial(
        connect, database=database, timeout_s=timeout_s, close_timeout_s=close_timeout_s
    )
    if mongodb_uri == "embedded":
        async with embedded_server(embedded_path) as uri, opened(uri) as db:
            yield db
    else:
        async with opened(mongodb_uri) as db:
            yield db
