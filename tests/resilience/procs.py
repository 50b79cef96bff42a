"""Real processes for resilience tests: the standalone simulator, workers, and what they show.

Every wait here is bounded and watches an external process (its HTTP endpoints or its log
lines); nothing sleeps to synchronise the test with itself. Each process's output is kept in a
file under the test's ``tmp_path`` and quoted when a wait fails.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample
from pymongo import MongoClient
from pymongo.errors import PyMongoError

from listener.web.signature import sign

ROOT = Path(__file__).resolve().parents[2]
DEMO_IG_USER_ID = "17841400000000001"
DEMO_TOKEN = "demo-token"
APP_SECRET = "resilience-app-secret"
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
    nothing inside the test.
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


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


@dataclass(frozen=True)
class Scrape:
    """The samples of one ``/metrics`` read."""

    samples: list[Sample]

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


class _Service:
    """A helper process run as ``python -m <module>``: started until it answers, stopped by SIGTERM.

    Subclasses give the module, its arguments, what "answers" means and a name for messages.
    """

    module: str
    name: str

    def __init__(self, log_path: Path) -> None:
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def _args(self) -> list[str]:
        raise NotImplementedError

    def _ready(self) -> bool:
        raise NotImplementedError

    def start(self) -> None:
        """Start the process; return once it answers."""
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", self.module, *self._args()],
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_until(
            self._answers,
            timeout_s=START_TIMEOUT_S,
            what=f"{self.name} to answer",
            detail=lambda: _tail(self.log_path),
        )

    def _answers(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"{self.name} exited: {_tail(self.log_path)}")
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
                raise AssertionError(f"{self.name} hung on stop:\n{_tail(self.log_path)}") from None
        finally:
            self.process = None


class Mongo(_Service):
    """SecantusDB (``tests.mongo.MongoServer``) in its own process, on a fixed port and data folder.

    ``stop`` and ``start`` again make an outage: same port, same data.
    """

    module = "tests.resilience.mongoproc"
    name = "SecantusDB"

    def __init__(self, path: Path, log_path: Path, port: int) -> None:
        super().__init__(log_path)
        self.path = path
        self.port = port

    @property
    def uri(self) -> str:
        """The URI clients use; stable across restarts."""
        return f"mongodb://127.0.0.1:{self.port}/?directConnection=true"

    def _args(self) -> list[str]:
        return ["--path", str(self.path), "--port", str(self.port)]

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


class Simulator(_Service):
    """``python -m tests.resilience.simworld`` on a fixed port: a Graph API whose world persists."""

    module = "tests.resilience.simworld"
    name = "the simulator"

    def __init__(
        self,
        port: int,
        log_path: Path,
        *,
        seed: int,
        hashtags: Sequence[str],
        posts_per_hour: float,
        backfill_hours: float,
        hosts: Sequence[str] = ("127.0.0.1",),
    ) -> None:
        super().__init__(log_path)
        self.port = port
        self.hosts = list(hosts)
        self._options = [
            "--hosts",
            ",".join(hosts),
            "--port",
            str(port),
            "--seed",
            str(seed),
            "--hashtags",
            ",".join(hashtags),
            "--posts-per-hour",
            str(posts_per_hour),
            "--backfill-hours",
            str(backfill_hours),
        ]

    @property
    def base_url(self) -> str:
        """The URL the worker's ``[graph] base_url`` points at (the first address)."""
        return self.url_on(self.hosts[0])

    def url_on(self, host: str) -> str:
        """The simulator's URL on one of its loopback addresses."""
        return f"http://{host}:{self.port}"

    def _args(self) -> list[str]:
        return self._options

    def _ready(self) -> bool:
        try:
            return http("GET", f"{self.base_url}/__sim/stats", timeout_s=2)[0] == 200
        except OSError:
            return False

    def stop(self) -> None:
        """SIGTERM (after a SIGCONT, in case it is paused), and wait for the exit."""
        self._stop(resume_first=True, hang_is_error=False)

    def pause(self) -> None:
        """SIGSTOP: the port stays open, nothing answers (a hung Meta)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """SIGCONT after :meth:`pause`."""
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def calls(self) -> list[dict[str, Any]]:
        """Every Graph call so far: address, path, next_page, started, ended (epoch s)."""
        status, body = http("GET", f"{self.base_url}/__resilience/calls")
        assert status == 200, body
        return list(body)

    def stats(self) -> dict[str, Any]:
        """``GET /__sim/stats?log=1``: counters and the call log."""
        status, body = http("GET", f"{self.base_url}/__sim/stats?log=1")
        assert status == 200, body
        return dict(body)

    def control(self, path: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        """POST to the control API (``posts``, ``faults``, ...)."""
        status, body = http(
            "POST",
            f"{self.base_url}/__sim/{path}",
            json.dumps(payload).encode(),
            {"Content-Type": "application/json"},
        )
        assert status == 200, body
        return dict(body)

    def graph(self, path: str, **params: str) -> dict[str, Any]:
        """A Graph API GET as the demo account (the test's own view of the world)."""
        query = urllib.parse.urlencode({**params, "access_token": DEMO_TOKEN})
        status, body = http("GET", f"{self.base_url}/v25.0/{path}?{query}")
        assert status == 200, body
        return dict(body)

    def edge_media(self, hashtag: str, edge: str) -> dict[str, str]:
        """Every media a hashtag edge lists now, all pages: id → timestamp (Meta's format)."""
        tag_id = self.graph("ig_hashtag_search", user_id=DEMO_IG_USER_ID, q=hashtag)["data"][0]
        page = self.graph(
            f"{tag_id['id']}/{edge}", user_id=DEMO_IG_USER_ID, fields="id,timestamp", limit="50"
        )
        found: dict[str, str] = {}
        while True:
            found.update({m["id"]: m["timestamp"] for m in page.get("data", [])})
            link = page.get("paging", {}).get("next")
            if not link:
                return found
            status, page = http("GET", link)
            assert status == 200, page


class Worker:
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
    def pid(self) -> int:
        """The process id."""
        assert self.process is not None
        return self.process.pid

    @property
    def url(self) -> str:
        """The worker's web server."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Worker:
        """Start the process; return once it logged ``server.started`` (its port is open)."""
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "listener",
                "--log-level",
                self.log_level,
                "run",
                "--config",
                str(self.config_path),
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self._reader = threading.Thread(
            target=self._read, args=(self.process,), name="worker-log", daemon=True
        )
        self._reader.start()
        started = self.wait_for("server.started", timeout_s=START_TIMEOUT_S)
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
                        f"(exit code {self.process.poll()})\n{_tail(self.log_path)}"
                    )
                self._changed.wait(timeout=left)
            return found()[count - 1]

    def named(self, event: str) -> list[dict[str, Any]]:
        """Every log event named ``event`` so far."""
        with self._changed:
            return [e for e in self.events if e.get("event") == event]

    def alive(self) -> bool:
        """Whether the process still runs (it was never restarted: one object, one process)."""
        return self.process is not None and self.process.poll() is None

    def pause(self) -> None:
        """SIGSTOP: the process stalls (a long GC pause, a frozen VM) without dying."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """SIGCONT after :meth:`pause`."""
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def stays_up_for(self, seconds: float) -> None:
        """Let the worker run for ``seconds``; fail if it exits meanwhile."""
        assert self.process is not None
        try:
            code = self.process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            return
        raise AssertionError(f"worker exited with {code}:\n{_tail(self.log_path)}")

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
            raise AssertionError(f"worker ignored SIGTERM:\n{_tail(self.log_path)}") from None
        self._reap()
        return code

    def ensure_stopped(self) -> None:
        """Kill the process if it still runs (test teardown)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
        if self.process is not None:
            self._reap()

    def _reap(self) -> None:
        assert self.process is not None
        self.process.wait()
        if self._reader is not None:
            self._reader.join(timeout=STOP_TIMEOUT_S)

    def rss_kb(self) -> int:
        """Resident memory (``VmRSS``) in kB."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise AssertionError("no VmRSS")

    def get(self, path: str) -> tuple[int, Any]:
        """GET one of the worker's routes."""
        return http("GET", f"{self.url}{path}", timeout_s=15)

    def scrape(self) -> Scrape:
        """One read of ``/metrics``."""
        status, text = self.get("/metrics")
        assert status == 200, text
        assert isinstance(text, str)
        return Scrape(
            [sample for family in text_string_to_metric_families(text) for sample in family.samples]
        )

    def metric(self, name: str, **labels: str) -> float:
        """The sum of the samples of ``name`` whose labels include ``labels`` (0 if none)."""
        return self.scrape().total(name, **labels)

    def deliver(self, payload: Any, *, secret: str = APP_SECRET) -> int:
        """POST a webhook delivery signed as Meta would; the status code."""
        body = json.dumps(payload).encode()
        status, _ = http(
            "POST",
            f"{self.url}/webhooks/instagram",
            body,
            {"Content-Type": "application/json", "X-Hub-Signature-256": sign(body, secret)},
            timeout_s=15,
        )
        return status


@contextmanager
def running(*processes: Simulator | Worker | Mongo) -> Iterator[None]:
    """Make sure every process given is gone when the block ends, whatever happened."""
    try:
        yield
    finally:
        for process in processes:
            if isinstance(process, Worker):
                process.ensure_stopped()
            else:
                process.stop()


def mention(media_id: str, at: int) -> dict[str, Any]:
    """Meta's ``mentions`` delivery for a caption mention of the demo account."""
    return {
        "object": "instagram",
        "entry": [
            {
                "id": DEMO_IG_USER_ID,
                "time": at,
                "changes": [{"field": "mentions", "value": {"media_id": media_id}}],
            }
        ],
    }


def worker_config(
    *,
    mongodb_uri: str,
    database: str,
    graph_url: str,
    hashtags: Sequence[str],
    port: int = 0,
    replica: str = "",
    lease_ttl_s: float = 60.0,
    interval_s: float = 2.0,
    max_interval_s: float = 4.0,
    store_timeout_s: float = 2.0,
    graph_timeout_s: float = 5.0,
    inbox_claim_s: float = 3.0,
    extra: str = "",
) -> str:
    """A worker's TOML: the demo account on the standalone simulator, fast polling, no in-process
    simulator, a webhook secret, and budgets far above what a test can spend."""
    tags = ", ".join(json.dumps(t) for t in hashtags)
    return f"""
[graph]
base_url = "{graph_url}"
app_secret = "{APP_SECRET}"
timeout_s = {graph_timeout_s}

[store]
mongodb_uri = "{mongodb_uri}"
database = "{database}"
timeout_s = {store_timeout_s}

[server]
port = {port}

[polling]
hashtag_interval_s = {interval_s}
tags_interval_s = {interval_s}
min_interval_s = 1
max_interval_s = {max_interval_s}
jitter_ratio = 0.2
max_pages = 50
inbox_claim_s = {inbox_claim_s}
inbox_workers = 2

[ratelimit]
app_calls_per_hour = 360000
account_calls_per_hour = 360000
max_attempts = 3
backoff_initial_s = 0.5
backoff_max_s = 2

[cluster]
replica = "{replica}"
lease_ttl_s = {lease_ttl_s}
sync_s = 1

[simulator]
enabled = false

[[accounts]]
name = "brand"
ig_user_id = "{DEMO_IG_USER_ID}"
access_token = "{DEMO_TOKEN}"
hashtags = [{tags}]
tags = false
mentions = true
{extra}
"""


def write_worker_config(
    path: Path, mongo: Mongo, database: str, sim: Simulator, hashtags: Sequence[str], **options: Any
) -> Path:
    """Write :func:`worker_config` for a worker on ``mongo``'s ``database`` and ``sim`` to
    ``path``; ``options`` are the rest of its keywords."""
    path.write_text(
        worker_config(
            mongodb_uri=mongo.uri,
            database=database,
            graph_url=sim.base_url,
            hashtags=hashtags,
            **options,
        ),
        encoding="utf-8",
    )
    return path
