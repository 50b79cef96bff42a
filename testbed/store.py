"""SecantusDB for tests and benchmarks: started as the worker starts its embedded store.

The command line comes from :func:`listener.store.embedded.command`, the one place that knows
how SecantusDB is started; here it runs on a fixed port, so that :meth:`Secantus.stop` and
:meth:`Secantus.start` again make an outage (same port, same data). Out of the test or
benchmark process, a database that wedges (SecantusDB 0.7.0b3 livelocks when
``createIndexes`` and an insert create the same collection at once) costs one failed test,
killed on a deadline, not a process that never finishes its teardown; and the client under
measure gets a core of its own.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pymongo import MongoClient
from pymongo.errors import PyMongoError

from listener.store import embedded
from testbed.processes import Service, cpu_s, free_port


class Secantus(Service):
    """SecantusDB in its own process on a fixed loopback port, its data (and log) in ``path``.

    ``standalone`` drops the replica set and its oplog: writes cost less, change streams go.
    """

    name = "SecantusDB"

    def __init__(
        self,
        path: Path,
        *,
        port: int | None = None,
        log_path: Path | None = None,
        standalone: bool = False,
    ) -> None:
        path.mkdir(parents=True, exist_ok=True)
        super().__init__(log_path or path / embedded.LOG_NAME)
        self.path = path
        self.port = port or free_port()
        self.standalone = standalone

    @property
    def uri(self) -> str:
        """The URI clients use; stable across restarts."""
        return embedded.uri(self.port)

    def _argv(self) -> list[str]:
        return embedded.command(self.path, self.port, standalone=self.standalone)

    def _ready(self) -> bool:
        client: MongoClient[dict[str, Any]] = MongoClient(
            self.uri, serverSelectionTimeoutMS=500, connectTimeoutMS=500
        )
        try:
            client.admin.command("ping")
        except PyMongoError:
            return False
        finally:
            client.close()
        return True

    def stop(self) -> None:
        """Stop serving (SIGTERM: a clean stop, the data stays); a hang is an error."""
        self._stop(resume_first=False, hang_is_error=True)

    def cpu_s(self) -> float | None:
        """CPU seconds the server has used so far; ``None`` when it is not running."""
        return None if self.process is None else cpu_s(self.process.pid)


@contextmanager
def secantus(path: Path | None = None, *, standalone: bool = False) -> Iterator[Secantus]:
    """A running :class:`Secantus` with its data in ``path`` (else a temporary folder)."""
    with tempfile.TemporaryDirectory(prefix="testbed-secantus-") as scratch:
        server = Secantus(path or Path(scratch), standalone=standalone)
        server.start()
        try:
            yield server
        finally:
            server.stop()
