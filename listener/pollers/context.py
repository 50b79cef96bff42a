"""What every poller is built on: the collaborators the feeds and the inbox worker share.

One frozen object carries them, so a feed's constructor names only what is its own (its
account, hashtag, interval and bounds) and the composition root builds the shared ones once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from listener.graph.instagram import InstagramApi
from listener.metrics import Metrics
from listener.pollers.accounts import Accounts
from listener.pollers.ingest import Ingestor
from listener.store.store import Store


@dataclass(frozen=True, kw_only=True)
class PollerContext:
    """The Graph API, the store, the ingestor, the accounts, the metrics and the clock."""

    api: InstagramApi
    store: Store
    ingestor: Ingestor
    accounts: Accounts
    metrics: Metrics
    clock: Callable[[], datetime]
