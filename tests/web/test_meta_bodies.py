"""Every real delivery body (tests/fixtures/meta), signed, through the parser and the receiver."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from prometheus_client import CollectorRegistry

from listener.metrics import Metrics
from listener.store.store import Store
from listener.web.payload import parse_delivery
from listener.web.server import build_app
from listener.web.signature import sign
from listener.web.webhooks import WebhookConfig, WebhookReceiver
from tests import metabodies

SECRET = "webhook-app-secret"
CONFIGURED = "17841400000000001"
NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)

# What each body holds: (field, media id, comment id) of the changes stored, and the number of
# messaging items counted without being stored.
EXPECTED: dict[str, tuple[list[tuple[str, str | None, str | None]], int]] = {
    "restfb/wh-comments.json": ([("comments", None, "123456789")], 0),
    "restfb/wh-comments-2021.json": ([("comments", "76543987", "123456789")], 0),
    "restfb/wh-livecomments.json": ([("live_comments", None, None)], 0),
    "restfb/wh-mentions.json": ([("mentions", "17887498072083520", "17887498072083520")], 0),
    "restfb/wh-story_insights.json": ([("story_insights", None, None)], 0),
    "restfb/messaging-seen.json": ([], 1),
    "restfb/messaging-attachment-unsupported.json": ([], 1),
    "meta-docs/comments-instagram-login.json": (
        [("comments", "17918195224117851", "17894227972186120")],
        0,
    ),
    "meta-docs/messaging-instagram-login.json": ([], 1),
    "meta-docs/mentions-and-messaging.json": (
        [("mentions", "17918195224117851", "17894227972186120")],
        1,
    ),
}
HANDLED = {"mentions", "comments"}


def test_every_delivery_body_is_listed() -> None:
    """The table covers every delivery fixture, so none goes untested."""
    assert set(EXPECTED) == set(metabodies.DELIVERIES)


@pytest.mark.parametrize("name", metabodies.DELIVERIES)
def test_every_delivery_is_read(name: str) -> None:
    """Each real body parses: its changes, none a dead letter, messaging items only counted."""
    delivery = parse_delivery(metabodies.raw(name))
    changes, messaging = EXPECTED[name]
    assert [(e.field, e.media_id, e.comment_id) for e in delivery.events] == changes
    assert [e.problem for e in delivery.events] == [None] * len(changes)
    assert delivery.skipped == ("messaging",) * messaging


Post = Callable[[bytes], Awaitable[tuple[int, CollectorRegistry]]]


@pytest.fixture
def post(
    aiohttp_client: Callable[..., Awaitable[TestClient[web.Request, web.Application]]], store: Store
) -> Post:
    """POST a signed body to a fresh receiver on the test's store: (status, its registry)."""

    async def send(body: bytes) -> tuple[int, CollectorRegistry]:
        registry = CollectorRegistry()
        metrics = Metrics(registry)
        receiver = WebhookReceiver(
            WebhookConfig(verify_token="v", app_secret=SECRET, max_bytes=1 << 20),
            store.inbox,
            metrics,
            lambda: NOW,
        )
        app = build_app(metrics=metrics, registry=registry, readiness=store.ping, webhooks=receiver)
        http = await aiohttp_client(app)
        headers = {"X-Hub-Signature-256": sign(body, SECRET), "Content-Type": "application/json"}
        response = await http.post("/webhooks/instagram", data=body, headers=headers)
        return response.status, registry

    return send


def count(registry: CollectorRegistry, field: str, outcome: str) -> float:
    value = registry.get_sample_value(
        "listener_webhook_events_total", {"field": field, "outcome": outcome}
    )
    return value or 0.0


@pytest.mark.parametrize("configured", [False, True], ids=["unknown-account", "configured"])
@pytest.mark.parametrize("name", metabodies.DELIVERIES)
async def test_every_real_delivery_is_answered_200_stored_and_counted(
    post: Post, store: Store, name: str, *, configured: bool
) -> None:
    """Signed and delivered as captured (or to a configured account): 200; handled fields are
    stored, every other part is counted under field="other"."""
    body = metabodies.with_entry_id(name, CONFIGURED) if configured else metabodies.raw(name)
    status, registry = await post(body)
    assert status == 200
    changes, messaging = EXPECTED[name]
    assert await store.inbox.count() == len(changes)
    handled = [field for field, _, _ in changes if field in HANDLED]
    for field in HANDLED:
        assert count(registry, field, "stored") == handled.count(field)
    others = len(changes) - len(handled)
    assert count(registry, "other", "stored") == others
    assert count(registry, "other", "skipped") == messaging
    assert count(registry, "delivery", "malformed") == 0
    if configured:
        stored = await store.inbox.get(parse_delivery(body).events[0].key) if changes else None
        assert stored is None or stored["ig_user_id"] == CONFIGURED


async def test_a_batch_with_messaging_keeps_its_mention(post: Post, store: Store) -> None:
    """A mention batched with messaging is stored (pending), not lost to a refusal."""
    body = metabodies.with_entry_id("meta-docs/mentions-and-messaging.json", CONFIGURED)
    status, _ = await post(body)
    assert status == 200
    [event] = parse_delivery(body).events
    stored = await store.inbox.get(event.key)
    assert stored is not None
    assert (stored["status"], stored["media_id"]) == ("pending", "17918195224117851")
    assert json.loads(body)["entry"][1]["messaging"]  # the messaging part was there
