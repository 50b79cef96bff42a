"""The worker's periodic judging of comment giveaways, only where comments changed.

A comment giveaway is judged whole (one entry per user needs every comment of its posts, see
:func:`listener.contests.comments.settle`), so the worker judges each giveaway once at its
start and afterwards only those whose posts got new or edited comments since the last pass
(what the comment ingestor remembers). A giveaway whose permalinks are not resolved yet waits
for the comments poller to resolve them. Posts taken for a pass that fails are kept for the
next one.
"""

from __future__ import annotations

from collections.abc import Callable

from listener.contests import comments as comment_giveaways
from listener.contests.campaigns import comment_campaigns
from listener.contests.commands import ContestError, comment_rules
from listener.contests.comments import CommentSettlement
from listener.settings import Settings
from listener.store.store import Store


class CommentSettling:
    """Judges the comment giveaways whose posts changed since the last pass."""

    def __init__(self, store: Store, settings: Settings, changed: Callable[[], set[str]]) -> None:
        """``changed``: the posts with new or edited comments since it was last called."""
        self._store = store
        self._settings = settings
        self._changed = changed
        self._pending: set[str] = set()
        self._judged: set[str] = set()

    async def settle(self) -> list[CommentSettlement]:
        """One pass: every giveaway never judged here, and those whose posts changed."""
        self._pending |= self._changed()
        done: list[CommentSettlement] = []
        for config in comment_campaigns(self._settings):
            try:
                rules = await comment_rules(self._store, self._settings, config)
            except ContestError:
                continue  # a permalink not resolved yet: the poller resolves it
            if config.id in self._judged and not self._pending & set(rules.posts):
                continue
            done.append(await comment_giveaways.settle(self._store.comments, config.id, rules))
            self._judged.add(config.id)
        self._pending.clear()
        return done
