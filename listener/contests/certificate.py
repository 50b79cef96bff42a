"""The draw certificate: one self-contained HTML page a person can read, print and keep.

Made from the draw record alone (:func:`render`), so that ``listener draw`` and ``listener draw
verify --html`` write the same page for the same record. It shows the campaign, its rules in
words and their version, when the list and the seed's hash were committed and when the seed was
revealed, the seed's hash and the seed, the entrant list's digest and count, the winners and
alternates with their tickets, permalinks and ``verify author`` marks, and how to check it all.

Safe to open whatever the record holds: every value is HTML-escaped (usernames, permalinks and
the seed come from strangers or from a command line), text written by others is isolated for
bidirectional layout (``<bdi>``), a permalink becomes a link only when it is an ``http(s)`` URL,
and the page carries no script and loads nothing: styles are inline and its Content Security
Policy forbids everything else.
"""

from __future__ import annotations

import html
import shlex
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import urlsplit

from listener.enrich.draw import DrawRecord, Entrant, ticket

_STYLE: Final = """
:root { color-scheme: light; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1d2330;
  max-width: 60rem; margin: 2rem auto; padding: 0 1.5rem; background: #fff; }
header { border-bottom: 3px solid #1d2330; margin-bottom: 1.5rem; }
h1 { font-size: 1.7rem; margin: 0 0 .2rem; }
h2 { font-size: 1.15rem; margin: 1.8rem 0 .6rem; border-bottom: 1px solid #c9cfd9; }
.subtitle { color: #4a5468; margin: 0 0 .8rem; }
dl { display: grid; grid-template-columns: 15rem 1fr; gap: .35rem 1rem; margin: 0; }
dt { color: #4a5468; }
dd { margin: 0; }
code, pre { font: 13px/1.4 ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; }
code { word-break: break-all; }
pre { background: #f3f5f8; border: 1px solid #dde2ea; padding: .8rem; white-space: pre-wrap;
  word-break: break-all; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .4rem .5rem; border-bottom: 1px solid #dde2ea;
  vertical-align: top; }
th { color: #4a5468; font-weight: 600; }
td.rank { width: 3rem; font-weight: 600; }
td.id code { white-space: nowrap; word-break: normal; }
.verify { display: inline-block; background: #fff1c2; border: 1px solid #d9a400;
  border-radius: 3px; padding: 0 .35rem; font-size: .85em; font-weight: 600; }
.note { color: #4a5468; }
footer { margin-top: 2rem; color: #6b7485; font-size: .85em; }
@media print { body { margin: 0; max-width: none; } a { color: inherit; }
  h2 { break-after: avoid; } tr { break-inside: avoid; } }
@page { size: A4; margin: 16mm; }
"""
_POLICY: Final = (
    "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
)


def _e(value: object) -> str:
    """Any value as HTML text: the only way values enter the page."""
    return html.escape(str(value), quote=True)


