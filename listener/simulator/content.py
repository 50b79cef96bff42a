"""Simulated Instagram media: the records, and the seeded Poisson streams that make them (pure).

A stream is one Poisson process (one per hashtag, one per tagged account) with its own
`random.Random` seeded from the world seed and the stream's key, so a stream's posts depend only
on the seed, its key and the time it is advanced to, never on which other stream ran first.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

MEDIA_TYPES: Final = ("IMAGE", "VIDEO", "CAROUSEL_ALBUM")
_MEDIA_TYPE_WEIGHTS: Final = (0.6, 0.25, 0.15)
_SHORTCODE_ALPHABET: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"

_PHRASES: Final = {
    "en": (
        "loving this",
        "best day ever",
        "can't stop smiling",
        "weekend vibes",
        "new favourite",
        "so good",
        "what a view",
        "thank you all",
        "dream come true",
        "not bad at all",
        "worst service ever",
        "so disappointed",
        "never again",
        "meh",
        "pretty average",
    ),
    "es": ("me encanta", "qué bonito", "el mejor día", "muy malo", "increíble"),
    "fr": ("j'adore", "trop beau", "quelle journée", "pas terrible", "magnifique"),
    "pt": ("amei demais", "que lindo", "muito ruim", "perfeito"),
    "de": ("wunderschön", "der beste Tag", "leider enttäuscht"),
    "ja": ("最高の一日", "かわいい", "おいしい"),
}
_LANGUAGES: Final = tuple(_PHRASES)
_LANGUAGE_WEIGHTS: Final = (0.65, 0.1, 0.08, 0.07, 0.05, 0.05)
_EMOJI: Final = ("🔥", "😍", "✨", "☀️", "🙌", "😂", "💯", "🌊", "🥲", "👎")
_NAMES: Final = (
    "lena",
    "marco",
    "aiko",
    "sam",
    "priya",
    "jonas",
    "noor",
    "felix",
    "maya",
    "omar",
    "zoe",
    "luca",
    "ines",
    "theo",
    "yuki",
    "ava",
    "kofi",
    "elena",
    "raj",
    "mila",
)
_SUFFIXES: Final = ("", ".travels", "_eats", ".photo", "_daily", ".studio", "_fit", ".art")


@dataclass(frozen=True)
class Post:
    """One IG media object as the simulator stores it."""

    id: str
    timestamp: datetime
    caption: str
    media_type: str
    shortcode: str
    like_count: int
    comments_count: int
    username: str
    hashtags: tuple[str, ...] = ()
    tagged_accounts: tuple[str, ...] = ()
    like_count_hidden: bool = False
    children: tuple[str, ...] = ()  # child media ids, albums only
    owner: str | None = None  # the IG user id of the account that published it (its /media)
    comments_enabled: bool = True  # ``is_comment_enabled``

    @property
    def permalink(self) -> str:
        """The public URL, as Meta builds it from the shortcode."""
        return f"https://www.instagram.com/p/{self.shortcode}/"

    @property
    def popularity(self) -> int:
        """What top_media ranks by (the simulator's stand-in for Meta's view/interaction mix)."""
        return self.like_count + self.comments_count


@dataclass(frozen=True)
class Comment:
    """One IG comment: on any media (``mentioned_comment``) or on an account's own post."""

    id: str
    media_id: str
    text: str
    username: str
    timestamp: datetime
    like_count: int = 0
    parent_id: str | None = None  # set on a reply
    hidden: bool = False

    @property
    def user_id(self) -> str:
        """The commenter's Instagram-scoped id (``from.id``), stable per username."""
        return scoped_user_id(self.username)


def scoped_user_id(username: str) -> str:
    """A stable Instagram-scoped user id for ``username`` (16 digits)."""
    scoped = int(hashlib.sha256(username.encode()).hexdigest()[:12], 16)
    return f"9{scoped:015d}"


def graph_timestamp(moment: datetime) -> str:
    """Meta's timestamp format: ``2026-11-29T10:15:00+0000`` (UTC, no fraction)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


def hashtag_id(name: str) -> str:
    """The static, global id of hashtag ``name`` (same for every account and every seed)."""
    digest = int(hashlib.sha256(normalise_hashtag(name).encode()).hexdigest(), 16)
    return f"1784{digest % 10**13:013d}"


def normalise_hashtag(name: str) -> str:
    """Hashtags compare case-insensitively and without a leading ``#``."""
    return name.strip().lstrip("#").lower()


def random_media_id(rng: random.Random, prefix: str) -> str:
    """A 18-digit numeric id like Meta's (``prefix`` is two digits)."""
    return f"{prefix}{rng.randrange(10**15, 10**16)}"


