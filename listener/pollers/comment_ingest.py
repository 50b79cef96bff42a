"""Comment ingestion: sightings of comments on the account's own posts → sentiment → store →
metrics.

Both ways a comment arrives (a page of the comments poller, a ``comments`` webhook change)
go through a :class:`CommentIngestor`, so each comment gets the same sentiment, from the same
pipeline as media (:mod:`listener.enrich`), and the same counters:
``listener_comments_ingested_total{account,source,result}`` for every sighting and
``listener_comment_sentiment_total{account,label}`` for each new comment. Contest verdicts are
not given here: one entry per user needs every comment of a post, so the settling pass judges
them (:mod:`listener.contests.comments`); the ingestor remembers which posts got new comments
(:meth:`CommentIngestor.take_changed`) so that pass judges only their giveaways. A comment the
store refuses is logged with its reason.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime

import structlog

from listener.enrich.enricher import Scored, Scorer, remembered, sentiment_document
from listener.metrics import Metrics
from listener.models import Comment, CommentSource
from listener.store.comments import CommentIngest
from listener.store.mongo import Document
from listener.store.store import Store

log = structlog.get_logger("listener.pollers")


class CommentIngestor:
    """Stores comment sightings with their sentiment and counts what happened."""

    def __init__(self, store: Store, metrics: Metrics, scorer: Scorer | None = None) -> None:
        self._store = store
        self._metrics = metrics
        self._changed: set[str] = set()
        # A comment is seen again by every poll that reads its page, and by its webhook.
        self._score: Callable[[str], Scored] | None = None if scorer is None else remembered(scorer)

    async def ingest(
        self, comments: Sequence[Comment], source: CommentSource, seen_at: datetime
    ) -> CommentIngest:
        """Store ``comments`` (new ones inserted, known ones merged) and count them."""
        labels: dict[str, str] = {}
        score = self._score

        def extra(comment: Comment) -> Document:
            if score is None:
                return {}
            scored = score(comment.text)
            labels[comment.id] = scored.label
            return {"sentiment": sentiment_document(scored)}

        result = await self._store.comments.ingest(comments, source, seen_at, extra)
        if result.refused:
            reason = next(iter(result.refused.values()))
            log.warning("comment.refused", count=len(result.refused), reason=reason)
        self._count(comments, source, result, labels)
        # A webhook sighting of a known comment may be an edit; a poll's is a re-read.
        touched = set(result.new if source is CommentSource.POLL else result.new + result.duplicate)
        self._changed.update(c.media_id for c in comments if c.id in touched)
        return result

    def take_changed(self) -> set[str]:
        """The posts with new (or edited) comments since the last call, which it forgets."""
        changed, self._changed = self._changed, set()
        return changed

    def _count(
        self,
        comments: Sequence[Comment],
        source: CommentSource,
        result: CommentIngest,
        labels: dict[str, str],
    ) -> None:
        """Tally the batch by label values, then add each tally once."""
        account_of = {comment.id: comment.account for comment in comments}
        ingested: Counter[tuple[str, str]] = Counter()
        sentiment: Counter[tuple[str, str]] = Counter()
        for outcome, ids in (
            ("new", result.new),
            ("duplicate", result.duplicate),
            ("refused", list(result.refused)),
        ):
            for comment_id in ids:
                ingested[account_of[comment_id], outcome] += 1
        for comment_id in result.new:
            label = labels.get(comment_id)
            if label is not None:
                sentiment[account_of[comment_id], label] += 1
        for (account, outcome), count in ingested.items():
            self._metrics.comments_ingested.labels(account, source.value, outcome).inc(count)
        for (account, label), count in sentiment.items():
            self._metrics.comment_sentiment.labels(account, label).inc(count)
