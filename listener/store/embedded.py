"""The embedded store: SecantusDB, a MongoDB wire server over WiredTiger, as a child process.

``mongodb_uri = "embedded"`` (the demo behind ``make run``, and the one-shot commands on it) runs
``python -m secantus`` with its data in ``embedded_path``; this module never imports it.
SecantusDB is a beta licensed GPL-2.0-only, so it stays out of the worker's Apache-2.0 process;
a crash of either cannot take the other down, and the store does not compete with the worker
for one interpreter lock.

Start: a loopback port that was free a moment ago, the flags on the command line, and a config
file of its own in the data folder (so no ``secantusd.toml`` found elsewhere changes it); its
output goes to ``secantusd.log`` in the data folder. It is ready once it answers ``ping``. Its
own session: a Ctrl-C at the terminal reaches the worker alone, which closes its client before
it stops the store. Stop: SIGTERM (SecantusDB checkpoints and exits), SIGKILL after
:data:`STOP_TIMEOUT_S`. On Linux the child is also sent SIGTERM should the worker die without
stopping it, so no orphan keeps the data folder locked. A child that exits on its own is logged
(``store.embedded_exited``); the store is then unavailable, and ``/readyz`` answers 503.

:func:`command` is the one place that knows how SecantusDB is started: the test and benchmark
harness starts it the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import os
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Final

import structlog
from pymongo import AsyncMongoClient
from pymongo.errors import PyMongoError

from listener.errors import StoreUnavailableError

log = structlog.get_logger("listener.store")

MODULE: Final = "secantus"
"""The package the ``embedded`` extra installs; run as ``python -m secantus``."""
HOST: Final = "127.0.0.1"
START_TIMEOUT_S: Final = 60.0
"""How long a starting store may take to answer: WiredTiger recovers a large folder slowly."""
STOP_TIMEOUT_S: Final = 15.0
"""How long a stopping store may take to checkpoint and exit before it is killed."""
LOG_NAME: Final = "secantusd.log"
CONFIG_NAME: Final = "secantusd.toml"
_DEATH_SIGNAL: Final = (
    "import ctypes, os, signal, sys\n"
    "ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)\n"  # PR_SET_PDEATHSIG
    "if os.getppid() != int(sys.argv[1]):\n"
    "    sys.exit(1)\n"
    "os.execv(sys.argv[2], sys.argv[2:])\n"
)
_CONFIG_TEXT: Final = (
    "# Written by the listener at each start of its embedded store: the settings are its\n"
    "# command-line flags. This file only keeps a secantusd.toml found elsewhere out.\n"
)


def installed() -> bool:
    """Whether this interpreter has the ``embedded`` extra (found, not imported)."""
    return importlib.util.find_spec(MODULE) is not None


def uri(port: int) -> str:
    """The URI of a store on ``port``."""
    return f"mongodb://{HOST}:{port}/?directConnection=true"


def free_port() -> int:
    """A loopback TCP port that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def command(path: Path, port: int, *, standalone: bool = False) -> list[str]:
    """The command line serving SecantusDB on loopback ``port`` with its data in ``path``.

    Creates ``path`` and writes the config file there. ``standalone`` drops the single-node
    replica set, and so the oplog: writes cost less, change streams and transactions go.
    """
    path.mkdir(parents=True, exist_ok=True)
    config = path / CONFIG_NAME
    config.write_text(_CONFIG_TEXT, encoding="utf-8")
    return [
        sys.executable,
        "-m",
        MODULE,
        "--config",
        str(config),
        "--host",
        HOST,
        "--port",
        str(port),
        "--storage-path",
        str(path),
        "--log-level",
        "WARNING",
        *(["--standalone"] if standalone else []),
    ]


def dies_with_parent(argv: list[str]) -> list[str]:
    """``argv``, run so that the process gets SIGTERM when the thread that starts it ends.

    On Linux a short Python prelude asks for the parent-death signal (``PR_SET_PDEATHSIG``,
    kept across ``exec``), gives up if the parent is already gone, then becomes ``argv``;
    elsewhere ``argv`` as it is. A prelude rather than ``preexec_fn``, which is unsafe in a
    process with threads.
    """
    if not sys.platform.startswith("linux"):
        return argv
    return [sys.executable, "-c", _DEATH_SIGNAL, str(os.getpid()), *argv]


@asynccontextmanager
async def embedded_server(path: Path) -> AsyncIterator[str]:
    """SecantusDB in a child process with its data under ``path``; yields its URI.

    Stopped on exit; a child that never answers, or exits first, is a
    :class:`StoreUnavailableError` naming its log.
    """
    if not installed():
        raise StoreUnavailableError(
            'mongodb_uri = "embedded" needs the embedded extra: pip install "listener[embedded]"'
        )
    port = free_port()
    argv = dies_with_parent(await asyncio.to_thread(command, path, port))
    log_path = path / LOG_NAME
    with log_path.open("ab") as output:
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=output,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        await _answers(uri(port), process, log_path)
    except BaseException:
        await _stop(process)
        raise
    log.info("store.embedded_started", pid=process.pid, port=port, path=str(path))
    watch = asyncio.create_task(_watch(process, log_path), name="store:embedded-watch")
    try:
        yield uri(port)
    finally:
        watch.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watch
        await _stop(process)


async def _answers(address: str, process: asyncio.subprocess.Process, log_path: Path) -> None:
    """Wait until the store answers ``ping``; bounded, and ended by the child's exit."""
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(
        address, serverSelectionTimeoutMS=250, connectTimeoutMS=250
    )
    deadline = asyncio.get_running_loop().time() + START_TIMEOUT_S
    try:
        while True:
            try:
                await client.admin.command("ping")
            except PyMongoError:
                pass
            else:
                return
            if process.returncode is not None:
                raise StoreUnavailableError(
                    f"the embedded store exited with code {process.returncode} before it "
                    f"answered; see {log_path}"
                )
            if asyncio.get_running_loop().time() > deadline:
                raise StoreUnavailableError(
                    f"the embedded store did not answer in {START_TIMEOUT_S:g} s; see {log_path}"
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(process.wait(), timeout=0.1)
    finally:
        await client.close()


async def _watch(process: asyncio.subprocess.Process, log_path: Path) -> None:
    """Say when the store exits before the worker stops it."""
    code = await process.wait()
    log.error("store.embedded_exited", pid=process.pid, code=code, log=str(log_path))


async def _stop(process: asyncio.subprocess.Process) -> None:
    """SIGTERM, then SIGKILL after :data:`STOP_TIMEOUT_S`; a child already gone is left be."""
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
        try:
            await asyncio.wait_for(process.wait(), timeout=STOP_TIMEOUT_S)
        except TimeoutError:
            log.warning("store.embedded_killed", pid=process.pid, timeout_s=STOP_TIMEOUT_S)
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
        except asyncio.CancelledError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            raise
    log.info("store.embedded_stopped", pid=process.pid, code=process.returncode)
