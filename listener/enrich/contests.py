"""Contest eligibility: which media are valid entries of a campaign, and why the others are not.

Pure: the campaign's rules and the media come in as values, verdicts go out; no clock, no I/O.
Every "no" carries its reasons, as codes from :class:`Reason`, listed in this fixed order:

============================  ==================================================================
``missing_hashtag``           a campaign hashtag is not among the caption's hashtags
``outside_window``            the media's timestamp is not in ``[starts_at, ends_at)``
``too_few_mentions``          fewer distinct @handles than ``min_mentions`` (the brand's own
                              handle and, where known, the author's own excluded)
``excluded_user``             the author is in ``exclude_usernames``
``author_unknown``            ``unknown_authors = "ineligible"`` and the author is unknown
``duplicate_user``            the author already has an earlier eligible entry (``judge_all``)
``not_campaign_post``         comment campaigns: the comment is on none of the campaign's posts
``not_top_level``             comment campaigns: the comment is a reply, not a top-level comment
============================  ==================================================================

``eligible`` is always ``not reasons``: a reason is only ever a reason for "no".

**Hashtags.** A hashtag is ``#`` followed by a run of letters, digits, ``_`` and combining marks
(so Devanagari or decomposed accents stay inside the tag), starting with a letter, digit or
``_``. The run ends at anything else: space, punctuation, emoji, variation selectors, a second
``#``. So ``#summerdrop2026`` is the tag ``summerdrop2026`` and does NOT count as
``#summerdrop``, while ``#summerdrop!``, ``#summerdrop.`` and ``#summerdrop🎉`` do. A ``#`` glued
to a preceding letter or digit (``abc#summerdrop``, ``C#``) starts no hashtag, except inside a
run of hashtags written without spaces (``#one#two`` is two tags). Tags are compared after NFC
normalisation and Unicode case folding, so ``#SummerDrop``, ``#SUMMERDROP`` and ``#summerdrop``
are one tag, as are ``#café`` composed or decomposed, and ``#STRASSE`` / ``#straße``. Nothing
else is folded: ``#cafe`` is not ``#café`` and full-width letters are not ASCII ones, because
Meta documents no such folding and a campaign should not accept what Instagram would not link.

**Mentions.** A mention is ``@`` followed by an Instagram handle (ASCII letters, digits, ``.``
and ``_``, at most 30 characters, not starting with ``.``, no ``..``). The ``@`` must not follow
a letter, digit or ``_`` (``bob@example.com`` is an e-mail address, not a mention) and the handle
must not run into another letter (``@josé`` is no handle). Trailing periods end a sentence, not a
handle: ``@alice.`` mentions ``alice``. A run longer than 30 characters is not a handle at all
(it is not cut to 30). Handles compare case-insensitively, each counts once, and neither the
brand's own handle nor, where it is known, the author's own handle counts: tagging yourself is not
tagging a friend. (Where the author is unknown a self-mention cannot be told apart; it counts
until the author is learned and the media judged again.)

**One entry per user.** A rule over the whole set, so it lives in :func:`judge_all`: among the
entries that pass every per-media rule, each known author keeps only the earliest (by
timestamp, then media id as a string), and the later ones get ``duplicate_user``. Entries that
already fail a per-media rule do not compete and keep their own reasons. The result does not
depend on the order of the input. :class:`InOrder` judges the same way one entry at a time,
for a caller that streams the entries in that order and keeps only the authors entered.

**Comment campaigns** (``kind = "comments"``). The entries are comments on the brand's own
posts (``posts``, as media ids), and the same rules judge them: the comment's text stands for the
caption, its author is always known (a comment whose author is missing is ``author_unknown``,
whatever ``unknown_authors`` says), and only top-level comments of the campaign's posts count
(``not_campaign_post``, ``not_top_level``). The rules document (and so the rules version) names
the kind and the posts, so changing a giveaway's posts re-judges it.

**Unknown authors.** Hashtag media never carry the author's username; it is learned only when
the same media is also seen through ``/tags`` or a mention. ``unknown_authors`` decides what such
an entry is worth. ``"eligible"`` (the default, :data:`UNKNOWN_AUTHORS_DEFAULT`): it stays an
entry; ``one_entry_per_user`` applies to known authors only, so an unknown author is never
de-duplicated (a draw marks such a winner ``verify_author``). ``"ineligible"``: it fails with
``author_unknown`` — for a campaign that asks entrants to tag or @mention the brand, so that
every entry has a known author; it becomes eligible as soon as its author is learned and the
media is judged again. ``exclude_usernames`` can only exclude a known author.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final, Literal

from listener.models import Media

UnknownAuthors = Literal["eligible", "ineligible"]
"""What an entry whose author is unknown is worth (the campaign key ``unknown_authors``)."""
UNKNOWN_AUTHORS: Final = ("eligible", "ineligible")
CampaignKind = Literal["hashtags", "comments"]
"""What a campaign's entries are: media found by the account, or comments on its posts."""
UNKNOWN_AUTHORS_DEFAULT: Final = "eligible"
"""Policy default: an unknown author's entry stays an entry, as the contract says (see above)."""

