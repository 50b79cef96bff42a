"""The simulator's state inside an aiohttp application: one typed app key."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from listener.simulator.clock import Clock
from listener.simulator.world import World


@dataclass(frozen=True)
class Simulation:
    """The world a server answers from, and the clock that says when "now" is."""

    world: World
    clock: Clock


SIMULATION = web.AppKey("simulation", Simulation)
