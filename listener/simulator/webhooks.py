"""Simulated webhook deliveries: Meta calling the worker back, signed.

While running, a :class:`Deliverer` publishes, at a seeded Poisson rate per account, a post whose
caption @mentions the account (or a comment that does), and POSTs Meta's ``mentions`` envelope
(reference §2e) to the configured URL with ``X-Hub-Signature-256`` computed with the app secret.
A delivery that is not answered 200 is retried with growing gaps, as Meta does.

The envelope builders also give the other shapes Meta really sends (tests/fixtures/meta): a
``comments`` change without ``media`` (a comment on an album), and a messaging entry
(``entry[].messaging[]``, times in milliseconds) for an app that also subscribes to messaging.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import random
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import aiohttp

from listener.simulator.content import Comment, giveaway_comment, scoped_user_id
from listener.simulator.world import World

logger = logging.getLogger("listener.simulator")

RETRY_DELAYS_S = (1.0, 5.0, 30.0, 120.0)


def mentions_envelope(ig_user_id: str, media_id: str, comment_id: str | None, at: datetime) -> Any:
    """Meta's ``mentions`` delivery for one caption or comment mention."""
    value: dict[str, str] = {"media_id": media_id}
    if comment_id is not None:
        value["comment_id"] = comment_id
    return _changes(ig_user_id, at, "mentions", value)


def comments_envelope(
    ig_user_id: str,
    comment_id: str,
    text: str,
    at: datetime,
    *,
    media_id: str | None = None,
    username: str | None = None,
    parent_id: str | None = None,
) -> Any:
    """Meta's ``comments`` delivery; without ``media_id`` it is the album shape (``{text, id}``).

    ``value``: ``id``, ``text``, ``from{id, username}``, ``media{id, media_product_type}`` and,
    on a reply, ``parent_id`` (reference §10; Meta's webhooks reference for Instagram).
    """
    value: dict[str, Any] = {"text": text, "id": comment_id}
    if username is not None:
        value["from"] = {"id": scoped_user_id(username), "username": username}
    if media_id is not None:
        value["media"] = {"id": media_id, "media_product_type": "FEED"}
    if parent_id is not None:
        value["parent_id"] = parent_id
    return _changes(ig_user_id, at, "comments", value)


def comment_envelope(world: World, ig_user_id: str, comment: Comment) -> Any:
    """The ``comments`` delivery Meta sends for ``comment`` (the album shape on an album)."""
    post = world.post(comment.media_id)
    album = post is not None and post.media_type == "CAROUSEL_ALBUM"
    return comments_envelope(
        ig_user_id,
        comment.id,
        comment.text,
        comment.timestamp,
        media_id=None if album else comment.media_id,
        username=comment.username,
        parent_id=comment.parent_id,
    )


def messaging_envelope(ig_user_id: str, sender_id: str, text: str, at: datetime) -> Any:
    """An Instagram messaging delivery: ``entry[].messaging[]``, times in milliseconds."""
    millis = int(at.timestamp() * 1000)
    return {
        "object": "instagram",
        "entry": [
            {
                "id": ig_user_id,
                "time": millis,
                "messaging": [
                    {
                        "sender": {"id": sender_id},
                        "recipient": {"id": ig_user_id},
                        "timestamp": millis,
                        "message": {"mid": f"sim-{millis}", "text": text},
                    }
                ],
            }
        ],
    }


def _changes(ig_user_id: str, at: datetime, field: str, value: Any) -> Any:
    return {
        "object": "instagram",
        "entry": [
            {
                "id": ig_user_id,
                "time": int(at.timestamp()),
                "changes": [{"field": field, "value": value}],
            }
        ],
    }


def signature(body: bytes, app_secret: str) -> str:
    """``sha256=`` + hex HMAC-SHA256 of the body keyed by the app secret, as Meta signs."""
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


