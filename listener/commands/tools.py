"""What a one-shot command opens: the simulator (demo), the store and the Graph clients.

Which token a command uses: the stored renewed token while it stands in for the configured one
(:class:`~listener.store.tokens.TokenRepository`), else the configured one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

import aiohttp
from prometheus_client import CollectorRegistry

from listener.assembly.graph import graph_clients
from listener.assembly.store import open_store
from listener.commands.report import Report
from listener.demo import graph_hosts
from listener.errors import StoreUnavailableError
from listener.graph.instagram import Credentials, InstagramApi
from listener.graph.tokens import TokenApi, current_token
from listener.metrics import Metrics
from listener.settings import AccountSettings, Settings
from listener.store.store import Store
from listener.store.tokens import TokenRepository


def utcnow() -> datetime:
    """The wall clock, in UTC: what a command runs on unless a test gives it another."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class Tools:
    """What a command works with."""

    api: TokenApi
    store: Store | None  # None when the store could not even be started
    instagram: InstagramApi

    @property
    def tokens(self) -> TokenRepository | None:
        """The renewed tokens, when there is a store."""
        return None if self.store is None else self.store.tokens

    async def credentials(self, account: AccountSettings) -> Credentials:
        """The account's credentials, with its renewed token while that stands in."""
        configured = account.access_token.get_secret_value()
        token = await current_token(self.tokens, account.name, configured)
        return Credentials(account.name, account.ig_user_id, token)


@asynccontextmanager
async def open_tools(
    settings: Settings, report: Report, clock: Callable[[], datetime]
) -> AsyncIterator[Tools]:
    """Start the simulator (demo), the store and the Graph clients; close them in reverse order.

    A store that cannot even start is a problem line, and the command goes on without it.
    """
    async with AsyncExitStack() as stack:
        hosts = await stack.enter_async_context(graph_hosts(settings))
        store: Store | None = None
        try:
            store = await stack.enter_async_context(open_store(settings))
        except StoreUnavailableError as exc:
            report.problem("store", str(exc))
        session = await stack.enter_async_context(aiohttp.ClientSession())
        graph = graph_clients(
            session=session,
            settings=settings,
            metrics=Metrics(CollectorRegistry()),  # a one-shot command exposes no metrics
            hosts=hosts,
            clock=clock,
        )
        yield Tools(graph.tokens, store, graph.instagram)


async def reachable(tools: Tools, report: Report, *, quiet: bool) -> TokenRepository | None:
    """The token repository when MongoDB answers a ping; a problem line when it does not."""
    if tools.store is None:
        return None
    try:
        await tools.store.ping()
    except StoreUnavailableError as exc:
        report.problem("store", str(exc)[:300])
        return None
    if not quiet:
        report.ok("store", "MongoDB answers")
    return tools.tokens
