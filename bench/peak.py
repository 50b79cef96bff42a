"""One ``listener`` command in a process of its own, and that process's peak resident memory.

``python -m bench.peak REPORT ARGS…`` runs ``listener ARGS…`` (:func:`listener.cli.main`, what
the ``listener`` script runs) in this process, then writes ``{"exit", "peak_rss_kib"}`` as JSON
to ``REPORT``. The peak is ``VmHWM`` of ``/proc/self/status``, which ``exec`` resets: unlike a
parent's ``ru_maxrss`` for its child, it does not count the parent's memory at the fork. It imports
nothing the command does not, so the peak is the command's (interpreter and libraries included).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from listener.cli import main as listener


def peak_rss_kib() -> int:
    """This process's peak resident set so far, in KiB."""
    for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/self/status")


def main(argv: list[str]) -> int:
    """Run the command, write the report; the command's exit code."""
    report, args = Path(argv[0]), argv[1:]
    try:
        code = listener(args)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    report.write_text(json.dumps({"exit": code, "peak_rss_kib": peak_rss_kib()}), encoding="utf-8")
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
