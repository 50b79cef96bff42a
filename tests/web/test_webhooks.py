"""The webhook receiver on a real MongoDB: handshake, signatures, limits, durability."""

from __future__ import annotations

import gzip
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from prometheus_client import CollectorRegistry
from pymongo.asynchronous.database import AsyncDatabase
from structlog.testing import capture_logs

from listener.metrics import Metrics
from listener.store.mongo import Document, connect
from listener.store.store import Store
from listener.web.server import build_app
from listener.web.signature import sign
from listener.web.webhooks import WebhookConfig, WebhookReceiver
from testbed import Secantus

SECRET = "webhook-app-secret"
VERIFY = "verify-me"
NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
DELIVERY = json.dumps(
    {
        "object": "instagram",
        "entry": [
            {
                "id": "17841400000000001",
                "time": 1795910400,
                "changes": [{"field": "mentions", "value": {"media_id": "17918195224117851"}}],
            }
        ],
    }
).encode()


class Client(Protocol):
    """Makes a test client on the worker's web app for a store."""

    def __call__(
        self, store: Store, *, max_bytes: int = 4096
    ) -> Awaitable[TestClient[web.Request, web.Application]]: ...


Db = AsyncDatabase[Document]


@pytest.fixture
def client(
    aiohttp_client: Callable[..., Awaitable[TestClient[web.Request, web.Application]]],
) -> Client:
    """A test client on the worker's web app with the receiver, for a given store."""

    async def make(
        store: Store, *, max_bytes: int = 4096
    ) -> TestClient[web.Request, web.Application]:
        registry = CollectorRegistry()
        metrics = Metrics(registry)
        receiver = WebhookReceiver(
            WebhookConfig(verify_token=VERIFY, app_secret=SECRET, max_bytes=max_bytes),
            store.inbox,
            metrics,
            lambda: NOW,
        )
        app = build_app(metrics=metrics, registry=registry, readiness=store.ping, webhooks=receiver)
        return await aiohttp_client(app)

    return make


def signed(body: bytes) -> dict[str, str]:
    return {"X-Hub-Signature-256": sign(body, SECRET), "Content-Type": "application/json"}


async def test_handshake_echoes_the_challenge(client: Client, store: Store) -> None:
    """subscribe + the configured verify token → the challenge, verbatim."""
    http = await client(store)
    response = await http.get(
        "/webhooks/instagram",
        params={"hub.mode": "subscribe", "hub.verify_token": VERIFY, "hub.challenge": "1158201444"},
    )
    assert response.status == 200
    assert await response.text() == "1158201444"


@pytest.mark.parametrize(
    "params",
    [
        {"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1"},
        {"hub.mode": "unsubscribe", "hub.verify_token": VERIFY, "hub.challenge": "1"},
        {"hub.challenge": "1"},
    ],
)
async def test_handshake_refused(client: Client, store: Store, params: dict[str, str]) -> None:
    """A wrong token or mode is 403, and the challenge is not echoed."""
    response = await (await client(store)).get("/webhooks/instagram", params=params)
    assert response.status == 403


async def test_signed_delivery_is_stored_before_200(client: Client, store: Store) -> None:
    """A valid signature → 200, and the change is already in the inbox when the 200 arrives."""
    response = await (await client(store)).post(
        "/webhooks/instagram", data=DELIVERY, headers=signed(DELIVERY)
    )
    assert response.status == 200
    assert await store.inbox.count("pending") == 1


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Hub-Signature-256": "sha256=" + "0" * 64},
        {"X-Hub-Signature-256": sign(DELIVERY + b" ", SECRET)},
        {"X-Hub-Signature-256": sign(DELIVERY, "another-secret")},
        {"X-Hub-Signature-256": sign(DELIVERY, SECRET).removeprefix("sha256=")},
    ],
)
async def test_bad_signature_is_403_and_stores_nothing(
    client: Client, store: Store, headers: dict[str, str]
) -> None:
    """Missing, wrong or malformed signatures → 403; nothing stored."""
    response = await (await client(store)).post(
        "/webhooks/instagram", data=DELIVERY, headers=headers
    )
    assert response.status == 403
    assert await store.inbox.count() == 0


async def test_oversize_body_is_413(client: Client, store: Store) -> None:
    """A body over the configured size is refused with 413; nothing reaches the inbox."""
    big = b"{" + b" " * 5000 + b"}"
    response = await (await client(store)).post(
        "/webhooks/instagram", data=big, headers=signed(big)
    )
    assert response.status == 413
    assert await store.inbox.count() == 0


@pytest.mark.parametrize("raw", [b"not json", b'{"object": "instagram"}', b"[1]"])
async def test_malformed_body_is_400(client: Client, store: Store, raw: bytes) -> None:
    """A signed body that is not a delivery is 400, nothing stored."""
    response = await (await client(store)).post(
        "/webhooks/instagram", data=raw, headers=signed(raw)
    )
    assert response.status == 400
    assert await store.inbox.count() == 0


async def test_same_delivery_twice_is_one_event(client: Client, store: Store) -> None:
    """Meta's retry of a delivery already stored → 200 again, still one event."""
    http = await client(store)
    for _ in range(2):
        response = await http.post("/webhooks/instagram", data=DELIVERY, headers=signed(DELIVERY))
        assert response.status == 200
    assert await store.inbox.count() == 1
    assert (await response.json()) == {"stored": 0, "duplicates": 1}


