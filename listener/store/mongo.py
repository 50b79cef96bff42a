"""The MongoDB connection on PyMongo's async API, to the configured server or the embedded one.

``mongodb_uri = "embedded"`` starts SecantusDB in a child process with its data in
``embedded_path`` (:mod:`listener.store.embedded`); everything else goes to the URI as given.
Every PyMongo failure leaves this package as :class:`StoreUnavailableError`, described by
:func:`describe`: its kind, code, message and index, never the documents PyMongo's errors carry.
:func:`unstorable` says, before a batch is written, which of its documents MongoDB could not
take, so one bad document never fails the others.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any, Final, TypeVar

import bson
import pymongo
import structlog
from bson.errors import BSONError
from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError, OperationFailure, PyMongoError

from listener.errors import StoreUnavailableError
from listener.store.embedded import embedded_server

log = structlog.get_logger("listener.store")

T = TypeVar("T")
Document = dict[str, Any]

MAX_DEPTH: Final = 100
"""MongoDB stores no document nested deeper: the document is one level, each object or array
inside it one more."""
MAX_DOCUMENT_BYTES: Final = 16 * 1024 * 1024
"""MongoDB's largest document."""
_MESSAGE_CHARS: Final = 300
_LISTED_ERRORS: Final = 3


def unstorable(document: Mapping[str, Any]) -> str | None:
    """Why MongoDB cannot store ``document`` as it is; ``None`` when it can.

    PyMongo's encoder refuses an integer beyond 64 bits (``OverflowError``) or a string holding
    a lone surrogate (``UnicodeEncodeError``) with errors that are not PyMongo's, for the whole
    batch; the server refuses nesting beyond :data:`MAX_DEPTH` and documents beyond 16 MiB.
    """
    if _depth(document) > MAX_DEPTH:
        return f"nested deeper than MongoDB's {MAX_DEPTH} levels"
    try:
        size = len(bson.encode(document))
    except OverflowError:
        return "an integer does not fit in 64 bits"
    except UnicodeEncodeError:
        return "a string is not valid Unicode (a lone surrogate)"
    except (BSONError, ValueError, TypeError) as exc:
        return f"not a BSON document ({type(exc).__name__})"
    if size > MAX_DOCUMENT_BYTES:
        return "larger than MongoDB's 16 MiB document limit"
    return None


def _depth(document: Mapping[str, Any]) -> int:
    """Levels of nesting, the document itself being one; walked level by level, no recursion.

    Stops counting once past :data:`MAX_DEPTH`.
    """
    level, containers = 1, list[Any]([document])
    while level <= MAX_DEPTH:
        inner = [
            child
            for value in containers
            for child in (value.values() if isinstance(value, Mapping) else value)
            if isinstance(child, dict | list | tuple)
        ]
        if not inner:
            return level
        level, containers = level + 1, inner
    return level


def describe(exc: PyMongoError) -> str:
    """A PyMongo error as its kind, code, message and index, for logs and raised errors.

    PyMongo's messages append the server's whole reply, and write errors quote the document
    written (``op``): a stranger's megabyte would reach the logs. Only the parts named here do.
    """
    if isinstance(exc, BulkWriteError):
        errors: list[Mapping[str, Any]] = exc.details.get("writeErrors", [])
        concern: list[Mapping[str, Any]] = exc.details.get("writeConcernErrors", [])
        parts = [_write_error(error) for error in errors[:_LISTED_ERRORS]]
        if len(errors) > _LISTED_ERRORS:
            parts.append(f"{len(errors) - _LISTED_ERRORS} more")
        parts += [f"write concern {_write_error(error)}" for error in concern[:1]]
        return f"BulkWriteError: {len(errors)} write errors: " + "; ".join(parts)
    if isinstance(exc, OperationFailure):
        details = exc.details or {}
        message = details.get("errmsg") or str(exc).split(", full error:", 1)[0]
        return f"{type(exc).__name__}: code {exc.code}: {_short(message)}"
    return f"{type(exc).__name__}: {_short(str(exc))}"


def _write_error(error: Mapping[str, Any]) -> str:
    return f"index {error.get('index')} code {error.get('code')}: {_short(error.get('errmsg', ''))}"


def _short(message: object) -> str:
    text = str(message)
    return text if len(text) <= _MESSAGE_CHARS else text[:_MESSAGE_CHARS] + "…"


async def guarded(operation: str, call: Callable[[], Awaitable[T]]) -> T:
    """Run one MongoDB call, translating PyMongo's errors at this single boundary."""
    try:
        return await call()
    except PyMongoError as exc:
        raise StoreUnavailableError(f"MongoDB {operation} failed: {describe(exc)}") from exc


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


async def stream(
    collection: AsyncCollection[Document],
    what: str,
    query: Document,
    *,
    sort: list[tuple[str, int]],
    projection: Document | None = None,
) -> AsyncIterator[Document]:
    """Documents of ``collection`` matching ``query`` in ``sort`` order, from a cursor (constant
    memory); a failure is a :class:`StoreUnavailableError` naming ``what`` was read."""
    try:
        cursor = collection.find(query, projection, sort=sort, batch_size=500)
        async for document in cursor:
            yield document
    except PyMongoError as exc:
        raise StoreUnavailableError(f"MongoDB {what} read failed: {describe(exc)}") from exc
