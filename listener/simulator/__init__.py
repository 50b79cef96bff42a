"""A faithful stand-in for Meta's Instagram Graph API (Facebook Login host), for demos and tests.

The simulator owns a simulated Instagram: accounts and their tokens (debug, exchange, refresh),
hashtag and tagged media generated as seeded Poisson streams, comments, static hashtag ids, the
per-account 30-hashtags-in-7-days ledger, Platform and BUC rate-limit usage, scripted throttles
and faults, and call statistics.
It serves them over HTTP with Meta's URLs, paging quirks, usage headers and error bodies.

Used by ``make run`` (in-process), ``listener simulate`` (alone), the worker's tests and the
benchmarks. The worker never imports it (an import-linter contract keeps it so); it depends on
aiohttp and the standard library only.

Layout: `config` (what a world is made of) → `content`, `ledger`, `tokens`, `usage`, `faults`,
`stats` (pure pieces) → `world` (state and rules) → `fieldexpansion`, `endpoints/` (Graph wire
shapes, pure; one module per family of endpoints) → `server`, `control` (the aiohttp shell).
"""

from listener.simulator.clock import Clock, ManualClock, system_clock
from listener.simulator.config import SimAccount, SimulatorConfig, TokenKind
from listener.simulator.errors import GraphError
from listener.simulator.server import (
    DEMO_ACCOUNT,
    RunningSimulator,
    build_app,
    run_forever,
    serve,
)
from listener.simulator.stats import CallRecord, Stats
from listener.simulator.tokens import SimToken
from listener.simulator.world import World

__all__ = [
    "DEMO_ACCOUNT",
    "CallRecord",
    "Clock",
    "GraphError",
    "ManualClock",
    "RunningSimulator",
    "SimAccount",
    "SimToken",
    "SimulatorConfig",
    "Stats",
    "TokenKind",
    "World",
    "build_app",
    "run_forever",
    "serve",
    "system_clock",
]