def random_shortcode(rng: random.Random) -> str:
    """An 11-character permalink shortcode."""
    return "".join(rng.choice(_SHORTCODE_ALPHABET) for _ in range(11))


def random_username(rng: random.Random) -> str:
    """A plausible public username."""
    return f"{rng.choice(_NAMES)}{rng.choice(_SUFFIXES)}{rng.choice(('', str(rng.randrange(100))))}"


def random_caption(
    rng: random.Random, hashtags: tuple[str, ...], mention: str | None = None
) -> str:
    """A few words in some language, the hashtags as ``#tag``, sometimes an @handle and emoji."""
    language = rng.choices(_LANGUAGES, weights=_LANGUAGE_WEIGHTS)[0]
    parts = [rng.choice(_PHRASES[language])]
    if rng.random() < 0.5:
        parts.append(rng.choice(_EMOJI))
    if mention is None and rng.random() < 0.3:
        mention = random_username(rng)
    if mention is not None:
        parts.append(f"@{mention}")
    parts.extend(f"#{tag}" for tag in hashtags)
    if rng.random() < 0.2:
        parts.append(rng.choice(_EMOJI))
    return " ".join(parts)


def random_post(
    rng: random.Random,
    at: datetime,
    *,
    hashtags: tuple[str, ...] = (),
    tagged_accounts: tuple[str, ...] = (),
    mention: str | None = None,
) -> Post:
    """A generated post published at ``at`` (truncated to the second, as Meta reports it)."""
    media_type = rng.choices(MEDIA_TYPES, weights=_MEDIA_TYPE_WEIGHTS)[0]
    like_count = int(rng.paretovariate(1.3) * 4) - 4
    post_id = random_media_id(rng, "18")
    children: tuple[str, ...] = ()
    if media_type == "CAROUSEL_ALBUM":
        children = tuple(random_media_id(rng, "18") for _ in range(rng.randint(2, 5)))
    return Post(
        id=post_id,
        timestamp=at.replace(microsecond=0),
        caption=random_caption(rng, hashtags, mention),
        media_type=media_type,
        shortcode=random_shortcode(rng),
        like_count=like_count,
        comments_count=like_count // 12 + rng.randrange(3),
        username=random_username(rng),
        hashtags=hashtags,
        tagged_accounts=tagged_accounts,
        like_count_hidden=rng.random() < 0.03,  # owner hid like counts: like_count is omitted
        children=children,
    )


# Makes one post of a stream: (the stream's rng, publication time) -> post.
PostMaker = Callable[[random.Random, datetime], Post]


class PostStream:
    """A seeded Poisson process of posts, generated lazily up to the time asked for."""

    def __init__(
        self, key: str, seed: int, rate_per_hour: float, origin: datetime, make: PostMaker
    ) -> None:
        self._rng = random.Random(f"{seed}|{key}")
        self._rate = rate_per_hour
        self._make = make
        self._next_at: datetime | None = origin + self._gap() if rate_per_hour > 0 else None

    def advance(self, until: datetime) -> list[Post]:
        """The posts published after the previous call and up to ``until``, oldest first."""
        made: list[Post] = []
        while self._next_at is not None and self._next_at <= until:
            made.append(self._make(self._rng, self._next_at))
            self._next_at += self._gap()
        return made

    def _gap(self) -> timedelta:
        return timedelta(hours=self._rng.expovariate(self._rate))


_GIVEAWAY_LINES: Final = (
    "Count me in!",
    "Pick me please",
    "Love this 😍😍",
    "🔥🔥🔥",
    "Me encanta, ojalá gane",
    "Je participe !",
    "Bellissimo, partecipo",
    "参加します！",
    "Eu quero muito",
    "Not sure about this one…",
    "Shipping was slow last time 😕",
)
"""What people write under a giveaway: eager, emoji-only, non-English, now and then unhappy."""


def giveaway_comment(rng: random.Random, brand: str, fans: int = 400) -> tuple[str, str]:
    """(username, text) of one comment under a brand's giveaway post (seeded by ``rng``).

    Zero to three friends tagged (so some entries tag too few), now and then the brand's own
    handle or the commenter's (which do not count), a repeat commenter from a pool of ``fans``.
    """
    user = f"fan.{rng.randrange(fans)}"
    friends = [f"@friend.{rng.randrange(fans)}" for _ in range(rng.choice((0, 1, 2, 2, 3)))]
    if rng.random() < 0.1:
        friends.append(f"@{brand}")
    if rng.random() < 0.05:
        friends.append(f"@{user}")
    return user, " ".join((rng.choice(_GIVEAWAY_LINES), *friends))
