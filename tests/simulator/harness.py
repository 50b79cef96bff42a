"""A small HTTP client for simulator tests: one call, one `Reply` (status, JSON body, headers)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp

from listener.simulator import ManualClock, RunningSimulator, SimAccount, World

START = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
BRAND = SimAccount(ig_user_id="17841400000000001", access_token="brand-token", username="brand")
OTHER = SimAccount(ig_user_id="17841400000000002", access_token="other-token", username="other")
VERSION = "v25.0"


@dataclass(frozen=True)
class Reply:
    """One answer from the simulator."""

    status: int
    body: Any
    headers: Mapping[str, str]
    text: str

    @property
    def error(self) -> dict[str, Any]:
        """The Graph error object (fails the test when the body has none)."""
        assert isinstance(self.body, dict), self.text
        assert "error" in self.body, self.body
        error: dict[str, Any] = self.body["error"]
        return error

    @property
    def app_usage(self) -> dict[str, int]:
        """The decoded ``X-App-Usage`` header."""
        decoded: dict[str, int] = json.loads(self.headers["X-App-Usage"])
        return decoded

    def buc_usage(self, ig_user_id: str) -> dict[str, Any]:
        """The account's entry in the decoded ``X-Business-Use-Case-Usage`` header."""
        decoded = json.loads(self.headers["X-Business-Use-Case-Usage"])
        entry: dict[str, Any] = decoded[ig_user_id][0]
        return entry


class Client:
    """Calls a running simulator as ``account`` (the token is added unless given)."""

    def __init__(
        self, session: aiohttp.ClientSession, running: RunningSimulator, clock: ManualClock
    ) -> None:
        self.session = session
        self.running = running
        self.base_url = running.base_url
        self.clock = clock

    @property
    def world(self) -> World:
        """The simulated world behind the server."""
        return self.running.world

    async def get(
        self,
        path: str,
        query: Mapping[str, str] | None = None,
        *,
        account: SimAccount = BRAND,
        version: str = VERSION,
        **params: str,
    ) -> Reply:
        """GET ``/{version}{path}`` with ``account``'s token unless ``access_token`` is given."""
        params = {"access_token": account.access_token, **(query or {}), **params}
        prefix = f"/{version}" if version else ""
        return await self.get_url(f"{self.base_url}{prefix}{path}", params)

    async def get_url(self, url: str, params: Mapping[str, str] | None = None) -> Reply:
        """GET a full URL as it is (e.g. a ``next`` link)."""
        async with self.session.get(url, params=params) as response:
            return await _reply(response)

    async def control(self, path: str, body: object) -> Reply:
        """POST JSON to the control API."""
        async with self.session.post(f"{self.base_url}/__sim/{path}", json=body) as response:
            return await _reply(response)

    async def search(self, tag: str, account: SimAccount = BRAND) -> Reply:
        """``ig_hashtag_search`` for ``tag`` as ``account``."""
        return await self.get(
            "/ig_hashtag_search", account=account, user_id=account.ig_user_id, q=tag
        )

    async def media(self, tag: str, edge: str = "recent_media", **params: str) -> Reply:
        """A hashtag edge of ``tag`` as BRAND."""
        params.setdefault("user_id", BRAND.ig_user_id)
        return await self.get(f"/{self.world.hashtag_id(tag)}/{edge}", params)


async def _reply(response: aiohttp.ClientResponse) -> Reply:
    text = await response.text()
    try:
        body = json.loads(text)
    except (ValueError, RecursionError):
        body = None
    return Reply(response.status, body, dict(response.headers), text)