RULES_SCHEMA: Final = "contest-rules/2"
"""Part of every rules version: bump it when the meaning of a rule changes in this module."""

MAX_HANDLE_LENGTH: Final = 30
"""Instagram's longest username."""

_MENTION: Final = re.compile(
    # Possessive run: a handle never backtracks into a shorter one to dodge the lookahead.
    r"(?<!\w)@([A-Za-z0-9._]++)(?![\w@])"
)
_VARIATION_SELECTORS: Final = frozenset(
    [chr(c) for c in range(0xFE00, 0xFE10)] + [chr(c) for c in range(0xE0100, 0xE01F0)]
)


class Reason(StrEnum):
    """Why an entry is not eligible; the strings stored in ``media.contests.<id>.reasons``."""

    MISSING_HASHTAG = "missing_hashtag"
    OUTSIDE_WINDOW = "outside_window"
    TOO_FEW_MENTIONS = "too_few_mentions"
    EXCLUDED_USER = "excluded_user"
    AUTHOR_UNKNOWN = "author_unknown"
    DUPLICATE_USER = "duplicate_user"
    NOT_CAMPAIGN_POST = "not_campaign_post"
    NOT_TOP_LEVEL = "not_top_level"


def _fold(text: str) -> str:
    """Canonical caseless form: NFC, Unicode case folding, NFC again (folding can decompose)."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", text).casefold())


def _starts_tag(char: str) -> bool:
    return char.isalnum() or char == "_"


def _continues_tag(char: str) -> bool:
    if _starts_tag(char):
        return True
    return unicodedata.category(char) in {"Mn", "Mc"} and char not in _VARIATION_SELECTORS


def _handle(text: str) -> str:
    """``text`` as a comparable handle: no leading ``@``, surrounding space or case."""
    return text.strip().removeprefix("@").lower()


def hashtags(caption: str) -> tuple[str, ...]:
    """The caption's hashtags, folded, each once, in order of first appearance (see module doc)."""
    text = unicodedata.normalize("NFC", caption)
    found: dict[str, None] = {}
    end_of_last_tag = -1
    # Only a "#" starts a tag: jump from one to the next instead of testing every character.
    i = text.find("#")
    while i != -1:
        glued = i > 0 and i != end_of_last_tag and _continues_tag(text[i - 1])
        if glued or i + 1 >= len(text) or not _starts_tag(text[i + 1]):
            i = text.find("#", i + 1)
            continue
        j = i + 2
        while j < len(text) and _continues_tag(text[j]):
            j += 1
        found[_fold(text[i + 1 : j])] = None
        end_of_last_tag = j
        i = text.find("#", j)
    return tuple(found)


