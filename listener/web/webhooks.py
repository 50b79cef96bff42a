"""``/webhooks/instagram``: Meta's verification handshake and its signed event deliveries.

GET answers the subscription handshake. POST refuses a compressed body (any
``Content-Encoding``: 415, never inflated), bodies over the configured size (413), checks
``X-Hub-Signature-256`` over the raw body (missing or wrong → 403, nothing stored; without an
app secret every delivery is refused unless the receiver was explicitly made ``unsigned``, for
demos), refuses bodies that are not a delivery (400), then stores every change in the inbox
**before** answering 200. A change MongoDB cannot take as sent is kept as a dead letter with
its reason and counted as ``outcome="malformed"``, like a change of the wrong shape. If the
store cannot take them the answer is 503, so Meta retries (for up to 36 hours); a change that
arrives twice is stored once. Parts the listener does not store (messaging items) are counted
as ``{field="other", outcome="skipped"}``; they never cost the changes delivered with them.
Nothing a sender controls gets a 5xx.
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import structlog
from aiohttp import hdrs, web

from listener.errors import StoreUnavailableError
from listener.metrics import Metrics
from listener.store.inbox import InboxRepository
from listener.web.payload import PayloadError, parse_delivery
from listener.web.signature import verify

log = structlog.get_logger("listener.web")


@dataclass(frozen=True)
class WebhookConfig:
    """What the receiver needs to know."""

    verify_token: str
    app_secret: str
    max_bytes: int
    unsigned: bool = False
    """Without an app secret, take deliveries nobody can check (demos only)."""

    def signed(self, body: bytes, header: str | None) -> bool:
        """Whether a delivery with ``body`` and signature ``header`` may be taken."""
        if not self.app_secret:
            return self.unsigned
        return verify(body, header, self.app_secret)


@dataclass
class WebhookReceiver:
    """The two handlers, with their collaborators."""

    config: WebhookConfig
    inbox: InboxRepository
    metrics: Metrics
    clock: Callable[[], datetime]
    arrived: asyncio.Event | None = None  # set after each stored delivery: wakes the inbox worker

    async def handshake(self, request: web.Request) -> web.Response:
        """Echo ``hub.challenge`` when mode and verify token match; 403 otherwise."""
        query = request.query
        expected = self.config.verify_token
        given = query.get("hub.verify_token", "")
        challenge = query.get("hub.challenge", "")
        if (
            query.get("hub.mode") != "subscribe"
            or not expected
            or not hmac.compare_digest(given.encode(), expected.encode())
        ):
            log.warning("webhook.handshake_refused", mode=query.get("hub.mode"))
            return web.Response(status=403, text="verification failed")
        log.info("webhook.subscribed")
        return web.Response(text=challenge)

    async def deliver(self, request: web.Request) -> web.Response:
        """Store a delivery's changes, then 200; 415, 413, 403, 400 or 503 as the module says."""
        body = await self._signed_body(request)
        if isinstance(body, web.Response):
            return body
        try:
            delivery = parse_delivery(body)
        except PayloadError as exc:
            return self._refuse("malformed", 400, str(exc))
        events = delivery.events
        try:
            added = await self.inbox.add(events, self.clock())
        except StoreUnavailableError as exc:
            log.warning("webhook.store_unavailable", error=str(exc), changes=len(events))
            self.metrics.webhook_events.labels("delivery", "store_unavailable").inc()
            return web.json_response({"error": "store unavailable, retry"}, status=503)
        for event in events:
            outcome = "malformed" if event.problem or event.key in added.unstorable else "stored"
            self.metrics.webhook_events.labels(_field_label(event.field), outcome).inc()
        for kind in delivery.skipped:
            self.metrics.webhook_events.labels(_field_label(kind), "skipped").inc()
        if added.duplicates:
            self.metrics.webhook_events.labels("delivery", "duplicate").inc(added.duplicates)
        if added.unstorable:
            log.warning(
                "webhook.unstorable",
                changes=len(added.unstorable),
                reason=next(iter(added.unstorable.values())),
            )
        log.info(
            "webhook.received",
            changes=len(events),
            stored=added.stored,
            duplicates=added.duplicates,
            skipped=len(delivery.skipped),
        )
        if self.arrived is not None:
            self.arrived.set()
        return web.json_response({"stored": added.stored, "duplicates": added.duplicates})

    async def _signed_body(self, request: web.Request) -> bytes | web.Response:
        """The raw body, or the refusal of a compressed, oversize or unsigned one."""
        if request.content_length is not None and request.content_length > self.config.max_bytes:
            return self._refuse("too_large", 413, "body too large")
        if request.headers.get(hdrs.CONTENT_ENCODING, "identity").lower() != "identity":
            return self._refuse("compressed", 415, "compressed bodies are not accepted")
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return self._refuse("too_large", 413, "body too large")
        if not self.config.signed(body, request.headers.get("X-Hub-Signature-256")):
            return self._refuse("bad_signature", 403, "signature missing or wrong")
        return body

    def _refuse(self, outcome: str, status: int, reason: str) -> web.Response:
        self.metrics.webhook_events.labels("delivery", outcome).inc()
        log.warning("webhook.refused", outcome=outcome, status=status, reason=reason[:200])
        return web.json_response({"error": reason[:200]}, status=status)


_KNOWN_FIELDS = frozenset({"mentions", "comments"})


def _field_label(field: str) -> str:
    """A bounded label: Meta's fields we know, else ``other``."""
    return field if field in _KNOWN_FIELDS else "other"


def add_routes(app: web.Application, receiver: WebhookReceiver) -> None:
    """Mount the receiver at ``/webhooks/instagram``."""
    app.router.add_get("/webhooks/instagram", receiver.handshake)
    app.router.add_post("/webhooks/instagram", receiver.deliver)
