"""The Graph API simulator as a process of its own, with what tests and benchmarks read back.

``listener simulate`` serves the demo's world. Tests and benchmarks shape theirs (accounts,
rates, history, budgets: :func:`encode` / :func:`decode` carry a
:class:`~listener.simulator.SimulatorConfig` on the command line)::

    python -m testbed.simworld --port N --config JSON [--hosts 127.0.0.1,127.0.0.2]

The world lives as long as the process: restarting a worker does not change it. SIGTERM or
SIGINT stops it. Readiness: ``GET /__sim/stats`` answers.

One world can listen on several loopback addresses: replicas pointed at different addresses
can then be told apart in ``GET /__testbed/calls``, which lists every Graph call with the
address it came in on, its path, whether it asked for a next page, and when it started and
ended (the simulator's own call log knows neither the address nor the end).
``POST /__testbed/published`` with ``{"tags": [...]}`` answers what the world has published on
those hashtags so far: ``{"start", "end", "posts": {id: [timestamp, tag]}}``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Middleware

from listener.simulator import SimAccount, SimulatorConfig, World, build_app, system_clock

CALLS_PATH = "/__testbed/calls"
PUBLISHED_PATH = "/__testbed/published"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_KNOBS = (
    "seed",
    "default_rate_per_hour",
    "backfill_hours",
    "cross_post_ratio",
    "tag_rate_per_hour",
    "app_secret",
    "app_calls_per_hour",
    "buc_calls_per_hour",
)


def encode(config: SimulatorConfig) -> str:
    """``config`` as JSON: its accounts (id, token, username), hashtag rates and :data:`_KNOBS`."""
    return json.dumps(
        {
            "accounts": [[a.ig_user_id, a.access_token, a.username] for a in config.accounts],
            "hashtag_rates": dict(config.hashtag_rates),
            **{knob: getattr(config, knob) for knob in _KNOBS},
        }
    )


def decode(text: str) -> SimulatorConfig:
    """The config :func:`encode` wrote."""
    fields = json.loads(text)
    accounts = tuple(SimAccount(*account) for account in fields.pop("accounts"))
    return SimulatorConfig(accounts=accounts, **fields)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="simworld")
    parser.add_argument("--hosts", default="127.0.0.1", help="comma-separated loopback addresses")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--config", type=decode, required=True, help="encode()'s JSON")
    return parser


def caller_log() -> Middleware:
    """A middleware that records each Graph call's address, path and timing."""
    calls: list[dict[str, Any]] = []

    @web.middleware
    async def record(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path == CALLS_PATH:
            return web.json_response(calls)
        if request.path.startswith(("/__sim/", "/__testbed/")):
            return await handler(request)
        sockname = request.transport.get_extra_info("sockname") if request.transport else None
        call: dict[str, Any] = {
            "address": sockname[0] if sockname else "",
            "path": request.path,
            "next_page": "after" in request.query or "page_token" in request.query,
            "started": time.time(),
            "ended": None,
            "status": None,
        }
        calls.append(call)
        try:
            response = await handler(request)
        finally:
            call["ended"] = time.time()
        call["status"] = response.status
        return response

    return record


def published(world: World, tags: list[str], end: datetime) -> dict[str, Any]:
    """What the world published on ``tags`` from its origin to ``end``."""
    posts: dict[str, list[str]] = {}
    for tag in tags:
        for post in world._hashtag_posts(world.hashtag_id(tag), world.origin, end):
            posts[post.id] = [post.timestamp.isoformat(), tag]
    return {"start": world.start.isoformat(), "end": end.isoformat(), "posts": posts}


def published_route(world: World) -> web.RouteDef:
    """``POST /__testbed/published``: :func:`published` up to now."""

    async def handle(request: web.Request) -> web.Response:
        body = await request.json()
        return web.json_response(published(world, list(body["tags"]), system_clock()))

    return web.post(PUBLISHED_PATH, handle)


async def _serve(args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    world = World(args.config, system_clock())
    app = build_app(world, system_clock)
    app.middlewares.append(caller_log())
    app.router.add_routes([published_route(world)])
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    try:
        for host in args.hosts.split(","):
            await web.TCPSite(runner, host, args.port).start()
        print(f"simworld on port {args.port} ({args.hosts})", flush=True)  # noqa: T201 - its log
        await stop.wait()
    finally:
        await runner.cleanup()


def main() -> None:
    """Serve until signalled."""
    asyncio.run(_serve(_parser().parse_args()))


if __name__ == "__main__":
    main()
