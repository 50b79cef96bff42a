"""Worker processes (``python -m listener run``), the TOML config they read, and their metrics.

A worker's JSON log lines are read as they come (and copied to its log file), so callers wait
for named events instead of sleeping; its port is the one its ``server.started`` event names,
so configs say ``port = 0``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomli_w
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from listener.store.embedded import dies_with_parent
from listener.web.signature import sign
from testbed.processes import (
    ROOT,
    START_TIMEOUT_S,
    STOP_TIMEOUT_S,
    Started,
    WaitTimeoutError,
    http,
    rss_kib,
    tail,
)


def write_config(path: Path, config: Mapping[str, Any]) -> Path:
    """Write a worker's config (tables of keys, ``accounts`` an array of tables) as TOML."""
    path.write_text(tomli_w.dumps(config), encoding="utf-8")
    return path


@dataclass(frozen=True)
class Scrape:
    """The samples of one ``/metrics`` read."""

    samples: list[Sample]

    @classmethod
    def parse(cls, text: str) -> Scrape:
        """The samples of a ``/metrics`` body."""
        return cls([s for family in text_string_to_metric_families(text) for s in family.samples])

    def total(self, name: str, **labels: str) -> float:
        """The sum of the samples of ``name`` whose labels include ``labels`` (0 if none)."""
        return sum(s.value for s in self.matching(name, **labels))

    def matching(self, name: str, **labels: str) -> list[Sample]:
        """The samples of ``name`` whose labels include ``labels``."""
        return [
            s
            for s in self.samples
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
        ]


class Worker(Started):
    """One ``listener run`` process; its JSON log lines are read as they come."""

    def __init__(self, config_path: Path, log_path: Path, *, log_level: str = "debug") -> None:
        self.config_path = config_path
        self.log_path = log_path
        self.log_level = log_level
        self.events: list[dict[str, Any]] = []
        self.port = 0
        self.process: subprocess.Popen[str] | None = None
        self._changed = threading.Condition()
        self._reader: threading.Thread | None = None
        self._terminated = False

    @property
    def url(self) -> str:
        """The worker's web server."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Worker:
        """Start the process; return once it logged ``server.started`` (its port is open).

        A start that fails leaves no process running.
        """
        self.process = subprocess.Popen(
            dies_with_parent(
                [
                    sys.executable,
                    "-m",
                    "listener",
                    "--log-level",
                    self.log_level,
                    "run",
                    "--config",
                    str(self.config_path),
                ]
            ),
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self._reader = threading.Thread(
            target=self._read, args=(self.process,), name="worker-log", daemon=True
        )
        self._reader.start()
        try:
            started = self.wait_for("server.started", timeout_s=START_TIMEOUT_S)
        except BaseException:
            self.ensure_stopped()
            raise
        self.port = int(started["port"])
        return self

    def _read(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        with process.stdout, self.log_path.open("a", encoding="utf-8") as copy:
            for line in process.stdout:
                copy.write(line)
                copy.flush()
                try:
                    event = json.loads(line)
                except ValueError:
                    event = {"event": "raw", "text": line.rstrip()}
                if not isinstance(event, dict):
                    event = {"event": "raw", "text": line.rstrip()}
                with self._changed:
                    self.events.append(event)
                    self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def wait_for(
        self,
        event: str,
        *,
        timeout_s: float,
        where: Callable[[dict[str, Any]], bool] = lambda e: True,
        count: int = 1,
    ) -> dict[str, Any]:
        """The ``count``-th log event named ``event`` matching ``where``; bounded wait."""
        assert self.process is not None
        deadline = time.monotonic() + timeout_s

        def found() -> list[dict[str, Any]]:
            return [e for e in self.events if e.get("event") == event and where(e)]

        with self._changed:
            while len(found()) < count:
                left = deadline - time.monotonic()
                if left <= 0 or self.process.poll() is not None:
                    raise WaitTimeoutError(
                        f"no {event!r} (x{count}) in worker log after {timeout_s:.0f} s "
                        f"(exit code {self.process.poll()})\n{tail(self.log_path)}"
                    )
                self._changed.wait(timeout=left)
            return found()[count - 1]

    def named(self, event: str) -> list[dict[str, Any]]:
        """Every log event named ``event`` so far."""
        with self._changed:
            return [e for e in self.events if e.get("event") == event]

    def stays_up_for(self, seconds: float) -> None:
        """Let the worker run for ``seconds``; fail if it exits meanwhile."""
        assert self.process is not None
        try:
            code = self.process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            return
        raise AssertionError(f"worker exited with {code}:\n{tail(self.log_path)}")

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs."""
        assert self.process is not None
        self.process.kill()
        self._reap()

    def terminate(self) -> None:
        """SIGTERM, the clean shutdown, without waiting (see :meth:`stop`).

        Once only: the worker stops listening for signals when its loop closes, so a second
        SIGTERM during its last moments would kill it.
        """
        assert self.process is not None
        if not self._terminated:
            self.process.send_signal(signal.SIGTERM)
            self._terminated = True

    def stop(self) -> int:
        """SIGTERM (unless already sent), and wait for the exit; the exit code."""
        assert self.process is not None
        self.terminate()
        try:
            code = self.process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self._reap()
            raise AssertionError(f"worker ignored SIGTERM:\n{tail(self.log_path)}") from None
        self._reap()
        return code

    def ensure_stopped(self) -> None:
        """Kill the process if it still runs (teardown)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
        if self.process is not None:
            self._reap()

    def _reap(self) -> None:
        assert self.process is not None
        self.process.wait()
        if self._reader is not None:
            self._reader.join(timeout=STOP_TIMEOUT_S)

    def rss_kib(self) -> int:
        """Resident memory (``VmRSS``) in KiB."""
        rss = rss_kib(self.pid)
        if rss is None:
            raise AssertionError(f"worker {self.pid} is gone:\n{tail(self.log_path)}")
        return rss

    def get(self, path: str) -> tuple[int, Any]:
        """GET one of the worker's routes."""
        return http("GET", f"{self.url}{path}", timeout_s=15)

    def scrape(self) -> Scrape:
        """One read of ``/metrics``."""
        status, text = self.get("/metrics")
        assert status == 200, text
        assert isinstance(text, str)
        return Scrape.parse(text)

    def metric(self, name: str, **labels: str) -> float:
        """The sum of the samples of ``name`` whose labels include ``labels`` (0 if none)."""
        return self.scrape().total(name, **labels)

    def deliver(self, payload: Any, *, secret: str | None = None) -> int:
        """POST a webhook delivery signed as Meta would (with the app secret of the worker's
        config unless ``secret`` is given); the status code."""
        if secret is None:
            with self.config_path.open("rb") as config:
                secret = str(tomllib.load(config)["graph"]["app_secret"])
        body = json.dumps(payload).encode()
        status, _ = http(
            "POST",
            f"{self.url}/webhooks/instagram",
            body,
            {"Content-Type": "application/json", "X-Hub-Signature-256": sign(body, secret)},
            timeout_s=15,
        )
        return status


def stop_all(workers: Iterable[Worker]) -> None:
    """SIGTERM to every worker at once, then wait for each: replicas stopped one by one would
    take over each other's feeds and poll on while the rest shut down."""
    alive = [w for w in workers if w.alive()]
    for worker in alive:
        worker.terminate()
    for worker in alive:
        worker.stop()
