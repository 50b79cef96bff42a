"""Debian's headless chromium as the tests' renderer of draw certificates: DOM, PNG and PDF.

Each rendering is one ``chromium --headless`` run with a fresh profile in a temporary folder,
no network, no sync, no GPU; the page is opened as a ``file://`` URL. Without the binary
(``.ci/install-deb`` installs the ``chromium`` package) the browser tests skip, and
``LISTENER_TEST_NO_SKIP=1`` (CI) makes that skip a failure.

The certificate picture in docs/contests.md is made by the same renderer, from
:func:`sample_record`::

    .venv/bin/python -m tests.contests.chromium docs/draw-certificate.png
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

import pytest

from listener.contests.certificate import render
from listener.enrich.contests import Rules
from listener.enrich.draw import DrawRecord, Entrant
from tests.contests.records import record_of

BINARY: Final = "/usr/bin/chromium"
TIMEOUT_S: Final = 90
WINDOW: Final = (1100, 2150)
"""The viewport of screenshots: the whole certificate of a few winners fits in it."""
FLAGS: Final = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
)


def installed() -> str | None:
    """Debian's chromium, or any ``chromium`` on PATH."""
    return BINARY if os.access(BINARY, os.X_OK) else shutil.which("chromium")


def binary() -> str:
    """The chromium binary; skip without it (a failure where skips are forbidden, as in CI)."""
    path = installed()
    if path is not None:
        return path
    message = "chromium not found: install Debian's chromium package (.ci/install-deb)"
    pytest.skip(message)


def run(page: Path, *flags: str) -> bytes:
    """One headless chromium run on ``page`` with ``flags``; its stdout."""
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        result = subprocess.run(
            [binary(), *FLAGS, f"--user-data-dir={profile}", *flags, page.resolve().as_uri()],
            capture_output=True,
            timeout=TIMEOUT_S,
            env={**os.environ, "HOME": profile},
            check=False,
        )
    if result.returncode != 0:
        raise RuntimeError(
            f"chromium failed ({result.returncode}): {result.stderr.decode()[-2000:]}"
        )
    return result.stdout


def dom(page: Path) -> str:
    """The page's DOM as chromium serialises it once loaded (``--dump-dom``)."""
    return run(page, "--dump-dom").decode("utf-8")


def screenshot(page: Path, png: Path) -> tuple[int, int]:
    """A PNG of the page at :data:`WINDOW`; its (width, height) read from the file."""
    run(page, f"--screenshot={png.resolve()}", f"--window-size={WINDOW[0]},{WINDOW[1]}")
    data = png.read_bytes()
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        raise RuntimeError(f"{png} is not a PNG")
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def pdf(page: Path, out: Path) -> bytes:
    """The page printed to PDF (no browser header or footer); the PDF's bytes."""
    run(page, f"--print-to-pdf={out.resolve()}", "--no-pdf-header-footer")
    return out.read_bytes()


def sample_record() -> DrawRecord:
    """The draw shown in docs/contests.md: 3 winners and 3 alternates of 36, two authors unknown."""
    rules = Rules(
        campaign_id="summerdrop-2026",
        starts_at=datetime(2026, 6, 1, tzinfo=UTC),
        ends_at=datetime(2026, 7, 1, tzinfo=UTC),
        hashtags=("summerdrop",),
        min_mentions=1,
        exclude_usernames=("brand",),
        own_username="brand",
    )
    names = ["lena.travels", "", "marco_eats", "aiko.photo", "", "sam_daily"] * 6
    entrants = [
        Entrant(f"178900000000{n:05d}", f"https://www.instagram.com/p/Cx{n:04d}sum/", name)
        for n, name in enumerate(names, start=1)
    ]
    return record_of(
        rules,
        entrants,
        seed="9c2e4f7a1b3d5e6f8a0b2c4d6e8f0a1b3c5d7e9f1a2b4c6d8e0f2a4b6c8d0e2f",
        winners=3,
        alternates=3,
        committed_at=datetime(2026, 6, 20, 9, 0, tzinfo=UTC),
        drawn_at=datetime(2026, 7, 1, 10, 0, tzinfo=UTC),
    )


def main() -> None:
    """``python -m tests.contests.chromium OUT.png``: the sample certificate's picture."""
    if len(sys.argv) != 2:
        sys.exit("usage: python -m tests.contests.chromium OUT.png")
    if installed() is None:
        sys.exit("chromium not found: install Debian's chromium package (.ci/install-deb)")
    out = Path(sys.argv[1])
    with tempfile.TemporaryDirectory() as folder:
        page = Path(folder) / "summerdrop-2026-draw.html"
        page.write_text(render(sample_record()), encoding="utf-8")
        width, height = screenshot(page, out)
    print(f"{out}: {width}x{height}")


if __name__ == "__main__":
    main()
