"""What the command tests share: a quiet simulator on a manual clock, the test's database,
and settings pointing at both. A pytest plugin: the ``launch`` and ``env`` fixtures."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from pydantic import SecretStr
from pymongo.asynchronous.database import AsyncDatabase

from listener.commands.check import check
from listener.commands.token import refresh_tokens
from listener.graph.client import GraphClient
from listener.graph.tokens import TokenApi
from listener.metrics import Metrics
from listener.settings import Settings
from listener.simulator import ManualClock, SimAccount, SimulatorConfig, World, serve
from listener.store.mongo import Document
from listener.store.tokens import TokenRepository

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
APP_ID = "1234567890"
APP_SECRET = "app-secret-for-admin-tests"
BRAND = SimAccount(ig_user_id="17841400000000001", access_token="EAA-brand-token", username="brand")
IGBRAND = SimAccount(
    ig_user_id="17841400000000002",
    access_token="IGAA-igbrand-token",
    username="igbrand",
    login="instagram",
)
SECRETS = (BRAND.access_token, IGBRAND.access_token, APP_SECRET, f"{APP_ID}|")
BRAND_CONFIG: dict[str, Any] = {
    "name": "brand",
    "ig_user_id": BRAND.ig_user_id,
    "access_token": BRAND.access_token,
    "hashtags": ["summerdrop"],
}
IGBRAND_CONFIG: dict[str, Any] = {
    "name": "igbrand",
    "login": "instagram",
    "ig_user_id": IGBRAND.ig_user_id,
    "access_token": IGBRAND.access_token,
}


@dataclass
class Env:
    """A simulator on a manual clock, the test's database, and settings pointing at both."""

    world: World
    clock: ManualClock
    base_url: str
    mongo_uri: str
    database: AsyncDatabase[Document]
    outputs: list[str] = field(default_factory=list)

    def settings(
        self,
        *accounts: dict[str, Any],
        app_id: str = APP_ID,
        mongodb_uri: str | None = None,
        store_timeout_s: float = 5.0,
    ) -> Settings:
        """Settings for ``accounts`` (default: brand) on this simulator and database."""
        return Settings(
            graph={
                "base_url": self.base_url,
                "instagram_base_url": self.base_url,
                "app_id": app_id,
                "app_secret": APP_SECRET,
                "timeout_s": 5,
            },
            store={
                "mongodb_uri": mongodb_uri or self.mongo_uri,
                "database": self.database.name,
                "timeout_s": store_timeout_s,
            },
            ratelimit={"max_attempts": 1},
            accounts=list(accounts or (BRAND_CONFIG,)),
        )

    def store_down(self, settings: Settings) -> Settings:
        """``settings`` with a MongoDB nobody answers at, given 0.2 s to answer."""
        return settings.model_copy(
            update={
                "store": settings.store.model_copy(
                    update={
                        "mongodb_uri": SecretStr("mongodb://127.0.0.1:1/?directConnection=true"),
                        "timeout_s": 0.2,
                    }
                )
            }
        )

    async def check(self, settings: Settings) -> tuple[int, list[str]]:
        """Run ``check`` at the simulator's time; (exit code, output lines)."""
        out = io.StringIO()
        code = await check(settings, out, clock=self.clock)
        self.outputs.append(out.getvalue())
        return code, out.getvalue().splitlines()

    async def refresh(
        self, settings: Settings, account: str | None = None
    ) -> tuple[int, list[str]]:
        """Run ``token refresh`` at the simulator's time; (exit code, output lines)."""
        out = io.StringIO()
        code = await refresh_tokens(settings, out, account, clock=self.clock)
        self.outputs.append(out.getvalue())
        return code, out.getvalue().splitlines()

    @property
    def tokens(self) -> TokenRepository:
        """The renewed-token repository on the test's database."""
        return TokenRepository(self.database["tokens"])


Launch = Callable[..., Awaitable[Env]]


@asynccontextmanager
async def token_api(env: Env, metrics: Metrics) -> AsyncIterator[TokenApi]:
    """A TokenApi on the simulator, as the worker would build it, on the simulator's clock."""
    async with aiohttp.ClientSession() as session:
        client = GraphClient(
            session,
            base_url=env.base_url,
            api_version="v25.0",
            app_secret=APP_SECRET,
            timeout_s=5,
            metrics=metrics,
        )
        yield TokenApi(client, client, clock=env.clock)


@pytest.fixture
async def launch(mongo_uri: str, database: AsyncDatabase[Document]) -> AsyncIterator[Launch]:
    """Start a quiet simulator knowing the app and ``accounts`` (default: BRAND and IGBRAND).

    Afterwards, no output of the test may have shown a token or the app secret.
    """
    envs: list[Env] = []
    async with AsyncExitStack() as stack:

        async def start(*accounts: SimAccount) -> Env:
            clock = ManualClock(NOW)
            config = SimulatorConfig(
                accounts=accounts or (BRAND, IGBRAND),
                default_rate_per_hour=0.0,
                backfill_hours=0.0,
                tag_rate_per_hour=0.0,
                app_secret=APP_SECRET,
                app_id=APP_ID,
            )
            running = await stack.enter_async_context(serve(config, clock=clock))
            env = Env(running.world, clock, running.base_url, mongo_uri, database)
            envs.append(env)
            return env

        yield start
    for env in envs:
        for text in env.outputs:
            for secret in SECRETS:
                assert secret not in text


@pytest.fixture
async def env(launch: Launch) -> Env:
    """The default simulator: BRAND (Facebook Login) and IGBRAND (Instagram Login)."""
    return await launch()


def demo_settings(tmp_path: Path) -> Settings:
    """The demo: in-process simulator and embedded store, app id and secret set."""
    return Settings(
        store={"mongodb_uri": "embedded", "embedded_path": tmp_path / "data"},
        simulator={"enabled": True},
        graph={"app_id": APP_ID, "app_secret": "demo-app-secret"},
        accounts=[BRAND_CONFIG],
    )