def _when(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _iso_when(text: object) -> str:
    try:
        return _when(datetime.fromisoformat(str(text)))
    except ValueError:
        return str(text)


def _handles(values: Iterable[object]) -> str:
    return ", ".join(f"@{value}" for value in values)


def rules_in_words(rules: Mapping[str, Any] | None, rules_version: str) -> list[str]:
    """The rules of a record, one sentence each (plain text; the caller escapes)."""
    if rules is None:
        return [
            f"The rules were not recorded with this draw (it was committed by an earlier "
            f"version of listener); their version is {rules_version}."
        ]
    if rules.get("schema") != "contest-rules/2":
        return [f"{key}: {value}" for key, value in sorted(rules.items())]
    own = rules.get("own_username")
    tags = list(rules.get("hashtags") or [])
    words = [
        "The caption carries " + " and ".join(f"#{tag}" for tag in tags) + "."
        if tags
        else "No hashtag is required.",
        f"Published from {_iso_when(rules['starts_at'])} up to, not including, "
        f"{_iso_when(rules['ends_at'])}.",
    ]
    needed = int(rules.get("min_mentions") or 0)
    if needed:
        not_counted = f"@{own} and the author's own handle" if own else "the author's own handle"
        words.append(
            f"The caption @mentions at least {needed} other account{'s' if needed > 1 else ''} "
            f"({not_counted} do not count)."
        )
    excluded = list(rules.get("exclude_usernames") or [])
    if excluded:
        words.append(f"Not posted by {_handles(excluded)}.")
    if rules.get("one_entry_per_user"):
        words.append(
            "One entry per person: where the author is known, only their earliest entry counts."
        )
    else:
        words.append("Every entry counts, however many one person posts.")
    if rules.get("unknown_authors") == "ineligible":
        words.append(
            "Only entries whose author is known count (the brand was tagged or @mentioned)."
        )
    else:
        words.append(
            "Entries whose author Instagram does not name (posts found by hashtag) count too; "
            "such a winner is marked “verify author”."
        )
    return words


def _link(permalink: str) -> str:
    if not permalink:
        return '<span class="note">no permalink</span>'
    parts = urlsplit(permalink)
    if parts.scheme in ("http", "https") and parts.netloc:
        return f'<a href="{_e(permalink)}" rel="noreferrer noopener">{_e(permalink)}</a>'
    return f"<code>{_e(permalink)}</code>"


def _author(entrant: Entrant, described: bool) -> str:
    if not described:
        return '<span class="note">not recorded</span>'
    if entrant.verify_author:
        return '<span class="verify">verify author</span> <span class="note">unknown</span>'
    return f"<bdi>@{_e(entrant.username)}</bdi>"


def _table(record: DrawRecord, entry_ids: Iterable[str], first_rank: int) -> str:
    rows = []
    for rank, entry_id in enumerate(entry_ids, start=first_rank):
        entrant = record.entrant(entry_id)
        described = bool(record.drawn)
        rows.append(
            "<tr>"
            f'<td class="rank">{rank}</td>'
            f'<td class="id"><code>{_e(entry_id)}</code></td>'
            f"<td>{_author(entrant, described)}</td>"
            f"<td>{_link(entrant.permalink) if described else ''}</td>"
            f"<td><code>{_e(ticket(record.seed, entry_id))}</code></td>"
            "</tr>"
        )
    if not rows:
        return '<p class="note">None.</p>'
    return (
        "<table><thead><tr><th>rank</th><th>media id</th><th>author</th><th>permalink</th>"
        "<th>ticket</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
    )


def _recipe(record: DrawRecord) -> str:
    entrants = shlex.quote(f"{record.campaign_id}-entrants.csv")
    return "\n".join(
        [
            f"SEED={shlex.quote(record.seed)}",
            f"sha256sum {entrants}                 # = the entrant list digest",
            "printf '%s' \"$SEED\" | openssl dgst -sha256 -r   # = the seed hash",
            'python3 -c \'import csv,sys; [print(r["media_id"]) for r in '
            'csv.DictReader(open(sys.argv[1], newline="", encoding="utf-8"))]\' \\',
            f"  {entrants} > ids.txt",
            "while IFS= read -r id; do",
            '  t=$(printf \'%s\' "$id" | openssl dgst -sha256 -hmac "$SEED" -r | cut -c1-64)',
            '  printf \'%s %s\\n\' "$t" "$id"',
            "done < ids.txt | LC_ALL=C sort    # first lines: the winners, then the alternates",
        ]
    )


def _facts(pairs: Iterable[tuple[str, str]]) -> str:
    return "<dl>" + "".join(f"<dt>{_e(k)}</dt><dd>{v}</dd>" for k, v in pairs) + "</dl>"


def render(record: DrawRecord) -> str:
    """The certificate of ``record`` as a complete HTML document."""
    body = [
        *_campaign(record),
        *_commitment_and_draw(record),
        "<h2>Winners</h2>",
        _table(record, record.winners, 1),
        "<h2>Alternates, in order</h2>",
        _table(record, record.alternates, len(record.winners) + 1),
        _verify_note(record),
        *_how_to_check(record),
        f"<footer>Generated from the draw record of <bdi>{_e(record.campaign_id)}</bdi>. "
        "It holds everything on this page.</footer>",
    ]
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_e(_POLICY)}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Draw certificate: {_e(record.campaign_id)}</title>"
        f"<style>{_STYLE}</style></head>\n<body>\n" + "\n".join(body) + "\n</body></html>\n"
    )