def mentions(caption: str, *excluded: str | None) -> tuple[str, ...]:
    """Distinct @handles in the caption, lower-cased, first appearance first.

    ``excluded`` handles (the brand's own, the author's own; ``None`` for one not known) are
    left out.
    """
    skip = {_handle(handle) for handle in excluded if handle}
    found: dict[str, None] = {}
    for match in _MENTION.finditer(caption):
        handle = match.group(1).rstrip(".").lower()
        if (
            not handle
            or len(handle) > MAX_HANDLE_LENGTH
            or handle.startswith(".")
            or ".." in handle
            or handle in skip
        ):
            continue
        found[handle] = None
    return tuple(found)


def _aware(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} needs a time zone, got naive {value.isoformat()}")
    return value


def _sorted_unique(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted(set(values)))


@dataclass(frozen=True)
class Rules:
    """One campaign's rules, canonicalised: folded sorted hashtags, lower-case handles.

    ``own_username`` is the brand's Instagram handle (not the config's account name): its
    mentions never count. Build it from settings with :meth:`from_campaign`.
    """

    campaign_id: str
    starts_at: datetime
    ends_at: datetime
    hashtags: tuple[str, ...] = ()
    min_mentions: int = 0
    exclude_usernames: tuple[str, ...] = ()
    one_entry_per_user: bool = True
    own_username: str | None = None
    account: str = ""
    unknown_authors: UnknownAuthors = UNKNOWN_AUTHORS_DEFAULT
    kind: CampaignKind = "hashtags"
    posts: tuple[str, ...] = ()
    """Comment campaigns: the media ids of the posts whose top-level comments are entries."""

    def __post_init__(self) -> None:
        _aware(self.starts_at, "starts_at")
        _aware(self.ends_at, "ends_at")
        if self.ends_at <= self.starts_at:
            raise ValueError(
                f"campaign {self.campaign_id!r}: ends_at {self.ends_at.isoformat()} must be "
                f"after starts_at {self.starts_at.isoformat()}"
            )
        if self.min_mentions < 0:
            raise ValueError(f"campaign {self.campaign_id!r}: min_mentions must be 0 or more")
        if self.unknown_authors not in UNKNOWN_AUTHORS:
            raise ValueError(
                f"campaign {self.campaign_id!r}: unknown_authors must be one of "
                f"{', '.join(UNKNOWN_AUTHORS)}, not {self.unknown_authors!r}"
            )
        tags = [_fold(tag.strip().removeprefix("#")) for tag in self.hashtags]
        for tag in tags:
            if not tag or not _starts_tag(tag[0]) or not all(_continues_tag(c) for c in tag):
                raise ValueError(
                    f"campaign {self.campaign_id!r}: {tag!r} can never match a hashtag "
                    "(letters, digits, marks and _ only)"
                )
        object.__setattr__(self, "hashtags", _sorted_unique(tags))
        object.__setattr__(
            self, "exclude_usernames", _sorted_unique(_handle(u) for u in self.exclude_usernames)
        )
        if self.own_username is not None:
            object.__setattr__(self, "own_username", _handle(self.own_username) or None)
        if self.kind == "comments":
            if not self.posts:
                raise ValueError(f"campaign {self.campaign_id!r}: a comment campaign needs posts")
            # A comment always names its author: one that does not is no entry.
            object.__setattr__(self, "unknown_authors", "ineligible")
        elif self.posts:
            raise ValueError(f"campaign {self.campaign_id!r}: posts are for comment campaigns")
        object.__setattr__(self, "posts", _sorted_unique(self.posts))

    @classmethod
    def from_campaign(
        cls,
        *,
        id: str,  # the settings key, so that **campaign.model_dump() fits
        account: str,
        hashtags: Iterable[str],
        starts_at: datetime,
        ends_at: datetime,
        min_mentions: int,
        exclude_usernames: Iterable[str],
        one_entry_per_user: bool,
        own_username: str | None,
        unknown_authors: UnknownAuthors = UNKNOWN_AUTHORS_DEFAULT,
        kind: CampaignKind = "hashtags",
        posts: Iterable[str] = (),
    ) -> Rules:
        """Rules from a ``[[campaigns]]`` entry.

        ``Rules.from_campaign(**campaign.model_dump(), own_username=handle)`` fills every key.
        """
        return cls(
            campaign_id=id,
            account=account,
            hashtags=tuple(hashtags),
            starts_at=starts_at,
            ends_at=ends_at,
            min_mentions=min_mentions,
            exclude_usernames=tuple(exclude_usernames),
            one_entry_per_user=one_entry_per_user,
            own_username=own_username,
            unknown_authors=unknown_authors,
            kind=kind,
            posts=tuple(posts),
        )


