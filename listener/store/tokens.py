"""Renewed access tokens, so a refresh outlives the process that made it.

``tokens``: ``{_id: account, access_token, expires_at, refreshed_at, replaces}``, one document
per account. ``replaces`` is the SHA-256 (hex) of the *configured* token the stored one stands
in for; ``expires_at`` is ``null`` for a token that never expires.

The rule: the stored token is used only while the configuration still holds the token it
replaced. An operator who puts a new token in the configuration wins, without having to clear
anything here. Tokens are never logged, and error texts never carry document values; every
token written or read here is handed to the log scrubber, so one that slips into a log line
anyway is redacted like the configured ones.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime

from pymongo.asynchronous.collection import AsyncCollection

from listener.logs import remember_secret
from listener.store.mongo import Document, guarded


def fingerprint(token: str) -> str:
    """The SHA-256 hex digest a stored token keeps of the configured token it replaces."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class StoredToken:
    """An account's renewed token as stored."""

    access_token: str = field(repr=False)
    expires_at: datetime | None
    refreshed_at: datetime
    replaces: str

    def stands_in_for(self, configured_token: str) -> bool:
        """Whether this token replaced ``configured_token`` (the configuration is unchanged)."""
        return self.replaces == fingerprint(configured_token)


class TokenRepository:
    """Reads and writes the renewed token of each account."""

    def __init__(self, tokens: AsyncCollection[Document]) -> None:
        self._tokens = tokens

    async def save(
        self,
        account: str,
        new_token: str,
        expires_at: datetime | None,
        replaces_configured: str,
        now: datetime,
    ) -> None:
        """Keep ``new_token`` for ``account`` in place of the configured ``replaces_configured``."""
        remember_secret(new_token)
        document = {
            "access_token": new_token,
            "expires_at": expires_at,
            "refreshed_at": now,
            "replaces": fingerprint(replaces_configured),
        }
        await guarded(
            "token write",
            lambda: self._tokens.replace_one({"_id": account}, document, upsert=True),
        )

    async def load(self, account: str) -> StoredToken | None:
        """The stored token of ``account``, whatever the configuration says."""
        doc = await guarded("token read", lambda: self._tokens.find_one({"_id": account}))
        if doc is None:
            return None
        token = str(doc["access_token"])
        remember_secret(token)
        return StoredToken(
            access_token=token,
            expires_at=doc.get("expires_at"),
            refreshed_at=doc["refreshed_at"],
            replaces=str(doc["replaces"]),
        )

    async def current(self, account: str, configured_token: str) -> str:
        """The token to use: the stored one while it replaces ``configured_token``, else that."""
        stored = await self.load(account)
        if stored is not None and stored.stands_in_for(configured_token):
            return stored.access_token
        return configured_token

    async def expiry(self, account: str, configured_token: str | None = None) -> datetime | None:
        """When the stored token expires, if known.

        ``None`` when nothing is stored, the stored token never expires, or (given
        ``configured_token``) the stored token no longer stands in for the configured one.
        """
        stored = await self.load(account)
        if stored is None:
            return None
        if configured_token is not None and not stored.stands_in_for(configured_token):
            return None
        return stored.expires_at
