"""``listener quota``: the slots in the shared ledger, read without asking Meta."""

from __future__ import annotations

import io
from datetime import timedelta

from listener.commands.quota import quota
from listener.ratelimit.ledger import Ledger
from listener.store.store import Store
from tests.commandenv import (
    BRAND_CONFIG,
    NOW,
    Env,
)

# -- listener quota -------------------------------------------------------------------------------


async def test_quota_lists_slots_frees_and_waiting(env: Env) -> None:
    """`listener quota` shows used slots with their free times and a configured tag waiting."""
    store = Store(env.database)
    ledger = Ledger({f"old{i}": NOW - timedelta(days=6) for i in range(29)} | {"summerdrop": NOW})
    assert await store.slots.swap("brand", ledger, 0, NOW)
    settings = env.settings({**BRAND_CONFIG, "hashtags": ["summerdrop", "newtag"]})
    out = io.StringIO()
    code = await quota(settings, out, clock=env.clock)
    text = out.getvalue()
    assert code == 0
    assert "brand: 30 of 30 hashtags used in the rolling 7 days, 0 free" in text
    assert "summerdrop" in text
    assert "frees 2026-12-06 12:00 UTC" in text
    assert "newtag" in text
    assert "waiting: can start 2026-11-30 12:00 UTC" in text
    assert "old0" in text
    assert "(not configured now)" in text
