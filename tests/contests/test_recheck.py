"""``listener draw recheck``: asking Meta whether each drawn entry still stands."""

from __future__ import annotations

import hashlib
import io
from datetime import timedelta

from listener.contests.recheck import recheck
from listener.enrich.draw import commit, record_draw
from listener.models import Media, Sighting, Source, SourceKind
from listener.settings import CampaignSettings, Settings
from listener.store.store import Store
from tests.commandenv import (
    BRAND,
    BRAND_CONFIG,
    NOW,
    Env,
)

# -- listener draw recheck ------------------------------------------------------------------------


async def drawn(env: Env, ids: list[str], winners: int) -> Settings:
    """Store ``ids`` as mention media, draw ``winners`` of them (the rest alternates), and return
    settings with the campaign."""
    store = Store(env.database)
    source = Source(SourceKind.MENTION_MEDIA, "brand")
    for media_id in ids:
        media = Media(id=media_id, timestamp=NOW, caption="#summerdrop", username="x")
        await store.media.ingest([Sighting(media, source, NOW)])
    exported = "\n".join(ids).encode()
    frozen = commit(
        campaign_id="summer",
        rules_version="v",
        exported=exported,
        entry_ids=ids,
        seed_commitment=hashlib.sha256(b"s").hexdigest(),
        committed_at=NOW,
        entrants_format="entrants-csv/2",
    )
    record = record_draw(
        frozen,
        seed="s",
        exported=exported,
        entry_ids=ids,
        winners=winners,
        alternates=len(ids) - winners,
        drawn_at=NOW,
    )
    await store.draws.save_commitment("summer", {"seed_commitment": frozen.seed_commitment})
    await store.draws.save_record("summer", record.to_json(), NOW)
    settings = env.settings(BRAND_CONFIG)
    return settings.model_copy(
        update={
            "campaigns": [
                CampaignSettings(
                    id="summer",
                    account="brand",
                    hashtags=["summerdrop"],
                    starts_at=NOW - timedelta(days=1),
                    ends_at=NOW + timedelta(days=1),
                )
            ]
        }
    )


async def test_recheck_marks_withdrawn_entries_with_reasons(env: Env) -> None:
    """Drawn entries Meta no longer serves, or whose caption lost the hashtag, are marked."""
    kept = env.world.add_post(timestamp=NOW, caption="#summerdrop @brand", username="ana")
    edited = env.world.add_post(timestamp=NOW, caption="no tag any more", username="bo")
    settings = await drawn(env, [kept, edited, "17000000000000001"], winners=2)
    out = io.StringIO()
    code = await recheck(settings, out, "summer", clock=env.clock)
    text = out.getvalue()
    assert code == 1
    assert f"{kept}: ok" in text
    assert "the caption no longer carries #summerdrop" in text
    assert "17000000000000001: withdrawn: gone at Meta (deleted, private or expired)" in text
    assert f"winners after the re-check, in drawn order: {kept}\n" in text
    saved = await Store(env.database).draws.load("summer")
    assert saved is not None
    assert {r["status"] for r in saved["recheck"]["results"]} == {"ok", "withdrawn"}


async def test_recheck_during_a_disguised_throttle_withdraws_nothing(env: Env) -> None:
    """100/33 while the usage headers show the limit is a throttle: entries are unconfirmed."""
    first = env.world.add_post(timestamp=NOW, caption="#summerdrop @brand", username="ana")
    second = env.world.add_post(timestamp=NOW, caption="#summerdrop @brand", username="bo")
    settings = await drawn(env, [first, second], winners=1)
    env.world.throttle(BRAND.ig_user_id, 80002, minutes=30, now=NOW, disguised=True)
    out = io.StringIO()
    await recheck(settings, out, "summer", clock=env.clock)
    text = out.getvalue()
    assert "withdrawn" not in text
    assert text.count("unconfirmed: Meta did not answer") == 2
    assert "read as a throttle: the answer's usage headers are near the limit" in text
