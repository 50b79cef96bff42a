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

**CSV is opened in spreadsheets, and captions and usernames are written by strangers.** Following
OWASP's CSV-injection guidance, the CSV format :data:`ENTRANTS_CSV` (``entrants-csv/2``) quotes
every cell (so no ``,`` or ``;`` inside a caption can start a new cell in any locale, and quotes
are doubled), and a cell that begins with a character a spreadsheet evaluates — ``=``, ``+``,
``-``, ``@``, tab, carriage return, line feed, NUL — or with spaces before one, is written with a
leading ``'`` so that it is read as text. A cell that itself begins with ``'`` gets one too, so
the escape is reversible: :func:`csv_text` removes exactly one leading ``'``. Every column is
covered, numbers included (a negative ``sentiment_score`` reads ``'-0.42``), except ``media_id``,
which is written as it is: a draw's tickets are HMAC-SHA256 of the ids a verifier reads from the
file. Media ids are Meta's digits; an id that would need the escape is refused
(:class:`UnsafeIdError`) rather than written differently. JSON and NDJSON keep every text
exactly (U+0085, U+2028 and U+2029 are written as ``\\u`` escapes, so that every NDJSON entry is
one line whatever a reader counts as a line break).

The first CSV format, ``entrants-csv/1`` (:data:`~listener.enrich.draw.LEGACY_ENTRANTS_FORMAT`:
minimal quoting, no escape), is still written for a draw committed with it, so that such a draw
can be run and verified after an upgrade; nothing else uses it.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, BinaryIO, Final, Literal

from listener.enrich.draw import LEGACY_ENTRANTS_FORMAT, Entrant
from listener.store.media import MediaRepository

Format = Literal["csv", "json", "ndjson"]
FORMATS: Final = ("csv", "json", "ndjson")
ENTRANTS_CSV: Final = "entrants-csv/2"
"""The CSV format exports and new draws use (quoted, formula-escaped cells)."""
CSV_FORMATS: Final = (LEGACY_ENTRANTS_FORMAT, ENTRANTS_CSV)
FORMULA_TRIGGERS: Final = frozenset("=+-@\t\r\n\0")
"""First characters that make a spreadsheet evaluate a cell (OWASP, plus LF and NUL)."""
TEXT_MARK: Final = "'"
"""Prefixed to a CSV cell that must be read as text; spreadsheets show the rest."""
_UNSAFE_IN_JSON_LINES: Final = {"\u0085": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"}
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


class UnsafeIdError(ValueError):
    """A media id a spreadsheet would evaluate: escaped, it would not be the id a verifier reads."""


@dataclass(frozen=True)
class ExportSummary:
    """What an export wrote: entrants numbered, how many of them have a known author, rows,
    the sha256 of the bytes."""

    entrants: int
    rows: int
    digest: str
    known_authors: int = 0

    @property
    def known_ratio(self) -> float:
        """Share of the entrants whose author is known (0 when there are none)."""
        return self.known_authors / self.entrants if self.entrants else 0.0


def csv_cell(text: str) -> str:
    """``text`` as an ``entrants-csv/2`` cell: with a leading ``'`` if a spreadsheet would
    evaluate it (or if it starts with ``'`` itself); otherwise unchanged."""
    if not text:
        return text
    first = text[0]
    unindented = text.lstrip()
    if (
        first in FORMULA_TRIGGERS
        or first == TEXT_MARK
        or (unindented and unindented[0] in FORMULA_TRIGGERS)
    ):
        return TEXT_MARK + text
    return text


def csv_text(cell: str) -> str:
    """The text an ``entrants-csv/2`` cell holds: :func:`csv_cell` undone."""
    return cell.removeprefix(TEXT_MARK)


def timestamp_cell(value: Any) -> str:
    """A stored time as an export cell: UTC ISO 8601 with ``Z`` (empty when missing)."""
    if not isinstance(value, datetime):
        return ""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def row(document: Mapping[str, Any], campaign: str, entry_number: int | None) -> dict[str, Any]:
    """One export row from a stored media document (pure)."""
    known = bool(document.get("username"))
    return {
        "entry_number": entry_number,
        "media_id": str(document["_id"]),
        "permalink": document.get("permalink") or "",
        "username": document.get("username") or "",
        "identity_source": (document.get("username_source") or "") if known else "",
        "timestamp": timestamp_cell(document.get("timestamp")),
        "caption": document.get("caption") or "",
        **judged_cells(document, campaign),
    }


def judged_cells(document: Mapping[str, Any], campaign: str) -> dict[str, Any]:
    """The cells every export row ends with: sentiment, its score, the verdict and reasons."""
    verdict = (document.get("contests") or {}).get(campaign, {})
    sentiment = document.get("sentiment") or {}
    return {
        "sentiment": sentiment.get("label") or "",
        "sentiment_score": sentiment.get("score"),
        "eligible": bool(verdict.get("eligible")),
        "reasons": list(verdict.get("reasons") or []),
    }


class _Encoder:
    """Turns rows into bytes for one format (``csv_format`` says which CSV)."""

    def __init__(
        self, fmt: Format, columns: tuple[str, ...], csv_format: str, id_column: str = "media_id"
    ) -> None:
        if csv_format not in CSV_FORMATS:
            raise ValueError(
                f"CSV format must be one of {', '.join(CSV_FORMATS)}, not {csv_format!r}"
            )
        self._fmt = fmt
        self._columns = columns
        self._escaped = csv_format == ENTRANTS_CSV
        self._id = id_column
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
            entry_id = flat[self._id]
            if self._escaped and csv_cell(entry_id) != entry_id:
                raise UnsafeIdError(
                    f"{self._id.replace('_', ' ')} {entry_id!r} starts with a character a "
                    "spreadsheet evaluates; it cannot be exported as an entry"
                )
            return self._csv({k: "" if v is None else v for k, v in flat.items()})
        line = json.dumps(picked, ensure_ascii=False, separators=(",", ":"))
        for raw, escaped in _UNSAFE_IN_JSON_LINES.items():
            line = line.replace(raw, escaped)
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
        if self._escaped:
            cells = [
                values[c] if c == self._id else csv_cell(str(values[c])) for c in self._columns
            ]
            csv.writer(buffer, lineterminator="\n", quoting=csv.QUOTE_ALL).writerow(cells)
        else:
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
    csv_format: str = ENTRANTS_CSV,
) -> ExportSummary:
    """Write a campaign's entrants (``include_all``: every judged media) to ``out``.

    Nothing grows with the number of entrants; a draw reads the entrants back from the bytes it
    hashes (:func:`read_entrants`), so the list and its digest cannot disagree.
    :class:`UnsafeIdError` (a ``ValueError``) for a media id no CSV cell can hold safely.
    """
    return await write_entrants(
        out,
        media_listing(media, campaign, include_all=include_all),
        fmt=fmt,
        include_all=include_all,
        progress=progress,
        csv_format=csv_format,
    )


def media_listing(
    media: MediaRepository,
    campaign: str,
    *,
    include_all: bool,
    window: tuple[datetime, datetime] | None = None,
) -> Listing:
    """What the export of a hashtag campaign lists: its judged media.

    ``window``: the campaign's ``[starts_at, ends_at)``. Only media published in it can be
    eligible, so the entrants are read from that stretch of the ``timestamp_id`` index rather
    than from every media ever stored.
    """
    return Listing(
        ALL_COLUMNS if include_all else COLUMNS,
        lambda eligible: _documents(
            media, campaign, eligible=eligible, window=window if eligible else None
        ),
        lambda document, number: row(document, campaign, number),
    )


@dataclass(frozen=True)
class Listing:
    """What an export lists: its columns (the id column first after ``entry_number``), the
    documents (eligible ones, or the others) in entry order, and the row of each."""

    columns: tuple[str, ...]
    documents: Callable[[bool], AsyncIterator[dict[str, Any]]]
    row: Callable[[Mapping[str, Any], int | None], dict[str, Any]]

    @property
    def id_column(self) -> str:
        """The column holding the entry id a draw's tickets are computed from."""
        return self.columns[1]


async def write_entrants(
    out: BinaryIO,
    listing: Listing,
    *,
    fmt: Format = "csv",
    include_all: bool = False,
    progress: Callable[[int], None] | None = None,
    csv_format: str = ENTRANTS_CSV,
) -> ExportSummary:
    """Write ``listing``'s entrants (``include_all``: then the others, unnumbered) to ``out``."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    digest = hashlib.sha256()
    encoder = _Encoder(fmt, listing.columns, csv_format, listing.id_column)

    def write(chunk: bytes) -> None:
        digest.update(chunk)
        out.write(chunk)

    write(encoder.start())
    entrants = rows = known = 0
    async for document in listing.documents(True):
        entrants += 1
        values = listing.row(document, entrants)
        known += bool(values["username"])
        write(encoder.encode(values))
        rows += 1
        if progress is not None and rows % 1000 == 0:
            progress(rows)
    if include_all:
        async for document in listing.documents(False):
            write(encoder.encode(listing.row(document, None)))
            rows += 1
            if progress is not None and rows % 1000 == 0:
                progress(rows)
    write(encoder.end())
    return ExportSummary(entrants, rows, digest.hexdigest(), known)


def _documents(
    media: MediaRepository,
    campaign: str,
    *,
    eligible: bool,
    window: tuple[datetime, datetime] | None = None,
) -> AsyncIterator[dict[str, Any]]:
    query: dict[str, Any] = {f"contests.{campaign}.eligible": eligible}
    if window is not None:
        query["timestamp"] = {"$gte": window[0], "$lt": window[1]}
    return media.stream(
        query,
        sort=[("timestamp", 1), ("_id", 1)],
        projection=projection(campaign),
    )


def projection(campaign: str) -> dict[str, Any]:
    """The fields an export reads of each media."""
    return {
        "caption": 1,
        "permalink": 1,
        "username": 1,
        "username_source": 1,
        "timestamp": 1,
        "sentiment": 1,
        f"contests.{campaign}": 1,
    }


def read_entry_ids(data: bytes) -> list[str]:
    """The numbered entrants' media ids of an exported file, in entry order (any format)."""
    text = data.decode("utf-8")
    stripped = text.lstrip()
    if stripped.startswith("["):
        records: list[Mapping[str, Any]] = json.loads(text)
    elif stripped.startswith("{"):
        # Only "\n" ends an NDJSON entry: str.splitlines() would also split at U+2028 and others.
        records = [json.loads(line) for line in text.split("\n") if line.strip()]
    else:
        records = list(csv.DictReader(io.StringIO(text, newline="")))
    return [str(_entry_id(r)) for r in _numbered(records)]


def read_entrants(data: bytes, csv_format: str = ENTRANTS_CSV) -> list[Entrant]:
    """The numbered entrants of a canonical CSV list, in entry order, texts as exported.

    ``ValueError`` for an unknown format or a file that is not such a list.
    """
    if csv_format not in CSV_FORMATS:
        raise ValueError(
            f"unknown entrant list format {csv_format!r}; this version reads "
            f"{', '.join(CSV_FORMATS)}"
        )
    text: Callable[[str], str] = csv_text if csv_format == ENTRANTS_CSV else _as_written
    try:
        records = list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))
        return [
            Entrant(
                entry_id=_entry_id(r),
                permalink=text(r.get("permalink") or ""),
                username=text(r["username"]),
            )
            for r in _numbered(records)
        ]
    except (KeyError, TypeError, UnicodeDecodeError, csv.Error) as exc:
        raise ValueError(f"not a {csv_format} entrant list ({type(exc).__name__}: {exc})") from None


def _entry_id(record: Mapping[str, Any]) -> str:
    """The entry id of a listed row: its comment id in a comment campaign's list."""
    return str(record["comment_id"] if "comment_id" in record else record["media_id"])


def _as_written(cell: str) -> str:
    return cell


def _numbered(records: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The rows with an entry number, in entry order."""
    numbered = []
    for record in records:
        number = csv_text(str(record.get("entry_number") or "")).strip()
        if number not in ("", "None"):
            numbered.append((int(number), record))
    numbered.sort(key=lambda pair: pair[0])
    return [record for _, record in numbered]