async def test_store_down_is_503_then_the_retry_lands(client: Client, data_dir: Path) -> None:
    """With MongoDB stopped the answer is 503 (Meta retries); once back, the retry is stored."""
    server = Secantus(data_dir)
    server.start()
    try:
        async with connect(server.uri, "hooks", timeout_s=0.5) as db:
            store = Store(db)
            http = await client(store)
            server.stop()
            down = await http.post("/webhooks/instagram", data=DELIVERY, headers=signed(DELIVERY))
            assert down.status == 503
            server.start()
            for _ in range(2):  # the first call after the outage may meet a dead pooled socket
                retry = await http.post(
                    "/webhooks/instagram", data=DELIVERY, headers=signed(DELIVERY)
                )
                if retry.status == 200:
                    break
            assert retry.status == 200
            assert await store.inbox.count() == 1
    finally:
        server.stop()


def delivery_of(*values: object, entry_id: object = "17841400000000001") -> bytes:
    """One entry whose changes are ``mentions`` with the given values, as JSON bytes."""
    changes = [{"field": "mentions", "value": value} for value in values]
    document = {"object": "instagram", "entry": [{"id": entry_id, "changes": changes}]}
    return json.dumps(document).encode()


def nested(levels: int) -> object:
    """A value nested ``levels`` objects deep."""
    value: object = {}
    for _ in range(levels - 1):
        value = {"a": value}
    return value


GOOD = {"media_id": "17918195224117851"}


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ({"media_id": 2**64}, "64 bits"),
        ({"media_id": "17918195224117852", "note": 2**63}, "64 bits"),
        ({"media_id": "17918195224117852", "text": "hi \ud83d"}, "lone surrogate"),
        ({"media_id": "17918195224117852", "\udcff": 1}, "lone surrogate"),
        ({"media_id": "17918195224117852", "deep": nested(120)}, "nested deeper"),
    ],
    ids=["id-beyond-64-bits", "int-beyond-64-bits", "lone-surrogate", "surrogate-key", "deep"],
)
async def test_an_unstorable_change_is_a_dead_letter_and_its_neighbours_are_stored(
    client: Client, store: Store, database: Db, bad: dict[str, object], reason: str
) -> None:
    """A change MongoDB cannot take → 200, it is a dead letter with its reason, the rest stored."""
    body = delivery_of(GOOD, bad, GOOD | {"comment_id": "17894227972186120"})
    response = await (await client(store)).post(
        "/webhooks/instagram", data=body, headers=signed(body)
    )
    assert response.status == 200
    assert await store.inbox.count("pending") == 2
    [dead] = await database["inbox"].find({"status": "dead"}).to_list()
    assert reason in dead["reason"]
    assert dead["value"]["unstorable"].startswith("{")
    assert len(dead["value"]["unstorable"]) <= 2000


async def test_an_unstorable_entry_id_is_a_dead_letter_too(
    client: Client, store: Store, database: Db
) -> None:
    """An account id MongoDB cannot take is escaped in the dead letter, which is stored."""
    body = delivery_of(GOOD, entry_id="1784\udc80")
    response = await (await client(store)).post(
        "/webhooks/instagram", data=body, headers=signed(body)
    )
    assert response.status == 200
    [dead] = await database["inbox"].find({}).to_list()
    assert (dead["status"], dead["ig_user_id"]) == ("dead", "1784\\udc80")


async def test_a_deeply_nested_body_is_400(client: Client, store: Store) -> None:
    """JSON nested deeper than the parser recurses is not a delivery: 400, not 500."""
    body = b'{"object": "instagram", "entry": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    http = await client(store, max_bytes=1 << 20)
    response = await http.post("/webhooks/instagram", data=body, headers=signed(body))
    assert response.status == 400
    assert await store.inbox.count() == 0


async def test_a_signature_header_that_is_not_ascii_is_403(client: Client, store: Store) -> None:
    """A non-ASCII X-Hub-Signature-256 is a wrong signature (403), never a 500."""
    header = "sha256=" + "é" * 64
    response = await (await client(store)).post(
        "/webhooks/instagram",
        data=DELIVERY,
        headers={"X-Hub-Signature-256": header.encode().decode("latin-1")},
    )
    assert response.status == 403
    assert await store.inbox.count() == 0


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "GZIP", "x-unknown"])
async def test_a_compressed_body_is_415_and_never_inflated(
    client: Client, store: Store, encoding: str
) -> None:
    """A body with a Content-Encoding is refused with 415 whatever it holds; nothing stored."""
    body = gzip.compress(DELIVERY)
    response = await (await client(store)).post(
        "/webhooks/instagram",
        data=body,
        headers={**signed(DELIVERY), "Content-Encoding": encoding},
    )
    assert response.status == 415
    assert await store.inbox.count() == 0


async def test_a_store_refusal_logs_and_answers_no_document(
    client: Client, store: Store, database: Db
) -> None:
    """A write MongoDB refuses is logged and raised with its code and index, not the change."""
    await database.command(
        "collMod", "inbox", validator={"value": {"$type": "object"}, "field": "comments"}
    )
    marker = "ATTACKER-SHAPED-" * 100
    body = delivery_of(GOOD | {"note": marker})
    with capture_logs() as logs:
        response = await (await client(store, max_bytes=1 << 20)).post(
            "/webhooks/instagram", data=body, headers=signed(body)
        )
    assert response.status == 503
    assert "ATTACKER" not in await response.text()
    [failure] = [e for e in logs if e["event"] == "webhook.store_unavailable"]
    assert "code 121" in failure["error"]
    assert "index 0" in failure["error"]
    assert all("ATTACKER" not in str(e) for e in logs)
