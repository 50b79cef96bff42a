"""The store as the rest of the worker sees it: repositories over one database, and a ping."""

from __future__ import annotations

from pymongo.asynchronous.database import AsyncDatabase

from listener.errors import StoreUnavailableError
from listener.store.comments import CommentPollRepository, CommentRepository
from listener.store.draws import DrawRepository
from listener.store.feeds import FeedRepository
from listener.store.inbox import DEFAULT_RETENTION, InboxRepository, Retention
from listener.store.leases import LeaseRepository
from listener.store.media import MediaRepository
from listener.store.mongo import Document, guarded
from listener.store.ratelimits import RateLimitRepository
from listener.store.slots import SlotRepository
from listener.store.tokens import TokenRepository


class Store:
    """Every collection the worker uses, behind repositories."""

    def __init__(
        self,
        database: AsyncDatabase[Document],
        *,
        inbox_retention: Retention = DEFAULT_RETENTION,
    ) -> None:
        self._db = database
        self.media = MediaRepository(database["media"], database["settling"])
        self.feeds = FeedRepository(database["hashtags"], database["feeds"])
        self.slots = SlotRepository(database["hashtag_slots"])
        self.tokens = TokenRepository(database["tokens"])
        self.inbox = InboxRepository(database["inbox"], inbox_retention)
        self.draws = DrawRepository(database["draws"])
        self.leases = LeaseRepository(database["leases"], database["replicas"])
        self.ratelimits = RateLimitRepository(database["ratelimits"])
        self.comments = CommentRepository(database["comments"])
        self.comment_polls = CommentPollRepository(
            database["comment_polls"], database["comment_posts"]
        )

    async def ensure_indexes(self) -> None:
        """Create every index; run at start-up, idempotent."""
        await self.media.ensure_indexes()
        await self.inbox.ensure_indexes()
        await self.comments.ensure_indexes()
        await self.leases.ensure_indexes()

    async def ping(self) -> None:
        """Raise :class:`StoreUnavailableError` unless MongoDB answers.

        One retry: after an outage the first command meets a pooled connection that died with
        the old server; PyMongo drops the pool on that failure and the retry reconnects.
        """
        try:
            await guarded("ping", lambda: self._db.command("ping"))
        except StoreUnavailableError:
            await guarded("ping", lambda: self._db.command("ping"))
