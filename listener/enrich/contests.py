"""Contest eligibility: which media are valid entries of a campaign, and why the others are not.

Pure: the campaign's rules and the media come in as values, verdicts go out; no clock, no I/O.
Every "no" carries its reasons, as codes from :class:`Reason`, listed in this fixed order:

============================  ==================================================================
``missing_hashtag``           a campaign hashtag is not among the caption's hashtags
``outside_window``            the media's timestamp is not in ``[starts_at, ends_at)``
``too_few_mentions``          fewer distinct @handles than ``min_mentions`` (own handle excluded)
``excluded_user``             the author is in ``exclude_usernames``
``author_unknown``            ``one_entry_per_user`` is on but the author is unknown
``duplicate_user``            the author already has an earlier eligible entry (``judge_all``)
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
(it is not cut to 30). Handles compare case-insensitively, each counts once, and the brand's own
handle never counts.

**One entry per user.** A rule over the whole set, so it lives in :func:`judge_all`: among the
entries that pass every per-media rule, each known author keeps only the earliest (by
timestamp, then media id as a string), and the later ones get ``duplicate_user``. Entries that
already fail a per-media rule do not compete and keep their own reasons. The result does not
depend on the order of the input.

**Unknown authors.** Hashtag media never carry the author's username, so with
``one_entry_per_user`` the rule cannot be checked for them. By default (the policy
:data:`AUTHOR_UNKNOWN_IS_ELIGIBLE` = ``False``) such an entry is ineligible with
``author_unknown``: an unverifiable entry must not be able to crowd out a verified one, and one
person posting ten times under the hashtag would otherwise hold ten tickets. The entry becomes
eligible as soon as its author is learned (from the tags feed or a mention) and the media is
judged again. A campaign that prefers to accept them sets ``author_unknown_eligible=True`` on
its :class:`Rules`; such entries are then eligible and simply not de-duplicated. Without
``one_entry_per_user``, the author is not needed and unknown authors are not a reason. Note that
``exclude_usernames`` can only exclude a known author.
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
from typing import Final

from listener.models import Media

AUTHOR_UNKNOWN_IS_ELIGIBLE: Final = False
"""Policy default: an entry whose author is unknown fails ``one_entry_per_user`` (see above)."""

RULES_SCHEMA: Final = "contest-rules/1"
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


def mentions(caption: str, own: str | None = None) -> tuple[str, ...]:
    """Distinct @handles in the caption, lower-cased, first appearance first, ``own`` left out."""
    skip = _handle(own) if own else None
    found: dict[str, None] = {}
    for match in _MENTION.finditer(caption):
        handle = match.group(1).rstrip(".").lower()
        if (
            not handle
            or len(handle) > MAX_HANDLE_LENGTH
            or handle.startswith(".")
            or ".." in handle
            or handle == skip
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
    author_unknown_eligible: bool = AUTHOR_UNKNOWN_IS_ELIGIBLE

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
        )


@functools.lru_cache(maxsize=256)
def rules_version(rules: Rules) -> str:
    """16 hex digits naming the rule values; the same rules in any spelling give the same value.

    It is the start of the SHA-256 of a canonical JSON (sorted keys, no spaces) of every value
    that decides eligibility, times as UTC ISO 8601, plus :data:`RULES_SCHEMA`. The campaign id
    and account name decide nothing and are left out. Remembered per rules value: every media
    stored is judged against the same few campaigns.
    """
    canonical = {
        "schema": RULES_SCHEMA,
        "hashtags": list(rules.hashtags),
        "starts_at": rules.starts_at.astimezone(UTC).isoformat(),
        "ends_at": rules.ends_at.astimezone(UTC).isoformat(),
        "min_mentions": rules.min_mentions,
        "exclude_usernames": list(rules.exclude_usernames),
        "one_entry_per_user": rules.one_entry_per_user,
        "own_username": rules.own_username,
        "author_unknown_eligible": rules.author_unknown_eligible,
    }
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode("ascii")).hexdigest()[:16]


@dataclass(frozen=True)
class Entry:
    """A media as a candidate entry; ``username`` is ``None`` when the API did not give it."""

    media_id: str
    timestamp: datetime
    caption: str = ""
    username: str | None = None

    def __post_init__(self) -> None:
        _aware(self.timestamp, f"timestamp of media {self.media_id}")

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


def _author(entry: Entry) -> str | None:
    return _handle(entry.username) if entry.username else None


def _reasons(rules: Rules, entry: Entry) -> list[Reason]:
    reasons: list[Reason] = []
    if not set(rules.hashtags) <= set(hashtags(entry.caption)):
        reasons.append(Reason.MISSING_HASHTAG)
    if not rules.starts_at <= entry.timestamp < rules.ends_at:
        reasons.append(Reason.OUTSIDE_WINDOW)
    if len(mentions(entry.caption, rules.own_username)) < rules.min_mentions:
        reasons.append(Reason.TOO_FEW_MENTIONS)
    author = _author(entry)
    if author is not None and author in rules.exclude_usernames:
        reasons.append(Reason.EXCLUDED_USER)
    if rules.one_entry_per_user and author is None and not rules.author_unknown_eligible:
        reasons.append(Reason.AUTHOR_UNKNOWN)
    return reasons


def _verdict(reasons: Iterable[Reason], version: str) -> Verdict:
    codes = tuple(reason.value for reason in reasons)
    return Verdict(eligible=not codes, reasons=codes, rules_version=version)


def judge(rules: Rules, entry: Entry) -> Verdict:
    """Every rule that can be checked on this one media (all but ``duplicate_user``)."""
    return _verdict(_reasons(rules, entry), rules_version(rules))


def judge_all(rules: Rules, entries: Iterable[Entry]) -> dict[str, Verdict]:
    """Verdicts for a whole campaign, by media id (sorted), one-entry-per-user included.

    ``ValueError`` if two entries share a media id: which one to believe would depend on order.
    """
    by_id: dict[str, Entry] = {}
    for entry in entries:
        if entry.media_id in by_id:
            raise ValueError(f"media {entry.media_id} is listed twice")
        by_id[entry.media_id] = entry
    version = rules_version(rules)
    reasons = {media_id: _reasons(rules, entry) for media_id, entry in by_id.items()}
    if rules.one_entry_per_user:
        first_by_author: dict[str, Entry] = {}
        for entry in sorted(by_id.values(), key=lambda e: (e.timestamp, e.media_id)):
            author = _author(entry)
            if reasons[entry.media_id] or author is None:
                continue
            if author in first_by_author:
                reasons[entry.media_id].append(Reason.DUPLICATE_USER)
            else:
                first_by_author[author] = entry
    return {media_id: _verdict(reasons[media_id], version) for media_id in sorted(by_id)}


def eligible_ids(verdicts: Mapping[str, Verdict]) -> list[str]:
    """The eligible media ids, sorted: the entrant list a draw starts from."""
    return sorted(media_id for media_id, verdict in verdicts.items() if verdict.eligible)
