"""The dashboard and the alert rules against a real Prometheus (Debian's ``prometheus`` package).

A worker runs on the simulator and the embedded store; the Debian ``prometheus`` binary, started
here on loopback with its own config and storage (never the system service), scrapes it every
second with deploy/prometheus/prometheus.yml's job and rules. Every panel query of the dashboard
must then return at least one series. ``promtool`` checks the config and the rules and runs the
rules' unit tests.

Without the binaries (``.ci/install-deb`` installs them) these tests skip; in CI a skip fails
(``tests/skips.py``).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from testbed import free_port
from tests.deploy.dashboard import (
    PROMETHEUS_CONFIG,
    PROMETHEUS_METRICS,
    RULES,
    RULES_TEST,
    PanelQuery,
    defined_metrics,
    metrics_in,
    panel_queries,
)

pytestmark = pytest.mark.slow

STARTUP_S = 30.0
"""Bound on each external process becoming ready."""
DATA_S = 45.0
"""Bound on every required panel query having data after the first scrape."""
POLL_S = 0.25
"""Pause between two polls of an external process's HTTP API."""

VARIABLE_SETS: dict[str, dict[str, str]] = {
    "all": {"account": ".*", "hashtag": ".*", "__rate_interval": "1m", "__range": "5m"},
    "brand-summerdrop": {
        "account": "brand",
        "hashtag": "summerdrop",
        "__rate_interval": "1m",
        "__range": "5m",
    },
}
"""Grafana's "All" (regex ``.*``) and one concrete account and hashtag of the scenario."""

WORKER_CONFIG = """
[graph]
app_id = "1000000000000001"
app_secret = "deploy-test-secret"

[store]
mongodb_uri = "embedded"
embedded_path = "{data}"

[server]
host = "127.0.0.1"
port = {port}
webhook_verify_token = "deploy-test"

[polling]
hashtag_interval_s = 1
tags_interval_s = 1
min_interval_s = 1
max_interval_s = 5
jitter_ratio = 0
page_size = 5
max_pages = 1        # busy feeds hit the page bound: listener_feed_possibly_missed_total rises

[ratelimit]
app_users = 1000
account_impressions_24h = 1000

[simulator]
enabled = true
seed = 11
posts_per_hour = 3600
mentions_per_hour = 3600   # a signed mention webhook about every second
backfill_hours = 0.5

[[accounts]]
name = "brand"
ig_user_id = "17841400000000001"
access_token = "deploy-test-token"
hashtags = ["summerdrop", "sunset"]
tags = true
mentions = true
comments = true      # the comment series, at 0 until comments arrive

[[campaigns]]        # listener_comment_contest_entries from the settling pass
id = "giveaway"
account = "brand"
kind = "comments"
posts = ["17900000000000001"]
starts_at = "2020-01-01T00:00:00Z"
ends_at = "2100-01-01T00:00:00Z"

[[campaigns]]        # contest verdicts for listener_contest_entries_total
id = "summerdrop"
account = "brand"
hashtags = ["summerdrop"]
starts_at = "2020-01-01T00:00:00Z"
ends_at = "2100-01-01T00:00:00Z"
min_mentions = 0
"""


def binary(name: str) -> str:
    """The path of a Debian ``prometheus`` package binary; skip when it is missing."""
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} not found: install Debian's prometheus package (.ci/install-deb)")
    return path


def http_get(url: str, timeout_s: float = 5.0) -> tuple[int, bytes]:
    """Status and body of a GET; a refused connection is status 0."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            return int(response.status), response.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.read()
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return 0, b""


def poll(check: Callable[[], bool], processes: Mapping[str, Process], deadline_s: float) -> bool:
    """Poll ``check`` until it holds (True) or the deadline passes (False); fail on a crash."""
    deadline = time.monotonic() + deadline_s
    while not check():
        for process in processes.values():
            if process.popen.poll() is not None:
                pytest.fail(f"{process.name} exited:\n{process.tail()}")
        if time.monotonic() > deadline:
            return False
        time.sleep(POLL_S)  # pacing the polls of an external process, not synchronising tests
    return True


def wait_for(
    what: str, check: Callable[[], bool], processes: Mapping[str, Process], deadline_s: float
) -> None:
    """Poll ``check`` until it holds; fail with the processes' logs at the deadline."""
    if not poll(check, processes, deadline_s):
        logs = "\n".join(p.tail() for p in processes.values())
        pytest.fail(f"timed out after {deadline_s:.0f} s waiting for {what}\n{logs}")


