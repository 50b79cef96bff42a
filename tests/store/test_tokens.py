"""The renewed-token store on a real MongoDB wire server: the ``replaces`` rule."""

from __future__ import annotations

import hashlib
import io
from datetime import UTC, datetime, timedelta

import structlog
from pymongo.asynchronous.database import AsyncDatabase

from listener.logs import configure_logging
from listener.store.mongo import Document
from listener.store.tokens import TokenRepository

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
CONFIGURED = "EAA-configured-token"
RENEWED = "EAA-renewed-token"


def repository(database: AsyncDatabase[Document]) -> TokenRepository:
    """The repository on the test's own ``tokens`` collection."""
    return TokenRepository(database["tokens"])


async def test_without_a_stored_token_the_configured_one_is_used(
    database: AsyncDatabase[Document],
) -> None:
    """Nothing stored: current() is the configured token and the expiry is unknown."""
    tokens = repository(database)
    assert await tokens.current("brand", CONFIGURED) == CONFIGURED
    assert await tokens.expiry("brand") is None
    assert await tokens.load("brand") is None


async def test_stored_token_stands_in_for_the_configured_one_it_replaced(
    database: AsyncDatabase[Document],
) -> None:
    """A saved token is used while the configuration still holds the token it replaced."""
    tokens = repository(database)
    expires = NOW + timedelta(days=60)
    await tokens.save("brand", RENEWED, expires, CONFIGURED, NOW)
    assert await tokens.current("brand", CONFIGURED) == RENEWED
    assert await tokens.expiry("brand") == expires
    assert await tokens.expiry("brand", CONFIGURED) == expires
    assert await tokens.current("other", CONFIGURED) == CONFIGURED


async def test_a_new_configured_token_wins_over_the_stored_one(
    database: AsyncDatabase[Document],
) -> None:
    """Once the operator configures another token, it is used and the stored expiry is moot."""
    tokens = repository(database)
    await tokens.save("brand", RENEWED, NOW + timedelta(days=60), CONFIGURED, NOW)
    assert await tokens.current("brand", "EAA-new-from-the-operator") == "EAA-new-from-the-operator"
    assert await tokens.expiry("brand", "EAA-new-from-the-operator") is None


async def test_the_document_keeps_a_hash_of_the_configured_token_never_the_token(
    database: AsyncDatabase[Document],
) -> None:
    """The document holds the new token and sha256 of the configured one, never the configured."""
    await repository(database).save("brand", RENEWED, NOW + timedelta(days=60), CONFIGURED, NOW)
    doc = await database["tokens"].find_one({"_id": "brand"})
    assert doc is not None
    assert set(doc) == {"_id", "access_token", "expires_at", "refreshed_at", "replaces"}
    assert doc["replaces"] == hashlib.sha256(CONFIGURED.encode()).hexdigest()
    assert CONFIGURED not in str(doc)
    assert doc["refreshed_at"] == NOW


async def test_saving_again_replaces_the_document(database: AsyncDatabase[Document]) -> None:
    """A second renewal overwrites the first; one document per account."""
    tokens = repository(database)
    await tokens.save("brand", RENEWED, NOW + timedelta(days=60), CONFIGURED, NOW)
    later = NOW + timedelta(days=30)
    await tokens.save("brand", "EAA-renewed-again", later + timedelta(days=60), CONFIGURED, later)
    assert await tokens.current("brand", CONFIGURED) == "EAA-renewed-again"
    stored = await tokens.load("brand")
    assert stored is not None
    assert stored.refreshed_at == later
    assert await database["tokens"].count_documents({}) == 1


async def test_a_token_that_never_expires_has_no_expiry(database: AsyncDatabase[Document]) -> None:
    """expires_at None is stored as null and read back as None."""
    tokens = repository(database)
    await tokens.save("brand", RENEWED, None, CONFIGURED, NOW)
    assert await tokens.expiry("brand") is None
    assert await tokens.current("brand", CONFIGURED) == RENEWED


async def test_the_stored_token_is_hidden_from_repr(database: AsyncDatabase[Document]) -> None:
    """A StoredToken's repr (as in a log line or a failed assertion) omits the token."""
    tokens = repository(database)
    await tokens.save("brand", RENEWED, None, CONFIGURED, NOW)
    assert RENEWED not in repr(await tokens.load("brand"))


async def test_a_token_read_from_the_store_is_scrubbed_from_logs(
    database: AsyncDatabase[Document],
) -> None:
    """A renewed token another process stored is redacted from log lines once it is read."""
    renewed = "EAA-renewed-by-another-process"
    await database["tokens"].insert_one(
        {
            "_id": "brand",
            "access_token": renewed,
            "expires_at": None,
            "refreshed_at": NOW,
            "replaces": hashlib.sha256(CONFIGURED.encode()).hexdigest(),
        }
    )
    out = io.StringIO()
    configure_logging(stream=out, json=True, secrets=[CONFIGURED])
    assert await repository(database).current("brand", CONFIGURED) == renewed
    structlog.get_logger().warning("poll.failed", error=f"GET /tags?access_token={renewed}&x")
    structlog.get_logger().warning("poll.failed", error=f"token {renewed} rejected")
    assert renewed not in out.getvalue()
