"""Entrant export: a campaign's entries streamed from a MongoDB cursor as CSV, JSON or NDJSON.

Constant memory: documents are read in batches and each row is written as soon as it is formed.
Entries are numbered 1, 2, … in the order they were published (timestamp, then media id);
with ``include_all`` the ineligible media follow in the same order, unnumbered, with their
reasons. The CSV export of eligible entrants is the *canonical* list a draw is committed to:
its bytes are deterministic for a given database state.

Columns: ``entry_number``, ``media_id``, ``permalink``, ``username`` (empty when unknown),
``identity_source`` (which feed told us the author: ``tags``, ``mention_media``,
``mention_comment``; empty when unknown), ``timestamp`` (UTC, ISO 8601 with ``Z``), ``caption``,
``sentiment``, ``sentiment_score``; with ``include_all`` also ``eligible`` and ``reasons``
(``;``-separated reason codes).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, BinaryIO, Final, Literal

from listener.store.media import MediaRepository

Format = Literal["csv", "json", "ndjson"]
FORMATS: Final = ("csv", "json", "ndjson")
COLUMNS: Final = (
    "entry_number",
    "media_id",
    "permalink",
    "username",
    "identity_source",
    "timestamp",
    "caption",
    "sentiment",
    "sentiment_score",
)
ALL_COLUMNS: Final = (*COLUMNS, "eligible", "reasons")


@dataclass(frozen=True)
class ExportSummary:
    """What an export wrote: entrants numbered, rows, the sha256 of the bytes."""

    entrants: int
    rows: int
    digest: str


def _timestamp(value: Any) -> str:
    if not isinstance(value, datetime):
        return ""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def row(document: Mapping[str, Any], campaign: str, entry_number: int | None) -> dict[str, Any]:
    """One export row from a stored media document (pure)."""
    verdict = document.get("contests", {}).get(campaign, {})
    sentiment = document.get("sentiment") or {}
    known = bool(document.get("username"))
    return {
        "entry_number": entry_number,
        "media_id": str(document["_id"]),
        "permalink": document.get("permalink") or "",
        "username": document.get("username") or "",
        "identity_source": (document.get("username_source") or "") if known else "",
        "timestamp": _timestamp(document.get("timestamp")),
        "caption": document.get("caption") or "",
        "sentiment": sentiment.get("label") or "",
        "sentiment_score": sentiment.get("score"),
        "eligible": bool(verdict.get("eligible")),
        "reasons": list(verdict.get("reasons") or []),
    }


class _Encoder:
    """Turns rows into bytes for one format."""

    def __init__(self, fmt: Format, columns: tuple[str, ...]) -> None:
        self._fmt = fmt
        self._columns = columns
        self._first = True

    def start(self) -> bytes:
        if self._fmt == "csv":
            return self._csv({c: c for c in self._columns})
        return b"[\n" if self._fmt == "json" else b""

    def encode(self, values: Mapping[str, Any]) -> bytes:
        picked = {c: values[c] for c in self._columns}
        if self._fmt == "csv":
            flat = dict(picked)
            if "reasons" in flat:
                flat["reasons"] = ";".join(flat["reasons"])
            if "eligible" in flat:
                flat["eligible"] = "true" if flat["eligible"] else "false"
            return self._csv({k: "" if v is None else v for k, v in flat.items()})
        line = json.dumps(picked, ensure_ascii=False, separators=(",", ":"))
        if self._fmt == "ndjson":
            return (line + "\n").encode()
        prefix = "" if self._first else ",\n"
        self._first = False
        return (prefix + line).encode()

    def end(self) -> bytes:
        if self._fmt == "json":
            return b"\n]\n" if not self._first else b"]\n"
        return b""

    def _csv(self, values: Mapping[str, Any]) -> bytes:
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerow([values[c] for c in self._columns])
        return buffer.getvalue().encode()


async def export_entrants(
    media: MediaRepository,
    campaign: str,
    out: BinaryIO,
    *,
    fmt: Format = "csv",
    include_all: bool = False,
    progress: Callable[[int], None] | None = None,
) -> ExportSummary:
    """Write a campaign's entrants (``include_all``: every judged media) to ``out``.

    Nothing grows with the number of entrants; a draw reads the ids back from the bytes it
    hashes (:func:`read_entry_ids`), so the list and its digest cannot disagree.
    """
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    digest = hashlib.sha256()
    encoder = _Encoder(fmt, ALL_COLUMNS if include_all else COLUMNS)

    def write(chunk: bytes) -> None:
        digest.update(chunk)
        out.write(chunk)

    write(encoder.start())
    entrants = rows = 0
    async for document in _documents(media, campaign, eligible=True):
        entrants += 1
        write(encoder.encode(row(document, campaign, entrants)))
        rows += 1
        if progress is not None and rows % 1000 == 0:
            progress(rows)
    if include_all:
        async for document in _documents(media, campaign, eligible=False):
            write(encoder.encode(row(document, campaign, None)))
            rows += 1
            if progress is not None and rows % 1000 == 0:
                progress(rows)
    write(encoder.end())
    return ExportSummary(entrants, rows, digest.hexdigest())


def _documents(
    media: MediaRepository, campaign: str, *, eligible: bool
) -> AsyncIterator[dict[str, Any]]:
    return media.stream(
        {f"contests.{campaign}.eligible": eligible},
        sort=[("timestamp", 1), ("_id", 1)],
        projection={
            "caption": 1,
            "permalink": 1,
            "username": 1,
            "username_source": 1,
            "timestamp": 1,
            "sentiment": 1,
            f"contests.{campaign}": 1,
        },
    )


def read_entry_ids(data: bytes) -> list[str]:
    """The numbered entrants' media ids of an exported file, in entry order (any format)."""
    text = data.decode("utf-8")
    stripped = text.lstrip()
    if stripped.startswith("["):
        records: list[Mapping[str, Any]] = json.loads(text)
    elif stripped.startswith("{"):
        records = [json.loads(line) for line in text.splitlines() if line.strip()]
    else:
        records = list(csv.DictReader(io.StringIO(text)))
    numbered = [r for r in records if str(r.get("entry_number") or "").strip() not in ("", "None")]
    numbered.sort(key=lambda r: int(str(r["entry_number"])))
    return [str(r["media_id"]) for r in numbered]
