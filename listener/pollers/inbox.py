"""The inbox worker: turns stored webhook changes into media, within the account's budget.

A ``comments`` change of an account with ``comments = true`` is a comment on its own post: it is
stored in ``comments`` (:mod:`listener.pollers.comment_events`), without a Graph call when the
change carries the whole comment. For the other accounts the rest of this paragraph applies.

A ``mentions`` change carries only ids (reference §2e); the media (and, for a comment, the
comment) is fetched through ``mentioned_media`` / ``mentioned_comment`` — calls that spend the
account's business-use-case pool like any other, through the governor. When Meta's comment
comes without its media (a ``comments`` change on an album has no media id; a
``mentioned_comment`` answer may lack ``media``), the media is read from the comment node. The
media is stored with source ``mention_media`` or ``mention_comment`` and its author, which also
recovers the author of a media first seen under a hashtag.

A media or comment that is gone (deleted, private or expired: Meta's 100/33) is a dead letter
at once, with that reason: it is about one object, so the account goes on polling and
hydrating everything else.

Each event is claimed with a lease: a worker that dies mid-event leaves a claim that expires
and is taken again. A worker that runs as a replica (its name is the one it heart-beats under)
also releases, every third of the heartbeat time, the claims of replicas that stopped
heart-beating, once they are a heartbeat time old; and at its start, the claims a previous run
under its name left. The claim time then only bounds a live worker that stalls.

Transient failures and throttles are retried with exponential backoff; an event that keeps
failing, that Meta says cannot be read, whose media MongoDB cannot store, or whose handling
raised an error nobody expected, becomes a dead letter with its reason — kept, never silently
dropped, and never a reason for the worker to stop. Events of an account whose token or
permission is missing wait, without spending attempts, until a human has acted.

At the stop, an event waiting in the governor (a pause, a backoff) is abandoned at once and an
event in flight gets ``finish_s`` to finish; either way, one that is not done is given back
(pending again, its attempt returned), so the next worker takes it without waiting for the
claim to expire.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable, Collection, Mapping
from datetime import timedelta
from typing import Final

import structlog

from listener.errors import (
    BadRequestError,
    GraphError,
    ObjectUnavailableError,
    StoppingError,
    StoreUnavailableError,
    ThrottledError,
)
from listener.models import Media, Sighting, Source, SourceKind
from listener.pollers.comment_events import CommentEvents
from listener.pollers.context import PollerContext
from listener.pollers.stopping import Wait, unless_stopped, wait_for_stop
from listener.store.inbox import Claimed

log = structlog.get_logger("listener.pollers")

HANDLED_FIELDS: Final = frozenset({"mentions", "comments"})
BACKOFF_FIRST_S: Final = 30.0
BACKOFF_MAX_S: Final = 3600.0
BLOCKED_RETRY_S: Final = 900.0
STATS_EVERY_S: Final = 15.0


def backoff_s(attempts: int) -> float:
    """Seconds before retry number ``attempts``: 30 s, doubling, at most an hour."""
    return float(min(BACKOFF_FIRST_S * 2.0 ** max(attempts - 1, 0), BACKOFF_MAX_S))


class InboxWorker:
    """Claims, hydrates and settles webhook events."""

    def __init__(
        self,
        context: PollerContext,
        *,
        accounts_by_ig_id: Mapping[str, str],
        mentions_on: Collection[str],
        max_attempts: int = 8,
        lease_s: float = 300.0,
        workers: int = 2,
        idle_s: float = 5.0,
        finish_s: float = 2.5,
        arrived: asyncio.Event | None = None,
        wait: Wait = wait_for_stop,
        replica: str | None = None,
        heartbeat_ttl_s: float = 60.0,
        comments: CommentEvents | None = None,
    ) -> None:
        self._api = context.api
        self._store = context.store
        self._ingestor = context.ingestor
        self._accounts = context.accounts
        self._metrics = context.metrics
        self._clock = context.clock
        self._by_ig_id = dict(accounts_by_ig_id)
        self._mentions_on = frozenset(mentions_on)
        self._max_attempts = max_attempts
        self._lease = timedelta(seconds=lease_s)
        self._workers = workers
        self._idle_s = idle_s
        self._finish_s = finish_s
        self._wait = wait
        self.arrived = arrived or asyncio.Event()
        self.name = replica or f"inbox-{uuid.uuid4().hex[:8]}"
        self._replica = replica is not None
        self._heartbeat_ttl = timedelta(seconds=heartbeat_ttl_s)
        self.settled = 0
        self._progress = asyncio.Condition()
        self._store_failing = False  # shared by the loops: an outage is logged once, not per loop
        self._comments = comments

    async def wait_for(self, predicate: Callable[[], bool]) -> None:
        """Return once ``predicate()`` holds, checked after every settled event."""
        async with self._progress:
            await self._progress.wait_for(predicate)

    async def run(self, stop: asyncio.Event) -> None:
        """Work the inbox until ``stop``."""
        async with asyncio.TaskGroup() as group:
            if self._replica:
                group.create_task(self._release_orphans(stop), name=f"{self.name}:orphans")
            for n in range(self._workers):
                group.create_task(self._loop(stop), name=f"{self.name}:{n}")
            group.create_task(self._watch(stop), name=f"{self.name}:stats")

    async def _loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                claimed = await self._store.inbox.claim(self.name, self._clock(), self._lease)
            except StoreUnavailableError as exc:
                if not self._store_failing:
                    log.warning("inbox.store_unavailable", error=str(exc))
                    self._store_failing = True
                await self._wait(stop, self._idle_s)
                continue
            if self._store_failing:
                log.info("inbox.store_recovered")
                self._store_failing = False
            if claimed is None:
                await self._idle(stop)
                continue
            if stop.is_set():
                # Claimed while the stop came (perhaps an event another loop just gave back):
                # never started, so it goes back unannounced.
                await self._give_back(claimed, started=False)
                return
            await self._work(claimed, stop)
            async with self._progress:
                self._progress.notify_all()

    async def _work(self, claimed: Claimed, stop: asyncio.Event) -> None:
        """Process one event; at the stop, let it finish within ``finish_s`` or give it back."""
        try:
            await unless_stopped(stop, self.process(claimed), grace_s=self._finish_s)
        except StoppingError:  # cut short at the stop, or a wait it was in ended there
            await self._give_back(claimed)
        except StoreUnavailableError:
            pass  # not settled: the claim expires and the event is taken again
        except Exception as exc:  # one event's surprise must not stop the worker
            await self._crashed(claimed, exc)

    async def _give_back(self, claimed: Claimed, *, started: bool = True) -> None:
        """The worker stops before ``claimed`` is done: make it available again, now."""
        with contextlib.suppress(StoreUnavailableError):
            if (
                await self._store.inbox.retry(
                    claimed, self.name, self._clock(), "the worker stopped first", count=False
                )
                and started
            ):
                log.info("inbox.released", key=claimed.key[:16], field=claimed.field)

    async def _crashed(self, claimed: Claimed, exc: Exception) -> None:
        """Set aside an event whose handling raised an error nobody expected, with that error."""
        log.exception("inbox.event_failed", key=claimed.key[:16], field=claimed.field)
        reason = f"unexpected error while handling it: {type(exc).__name__}: {exc}"
        with contextlib.suppress(StoreUnavailableError):
            await self._dead(claimed, "dead", reason)

    async def _release_orphans(self, stop: asyncio.Event) -> None:
        """Release the claims of replicas that stopped heart-beating, and a previous run's."""
        started = self._clock()
        with contextlib.suppress(StoreUnavailableError):
            await self._store.inbox.release_own(self.name, claimed_before=started, now=started)
        while not stop.is_set():
            with contextlib.suppress(StoreUnavailableError):
                now = self._clock()
                alive = await self._store.leases.alive(now, within=self._heartbeat_ttl)
                released = await self._store.inbox.release_orphans(
                    now, alive=alive | {self.name}, ttl=self._heartbeat_ttl
                )
                if released:
                    log.info("inbox.claims_released", count=released, reason="owner stopped")
                    self.arrived.set()
            await self._wait(stop, self._heartbeat_ttl.total_seconds() / 3)

    async def _idle(self, stop: asyncio.Event) -> None:
        """Wait for a new delivery, a retry coming due, or the stop."""
        self.arrived.clear()
        arrived = asyncio.ensure_future(self.arrived.wait())
        try:
            waited = asyncio.ensure_future(self._wait(stop, self._idle_s))
            await asyncio.wait({arrived, waited}, return_when=asyncio.FIRST_COMPLETED)
            waited.cancel()
        finally:
            arrived.cancel()

    async def process(self, claimed: Claimed) -> str:
        """Hydrate and store one claimed event; returns the outcome it was settled with."""
        refusal = self._refusal(claimed)
        if refusal is not None:
            return await self._dead(claimed, *refusal)
        account = self._by_ig_id[claimed.ig_user_id]
        if self._comments is not None and self._comments.handles(claimed.field, account):
            return await self._own_comment(claimed, account, self._comments)
        kind = SourceKind.MENTION_COMMENT if claimed.comment_id else SourceKind.MENTION_MEDIA
        blocked = self._accounts.blocked(account, kind.value)
        if blocked is not None:
            return await self._retry(claimed, "deferred", BLOCKED_RETRY_S, blocked, count=False)
        try:
            media = await self._hydrate(account, claimed)
        except GraphError as exc:
            return await self._failed(claimed, account, kind, exc)
        now = self._clock()
        result = await self._ingestor.ingest([Sighting(media, Source(kind, account), now)])
        if media.id in result.refused:
            reason = f"media {media.id[:40]!a} cannot be stored: {result.refused[media.id]}"
            return await self._dead(claimed, "dead", reason)
        outcome = "new" if result.new else "duplicate"
        await self._store.inbox.done(
            claimed, self.name, now, {"media_id": media.id, "result": outcome}
        )
        return self._count(claimed, "hydrated")

    def _refusal(self, claimed: Claimed) -> tuple[str, str] | None:
        """(outcome, reason) when the event is not ours to hydrate, else ``None``."""
        account = self._by_ig_id.get(claimed.ig_user_id)
        if claimed.field not in HANDLED_FIELDS:
            return "skipped", f"field {claimed.field!r} is not listened to"
        if account is None:
            return "dead", f"no configured account has id {claimed.ig_user_id}"
        own = self._comments is not None and self._comments.handles(claimed.field, account)
        if account not in self._mentions_on and not own:
            return "skipped", f"mentions are off for account {account!r}"
        return None

    async def _own_comment(self, claimed: Claimed, account: str, comments: CommentEvents) -> str:
        """Store a comment on the account's own post (:mod:`listener.pollers.comment_events`)."""
        feature = SourceKind.COMMENTS
        blocked = self._accounts.blocked(account, feature.value)
        if blocked is not None:
            return await self._retry(claimed, "deferred", BLOCKED_RETRY_S, blocked, count=False)
        assert claimed.comment_id is not None  # a comments change without an id is stored dead
        try:
            stored = await comments.store(
                claimed.value or {}, claimed.comment_id, account, self._clock()
            )
        except GraphError as exc:
            return await self._failed(claimed, account, feature, exc)
        if stored.refused is not None:
            reason = f"comment {stored.comment_id} cannot be stored: {stored.refused}"
            return await self._dead(claimed, "dead", reason)
        result = {
            "comment_id": stored.comment_id,
            "media_id": stored.media_id,
            "result": "new" if stored.new else "duplicate",
        }
        await self._store.inbox.done(claimed, self.name, self._clock(), result)
        return self._count(claimed, "hydrated" if stored.fetched else "as_delivered")

    async def _failed(
        self, claimed: Claimed, account: str, kind: SourceKind, exc: GraphError
    ) -> str:
        if isinstance(exc, ObjectUnavailableError):
            return await self._dead(claimed, "dead", _gone(claimed, exc), expected=True)
        if isinstance(exc, BadRequestError):
            # Comments turned off, an id Meta refuses: retrying cannot help.
            return await self._dead(claimed, "dead", str(exc))
        if self._accounts.report(account, kind.value, exc):
            return await self._retry(claimed, "deferred", BLOCKED_RETRY_S, str(exc), count=False)
        if claimed.attempts >= self._max_attempts:
            reason = f"gave up after {claimed.attempts} attempts: {exc}"
            return await self._dead(claimed, "dead", reason)
        delay = backoff_s(claimed.attempts)
        if isinstance(exc, ThrottledError) and exc.retry_after_s:
            delay = max(delay, exc.retry_after_s)
        return await self._retry(claimed, "retried", delay, str(exc))

    async def _hydrate(self, account: str, claimed: Claimed) -> Media:
        who = self._accounts.who(account)
        if claimed.comment_id is not None:
            comment = await self._api.mentioned_comment(who, claimed.comment_id)
            if comment.media is not None:
                return comment.media
            return await self._api.comment_media(who, claimed.comment_id)
        assert claimed.media_id is not None  # a mention without one is stored dead
        return await self._api.mentioned_media(who, claimed.media_id)

    async def _retry(
        self, claimed: Claimed, outcome: str, delay_s: float, error: str, *, count: bool = True
    ) -> str:
        at = self._clock() + timedelta(seconds=delay_s)
        await self._store.inbox.retry(claimed, self.name, at, error, count=count)
        return self._count(claimed, outcome)

    async def _dead(
        self, claimed: Claimed, outcome: str, reason: str, *, expected: bool = False
    ) -> str:
        """Settle the event as a dead letter; ``expected`` ones (a post deleted) log at info."""
        await self._store.inbox.dead(claimed, self.name, self._clock(), reason)
        if outcome == "dead":
            emit = log.info if expected else log.warning
            emit(
                "inbox.dead_letter", key=claimed.key[:16], field=claimed.field, reason=reason[:300]
            )
        return self._count(claimed, outcome)

    def _count(self, claimed: Claimed, outcome: str) -> str:
        field = claimed.field if claimed.field in HANDLED_FIELDS else "other"
        self._metrics.webhook_events.labels(field, outcome).inc()
        self.settled += 1
        return outcome

    async def _watch(self, stop: asyncio.Event) -> None:
        """Keep the inbox depth and oldest-pending-age gauges current: refreshed every
        :data:`STATS_EVERY_S` from the start of one read to the next, so a slow read (it costs
        the inbox's depth on SecantusDB) does not stretch the period the gauges promise."""
        while not stop.is_set():
            started = self._clock()
            with contextlib.suppress(StoreUnavailableError):
                stats = await self._store.inbox.stats()
                # The read saw the inbox at some moment of its own span: the age is taken at
                # its middle, which is within half the read of that moment.
                read_at = started + (self._clock() - started) / 2
                self._metrics.inbox_depth.set(stats.depth)
                oldest = stats.oldest_pending_at
                age = 0.0 if oldest is None else (read_at - oldest).total_seconds()
                self._metrics.inbox_oldest_age.set(max(age, 0.0))
            spent = (self._clock() - started).total_seconds()
            await self._wait(stop, min(max(STATS_EVERY_S - spent, 0.0), STATS_EVERY_S))


def _gone(claimed: Claimed, exc: ObjectUnavailableError) -> str:
    """The dead letter's reason for an object Meta no longer serves."""
    named = exc.object_id or claimed.comment_id or claimed.media_id or "?"
    what = "comment" if named == claimed.comment_id else "media"
    return (
        f"{what} {named} is gone or private at Meta (deleted, private or expired; "
        f"code 100, subcode 33): {exc.message}"
    )
