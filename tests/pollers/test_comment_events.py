"""``comments`` webhook changes through the inbox on the simulator and a real MongoDB: stored
without a Graph call when complete, fetched when not, dead letters for the gone and malformed."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from listener.metrics import Metrics
from listener.models import WebhookEvent
from listener.pollers.accounts import Accounts
from listener.pollers.comment_events import CommentEvents, delivered_comment
from listener.pollers.comment_ingest import CommentIngestor
from listener.pollers.inbox import InboxWorker
from listener.simulator.webhooks import comments_envelope
from listener.store.store import Store
from listener.web.payload import parse_delivery
from tests import metabodies
from tests.graphsim import BRAND, NOW, WHO, Graph
from tests.pollers.test_inbox import work_one, worker


def comments_worker(graph: Graph, store: Store, metrics: Metrics) -> InboxWorker:
    """The inbox worker with brand listening to comments on its posts (mentions on too)."""
    events = CommentEvents(
        api=graph.api,
        ingestor=CommentIngestor(store, metrics),
        accounts=Accounts({"brand": WHO}, metrics=metrics, clock=graph.clock),
        comments_on=["brand"],
    )
    return worker(graph, store, metrics, comments=events)


async def received(store: Store, graph: Graph, body: bytes) -> list[WebhookEvent]:
    events = parse_delivery(body).events
    await store.inbox.add(events, graph.clock())
    return events


def graph_calls(graph: Graph) -> int:
    return graph.world.stats.count()


async def test_the_captured_instagram_login_body_is_stored_without_a_graph_call(
    graph: Graph, store: Store, metrics: Metrics
) -> None:
    """Meta's documented comments change (id, text, from, media) becomes the comment's document
    with no call to Meta; its time is the delivery's, marked estimated."""
    body = metabodies.with_entry_id("meta-docs/comments-instagram-login.json", BRAND.ig_user_id)
    await received(store, graph, body)
    before = graph_calls(graph)
    assert await work_one(comments_worker(graph, store, metrics), store, graph) == "as_delivered"
    assert graph_calls(graph) == before
    stored = await store.comments.get("17894227972186120")
    assert stored is not None
    assert (stored["media_id"], stored["username"], stored["user_id"]) == (
        "17918195224117851",
        "ana.example",
        "5614879045272581",
    )
    assert (stored["text"], stored["sources"]) == ("@brand love it", ["comments_webhook"])
    assert stored["timestamp_estimated"] is True
    assert "parent_id" not in stored


async def test_a_captured_reply_keeps_its_parent(
    graph: Graph, store: Store, metrics: Metrics
) -> None:
    """restfb's 2021 body (a reply: parent_id, from, media) is stored as a reply, no call."""
    body = metabodies.with_entry_id("restfb/wh-comments-2021.json", BRAND.ig_user_id)
    await received(store, graph, body)
    assert await work_one(comments_worker(graph, store, metrics), store, graph) == "as_delivered"
    stored = await store.comments.get("123456789")
    assert stored is not None
    assert (stored["parent_id"], stored["media_id"]) == ("987654321", "76543987")


async def test_an_album_comment_is_fetched_for_its_media(
    graph: Graph, store: Store, metrics: Metrics
) -> None:
    """A {text, id} change (an album comment) is read from the comment node: media, author and
    real time stored."""
    album = graph.world.add_post(
        timestamp=NOW - timedelta(hours=1), owner=BRAND.ig_user_id, media_type="CAROUSEL_ALBUM"
    )
    comment_id = graph.world.add_comment(album, "so nice", "fan.1", NOW - timedelta(minutes=2))
    envelope = comments_envelope(BRAND.ig_user_id, comment_id, "so nice", NOW)
    await received(store, graph, json.dumps(envelope).encode())
    assert await work_one(comments_worker(graph, store, metrics), store, graph) == "hydrated"
    stored = await store.comments.get(comment_id)
    assert stored is not None
    assert (stored["media_id"], stored["username"]) == (album, "fan.1")
    assert stored["timestamp"] == NOW - timedelta(minutes=2)
    assert "timestamp_estimated" not in stored


async def test_a_comment_deleted_before_its_fetch_is_a_dead_letter_and_the_account_goes_on(
    graph: Graph, store: Store, metrics: Metrics
) -> None:
    """The comment is gone when fetched (100/33): dead letter with that reason, account unpaused."""
    album = graph.world.add_post(
        timestamp=NOW - timedelta(hours=1), owner=BRAND.ig_user_id, media_type="CAROUSEL_ALBUM"
    )
    comment_id = graph.world.add_comment(album, "oops", "fan.1", NOW - timedelta(minutes=2))
    envelope = comments_envelope(BRAND.ig_user_id, comment_id, "oops", NOW)
    [event] = await received(store, graph, json.dumps(envelope).encode())
    graph.world.withdraw_comment(comment_id)
    inbox = comments_worker(graph, store, metrics)
    assert await work_one(inbox, store, graph) == "dead"
    letter = await store.inbox.get(event.key)
    assert letter is not None
    assert letter["reason"].startswith(f"comment {comment_id} is gone or private at Meta")
    assert "code 100, subcode 33" in letter["reason"]
    assert inbox._accounts.blocked("brand", "comments") is None
    assert await store.comments.get(comment_id) is None


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ({"text": "no id", "media": {"id": "1"}}, "comment without an id"),
        ({"id": "not-digits", "text": "x"}, "comment without an id"),
    ],
)
def test_a_malformed_comments_change_is_a_dead_letter(value: dict[str, Any], problem: str) -> None:
    """A comments change without a usable id is kept as a dead letter at receipt."""
    body = json.dumps(
        {
            "object": "instagram",
            "entry": [{"id": BRAND.ig_user_id, "changes": [{"field": "comments", "value": value}]}],
        }
    ).encode()
    [event] = parse_delivery(body).events
    assert event.problem == problem


@pytest.mark.parametrize(
    ("value", "complete"),
    [
        (
            {"id": "1", "text": "t", "from": {"id": "2", "username": "u"}, "media": {"id": "3"}},
            True,
        ),
        ({"id": "1", "text": "t", "from": {"id": "2", "username": "u"}}, False),  # an album
        ({"id": "1", "text": "t", "media": {"id": "3"}}, False),  # no author
        ({"id": "1", "from": {"id": "2", "username": "u"}, "media": {"id": "3"}}, False),  # no text
        ({"id": "1", "text": "t", "from": {"id": "2"}, "media": {"id": "3"}}, False),  # no name
        ({"text": "This is an example.", "id": "123456789"}, False),  # restfb's bare body
    ],
)
def test_delivered_comment(value: dict[str, Any], complete: bool) -> None:
    """Only a change with id, text, from.username and media.id is stored without a fetch."""
    assert (delivered_comment(value, "brand") is not None) is complete
