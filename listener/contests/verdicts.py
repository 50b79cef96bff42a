"""Which verdicts a change to stored media can alter, and what each media adds to the counters.

Pure: stored media documents (as dicts) and the campaigns come in, verdicts and tally entries go
out. The settling pass (:mod:`listener.contests.settle`) does the reading and writing.

A change to a media can alter, for each campaign of an account that saw it:

* its own verdict (caption, author, sources: every per-media rule);
* when it lies in the campaign's window, has a known author and the campaign keeps one entry
  per user: the verdicts of every in-window media by that author (the earliest eligible one is
  the entry), and by each author it had before (a renamed author's earlier entries).

Media outside the window never compete (``outside_window`` is a per-media rule), so they are
judged on their own. Every other verdict stays as it is: so judging only these gives what
judging everything would.

Tally entries (see :mod:`listener.store.tracking`): ``identity:<account>/n`` for a media the
account saw through a hashtag, ``/k`` when its author is also known
(``listener_hashtag_media_author_known_ratio``); ``entrants:<campaign>/n`` for an eligible
entry, ``/k`` when its author is known (``listener_contest_author_known_ratio``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from listener.enrich.contests import Entry, Rules, Verdict, author_key, judge, judge_all
from listener.enrich.enricher import Campaign
from listener.models import SourceKind

HASHTAG_KINDS: Final = frozenset({SourceKind.HASHTAG_RECENT.value, SourceKind.HASHTAG_TOP.value})
ALL: Final = "n"
KNOWN: Final = "k"

Document = Mapping[str, Any]


def identity_scope(account: str) -> str:
    """The counters of an account's hashtag media."""
    return f"identity:{account}"


def entrants_scope(campaign: str) -> str:
    """The counters of a campaign's entrants."""
    return f"entrants:{campaign}"


@dataclass(frozen=True)
class Scopes:
    """What a pass settles: the campaigns' verdicts and entrants, the accounts' identities."""

    campaigns: tuple[Campaign, ...]
    accounts: tuple[str, ...]

    def names(self) -> set[str]:
        """Every scope's name."""
        return {identity_scope(a) for a in self.accounts} | {
            entrants_scope(c.id) for c in self.campaigns
        }


def media_id(document: Document) -> str:
    """The document's media id."""
    return str(document["_id"])


def author(document: Document) -> str | None:
    """The document's author as the rules compare authors; ``None`` when unknown."""
    username = document.get("username")
    return author_key(username if isinstance(username, str) else None)


def accounts(document: Document) -> set[str]:
    """The accounts that saw the media, through any source."""
    return {str(s.get("account")) for s in document.get("sources") or []}


def judgeable(document: Document) -> bool:
    """Whether the media has a publication time (stored media always do)."""
    timestamp = document.get("timestamp")
    return isinstance(timestamp, datetime) and timestamp.utcoffset() is not None


def entry(document: Document) -> Entry:
    """The contest entry a stored media makes."""
    timestamp: datetime = document["timestamp"]
    username = document.get("username")
    return Entry(
        media_id=media_id(document),
        timestamp=timestamp,
        caption=document.get("caption") or "",
        username=username if isinstance(username, str) and username else None,
    )


def in_window(rules: Rules, document: Document) -> bool:
    """Whether the media was published inside the campaign's window."""
    timestamp: datetime = document["timestamp"]
    return rules.starts_at <= timestamp < rules.ends_at


def judge_author(rules: Rules, documents: Sequence[Document]) -> dict[str, Verdict]:
    """Verdicts of ``documents``, all by one known author (so one-entry-per-user applies)."""
    return judge_all(rules, [entry(d) for d in documents if judgeable(d)])


def judge_alone(rules: Rules, document: Document) -> Verdict:
    """The verdict of a media that competes with no other (unknown author, or outside)."""
    return judge(rules, entry(document))


def settle_changed(
    campaigns: Sequence[Campaign], changed: Iterable[Document], related: Iterable[Document]
) -> dict[str, dict[str, Verdict]]:
    """Media id → campaign id → verdict, for every verdict ``changed`` media can alter.

    ``related``: every stored media by an author (current or earlier) of a changed one, as read
    for this pass; where a media is in both, the ``related`` copy is used.
    """
    documents = {media_id(d): d for d in changed}
    changed_ids = list(documents)
    documents.update({media_id(d): d for d in related})
    verdicts: dict[str, dict[str, Verdict]] = {}
    groups: set[tuple[str, str]] = set()
    for document in (documents[i] for i in changed_ids):
        if judgeable(document):
            _settle_one(campaigns, document, verdicts, groups)
    by_id = {c.id: c for c in campaigns}
    by_author: dict[str, list[Document]] = {}
    for document in documents.values():
        key = author(document)
        if key is not None and judgeable(document):
            by_author.setdefault(key, []).append(document)
    for campaign_id, key in sorted(groups):
        campaign = by_id[campaign_id]
        members = [
            d
            for d in by_author.get(key, [])
            if campaign.account in accounts(d) and in_window(campaign.rules, d)
        ]
        for member_id, verdict in judge_author(campaign.rules, members).items():
            verdicts.setdefault(member_id, {})[campaign_id] = verdict
    return verdicts


def _settle_one(
    campaigns: Sequence[Campaign],
    document: Document,
    verdicts: dict[str, dict[str, Verdict]],
    groups: set[tuple[str, str]],
) -> None:
    """Judge a changed media alone where it competes with no other; else, and for its earlier
    authors, add the (campaign, author) groups to judge together to ``groups``."""
    seen_by = accounts(document)
    key = author(document)
    for campaign in campaigns:
        if campaign.account not in seen_by:
            continue
        rules = campaign.rules
        if rules.one_entry_per_user and key is not None and in_window(rules, document):
            groups.add((campaign.id, key))
        else:
            verdicts.setdefault(media_id(document), {})[campaign.id] = judge_alone(rules, document)
        if rules.one_entry_per_user:
            groups.update(
                (campaign.id, earlier)
                for earlier in document.get("authors") or []
                if earlier != key
            )


def contribution(
    document: Document, scopes: Scopes, verdicts: Mapping[str, Mapping[str, Any]]
) -> frozenset[str]:
    """The tally entries of ``document`` within ``scopes``.

    ``verdicts``: campaign id → verdict document, the ones being written; other campaigns'
    verdicts are read from the document.
    """
    known = author(document) is not None
    entries: set[str] = set()
    hashtag_accounts = {
        str(s.get("account"))
        for s in document.get("sources") or []
        if s.get("kind") in HASHTAG_KINDS
    }
    for account in scopes.accounts:
        if account in hashtag_accounts:
            entries.add(f"{identity_scope(account)}/{ALL}")
            if known:
                entries.add(f"{identity_scope(account)}/{KNOWN}")
    stored = document.get("contests") or {}
    seen_by = accounts(document)
    for campaign in scopes.campaigns:
        verdict = verdicts.get(campaign.id, stored.get(campaign.id))
        if campaign.account in seen_by and verdict and verdict.get("eligible"):
            entries.add(f"{entrants_scope(campaign.id)}/{ALL}")
            if known:
                entries.add(f"{entrants_scope(campaign.id)}/{KNOWN}")
    return frozenset(entries)
