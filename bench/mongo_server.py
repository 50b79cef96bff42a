"""A SecantusDB server in its own process, so the benchmarked client and the server each get a
core (in-process, both would share one interpreter lock)."""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pymongo import MongoClient


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def mongo_process() -> Iterator[str]:
    """Start ``secantusd-py`` on a free loopback port; yields its URI; stops it on exit."""
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
            yield uri
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