def rules_document(rules: Rules) -> dict[str, Any]:
    """Every value that decides eligibility, as plain JSON values, plus :data:`RULES_SCHEMA`.

    Times are UTC ISO 8601; the campaign id and account name decide nothing and are left out.
    A draw records this document, so that its rules can be read (and their version checked)
    from the record alone.
    """
    return {
        "schema": RULES_SCHEMA,
        "hashtags": list(rules.hashtags),
        "starts_at": rules.starts_at.astimezone(UTC).isoformat(),
        "ends_at": rules.ends_at.astimezone(UTC).isoformat(),
        "min_mentions": rules.min_mentions,
        "exclude_usernames": list(rules.exclude_usernames),
        "one_entry_per_user": rules.one_entry_per_user,
        "own_username": rules.own_username,
        "unknown_authors": rules.unknown_authors,
    } | ({"kind": rules.kind, "posts": list(rules.posts)} if rules.kind == "comments" else {})


def version_of(document: Mapping[str, Any]) -> str:
    """16 hex digits: the start of the SHA-256 of the document as canonical JSON.

    Canonical: sorted keys, no spaces, ASCII escapes. A rules document read back from a draw
    record gives the version it was recorded with.
    """
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode("ascii")).hexdigest()[:16]


@functools.lru_cache(maxsize=256)
def rules_version(rules: Rules) -> str:
    """16 hex digits naming the rule values; the same rules in any spelling give the same value.

    :func:`version_of` the :func:`rules_document`. Remembered per rules value: every media
    stored is judged against the same few campaigns.
    """
    return version_of(rules_document(rules))


@dataclass(frozen=True)
class Entry:
    """A media as a candidate entry; ``username`` is ``None`` when the API did not give it."""

    media_id: str
    timestamp: datetime
    caption: str = ""
    username: str | None = None
    post_id: str | None = None
    """A comment entry: the media it comments on (``media_id`` is then the comment id)."""
    parent_id: str | None = None
    """A comment entry that is a reply: the comment it answers."""

    def __post_init__(self) -> None:
        _aware(self.timestamp, f"timestamp of media {self.media_id}")

    @classmethod
    def from_comment(
        cls,
        *,
        comment_id: str,
        media_id: str,
        timestamp: datetime,
        text: str,
        username: str | None,
        parent_id: str | None = None,
    ) -> Entry:
        """The entry a comment on one of the brand's posts makes."""
        return cls(
            media_id=comment_id,
            timestamp=timestamp,
            caption=text,
            username=username,
            post_id=media_id,
            parent_id=parent_id,
        )

    @classmethod
    def from_media(cls, media: Media) -> Entry:
        """The entry a stored or fetched :class:`~listener.models.Media` makes."""
        return cls(
            media_id=media.id,
            timestamp=media.timestamp,
            caption=media.caption,
            username=media.username,
        )


@dataclass(frozen=True)
class Verdict:
    """Whether an entry counts, every reason it does not, and the rules version that said so."""

    eligible: bool
    reasons: tuple[str, ...]
    rules_version: str

    def as_document(self) -> dict[str, object]:
        """The ``media.contests.<campaign id>`` value: eligible, reasons, rules_version."""
        return {
            "eligible": self.eligible,
            "reasons": list(self.reasons),
            "rules_version": self.rules_version,
        }


