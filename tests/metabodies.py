"""Bodies Meta really sent, as other projects captured them (``tests/fixtures/meta``).

Each folder's ``SOURCE.md`` says where a file comes from, under which licence, and what (if
anything) was changed. Names are paths under ``tests/fixtures/meta``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Final

ROOT: Final = Path(__file__).parent / "fixtures" / "meta"

DELIVERIES: Final = (
    "restfb/wh-comments.json",
    "restfb/wh-comments-2021.json",
    "restfb/wh-livecomments.json",
    "restfb/wh-mentions.json",
    "restfb/wh-story_insights.json",
    "restfb/messaging-seen.json",
    "restfb/messaging-attachment-unsupported.json",
    "meta-docs/comments-instagram-login.json",
    "meta-docs/messaging-instagram-login.json",
    "meta-docs/mentions-and-messaging.json",
)
"""Every webhook delivery body among the fixtures."""


def raw(name: str) -> bytes:
    """The file's bytes, exactly as stored."""
    return (ROOT / name).read_bytes()


def body(name: str) -> Any:
    """The file's JSON."""
    return json.loads(raw(name))


def with_entry_id(name: str, entry_id: str) -> bytes:
    """A delivery with every entry's id replaced by ``entry_id`` (a configured account's)."""
    document = body(name)
    for envelope in document if isinstance(document, list) else [document]:
        for entry in envelope["entry"]:
            entry["id"] = entry_id
    return json.dumps(document).encode()
