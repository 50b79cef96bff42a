"""A SecantusDB server the tests can start, stop and restart on the same port and data."""

from __future__ import annotations

import errno
import socket
import time
from pathlib import Path

from secantus import SecantusDBServer


def free_port() -> int:
    """A loopback TCP port that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class MongoServer:
    """A real MongoDB wire server on a fixed loopback port; restartable to simulate outages."""

    def __init__(self, path: Path, port: int | None = None) -> None:
        self.path = path
        self.port = port or free_port()
        self._server: SecantusDBServer | None = None

    @property
    def uri(self) -> str:
        """The URI clients use; stable across restarts."""
        return f"mongodb://127.0.0.1:{self.port}/?directConnection=true"

    def start(self) -> None:
        """Start serving on the port, waiting (bounded) for the OS to release it after a stop."""
        for _ in range(100):
            server = SecantusDBServer(host="127.0.0.1", port=self.port, storage_path=str(self.path))
            try:
                server.start()
            except OSError as exc:
                if exc.errno != errno.EADDRINUSE:
                    raise
                time.sleep(0.05)  # the kernel, not the test, decides when the port is free
                continue
            self._server = server
            return
        raise RuntimeError(f"port {self.port} stayed in use")

    def stop(self) -> None:
        """Stop serving; the data stays on disk."""
        if self._server is not None:
            self._server.stop()
            self._server = None
