"""A SecantusDB server in its own process, so the benchmarked client and the server each get a
core (in-process, both would share one interpreter lock)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from pymongo import MongoClient


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class ServerProcess:
    """A running server: the URI to reach it and its process id."""

    uri: str
    pid: int

    def cpu_s(self) -> float | None:
        """CPU seconds (user + system) the server has used so far; ``None`` without ``/proc``."""
        try:
            stat = Path(f"/proc/{self.pid}/stat").read_text()
        except OSError:
            return None
        # Fields after the parenthesised command name, from field 3 (state): utime is 14, stime 15.
        fields = stat.rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def mongo_process() -> Iterator[str]:
    """Start ``secantusd-py`` on a free loopback port; yields its URI; stops it on exit."""
    with server_process() as server:
        yield server.uri


@contextmanager
def server_process() -> Iterator[ServerProcess]:
    """Start ``secantusd-py`` on a free loopback port; yields it; stops it on exit."""
    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="bench-secantus-") as data:
        server = Path(sys.executable).with_name("secantusd-py")
        process = subprocess.Popen(
            [
                str(server),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--storage-path",
                data,
                "--log-level",
                "WARNING",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        uri = f"mongodb://127.0.0.1:{port}/?directConnection=true"
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    MongoClient(uri, serverSelectionTimeoutMS=500).admin.command("ping")
                    break
                except Exception:
                    if time.monotonic() > deadline or process.poll() is not None:
                        raise RuntimeError("secantusd-py did not start") from None
                    time.sleep(0.2)
            yield ServerProcess(uri, process.pid)
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