def _campaign(record: DrawRecord) -> list[str]:
    """The title, and the campaign with its rules in words."""
    rules = "".join(
        f"<li>{_e(line)}</li>" for line in rules_in_words(record.rules, record.rules_version)
    )
    return [
        "<header>",
        f"<h1>Draw certificate: <bdi>{_e(record.campaign_id)}</bdi></h1>",
        f'<p class="subtitle">{len(record.winners)} winner'
        f"{'s' if len(record.winners) != 1 else ''} drawn from {_e(record.entrant_count)} "
        f"entrants on {_e(_when(record.drawn_at))}</p>",
        "</header>",
        "<h2>Campaign and rules</h2>",
        _facts(
            [
                ("campaign", f"<code>{_e(record.campaign_id)}</code>"),
                ("rules version", f"<code>{_e(record.rules_version)}</code>"),
            ]
        ),
        f"<ul>{rules}</ul>",
    ]


def _commitment_and_draw(record: DrawRecord) -> list[str]:
    """What was committed before the draw, and what the draw revealed."""
    return [
        "<h2>Commitment (before the draw)</h2>",
        _facts(
            [
                ("committed at", _e(_when(record.committed_at))),
                ("seed hash (SHA-256)", f"<code>{_e(record.seed_commitment)}</code>"),
                ("entrant list digest (SHA-256)", f"<code>{_e(record.entrants_digest)}</code>"),
                ("entrants", _e(record.entrant_count)),
                ("entrant list format", f"<code>{_e(record.entrants_format)}</code>"),
            ]
        ),
        "<h2>Reveal and draw</h2>",
        _facts(
            [
                ("drawn at", _e(_when(record.drawn_at))),
                ("seed (revealed)", f"<code>{_e(record.seed)}</code>"),
                ("algorithm", f"<code>{_e(record.algorithm)}</code>"),
                ("winners asked", _e(record.winners_asked)),
                ("alternates asked", _e(record.alternates_asked)),
            ]
        ),
    ]


def _verify_note(record: DrawRecord) -> str:
    """What to do before announcing a winner whose author is unknown; empty if none is."""
    if not any(e.verify_author for e in record.drawn):
        return ""
    return (
        '<p><span class="verify">verify author</span> Instagram does not name the author of '
        "a post found by hashtag. Before announcing such a winner, open its permalink to see "
        "who posted it. If that person already holds a place higher in the ranking (a "
        "duplicate, under one entry per person), pass over this entry and move to the next "
        "alternate, in order.</p>"
    )


def _how_to_check(record: DrawRecord) -> list[str]:
    """How anyone re-runs the draw: with listener, or by hand."""
    record_name = f"{record.campaign_id}-draw.json"
    list_name = f"{record.campaign_id}-entrants.csv"
    verify_command = (
        f"listener draw verify {shlex.quote(record_name)} --entrants {shlex.quote(list_name)}"
    )
    return [
        "<h2>How to check this draw</h2>",
        "<ol>",
        "<li>The seed hash above was published before entries closed; the SHA-256 of the "
        "revealed seed must equal it.</li>",
        "<li>The published entrant list must have the digest above and hold "
        f"{_e(record.entrant_count)} entrants.</li>",
        "<li>Each entrant's ticket is HMAC-SHA256 with the seed as key and the media id as "
        "message; the lowest tickets win, then come the alternates.</li>",
        "<li>With listener, from the record and the list alone: "
        f"<code>{_e(verify_command)}</code></li>",
        "<li>Or by hand, with a shell, openssl and Python:</li>",
        "</ol>",
        f"<pre>{_e(_recipe(record))}</pre>",
    ]
