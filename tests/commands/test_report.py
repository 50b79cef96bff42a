"""How a command reads out a token's expiry."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from listener.commands.report import describe_expiry
from tests.commandenv import (
    NOW,
)

# -- pure pieces ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expires_at", "text"),
    [
        (None, "never expires"),
        (NOW + timedelta(days=60), "expires 2027-01-28 (60 days left)"),
        (NOW + timedelta(days=1, hours=23), "expires 2026-12-01 (1 day left)"),
        (NOW + timedelta(hours=5), "expires 2026-11-29 (0 days left)"),
        (NOW, "expired 2026-11-29"),
    ],
)
def test_describe_expiry(expires_at: datetime | None, text: str) -> None:
    """Expiry reads as a date and whole days left, 'never expires', or 'expired'."""
    assert describe_expiry(expires_at, NOW) == text
