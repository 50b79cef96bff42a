"""The store as every entry point opens it: the configured MongoDB, or the embedded server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from listener.settings import Settings
from listener.store.inbox import Retention
from listener.store.mongo import open_database
from listener.store.store import Store


@asynccontextmanager
async def open_store(
    settings: Settings, *, close_timeout_s: float | None = None
) -> AsyncIterator[Store]:
    """The configured store, closed on exit (at most ``close_timeout_s``, default the timeout).

    Raises :class:`~listener.errors.StoreUnavailableError` when the embedded server cannot start.
    """
    config = settings.store
    async with open_database(
        config.mongodb_uri.get_secret_value(),
        embedded_path=config.embedded_path,
        database=config.database,
        timeout_s=config.timeout_s,
        close_timeout_s=close_timeout_s,
    ) as database:
        yield Store(
            database,
            inbox_retention=Retention(
                done=timedelta(seconds=config.inbox_done_retention_s),
                dead=timedelta(seconds=config.inbox_dead_retention_s),
            ),
        )
