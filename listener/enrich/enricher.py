"""What the listener derives from a media when it stores it: sentiment and contest verdicts.

Pure: the analyzer and the campaigns' rules come in at construction, the media as an argument.
A media is judged for the campaigns of the accounts that saw it; the verdict covers the
per-media rules (hashtags, window, mentions, exclusions, a known author where the campaign
requires one). Whether it is the author's first entry depends on the other entries, so
``duplicate_user`` is settled by the settling pass over stored media, never here.

A caption is scored once while it stays among the :data:`REMEMBERED_CAPTIONS` captions used
most recently: ``top_media`` answers the same media every poll, and scoring is the costliest
step of storing a media. Scoring is deterministic, so what is stored does not change.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

from listener.enrich.contests import Entry, Rules, Verdict, judge
from listener.models import Media, Source

REMEMBERED_CAPTIONS: Final = 10_000
"""Captions whose sentiment is kept (a few MB): every account's top media many times over."""


class Scored(Protocol):
    """A sentiment result."""

    @property
    def label(self) -> str:
        """positive, negative, neutral or unsupported."""
        ...

    @property
    def score(self) -> float:
        """The compound score in [-1, 1]."""
        ...

    @property
    def model(self) -> str:
        """The analyzer's name and version."""
        ...


class Scorer(Protocol):
    """Scores a caption."""

    def score(self, text: str) -> Scored:
        """The sentiment of ``text``."""
        ...


@dataclass(frozen=True)
class Campaign:
    """A campaign as enrichment needs it: whose media it judges, and its rules."""

    id: str
    account: str
    rules: Rules


def sentiment_document(scored: Scored) -> dict[str, Any]:
    """The stored ``sentiment`` of a media or a comment: label, rounded score, model."""
    return {"label": scored.label, "score": round(scored.score, 4), "model": scored.model}


def remembered(scorer: Scorer, texts: int = REMEMBERED_CAPTIONS) -> Callable[[str], Scored]:
    """``scorer.score`` remembering the ``texts`` used most recently (scoring is deterministic)."""
    return functools.lru_cache(texts)(scorer.score)


@dataclass(frozen=True)
class Enrichment:
    """The derived fields of one media."""

    sentiment: Scored | None
    contest_verdicts: Mapping[str, Verdict]
    author_known: bool = True

    @property
    def sentiment_label(self) -> str | None:
        """The sentiment label, if the caption was scored."""
        return None if self.sentiment is None else self.sentiment.label

    @property
    def verdicts(self) -> Mapping[str, bool]:
        """Campaign id → eligible (per-media rules)."""
        return {cid: verdict.eligible for cid, verdict in self.contest_verdicts.items()}

    def fields(self) -> dict[str, Any]:
        """Fields to set on every sighting, by dotted path: ``sentiment``, and the verdicts
        when this sighting knows the author (one that does not must not undo one that did)."""
        out: dict[str, Any] = {}
        if self.sentiment is not None:
            out["sentiment"] = sentiment_document(self.sentiment)
        if self.author_known:
            out.update(self._verdict_fields())
        return out

    def fields_on_insert(self) -> dict[str, Any]:
        """Fields to set only when the media is new: verdicts judged without its author."""
        return {} if self.author_known else self._verdict_fields()

    def _verdict_fields(self) -> dict[str, Any]:
        return {f"contests.{cid}": v.as_document() for cid, v in self.contest_verdicts.items()}


class Enricher:
    """Sentiment and per-media contest verdicts for media as they are stored."""

    def __init__(
        self,
        scorer: Scorer | None,
        campaigns: Sequence[Campaign],
        *,
        remembered_captions: int = REMEMBERED_CAPTIONS,
    ) -> None:
        self._score: Callable[[str], Scored] | None = (
            None if scorer is None else remembered(scorer, remembered_captions)
        )
        self._campaigns = tuple(campaigns)

    def __call__(self, media: Media, sources: Sequence[Source]) -> Enrichment:
        """Enrich one media seen through ``sources``."""
        sentiment = self._score(media.caption) if self._score is not None else None
        accounts = {source.account for source in sources}
        entry = Entry.from_media(media)
        verdicts = {c.id: judge(c.rules, entry) for c in self._campaigns if c.account in accounts}
        return Enrichment(sentiment, verdicts, author_known=media.username is not None)
