"""Routing, versions, unknown paths, and running the simulator on its own."""

from __future__ import annotations

import asyncio
import logging

import aiohttp
import pytest

from listener.simulator import DEMO_ACCOUNT, SimulatorConfig, run_forever
from tests.simulator.harness import BRAND, Client


@pytest.mark.parametrize("version", ["v25.0", "v19.0", "v26.0", ""])
async def test_any_version_prefix_or_none_is_accepted(sim: Client, version: str) -> None:
    """Paths work with any vX.Y prefix and without one."""
    reply = await sim.get(f"/{BRAND.ig_user_id}", version=version, fields="username")
    assert reply.body == {"username": "brand", "id": BRAND.ig_user_id}


async def test_unknown_object_is_code_100_subcode_33(sim: Client) -> None:
    """An id that is no account and no hashtag gets Meta's "Unsupported get request"."""
    reply = await sim.get("/12345")
    assert (reply.status, reply.error["code"], reply.error["error_subcode"]) == (400, 100, 33)
    assert reply.error["message"].startswith("Unsupported get request.")


async def test_unknown_edge_is_code_2500(sim: Client) -> None:
    """An edge the node does not have gets "Unknown path components" (code 2500)."""
    reply = await sim.get(f"/{BRAND.ig_user_id}/stories")
    assert reply.error["code"] == 2500


async def test_field_syntax_error_is_code_100(sim: Client) -> None:
    """A fields value that does not parse gets code 100."""
    reply = await sim.get(f"/{BRAND.ig_user_id}", fields="mentioned_media.media_id(1{id}")
    assert reply.error["code"] == 100


async def test_run_forever_serves_a_demo_account_until_stopped(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    """With no accounts, run_forever adds the demo account, logs its URL and stops on the event."""
    started = asyncio.Event()
    base_urls: list[str] = []

    class Started(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.getMessage().startswith("simulator.started"):
                base_urls.append(str(record.args[0]) if isinstance(record.args, tuple) else "")
                started.set()

    logger = logging.getLogger("listener.simulator.server")
    handler = Started()
    logger.addHandler(handler)
    caplog.set_level(logging.INFO, logger="listener.simulator.server")
    stop = asyncio.Event()
    try:
        task = asyncio.create_task(run_forever(SimulatorConfig(), "127.0.0.1", 0, stop))
        await started.wait()
        url = f"{base_urls[0]}/v25.0/{DEMO_ACCOUNT.ig_user_id}"
        async with (
            aiohttp.ClientSession() as session,
            session.get(
                url, params={"fields": "username", "access_token": "demo-token"}
            ) as response,
        ):
            assert await response.json() == {"username": "brand", "id": DEMO_ACCOUNT.ig_user_id}
        stop.set()
        await task
    finally:
        logger.removeHandler(handler)
    assert "access_token=demo-token" in capsys.readouterr().out