class Deliverer:
    """Publishes mentions in the world and delivers their webhooks to ``url``."""

    def __init__(
        self,
        world: World,
        clock: Callable[[], datetime],
        url: str,
        *,
        mentions_per_hour: float,
        comment_share: float = 0.3,
        seed: int = 7,
        comments_per_hour: float = 0.0,
        giveaways: Sequence[str] = (),
    ) -> None:
        self._world = world
        self._clock = clock
        self._url = url
        self._rate = mentions_per_hour
        self._comment_share = comment_share
        self._rng = random.Random(f"{seed}|webhooks")
        self._comment_rate = comments_per_hour
        self._giveaways = tuple(giveaways)
        self._comment_rng = random.Random(f"{seed}|giveaways")
        self.delivered = 0
        self.failed = 0

    def publish(self, ig_user_id: str) -> tuple[str, str | None]:
        """Make a post (or a comment) that @mentions the account; (media id, comment id)."""
        account = self._world.account(ig_user_id)
        assert account is not None
        now = self._clock()
        fan = f"fan.{self._rng.randrange(1, 500)}"
        if self._rng.random() < self._comment_share:
            media_id = self._world.add_post(
                timestamp=now, caption=f"Weekend plans #sunset by @{fan}", username=f"friend.{fan}"
            )
            comment = self._world.add_comment(
                media_id, f"@{account.username} look at this!", fan, now
            )
            return media_id, comment
        known = sorted(self._world.config.hashtag_rates)
        tags = [self._rng.choice(known)] if known else []
        hashtags = " ".join(f"#{tag}" for tag in tags)
        caption = f"Loving my new look from @{account.username} ❤️ {hashtags} with @{fan}"
        return self._world.add_post(
            timestamp=now, caption=caption, username=fan, hashtags=tags
        ), None

    def comment_on_giveaway(self, media_id: str) -> str:
        """Someone enters the giveaway on the account's post ``media_id``: a comment now, and
        its ``comments`` webhook queued for the account; the comment's id."""
        post = self._world.post(media_id)
        owner = None if post is None or post.owner is None else self._world.account(post.owner)
        if post is None or owner is None:
            raise ValueError(f"media {media_id} is not an account's own post")
        user, text = giveaway_comment(self._comment_rng, owner.username)
        comment_id = self._world.add_comment(media_id, text, user, self._clock())
        self._world.queue_webhook(owner.ig_user_id, comment_id)
        return comment_id

    async def giveaway_comments(self) -> None:
        """Comment on the giveaway posts at ``comments_per_hour`` (Poisson) until cancelled;
        :meth:`drain` delivers the webhooks."""
        if not self._giveaways or self._comment_rate <= 0:
            return
        while True:
            await asyncio.sleep(self._comment_rng.expovariate(self._comment_rate / 3600.0))
            self.comment_on_giveaway(self._comment_rng.choice(self._giveaways))

    async def deliver(self, session: aiohttp.ClientSession, payload: Any) -> bool:
        """POST one signed delivery, retrying as Meta would; whether it was accepted."""
        body = json.dumps(payload).encode()
        headers = {"Content-Type": "application/json"}
        secret = self._world.config.app_secret
        if secret:
            headers["X-Hub-Signature-256"] = signature(body, secret)
        for delay in (0.0, *RETRY_DELAYS_S):
            await asyncio.sleep(delay)
            try:
                async with session.post(self._url, data=body, headers=headers) as response:
                    if response.status == 200:
                        self.delivered += 1
                        return True
            except (aiohttp.ClientError, TimeoutError):
                continue
        self.failed += 1
        return False

    async def drain(self) -> None:
        """Deliver the world's queued ``comments`` webhooks, in order, until cancelled."""
        wake = asyncio.Event()
        self._world.on_outbox = wake.set
        async with aiohttp.ClientSession() as session:
            while True:
                await wake.wait()
                wake.clear()
                for ig_user_id, comment_id in self._world.take_outbox():
                    comment = self._world.comment(comment_id)
                    if comment is not None:
                        payload = comment_envelope(self._world, ig_user_id, comment)
                        await self.deliver(session, payload)

    async def run(self) -> None:
        """Publish and deliver until cancelled."""
        accounts = [a.ig_user_id for a in self._world.config.accounts]
        if not accounts or self._rate <= 0:
            return
        async with aiohttp.ClientSession() as session:
            while True:
                await asyncio.sleep(self._rng.expovariate(self._rate / 3600.0))
                ig_user_id = self._rng.choice(accounts)
                media_id, comment_id = self.publish(ig_user_id)
                payload = mentions_envelope(ig_user_id, media_id, comment_id, self._clock())
                task = asyncio.create_task(self.deliver(session, payload))
                task.add_done_callback(_log_failure)


def _log_failure(task: asyncio.Task[bool]) -> None:
    if not task.cancelled() and task.exception() is None and not task.result():
        logger.warning("simulator.webhook_undelivered")
