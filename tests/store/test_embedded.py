"""The embedded store runs in a child process: started, watched and stopped by the worker."""

from __future__ import annotations

import os
import signal
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pymongo import MongoClient

from listener.errors import StoreUnavailableError
from listener.store.embedded import embedded_server, uri
from listener.store.mongo import connect
from testbed import Worker, wait_until, write_config
from testbed.processes import ROOT

DEMO_CONFIG = ROOT / "config" / "demo.toml"


def gone(pid: int) -> bool:
    """Whether process ``pid`` has exited (a zombie nobody reaped yet counts as exited)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Worker]:
    """``listener run`` on ``make run``'s config, its data in ``tmp_path`` and any free port."""
    with DEMO_CONFIG.open("rb") as file:
        config: dict[str, Any] = tomllib.load(file)
    config["store"] |= {"embedded_path": str(tmp_path / "data"), "timeout_s": 1}
    config["server"]["port"] = 0
    worker = Worker(write_config(tmp_path / "demo.toml", config), tmp_path / "worker.log")
    try:
        yield worker.start()
    finally:
        worker.ensure_stopped()


def embedded_pid(worker: Worker) -> int:
    """The process id of the worker's embedded store, from its log."""
    return int(worker.wait_for("store.embedded_started", timeout_s=5)["pid"])


async def test_the_embedded_store_runs_in_a_process_of_its_own(tmp_path: Path) -> None:
    """The server behind ``embedded`` answers from another process than the worker's."""
    async with (
        embedded_server(tmp_path / "data") as address,
        connect(address, "admin", timeout_s=10) as db,
    ):
        status = await db.command("serverStatus")
    assert status["pid"] != os.getpid()


async def test_a_secantusd_toml_in_the_working_folder_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SecantusDB reads a ``secantusd.toml`` it finds in its working folder; the embedded
    store's own config keeps one there (here: asking for a standalone server) out."""
    (tmp_path / "secantusd.toml").write_text("[server]\nstandalone = true\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    async with (
        embedded_server(tmp_path / "data") as address,
        connect(address, "admin", timeout_s=10) as db,
    ):
        hello = await db.command("hello")
    assert hello.get("setName") == "secantus"


async def test_a_store_that_exits_before_answering_is_unavailable_naming_its_log(
    tmp_path: Path,
) -> None:
    """A second embedded store on a folder in use exits at once: a clear error, no hang."""
    async with embedded_server(tmp_path / "data"):
        with pytest.raises(StoreUnavailableError, match=r"exited with code .*secantusd\.log"):
            async with embedded_server(tmp_path / "data"):
                pass


def test_the_demo_config_stores_media_in_the_embedded_store(demo: Worker) -> None:
    """``make run``'s config, run as a process: media lands in its child store's database."""
    port = int(demo.wait_for("store.embedded_started", timeout_s=5)["port"])
    client: MongoClient[dict[str, Any]] = MongoClient(uri(port), serverSelectionTimeoutMS=10_000)
    try:
        media = client["listener"]["media"]
        wait_until(lambda: media.count_documents({}) > 0, timeout_s=60, what="stored media")
    finally:
        client.close()


def test_stopping_the_worker_stops_its_embedded_store(demo: Worker) -> None:
    """SIGTERM to the worker: it exits 0 and its store has exited too, stopped cleanly."""
    pid = embedded_pid(demo)
    assert demo.stop() == 0
    assert gone(pid)
    assert demo.named("store.embedded_stopped")[0]["code"] == 0


def test_a_killed_embedded_store_makes_the_worker_unready_not_dead(demo: Worker) -> None:
    """SIGKILL to the store: the worker logs it, /readyz turns 503, and the worker still stops
    cleanly."""
    wait_until(lambda: demo.get("/readyz")[0] == 200, timeout_s=30, what="/readyz 200")
    os.kill(embedded_pid(demo), signal.SIGKILL)
    demo.wait_for("store.embedded_exited", timeout_s=30)
    wait_until(lambda: demo.get("/readyz")[0] == 503, timeout_s=30, what="/readyz 503")
    assert demo.alive()
    assert demo.get("/healthz")[0] == 200
    assert demo.stop() == 0


def test_a_killed_worker_takes_its_embedded_store_with_it(demo: Worker) -> None:
    """SIGKILL to the worker, which cleans up nothing: its store still exits, leaving no
    orphan that holds the data folder."""
    pid = embedded_pid(demo)
    demo.kill()
    wait_until(lambda: gone(pid), timeout_s=30, what="the orphaned store to exit")
