"""The HTTP shell: an aiohttp app that maps requests to the world, and the ways to run it.

Handlers stay thin: build a `GraphRequest`, call `endpoints.handle` with the clock's time, stall
if the reply says so (the ``delay`` fault, the only sleep in the simulator), write the reply.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from typing import Final

from aiohttp import web

from listener.simulator import control
from listener.simulator.clock import Clock, system_clock
from listener.simulator.config import SimAccount, SimulatorConfig
from listener.simulator.endpoints import GraphRequest, handle
from listener.simulator.state import SIMULATION, Simulation
from listener.simulator.webhooks import Deliverer
from listener.simulator.world import World

logger = logging.getLogger(__name__)

DEMO_ACCOUNT: Final = SimAccount(
    ig_user_id="17841400000000001",
    access_token="demo-token",  # noqa: S106 - a published demo token, not a secret
    username="brand",
)


def build_app(world: World, clock: Clock) -> web.Application:
    """The simulator as an aiohttp application: ``/__sim/`` control routes, then the Graph API."""
    app = web.Application()
    app[SIMULATION] = Simulation(world=world, clock=clock)
    app.add_routes(control.routes())
    app.router.add_get("/{path:.*}", graph)
    return app


async def graph(request: web.Request) -> web.StreamResponse:
    """Any Graph API GET: ``/{version}/{node}[/{edge}]`` or without the version."""
    sim = request.app[SIMULATION]
    graph_request = GraphRequest(
        path=request.path,
        query={key: request.query.getone(key) for key in request.query},
        base_url=f"{request.scheme}://{request.host}",
        authorization=request.headers.get("Authorization"),
    )
    reply = handle(sim.world, graph_request, sim.clock())
    if reply.delay_s > 0:
        await asyncio.sleep(reply.delay_s)
    if reply.text is not None:
        return web.Response(
            status=reply.status, text=reply.text, content_type="text/html", headers=reply.headers
        )
    return web.json_response(reply.body, status=reply.status, headers=reply.headers)


@dataclass(frozen=True)
class RunningSimulator:
    """A simulator serving on a loopback port."""

    base_url: str  # e.g. "http://127.0.0.1:40123"
    world: World
    clock: Clock
    deliveries: list[asyncio.Task[None]] = field(default_factory=list)

    def deliver_webhooks(
        self,
        url: str,
        *,
        mentions_per_hour: float,
        comments_per_hour: float = 0.0,
        giveaways: Sequence[str] = (),
    ) -> Deliverer:
        """Start publishing mentions and delivering their signed webhooks to ``url``, and the
        queued ``comments`` webhooks: of comments published through the control API, and of
        comments entering the ``giveaways`` (the account's posts) at ``comments_per_hour``."""
        deliverer = Deliverer(
            self.world,
            self.clock,
            url,
            mentions_per_hour=mentions_per_hour,
            seed=self.world.config.seed,
            comments_per_hour=comments_per_hour,
            giveaways=giveaways,
        )
        self.deliveries.append(asyncio.create_task(deliverer.run(), name="simulator:webhooks"))
        self.deliveries.append(
            asyncio.create_task(deliverer.drain(), name="simulator:comment-webhooks")
        )
        self.deliveries.append(
            asyncio.create_task(deliverer.giveaway_comments(), name="simulator:giveaways")
        )
        return deliverer


@asynccontextmanager
async def serve(
    config: SimulatorConfig,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    clock: Clock | None = None,
) -> AsyncIterator[RunningSimulator]:
    """Serve a fresh world built from ``config`` (started at the clock's now) until exit."""
    clock = clock or system_clock
    world = World(config, clock())
    # A short shutdown timeout: a handler stalled by a `delay` fault must not hold up exit.
    runner = web.AppRunner(build_app(world, clock), access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound_port = runner.addresses[0][1]
        shown_host = f"[{host}]" if ":" in host else host
        running = RunningSimulator(f"http://{shown_host}:{bound_port}", world, clock)
        try:
            yield running
        finally:
            for task in running.deliveries:
                task.cancel()
            await asyncio.gather(*running.deliveries, return_exceptions=True)
    finally:
        await runner.cleanup()


async def run_forever(config: SimulatorConfig, host: str, port: int, stop: asyncio.Event) -> None:
    """Serve until ``stop`` is set (``listener simulate``); adds the demo account if none."""
    if not config.accounts:
        config = replace(config, accounts=(DEMO_ACCOUNT,))
    async with serve(config, host=host, port=port) as running:
        logger.info("simulator.started base_url=%s", running.base_url)
        account = config.accounts[0]
        proof = " (plus appsecret_proof)" if config.app_secret else ""
        print(  # noqa: T201 - the operator of `listener simulate` needs the URL and token
            f"Graph API simulator on {running.base_url}; account {account.ig_user_id} "
            f"(@{account.username}), access_token={account.access_token}{proof}\n"
            f"try: curl '{running.base_url}/v25.0/ig_hashtag_search"
            f"?user_id={account.ig_user_id}&q=summer&access_token={account.access_token}'",
            flush=True,
        )
        await stop.wait()
