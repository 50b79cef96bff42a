"""What every process of the harness shares: bounded waits, HTTP, ports, memory, CPU, stopping.

Every wait here is bounded and watches an external process (its port, its HTTP endpoints or
its log lines); nothing sleeps to synchronise a test with itself. Each process's output is kept
in a file and quoted when a wait fails. :class:`Service` is a process that is ready once it
answers and stops on SIGTERM. Every process the harness starts is sent SIGTERM should the test
or benchmark process die first, as the worker's embedded store is.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol, TypeVar

from listener.store.embedded import dies_with_parent, free_port

__all__ = [
    "POLL_EVERY_S",
    "ROOT",
    "START_TIMEOUT_S",
    "STOP_TIMEOUT_S",
    "Service",
    "Started",
    "WaitTimeoutError",
    "cpu_s",
    "free_port",
    "http",
    "rss_kib",
    "running",
    "tail",
    "wait_until",
]

ROOT = Path(__file__).resolve().parents[1]
"""The repository: every process runs there, so ``python -m tests…`` and ``-m testbed…`` work."""
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 20.0
POLL_EVERY_S = 0.1

T = TypeVar("T")


class WaitTimeoutError(AssertionError):
    """A bounded wait for an external process ran out."""


def wait_until(
    check: Callable[[], T | None],
    *,
    timeout_s: float,
    what: str,
    detail: Callable[[], str] = lambda: "",
) -> T:
    """Poll ``check`` (which looks at another process) until it gives a value; bounded.

    The pause between looks paces the polling of an external process; it synchronises
    nothing inside the caller.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value is not None and value is not False:
            return value
        if time.monotonic() >= deadline:
            raise WaitTimeoutError(
                f"gave up after {timeout_s:.0f} s waiting for {what}\n{detail()}"
            )
        time.sleep(POLL_EVERY_S)


def http(
    method: str,
    url: str,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    timeout_s: float = 10.0,
) -> tuple[int, Any]:
    """One HTTP call: (status, decoded JSON or text); connection failures raise ``OSError``."""
    request = urllib.request.Request(url, data=body, method=method, headers=dict(headers or {}))
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
        exc.close()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode(errors="replace")


def tail(path: Path, lines: int = 40) -> str:
    """The last ``lines`` of a process's output file ("" if there is none)."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def rss_kib(pid: int) -> int | None:
    """Resident memory (``VmRSS``) of process ``pid`` in KiB; ``None`` once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return None


def cpu_s(pid: int) -> float | None:
    """CPU seconds (user + system) process ``pid`` has used so far; ``None`` without it."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Fields after the parenthesised command name, from field 3 (state): utime is 14, stime 15.
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Stoppable(Protocol):
    """A process handle that can make sure its process is gone."""

    def ensure_stopped(self) -> None:
        """Stop the process if it still runs."""


@contextmanager
def running(*processes: Stoppable) -> Iterator[None]:
    """Make sure every process given is gone when the block ends, whatever happened."""
    try:
        yield
    finally:
        for process in processes:
            process.ensure_stopped()


class Started:
    """A process the harness started: its id, whether it runs, and signals that stall it."""

    process: subprocess.Popen[Any] | None = None

    @property
    def pid(self) -> int:
        """The process id."""
        assert self.process is not None, "not started"
        return self.process.pid

    def alive(self) -> bool:
        """Whether the process still runs (it was never restarted: one object, one process)."""
        return self.process is not None and self.process.poll() is None

    def pause(self) -> None:
        """SIGSTOP: the process stalls (a hung server, a long GC pause, a frozen VM); its
        ports stay open and nothing answers."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """SIGCONT after :meth:`pause`."""
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)


class Service(Started):
    """A helper process: started until it answers, stopped by SIGTERM; output in ``log_path``.

    Subclasses give the command line, what "answers" means and a name for messages.
    """

    name: str

    def __init__(self, log_path: Path) -> None:
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def _argv(self) -> list[str]:
        raise NotImplementedError

    def _ready(self) -> bool:
        raise NotImplementedError

    def start(self) -> None:
        """Start the process; return once it answers (a start that fails leaves none running)."""
        argv = dies_with_parent(self._argv())
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                argv, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
            )
        try:
            wait_until(
                self._answers,
                timeout_s=START_TIMEOUT_S,
                what=f"{self.name} to answer",
                detail=lambda: tail(self.log_path),
            )
        except BaseException:
            self._stop(resume_first=False, hang_is_error=False)
            raise

    def _answers(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"{self.name} exited: {tail(self.log_path)}")
        return self._ready()

    def _stop(self, *, resume_first: bool, hang_is_error: bool) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            if resume_first:
                self.process.send_signal(signal.SIGCONT)
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            if hang_is_error:
                raise AssertionError(f"{self.name} hung on stop:\n{tail(self.log_path)}") from None
        finally:
            self.process = None

    def stop(self) -> None:
        """SIGTERM, and wait for the exit (killed after ``STOP_TIMEOUT_S``)."""
        self._stop(resume_first=False, hang_is_error=False)

    def ensure_stopped(self) -> None:
        """Stop the process if it still runs."""
        self.stop()
