"""The command line as a user meets it: one-line errors, exit codes, clean shutdown on signals."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from testbed import free_port

TIMEOUT_S = 60


def listener(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "listener", *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        env={**os.environ, **(env or {})},
        check=False,
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[store\n", "is not valid TOML"),
        ("[store]\nmongo_uri = 'x'\n", "store.mongo_uri: unknown key"),
        (
            "[[accounts]]\nname='a'\nig_user_id='1'\nhashtags=["
            + ", ".join(f"'t{i}'" for i in range(31))
            + "]\n",
            "at most 30 distinct hashtags",
        ),
        (
            "[polling]\nhashtag_interval_s = 2\n",
            "polling: hashtag_interval_s = 2 is below min_interval_s = 60 (the default)",
        ),
        (
            "[[accounts]]\nname = 'a'\nig_user_id = '1'\n",
            "listener: graph.app_secret is empty but accounts.0.mentions = true receives webhooks",
        ),
    ],
)
def test_bad_config_exits_2_with_one_line(tmp_path: Path, text: str, expected: str) -> None:
    """A broken, contradicting or unsafe config gives exit 2 and one stderr line; nothing starts."""
    config = tmp_path / "c.toml"
    config.write_text(text, encoding="utf-8")
    result = listener("run", "--config", str(config))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert expected in lines[0]
    assert "Traceback" not in result.stderr
    assert "server.started" not in result.stdout


def test_run_without_accounts_exits_2_saying_what_to_pass() -> None:
    """`listener run` with no account (no --config, no LISTENER_ variables) does not idle."""
    result = listener("run")
    assert result.returncode == 2
    assert result.stderr == (
        "listener: no accounts configured: pass --config FILE with at least one [[accounts]] "
        "table (or set LISTENER_ACCOUNTS)\n"
    )


def test_unreadable_config_path_exits_2(tmp_path: Path) -> None:
    """A config path that does not exist is named on one line with exit code 2."""
    result = listener("run", "--config", str(tmp_path / "missing.toml"))
    assert result.returncode == 2
    assert "does not exist" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_bad_environment_value_exits_2(tmp_path: Path) -> None:
    """An environment override of the wrong type is a config error too."""
    result = listener("run", env={"LISTENER_SERVER__PORT": "not-a-port"})
    assert result.returncode == 2
    assert "server.port" in result.stderr


def test_unknown_command_exits_2() -> None:
    """A command that does not exist is a usage error, on one line."""
    result = listener("frobnicate")
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1


def start_worker(tmp_path: Path, config_text: str) -> subprocess.Popen[str]:
    """Start `listener run` and return once its web server is listening."""
    config = tmp_path / "worker.toml"
    config.write_text(config_text, encoding="utf-8")
    process = subprocess.Popen(
        [sys.executable, "-m", "listener", "run", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ},
    )
    assert process.stdout is not None
    for line in process.stdout:
        if json.loads(line).get("event") == "server.started":
            return process
    process.kill()
    pytest.fail(f"worker did not start: {process.stderr.read() if process.stderr else ''}")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_the_worker_with_exit_0(tmp_path: Path, sig: signal.Signals) -> None:
    """SIGTERM or SIGINT stops a running worker cleanly: exit code 0 well within 10 s."""
    process = start_worker(
        tmp_path,
        f"""
[graph]
app_secret = "demo-app-secret"
[store]
mongodb_uri = "embedded"
embedded_path = "{tmp_path / "data"}"
[server]
port = {free_port()}
[polling]
hashtag_interval_s = 1
min_interval_s = 1
[ratelimit]
app_users = 100
[simulator]
enabled = true
[[accounts]]
name = "brand"
ig_user_id = "17841400000000001"
access_token = "demo-token"
hashtags = ["summerdrop", "sunset"]
""",
    )
    with process:
        process.send_signal(sig)
        assert process.wait(timeout=10) == 0
        assert process.stdout is not None
        lines = process.stdout.read().splitlines()
    events = [json.loads(line)["event"] for line in lines if line.startswith("{")]
    assert "worker.stopped" in events


def test_sigterm_while_mongodb_never_answers_exits_0(tmp_path: Path) -> None:
    """`listener run` against a port where nothing listens stops on SIGTERM while it still
    waits for MongoDB (60 s timeouts), instead of waiting them out."""
    config = tmp_path / "worker.toml"
    config.write_text(
        f"""
[graph]
app_secret = "an-app-secret"
[store]
mongodb_uri = "mongodb://127.0.0.1:{free_port()}/?directConnection=true"
timeout_s = 60
[server]
port = {free_port()}
[polling]
shutdown_grace_s = 1
[[accounts]]
name = "brand"
ig_user_id = "17841400000000001"
access_token = "a-token"
hashtags = ["summerdrop"]
""",
        encoding="utf-8",
    )
    with subprocess.Popen(
        [sys.executable, "-m", "listener", "run", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        assert process.stdout is not None
        first = json.loads(process.stdout.readline())
        assert first["event"] == "worker.starting"  # signal handlers are in place
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        events = [json.loads(line)["event"] for line in process.stdout]
    assert events[-1] == "worker.stopped"
    assert "server.started" not in events


def test_export_unknown_campaign_exits_2(tmp_path: Path) -> None:
    """export entrants for a campaign not in the config: one line naming it, exit 2."""
    config = tmp_path / "c.toml"
    config.write_text(
        f'[store]\nmongodb_uri = "embedded"\nembedded_path = "{tmp_path / "data"}"\n',
        encoding="utf-8",
    )
    result = listener("export", "entrants", "--config", str(config), "--campaign", "nope")
    assert result.returncode == 2
    assert "unknown campaign 'nope'" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_draw_without_its_options_exits_2(tmp_path: Path) -> None:
    """`listener draw` without --winners and --seed says what is missing."""
    result = listener("draw", "--config", "x.toml", "--campaign", "c")
    assert result.returncode == 2
    assert "--winners, --seed" in result.stderr


def test_draw_verify_reports_unreadable_files(tmp_path: Path) -> None:
    """Verifying with a record that is not a draw record: one line, exit 1."""
    record = tmp_path / "r.json"
    record.write_text("{}", encoding="utf-8")
    entrants = tmp_path / "e.csv"
    entrants.write_text("entry_number,media_id\n", encoding="utf-8")
    result = listener("draw", "verify", str(record), "--entrants", str(entrants))
    assert result.returncode == 1
    assert "cannot read the draw files" in result.stderr
