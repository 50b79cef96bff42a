"""The Graph API simulator as a standalone process, with a world shaped for resilience tests.

``listener simulate`` serves a world of 60 posts an hour per tag with 30 hours of history: more
than a 24-hour ``recent_media`` window holds in ten pages, so media age out by design. These
tests need a world whose every media stays reachable, hence the knobs this entry point adds::

    python -m tests.resilience.simworld --port N --seed S --hashtags a,b,c \
        --posts-per-hour 1800 --backfill-hours 0.1 [--hosts 127.0.0.1,127.0.0.2]

The world lives as long as the process: restarting a worker does not change it. SIGTERM or
SIGINT stops it. Readiness: ``GET /__sim/stats`` answers.

One world can listen on several loopback addresses: replicas pointed at different addresses
can then be told apart in ``GET /__resilience/calls``, which lists every Graph call with the
address it came in on, its path, whether it asked for a next page, and when it started and
ended (the simulator's own call log knows neither the address nor the end).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from listener.simulator import DEMO_ACCOUNT, SimulatorConfig, World, build_app, system_clock

CALLS_PATH = "/__resilience/calls"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="simworld")
    parser.add_argument("--hosts", default="127.0.0.1", help="comma-separated loopback addresses")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--hashtags", default="", help="comma-separated known hashtags")
    parser.add_argument("--posts-per-hour", type=float, default=60.0, help="per hashtag")
    parser.add_argument("--backfill-hours", type=float, default=0.0)
    return parser


def config_from(args: argparse.Namespace) -> SimulatorConfig:
    """The world the arguments describe, with the demo account and generous Meta budgets."""
    tags = [tag for tag in args.hashtags.split(",") if tag]
    return SimulatorConfig(
        seed=args.seed,
        accounts=(DEMO_ACCOUNT,),
        hashtag_rates=dict.fromkeys(tags, args.posts_per_hour),
        default_rate_per_hour=0.0,
        backfill_hours=args.backfill_hours,
        tag_rate_per_hour=0.0,
        app_calls_per_hour=1_000_000,
        buc_calls_per_hour=1_000_000,
    )


def caller_log() -> Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]:
    """A middleware that records each Graph call's address, path and timing."""
    calls: list[dict[str, Any]] = []

    @web.middleware
    async def record(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path == CALLS_PATH:
            return web.json_response(calls)
        if request.path.startswith("/__sim/"):
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


async def _serve(args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    world = World(config_from(args), system_clock())
    app = build_app(world, system_clock)
    app.middlewares.append(caller_log())
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    try:
        for host in args.hosts.split(","):
            await web.TCPSite(runner, host, args.port).start()
        print(f"simworld on port {args.port} ({args.hosts})", flush=True)
        await stop.wait()
    finally:
        await runner.cleanup()


def main() -> None:
    """Serve until signalled."""
    asyncio.run(_serve(_parser().parse_args()))


if __name__ == "__main__":
    main()
