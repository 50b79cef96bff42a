"""The draw certificate, pure: what it shows, that it needs nothing else, that nothing in a
record can turn into markup, and that a record alone makes it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from html.parser import HTMLParser

import pytest

from listener.contests.certificate import render, rules_in_words
from listener.enrich.contests import Rules, rules_document, rules_version
from listener.enrich.draw import DrawRecord, Entrant, ticket
from tests.contests.records import record_of

RULES = Rules(
    campaign_id="summerdrop-2026",
    starts_at=datetime(2026, 6, 1, tzinfo=UTC),
    ends_at=datetime(2026, 7, 1, tzinfo=UTC),
    hashtags=("summerdrop",),
    min_mentions=1,
    exclude_usernames=("brand", "staff"),
    own_username="brand",
)
SEED = "5f1c0ffee"
ENTRANTS = [
    Entrant("17890000000000001", "https://www.instagram.com/p/AAA/", "ana"),
    Entrant("17890000000000002", "https://www.instagram.com/p/BBB/", ""),
    Entrant("17890000000000003", "https://www.instagram.com/p/CCC/", "bo"),
    Entrant("17890000000000004", "https://www.instagram.com/p/DDD/", "cy"),
]


def drawn(seed: str = SEED, entrants: list[Entrant] = ENTRANTS) -> DrawRecord:
    """A draw of ``entrants`` with ``seed``: 2 winners, 2 alternates."""
    return record_of(
        RULES,
        entrants,
        seed=seed,
        winners=2,
        alternates=2,
        committed_at=datetime(2026, 6, 28, 9, 30, tzinfo=UTC),
        drawn_at=datetime(2026, 7, 1, 10, 0, tzinfo=UTC),
    )


class Page(HTMLParser):
    """The tags, attributes and text of a page."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.chunks: list[str] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.chunks.append(data)

    @property
    def text(self) -> str:
        return "".join(self.chunks)


def test_the_certificate_shows_everything_the_record_holds() -> None:
    """Campaign, rules and version, times, both hashes, the seed, count, winners, alternates."""
    record = drawn()
    text = Page(render(record)).text
    for value in (
        record.campaign_id,
        record.rules_version,
        "2026-06-28 09:30:00 UTC",
        "2026-07-01 10:00:00 UTC",
        record.seed_commitment,
        record.seed,
        record.entrants_digest,
        "entrants-csv/2",
        *record.winners,
        *record.alternates,
        *(ticket(SEED, i) for i in (*record.winners, *record.alternates)),
        *(e.permalink for e in record.drawn),
        *(f"@{e.username}" for e in record.drawn if e.username),
        *rules_in_words(record.rules, record.rules_version),
        "listener draw verify summerdrop-2026-draw.json --entrants summerdrop-2026-entrants.csv",
        'openssl dgst -sha256 -hmac "$SEED"',
    ):
        assert value in text, value
    assert "4 entrants" in text


def test_an_unknown_author_is_marked_and_the_page_says_what_to_do() -> None:
    """A drawn entry without author carries 'verify author' and the page explains the check."""
    page = render(drawn())
    assert page.count('<span class="verify">verify author</span>') == 2  # the mark, the note
    assert "open its permalink to see who posted it" in Page(page).text
    known = [replace(e, username=e.username or "dee") for e in ENTRANTS]
    assert 'class="verify"' not in render(drawn(entrants=known))


def test_the_rules_read_as_sentences() -> None:
    """Each rule of the recorded document is one sentence a person can read."""
    words = rules_in_words(rules_document(RULES), rules_version(RULES))
    assert words == [
        "The caption carries #summerdrop.",
        "Published from 2026-06-01 00:00:00 UTC up to, not including, 2026-07-01 00:00:00 UTC.",
        "The caption @mentions at least 1 other account (@brand and the author's own handle "
        "do not count).",
        "Not posted by @brand, @staff.",
        "One entry per person: where the author is known, only their earliest entry counts.",
        "Entries whose author Instagram does not name (posts found by hashtag) count too; such "
        "a winner is marked “verify author”.",
    ]
    strict = replace(RULES, unknown_authors="ineligible", one_entry_per_user=False)
    assert rules_in_words(rules_document(strict), "v")[-2:] == [
        "Every entry counts, however many one person posts.",
        "Only entries whose author is known count (the brand was tagged or @mentioned).",
    ]


def test_a_first_format_record_gets_a_certificate_too() -> None:
    """Without rules or drawn details, the page says what it cannot show."""
    old = replace(drawn(), rules=None, drawn=(), entrants_format="entrants-csv/1")
    text = Page(render(old)).text
    assert "The rules were not recorded with this draw" in text
    assert "not recorded" in text
    assert all(winner in text for winner in old.winners)


def test_the_certificate_is_made_from_the_record_alone() -> None:
    """The record read back from its JSON makes the very same page."""
    record = drawn()
    assert render(DrawRecord.from_json(record.to_json())) == render(record)


def test_the_page_needs_no_script_and_loads_nothing() -> None:
    """No script, no external stylesheet, image, font or frame; a policy forbids them all."""
    page = render(drawn())
    tags = Page(page).tags
    assert {tag for tag, _ in tags} <= {
        "html", "head", "meta", "title", "style", "body", "header", "h1", "h2", "p", "dl", "dt",
        "dd", "code", "ul", "ol", "li", "table", "thead", "tbody", "tr", "th", "td", "span",
        "a", "pre", "footer", "bdi",
    }  # fmt: skip
    assert not [
        attrs for _, attrs in tags if "src" in attrs or any(k.startswith("on") for k in attrs)
    ]
    assert "url(" not in page
    assert "@import" not in page
    policy = [a["content"] for t, a in tags if t == "meta" and a.get("http-equiv")]
    assert policy == [
        "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
    ]


HOSTILE_NAME = '<img src=x onerror="alert(1)">&amp;"\u202e'
HOSTILE_SEED = "</code><script>alert('seed')</script>"


@pytest.mark.parametrize(
    "permalink",
    [
        "javascript:alert(1)",
        'https://www.instagram.com/p/X/" onmouseover="alert(1)',
        "data:text/html,<script>alert(1)</script>",
        "<script>alert(1)</script>",
    ],
)
def test_nothing_in_a_record_becomes_markup(permalink: str) -> None:
    """Hostile usernames, permalinks, seeds and ids are shown as text; links are http(s) only."""
    entrants = [
        Entrant("1", permalink, HOSTILE_NAME),
        Entrant("2", "https://www.instagram.com/p/ok/", "<b>bold</b>"),
        Entrant("3", "", ""),
    ]
    record = replace(drawn(HOSTILE_SEED, entrants), campaign_id="<i>camp</i>")
    page = render(record)
    parsed = Page(page)
    assert {tag for tag, _ in parsed.tags} & {"img", "script", "b", "i", "iframe"} == set()
    hrefs = [a["href"] for t, a in parsed.tags if t == "a"]
    assert all(href is not None and href.startswith("https://") for href in hrefs), hrefs
    assert not any(k.startswith("on") for _, a in parsed.tags for k in a)
    for text in (HOSTILE_SEED, "<i>camp</i>"):
        assert text in parsed.text
    for entrant in record.drawn:
        assert entrant.username in parsed.text
        assert entrant.permalink in parsed.text