@dataclass
class Process:
    """A subprocess whose output goes to a log file (a pipe nobody reads would block it)."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def tail(self, lines: int = 30) -> str:
        """The last lines of its output."""
        text = self.log.read_text(encoding="utf-8", errors="replace").splitlines()
        return f"--- {self.name} ---\n" + "\n".join(text[-lines:])

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not exit in time."""
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()


def spawn(name: str, args: list[str], log: Path) -> Process:
    """Start ``args`` with stdout and stderr in ``log``."""
    with log.open("wb") as out:
        popen = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
    return Process(name, popen, log)


@dataclass(frozen=True)
class Prometheus:
    """The running Prometheus, scraping the running worker."""

    url: str
    config_file: Path
    worker_url: str

    def query(self, expr: str) -> list[dict[str, Any]]:
        """The result of an instant query; fails the test on a query error."""
        status, body = http_get(
            f"{self.url}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        )
        answer = json.loads(body) if body else {}
        assert status == 200, f"{expr!r}: HTTP {status} {answer.get('error', body[:300])}"
        result: list[dict[str, Any]] = answer["data"]["result"]
        return result

    def api(self, path: str) -> Any:
        """The ``data`` of a GET on the HTTP API."""
        status, body = http_get(f"{self.url}/api/v1/{path}")
        assert status == 200, f"{path}: HTTP {status}"
        return json.loads(body)["data"]

    def emitted(self) -> set[str]:
        """Names of the worker's metrics that have at least one scraped series."""
        series = self.query('group by (__name__) ({job="listener", __name__=~"listener_.+"})')
        return {s["metric"]["__name__"] for s in series}


def prometheus_config(worker_port: int) -> dict[str, Any]:
    """deploy/prometheus/prometheus.yml, scraping the test's worker every second."""
    config: dict[str, Any] = yaml.safe_load(PROMETHEUS_CONFIG.read_text(encoding="utf-8"))
    config["global"].update(scrape_interval="1s", scrape_timeout="1s", evaluation_interval="1s")
    config["rule_files"] = [str(PROMETHEUS_CONFIG.parent / f) for f in config["rule_files"]]
    (job,) = (j for j in config["scrape_configs"] if j["job_name"] == "listener")
    job["static_configs"] = [{"targets": [f"127.0.0.1:{worker_port}"]}]
    return config


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:
    """A worker and a Prometheus scraping it, once every panel query that can have data has."""
    prometheus_bin = binary("prometheus")
    tmp = tmp_path_factory.mktemp("deploy")
    worker_port, prometheus_port = free_port(), free_port()
    worker_config = tmp / "worker.toml"
    worker_config.write_text(
        WORKER_CONFIG.format(data=tmp / "data", port=worker_port), encoding="utf-8"
    )
    config_file = tmp / "prometheus.yml"
    config_file.write_text(yaml.safe_dump(prometheus_config(worker_port)), encoding="utf-8")
    worker_url = f"http://127.0.0.1:{worker_port}"
    running = Prometheus(f"http://127.0.0.1:{prometheus_port}", config_file, worker_url)

    processes: dict[str, Process] = {}
    try:
        processes["worker"] = spawn(
            "worker",
            [sys.executable, "-m", "listener", "run", "--config", str(worker_config)],
            tmp / "worker.log",
        )
        processes["prometheus"] = spawn(
            "prometheus",
            [
                prometheus_bin,
                f"--config.file={config_file}",
                f"--storage.tsdb.path={tmp / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{prometheus_port}",
                "--log.level=warn",
            ],
            tmp / "prometheus.log",
        )
        # /readyz is what a readiness probe asks; it also sets listener_store_up.
        wait_for(
            "the worker's /readyz",
            lambda: http_get(f"{worker_url}/readyz")[0] == 200,
            processes,
            STARTUP_S,
        )
        wait_for(
            "Prometheus's /-/ready",
            lambda: http_get(f"{running.url}/-/ready")[0] == 200,
            processes,
            STARTUP_S,
        )
        # A delivery with a wrong signature, as a scanner would send: the failure panel's data.
        refused = urllib.request.Request(
            f"{worker_url}/webhooks/instagram",
            data=b'{"object": "instagram", "entry": []}',
            headers={"X-Hub-Signature-256": "sha256=" + "0" * 64},
            method="POST",
        )
        with pytest.raises(urllib.error.HTTPError) as refusal:
            urllib.request.urlopen(refused, timeout=5)
        refusal.value.close()
        assert refusal.value.code == 403

        def every_panel_has_data() -> bool:
            return all(
                running.query(query.render(values))
                for query in panel_queries()
                for values in VARIABLE_SETS.values()
            )

        # On timeout the panel tests below name the queries that stayed empty.
        poll(every_panel_has_data, processes, DATA_S)
        yield running
    finally:
        for process in reversed(processes.values()):
            process.stop()


def test_prometheus_is_ours_and_scrapes_the_worker(prometheus: Prometheus) -> None:
    """Prometheus runs with the test's config (not a system service's) and its target is up."""
    flags = prometheus.api("status/flags")
    assert flags["config.file"] == str(prometheus.config_file)
    (target,) = prometheus.api("targets")["activeTargets"]
    assert target["labels"]["job"] == "listener"
    assert target["health"] == "up", target["lastError"]
    assert prometheus.query('up{job="listener"} == 1')


def test_alert_rules_load_and_evaluate_on_real_data(prometheus: Prometheus) -> None:
    """Prometheus loads every rule of deploy/ and evaluates each without error."""
    groups = prometheus.api("rules")["groups"]
    rules = [rule for group in groups for rule in group["rules"]]
    expected = yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"]
    assert len(rules) == sum(len(group["rules"]) for group in expected)
    problems = {r["name"]: r.get("lastError") for r in rules if r["health"] != "ok"}
    assert not problems


def test_alerts_fire_on_real_series_and_stay_quiet_when_healthy(prometheus: Prometheus) -> None:
    """The scenario's page bound of 1 fires the possibly-missed alert; no critical alert fires."""

    def firing() -> list[dict[str, Any]]:
        alerts: list[dict[str, Any]] = prometheus.api("alerts")["alerts"]
        return [a for a in alerts if a["state"] == "firing"]

    def missed() -> list[dict[str, str]]:
        return [
            a["labels"]
            for a in firing()
            if a["labels"]["alertname"] == "ListenerMediaPossiblyMissed"
        ]

    assert poll(lambda: bool(missed()), {}, DATA_S), "ListenerMediaPossiblyMissed never fired"
    assert {labels["account"] for labels in missed()} == {"brand"}
    assert {labels["hashtag"] for labels in missed()} <= {"summerdrop", "sunset"}
    assert [a["labels"] for a in firing() if a["labels"]["severity"] == "critical"] == []


@pytest.mark.parametrize("values", VARIABLE_SETS.values(), ids=VARIABLE_SETS.keys())
@pytest.mark.parametrize("query", panel_queries(), ids=lambda q: q.name)
def test_panel_query_returns_series(
    prometheus: Prometheus, query: PanelQuery, values: dict[str, str]
) -> None:
    """A dashboard panel's query returns at least one series from the scraped worker."""
    assert metrics_in(query.expr) <= defined_metrics() | PROMETHEUS_METRICS, "unknown metric"
    expr = query.render(values)
    series = prometheus.query(expr)  # a query Prometheus rejects fails here
    assert series, f"no series for {expr}"


def test_promtool_checks_the_config() -> None:
    """`promtool check config` accepts deploy/prometheus/prometheus.yml and its rule files."""
    result = subprocess.run(
        [binary("promtool"), "check", "config", str(PROMETHEUS_CONFIG)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_checks_the_rules() -> None:
    """`promtool check rules` accepts the alert rules."""
    result = subprocess.run(
        [binary("promtool"), "check", "rules", str(RULES)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_unit_tests_of_the_rules_pass() -> None:
    """`promtool test rules` passes: every alert fires when it should and only then."""
    result = subprocess.run(
        [binary("promtool"), "test", "rules", str(RULES_TEST)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_firing_and_a_quiet_unit_test() -> None:
    """Each alert of the rules file is tested both firing and not firing."""
    alerts = {
        rule["alert"]
        for group in yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"]
        for rule in group["rules"]
        if "alert" in rule
    }
    cases = [
        case
        for test in yaml.safe_load(RULES_TEST.read_text(encoding="utf-8"))["tests"]
        for case in test.get("alert_rule_test", [])
    ]
    firing = {c["alertname"] for c in cases if c.get("exp_alerts")}
    quiet = {c["alertname"] for c in cases if not c.get("exp_alerts")}
    assert alerts - firing == set(), "alerts never tested firing"
    assert alerts - quiet == set(), "alerts never tested quiet"
    assert (firing | quiet) - alerts == set(), "tests of alerts that do not exist"
