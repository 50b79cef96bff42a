"""``listener draw recheck``: asking Meta whether each drawn entry still stands."""

from __future__ import annotations

import hashlib
import io
from datetime import timedelta

from listener.contests.recheck import recheck
from listener.enrich.draw import commit, record_draw
from listener.models import Comment, CommentSource, Media, Sighting, Source, SourceKind
from listener.settings import CampaignSettings, Settings
from listener.store.store import Store
from tests.commandenv import (
    BRAND,
    BRAND_CONFIG,
    NOW,
    Env,
)

# -- listener draw recheck ------------------------------------------------------------------------


async def save_draw(store: Store, campaign: str, ids: list[str], winners: int) -> None:
    """Commit to ``ids`` and draw ``winners`` of them (the rest alternates) for ``campaign``."""
    exported = "\n".join(ids).encode()
    frozen = commit(
        campaign_id=campaign,
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
    await store.draws.save_commitment(campaign, {"seed_commitment": frozen.seed_commitment})
    await store.draws.save_record(campaign, record.to_json(), NOW)


async def drawn(env: Env, ids: list[str], winners: int) -> Settings:
    """Store ``ids`` as mention media, draw ``winners`` of them (the rest alternates), and return
    settings with the campaign."""
    store = Store(env.database)
    source = Source(SourceKind.MENTION_MEDIA, "brand")
    for media_id in ids:
        media = Media(id=media_id, timestamp=NOW, caption="#summerdrop", username="x")
        await store.media.ingest([Sighting(media, source, NOW)])
    await save_draw(store, "summer", ids, winners)
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


# -- comment giveaways ----------------------------------------------------------------------------


async def drawn_comments(env: Env, ids: list[str], post: str) -> Settings:
    """Store the world's comments ``ids`` as polled, draw them all (the first a winner), and
    return settings with the comment giveaway ``winter`` on ``post``."""
    store = Store(env.database)
    found = [c for c in env.world.comments_on(post) if c.id in ids]
    await store.comments.ingest(
        [Comment(c.id, post, "brand", c.text, c.username, None, c.timestamp) for c in found],
        CommentSource.POLL,
        NOW,
    )
    await save_draw(store, "winter", ids, 1)
    settings = env.settings({**BRAND_CONFIG, "username": "brand", "comments": True})
    return settings.model_copy(
        update={
            "campaigns": [
                CampaignSettings(
                    id="winter",
                    account="brand",
                    kind="comments",
                    posts=[post],
                    starts_at=NOW - timedelta(days=1),
                    ends_at=NOW + timedelta(days=1),
                    min_mentions=1,
                )
            ]
        }
    )


async def test_recheck_marks_deleted_and_hidden_comments_and_keeps_the_record(env: Env) -> None:
    """A deleted drawn comment (100/33) and a hidden one are withdrawn with their reason; the
    record stays as it was and the results are kept beside it."""
    post = env.world.add_post(timestamp=NOW - timedelta(hours=1), owner=BRAND.ig_user_id)
    kept, deleted, hidden = (
        env.world.add_comment(post, f"me @friend{n}", f"fan{n}", NOW) for n in range(3)
    )
    settings = await drawn_comments(env, [kept, deleted, hidden], post)
    before = await Store(env.database).draws.load("winter")
    env.world.withdraw_comment(deleted)
    env.world.hide_comment(hidden)
    out = io.StringIO()
    code = await recheck(settings, out, "winter", clock=env.clock)
    text = out.getvalue()
    assert code == 1
    assert f"{kept}: ok" in text
    assert f"{deleted}: withdrawn: deleted at Meta" in text
    assert f"{hidden}: withdrawn: hidden by the account" in text
    saved = await Store(env.database).draws.load("winter")
    assert before is not None
    assert saved is not None
    assert saved["record"] == before["record"]
    assert [r["status"] for r in saved["recheck"]["results"]] == ["ok", "withdrawn", "withdrawn"]
    assert [r["comment_id"] for r in saved["recheck"]["results"]] == [kept, deleted, hidden]


async def test_recheck_judges_a_drawn_comment_by_the_rules_again(env: Env) -> None:
    """A drawn comment Meta still serves but the rules refuse is withdrawn with the reason codes."""
    post = env.world.add_post(timestamp=NOW - timedelta(hours=1), owner=BRAND.ig_user_id)
    tagged = env.world.add_comment(post, "me @ana", "zoe", NOW)
    untagged = env.world.add_comment(post, "me, no friend", "yan", NOW)
    settings = await drawn_comments(env, [tagged, untagged], post)
    out = io.StringIO()
    await recheck(settings, out, "winter", clock=env.clock)
    text = out.getvalue()
    assert f"{tagged}: ok" in text
    assert f"{untagged}: withdrawn: no longer within the rules: too_few_mentions" in text