def author_key(username: str | None) -> str | None:
    """The author as the rules compare authors (case-insensitive handle); ``None`` if unknown.

    Two media are by the same author for one-entry-per-user exactly when their keys are equal.
    """
    return _handle(username) if username else None


def _author(entry: Entry) -> str | None:
    return author_key(entry.username)


def _reasons(rules: Rules, entry: Entry) -> list[Reason]:
    reasons: list[Reason] = []
    if not set(rules.hashtags) <= set(hashtags(entry.caption)):
        reasons.append(Reason.MISSING_HASHTAG)
    if not rules.starts_at <= entry.timestamp < rules.ends_at:
        reasons.append(Reason.OUTSIDE_WINDOW)
    author = _author(entry)
    if len(mentions(entry.caption, rules.own_username, author)) < rules.min_mentions:
        reasons.append(Reason.TOO_FEW_MENTIONS)
    if author is not None and author in rules.exclude_usernames:
        reasons.append(Reason.EXCLUDED_USER)
    if author is None and rules.unknown_authors == "ineligible":
        reasons.append(Reason.AUTHOR_UNKNOWN)
    if rules.kind == "comments":
        if entry.post_id not in rules.posts:
            reasons.append(Reason.NOT_CAMPAIGN_POST)
        if entry.parent_id is not None:
            reasons.append(Reason.NOT_TOP_LEVEL)
    return reasons


def _verdict(reasons: Iterable[Reason], version: str) -> Verdict:
    codes = tuple(reason.value for reason in reasons)
    return Verdict(eligible=not codes, reasons=codes, rules_version=version)


def judge(rules: Rules, entry: Entry) -> Verdict:
    """Every rule that can be checked on this one media (all but ``duplicate_user``)."""
    return _verdict(_reasons(rules, entry), rules_version(rules))


class InOrder:
    """Judges a campaign's entries one at a time, in ``(timestamp, id)`` order (pure).

    One entry per user only needs the authors already entered, so a caller streaming a
    campaign's entries from an index in that order keeps a set of handles, not the entries:
    the memory of judging follows the number of authors. ``ValueError`` if an entry does not
    come strictly after the previous one (out of order, or listed twice).
    """

    def __init__(self, rules: Rules) -> None:
        self._rules = rules
        self._version = rules_version(rules)
        self._entered: set[str] = set()
        self._last: tuple[datetime, str] | None = None

    def judge(self, entry: Entry) -> Verdict:
        """The entry's verdict, ``duplicate_user`` included."""
        key = (entry.timestamp, entry.media_id)
        if self._last is not None and key <= self._last:
            raise ValueError(f"media {entry.media_id} is out of (timestamp, id) order")
        self._last = key
        reasons = _reasons(self._rules, entry)
        author = _author(entry)
        if self._rules.one_entry_per_user and not reasons and author is not None:
            if author in self._entered:
                reasons.append(Reason.DUPLICATE_USER)
            else:
                self._entered.add(author)
        return _verdict(reasons, self._version)


def judge_all(rules: Rules, entries: Iterable[Entry]) -> dict[str, Verdict]:
    """Verdicts for a whole campaign, by media id (sorted), one-entry-per-user included.

    ``ValueError`` if two entries share a media id: which one to believe would depend on order.
    """
    by_id: dict[str, Entry] = {}
    for entry in entries:
        if entry.media_id in by_id:
            raise ValueError(f"media {entry.media_id} is listed twice")
        by_id[entry.media_id] = entry
    judge_next = InOrder(rules)
    verdicts = {
        entry.media_id: judge_next.judge(entry)
        for entry in sorted(by_id.values(), key=lambda e: (e.timestamp, e.media_id))
    }
    return {media_id: verdicts[media_id] for media_id in sorted(verdicts)}


def eligible_ids(verdicts: Mapping[str, Verdict]) -> list[str]:
    """The eligible media ids, sorted: the entrant list a draw starts from."""
    return sorted(media_id for media_id, verdict in verdicts.items() if verdict.eligible)
