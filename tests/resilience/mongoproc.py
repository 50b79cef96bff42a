"""A :class:`~tests.mongo.MongoServer` in a process of its own (``-m tests.resilience.mongoproc``).

Resilience tests kill, starve and restart things for minutes; keeping SecantusDB out of the
pytest process means a database that wedges (SecantusDB 0.7.0b3 livelocks when
``createIndexes`` and an insert create the same collection at once: see ``conftest.py``) costs
one failed test, killed on a deadline, instead of a pytest process that never finishes its
teardown. SIGTERM stops it cleanly (data kept).
"""

from __future__ import annotations

import argparse
import signal
import threading
from pathlib import Path

from tests.mongo import MongoServer


def main() -> None:
    """Serve on ``--port`` with data in ``--path`` until SIGTERM or SIGINT."""
    parser = argparse.ArgumentParser(prog="mongoproc")
    parser.add_argument("--path", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    server = MongoServer(args.path, args.port)
    server.start()
    try:
        stop.wait()
    finally:
        server.stop()


if __name__ == "__main__":
    main()
