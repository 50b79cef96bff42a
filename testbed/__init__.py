"""The process harness of the tests and the benchmarks: real processes on loopback.

SecantusDB (:mod:`testbed.store`), the Graph API simulator (:mod:`testbed.simulator`, serving
:mod:`testbed.simworld`) and workers (:mod:`testbed.worker`, with the TOML config they read),
each in a process of its own, started until it answers and stopped by SIGTERM;
:mod:`testbed.processes` holds what they share: bounded waits, free ports, resident memory and
CPU time. ``tests/`` and ``bench/`` both build on it; it imports neither, and the worker
(``listener``) never imports it.
"""

from testbed.processes import (
    WaitTimeoutError,
    free_port,
    http,
    rss_kib,
    running,
    wait_until,
)
from testbed.simulator import Simulator
from testbed.store import Secantus, secantus
from testbed.worker import Scrape, Worker, stop_all, write_config

__all__ = [
    "Scrape",
    "Secantus",
    "Simulator",
    "WaitTimeoutError",
    "Worker",
    "free_port",
    "http",
    "rss_kib",
    "running",
    "secantus",
    "stop_all",
    "wait_until",
    "write_config",
]
