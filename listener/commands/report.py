"""What a one-shot command prints: ``<status>: <subject>: <text>``, then a summary line.

Status is ``ok``, ``note`` (nothing to fix), ``warning`` or ``problem``; the exit code is 0 only
when there is no warning and no problem.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TextIO

EXIT_OK = 0
EXIT_FAILURE = 1


class Report:
    """The lines a command prints, and whether anything needs a human."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self.problems = 0
        self.warnings = 0

    def line(self, status: str, subject: str, text: str) -> None:
        """One finding, on one line whatever ``text`` holds."""
        one_line = " ".join(text.split())
        self._out.write(f"{status}: {subject}: {one_line}\n")

    def ok(self, subject: str, text: str) -> None:
        """All is well with ``subject``."""
        self.line("ok", subject, text)

    def note(self, subject: str, text: str) -> None:
        """Something to know, nothing to fix."""
        self.line("note", subject, text)

    def warning(self, subject: str, text: str) -> None:
        """Something to fix soon."""
        self.warnings += 1
        self.line("warning", subject, text)

    def problem(self, subject: str, text: str) -> None:
        """Something to fix now."""
        self.problems += 1
        self.line("problem", subject, text)

    def finish(self, command: str) -> int:
        """Print the summary line; the exit code."""
        if not self.problems and not self.warnings:
            self._out.write(f"{command}: all well\n")
            return EXIT_OK
        counts = [_plural(self.problems, "problem"), _plural(self.warnings, "warning")]
        self._out.write(f"{command}: {', '.join(c for c in counts if c)}\n")
        return EXIT_FAILURE


def _plural(count: int, noun: str) -> str:
    return "" if count == 0 else f"{count} {noun}{'' if count == 1 else 's'}"


def describe_expiry(expires_at: datetime | None, now: datetime) -> str:
    """``expires 2027-01-28 (60 days left)``, ``never expires`` or ``expired 2026-11-01`` (pure)."""
    if expires_at is None:
        return "never expires"
    if expires_at <= now:
        return f"expired {expires_at:%Y-%m-%d}"
    days = (expires_at - now) // timedelta(days=1)
    return f"expires {expires_at:%Y-%m-%d} ({days} day{'' if days == 1 else 's'} left)"
