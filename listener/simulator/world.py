"""The simulated Instagram world: state and rules, no I/O (time is always passed in as ``now``).

`World` owns the accounts and their tokens (rules in `tokens`), the media (generated lazily per
hashtag and per tagged account, plus posts and comments that tests add), the static hashtag ids,
the per-account hashtag ledger, rate-limit usage, scripted throttles and faults, paging snapshots
and call stats.
It answers questions ("which posts does recent_media show at ``now``?") and enforces the rules
("is this the 31st hashtag?"); mapping those answers to Meta's JSON is `endpoints`' job.
"""

from __future__ import annotations

import random
from bisect import bisect_right, insort
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Final, Literal

from listener.simulator import errors
from listener.simulator.config import SimAccount, SimulatorConfig
from listener.simulator.content import (
    MEDIA_TYPES,
    Comment,
    Post,
    PostMaker,
    PostStream,
    normalise_hashtag,
    random_media_id,
    random_post,
    random_shortcode,
)
from listener.simulator.content import hashtag_id as static_hashtag_id
from listener.simulator.faults import FAULT_KINDS, Fault, FaultKind, FaultQueue
from listener.simulator.ledger import HashtagLedger
from listener.simulator.stats import Stats
from listener.simulator.tokens import (
    FB_EXCHANGE_EXPIRES_IN,
    IG_REFRESH_EXPIRES_IN,
    IG_REFRESH_MIN_AGE,
    SimToken,
    TokenBook,
)
from listener.simulator.usage import RollingCalls, ScriptedThrottle, Usage, with_throttle

# Endpoint names, as used in stats, fault scripting and rate-limit scopes.
PLATFORM_ENDPOINTS: Final = frozenset({"ig_hashtag_search", "hashtag", "recent_media", "top_media"})
BUC_ENDPOINTS: Final = frozenset(
    {
        "tags",
        "recently_searched_hashtags",
        "mentioned_media",
        "mentioned_comment",
        "user",
        "comment",
        "media",
        "comments",
        "replies",
    }
)
# Token endpoints answer outside both rate-limit families (§5).
TOKEN_ENDPOINTS: Final = frozenset({"debug_token", "oauth_access_token", "refresh_access_token"})
PAGING_ENDPOINTS: Final = frozenset(
    {"recent_media", "top_media", "recently_searched_hashtags", "tags", "media", "comments"}
)

RECENT_WINDOW: Final = timedelta(hours=24)  # §1c: "published within 24 hours of query execution"
TOP_WINDOW: Final = timedelta(days=7)  # §1d states no window; a week keeps top_media bounded
SHUFFLE_WINDOW: Final = 4  # §1c: "Responses will not always be in chronological order."
SNAPSHOT_TTL: Final = timedelta(hours=1)
_LAST_ID: Final = "\U0010ffff"  # sorts after every media id, for bisecting (timestamp, id) keys

Scope = Literal["app"] | str


@dataclass(frozen=True)
class Snapshot:
    """A hashtag edge's result set, frozen at its first page so later pages do not shift."""

    number: int
    edge: str
    hashtag_id: str
    media_ids: tuple[str, ...]
    first_page_size: int
    created_at: datetime


class World:
    """Everything the simulated Graph API knows; every method that depends on time takes ``now``."""

    def __init__(self, config: SimulatorConfig, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("World start must be timezone-aware")
        self.config = config
        self.start = start
        self.origin = start - timedelta(hours=config.backfill_hours)
        self.stats = Stats()
        self.ledger = HashtagLedger()
        self._rng = random.Random(f"{config.seed}|world")  # ids of posts and comments tests add
        self._trace_rng = random.Random(f"{config.seed}|fbtrace")
        self._accounts = {account.ig_user_id: account for account in config.accounts}
        self._tokens = TokenBook(config.accounts, start, config.seed)
        self._posts: dict[str, Post] = {}
        self._comments: dict[str, Comment] = {}
        self._by_hashtag: dict[str, list[tuple[datetime, str]]] = {}
        self._by_tagged: dict[str, list[tuple[datetime, str]]] = {}
        self._hashtag_names: dict[str, str] = {}
        self._streams: dict[str, PostStream] = {}
        self._known = tuple(sorted({normalise_hashtag(t) for t in config.hashtag_rates}))
        self._sensitive = frozenset(normalise_hashtag(t) for t in config.sensitive_hashtags)
        self._tag_streams = {
            account.ig_user_id: self._tagging_stream(account) for account in config.accounts
        }
        self._app_calls = RollingCalls()
        self._buc_calls: dict[str, RollingCalls] = {}
        self._throttles: dict[str, ScriptedThrottle] = {}
        self._faults = FaultQueue()
        self._snapshots: dict[int, Snapshot] = {}
        self._snapshot_count = 0
        self._withdrawn: set[str] = set()  # posts and comments Meta no longer serves
        self._by_owner: dict[str, list[tuple[int, str]]] = {}  # account -> its posts' keys
        self._top_level: dict[str, list[tuple[int, str]]] = {}  # media -> top-level comment keys
        self._replies: dict[str, list[str]] = {}  # comment -> its replies' ids, oldest first
        self.outbox: list[
            tuple[str, str]
        ] = []  # webhook deliveries not yet sent (see `publish_comments`)
        self.webhook_drop_ratio = 0.0
        self.webhooks_dropped = 0
        self.on_outbox: Callable[[], None] | None = None  # wakes the deliverer
        self._drop_rng = random.Random(f"{config.seed}|drops")
        for name in self._known:
            self.hashtag_id(name)

    # -- accounts and tokens ------------------------------------------------------------------

    def account(self, ig_user_id: str) -> SimAccount | None:
        """The account with this IG user id, if the world has it."""
        return self._accounts.get(ig_user_id)

    def account_for_token(self, access_token: str) -> SimAccount | None:
        """The account an access token acts for (expired or not)."""
        token = self._tokens.get(access_token)
        return None if token is None else self._accounts[token.ig_user_id]

    def token(self, access_token: str) -> SimToken | None:
        """What the world knows about a token it issued."""
        return self._tokens.get(access_token)

    def current_token(self, ig_user_id: str) -> SimToken:
        """The account's latest token (its configured one until exchanged or refreshed)."""
        token = self._tokens.current(ig_user_id)
        if token is None:
            raise ValueError(f"unknown account {ig_user_id}")
        return token

    def expire_token(self, ig_user_id: str) -> None:
        """Expire every token the account has: its calls now fail with 190/463."""
        if ig_user_id not in self._accounts:
            raise ValueError(f"unknown account {ig_user_id}")
        self._tokens.expire(ig_user_id)

    def is_expired(self, ig_user_id: str, now: datetime | None = None) -> bool:
        """Whether the account's current token no longer works (at ``now``; else ever-expired)."""
        token = self.current_token(ig_user_id)
        return token.revoked or (now is not None and not token.is_valid(now))

    def exchange_token(self, access_token: str, now: datetime) -> SimToken:
        """``fb_exchange_token``: a long-lived successor of a valid Facebook user token."""
        token = self._tokens.get(access_token)
        if token is None or token.kind != "facebook":
            raise errors.unparsable_token()
        if not token.is_valid(now):
            raise errors.expired_token()
        return self._tokens.succeed(token, now, FB_EXCHANGE_EXPIRES_IN)

    def refresh_token(self, access_token: str, now: datetime) -> SimToken:
        """``ig_refresh_token``: 60 more days for an Instagram token at least 24 hours old."""
        token = self._tokens.get(access_token)
        if token is None or token.kind != "instagram":
            raise errors.unparsable_token()
        if not token.is_valid(now):
            raise errors.expired_token()
        if now - token.issued_at < IG_REFRESH_MIN_AGE:
            raise errors.token_too_young()
        return self._tokens.succeed(token, now, IG_REFRESH_EXPIRES_IN)

    # -- hashtags -----------------------------------------------------------------------------

    def hashtag_id(self, name: str) -> str:
        """The static id of hashtag ``name``; the world learns the tag (and starts its stream)."""
        name = normalise_hashtag(name)
        tag_id = static_hashtag_id(name)
        if tag_id not in self._hashtag_names:
            self._hashtag_names[tag_id] = name
            rate = self.config.hashtag_rates.get(name, self.config.default_rate_per_hour)
            self._streams[name] = PostStream(
                f"hashtag|{name}", self.config.seed, rate, self.origin, self._hashtag_maker(name)
            )
        return tag_id

    def hashtag_name(self, tag_id: str) -> str | None:
        """The name behind a hashtag id, if the world has seen it (by search or config)."""
        return self._hashtag_names.get(tag_id)

    def is_sensitive(self, name: str) -> bool:
        """Whether Meta would refuse this tag with its "generic error" (§1a)."""
        return normalise_hashtag(name) in self._sensitive

    # -- media --------------------------------------------------------------------------------

    def add_post(
        self,
        *,
        timestamp: datetime,
        hashtags: Sequence[str] = (),
        caption: str | None = None,
        username: str = "sim.user",
        like_count: int = 0,
        comments_count: int = 0,
        media_type: str = "IMAGE",
        tagged_accounts: Sequence[str] = (),
        hide_like_count: bool = False,
        owner: str | None = None,
        comments_enabled: bool = True,
        shortcode: str | None = None,
        media_id: str | None = None,
    ) -> str:
        """Publish an explicit post (visible to queries once ``now >= timestamp``); its id.

        ``owner``: the IG user id of the account that published it (listed by its ``/media``);
        ``shortcode`` and ``media_id``: its permalink's and its id (random when not given).
        """
        if owner is not None and owner not in self._accounts:
            raise ValueError(f"unknown account {owner}")
        if timestamp.tzinfo is None:
            raise ValueError("post timestamp must be timezone-aware")
        if media_type not in MEDIA_TYPES:
            raise ValueError(f"media_type must be one of {', '.join(MEDIA_TYPES)}")
        tags = tuple(normalise_hashtag(tag) for tag in hashtags)
        for tag in tags:
            self.hashtag_id(tag)
        children: tuple[str, ...] = ()
        if media_type == "CAROUSEL_ALBUM":
            children = tuple(random_media_id(self._rng, "17") for _ in range(2))
        post = Post(
            id=media_id or random_media_id(self._rng, "17"),
            timestamp=timestamp.replace(microsecond=0),
            caption=caption if caption is not None else " ".join(f"#{tag}" for tag in tags),
            media_type=media_type,
            shortcode=shortcode or random_shortcode(self._rng),
            like_count=like_count,
            comments_count=comments_count,
            username=username,
            hashtags=tags,
            tagged_accounts=tuple(tagged_accounts),
            like_count_hidden=hide_like_count,
            children=children,
            owner=owner,
            comments_enabled=comments_enabled,
        )
        if owner is not None:
            insort(self._by_owner.setdefault(owner, []), _key(post.timestamp, post.id))
        return self._store(post).id

    def add_comment(
        self,
        media_id: str,
        text: str,
        username: str,
        timestamp: datetime,
        like_count: int = 0,
        *,
        parent_id: str | None = None,
        hidden: bool = False,
    ) -> str:
        """Add a comment (a reply when ``parent_id`` is set) on a known media; its id."""
        post = self._posts.get(media_id)
        if post is None:
            raise ValueError(f"unknown media {media_id}")
        if parent_id is not None:
            parent = self._comments.get(parent_id)
            if parent is None or parent.media_id != media_id or parent.parent_id is not None:
                raise ValueError(f"{parent_id} is not a top-level comment on media {media_id}")
        comment = Comment(
            id=random_media_id(self._rng, "17"),
            media_id=media_id,
            text=text,
            username=username,
            timestamp=timestamp.replace(microsecond=0),
            like_count=like_count,
            parent_id=parent_id,
            hidden=hidden,
        )
        self._comments[comment.id] = comment
        if parent_id is None:
            insort(self._top_level.setdefault(media_id, []), _key(comment.timestamp, comment.id))
        else:
            self._replies.setdefault(parent_id, []).append(comment.id)
        self._posts[media_id] = replace(post, comments_count=post.comments_count + 1)
        return comment.id

    def publish_comments(
        self,
        media_id: str,
        count: int,
        *,
        start: datetime,
        spacing_s: float = 1.0,
        notify: bool = False,
        seed: str = "bulk",
    ) -> list[str]:
        """Publish ``count`` top-level comments on an account's post, ``spacing_s`` apart.

        Seeded, so the same call gives the same comments: commenters drawn from a pool smaller
        than ``count`` (so some comment twice), zero to three @mentions each, sometimes the
        brand's own handle or the commenter's. With ``notify`` each is also queued as a signed
        ``comments`` webhook for the owner (and dropped at ``webhook_drop_ratio``).
        """
        post = self._posts.get(media_id)
        if post is None or post.owner is None:
            raise ValueError(f"media {media_id} is not an account's own post")
        owner = self._accounts[post.owner]
        rng = random.Random(f"{self.config.seed}|{seed}|{media_id}|{count}|{start.isoformat()}")
        pool = max(1, count * 4 // 5)
        ids: list[str] = []
        for n in range(count):
            user = f"fan.{rng.randrange(pool)}"
            handles = [f"friend.{rng.randrange(pool)}" for _ in range(rng.choice((0, 1, 2, 2, 3)))]
            if rng.random() < 0.05:
                handles.append(owner.username)
            if rng.random() < 0.03:
                handles.append(user)
            words = " ".join(f"@{h}" for h in handles)
            text = rng.choice(("Count me in!", "Love this 😍", "Pick me", "Not again…", "Yes!"))
            at = start + timedelta(seconds=n * spacing_s)
            comment_id = self.add_comment(media_id, f"{text} {words}".strip(), user, at)
            ids.append(comment_id)
            if notify:
                self.queue_webhook(post.owner, comment_id)
        return ids

    def queue_webhook(self, ig_user_id: str, comment_id: str) -> None:
        """Queue the ``comments`` delivery of a comment, unless the random drop takes it."""
        if self._drop_rng.random() < self.webhook_drop_ratio:
            self.webhooks_dropped += 1
            return
        self.outbox.append((ig_user_id, comment_id))
        if self.on_outbox is not None:
            self.on_outbox()

    def take_outbox(self) -> list[tuple[str, str]]:
        """The queued (account, comment id) deliveries, emptying the queue."""
        taken, self.outbox = self.outbox, []
        return taken

    def set_comments_enabled(self, media_id: str, enabled: bool) -> None:
        """Turn a post's comments on or off (``is_comment_enabled``)."""
        post = self._posts.get(media_id)
        if post is None:
            raise ValueError(f"unknown media {media_id}")
        self._posts[media_id] = replace(post, comments_enabled=enabled)

    def hide_comment(self, comment_id: str) -> None:
        """The account hid the comment: it stays readable by the owner, marked ``hidden``."""
        comment = self._comments.get(comment_id)
        if comment is None:
            raise ValueError(f"unknown comment {comment_id}")
        self._comments[comment_id] = replace(comment, hidden=True)

    def own_media(self, ig_user_id: str, now: datetime) -> list[tuple[int, str]]:
        """Keys (epoch, id) of the account's published posts, oldest first, as of ``now``."""
        keys = self._by_owner.get(ig_user_id, [])
        published = keys[: bisect_right(keys, _key(now, _LAST_ID))]
        return [k for k in published if k[1] not in self._withdrawn]

    def top_level_keys(self, media_id: str) -> list[tuple[int, str]]:
        """Keys (epoch, id) of the media's top-level comments, oldest first, deleted ones included
        (readers skip them: a deleted comment leaves no gap in the cursors)."""
        return self._top_level.get(media_id, [])

    def replies_to(self, comment_id: str) -> list[Comment]:
        """The replies to a comment that Meta still serves, oldest first."""
        found = (self.comment(i) for i in self._replies.get(comment_id, []))
        return [c for c in found if c is not None]

    def truth(self, media_id: str) -> list[Comment]:
        """Every top-level comment Meta still serves on the media (the benchmarks' ground truth)."""
        found = (self.comment(k[1]) for k in self.top_level_keys(media_id))
        return [c for c in found if c is not None]

    def withdraw_post(self, media_id: str) -> None:
        """The post is deleted, or its account turned private (or it was a story that expired):
        Meta serves it nowhere any more, nor its comments, and answers 100/33 for its id."""
        if media_id not in self._posts:
            raise ValueError(f"unknown media {media_id}")
        self._withdrawn.add(media_id)

    def withdraw_comment(self, comment_id: str) -> None:
        """The comment is deleted: Meta answers 100/33 for its id."""
        if comment_id not in self._comments:
            raise ValueError(f"unknown comment {comment_id}")
        self._withdrawn.add(comment_id)

    def post(self, media_id: str) -> Post | None:
        """A media object by id (generated or added), unless it was withdrawn."""
        return None if media_id in self._withdrawn else self._posts.get(media_id)

    def comment(self, comment_id: str) -> Comment | None:
        """A comment by id, unless it or its media was withdrawn."""
        comment = self._comments.get(comment_id)
        if comment is None or {comment_id, comment.media_id} & self._withdrawn:
            return None
        return comment

    def comments_on(self, media_id: str) -> list[Comment]:
        """The comments on a media, oldest first (none once the media is withdrawn)."""
        if media_id in self._withdrawn:
            return []
        found = [
            c
            for c in self._comments.values()
            if c.media_id == media_id and c.id not in self._withdrawn
        ]
        return sorted(found, key=lambda c: (c.timestamp, c.id))

    def recent_media(self, tag_id: str, now: datetime) -> list[Post]:
        """What ``/{tag}/recent_media`` lists at ``now``, in the order Meta would give it.

        Only posts of the last 24 h (§1c), newest first but shuffled within small windows
        ("not always in chronological order"); the shuffle is seeded by the tag and ``now``.
        """
        posts = self._hashtag_posts(tag_id, now - RECENT_WINDOW, now)
        posts.reverse()
        rng = random.Random(f"{self.config.seed}|{tag_id}|{now.isoformat()}")
        shuffled: list[Post] = []
        for start in range(0, len(posts), SHUFFLE_WINDOW):
            window = posts[start : start + SHUFFLE_WINDOW]
            mixed = rng.sample(window, len(window))
            if len(window) > 1 and mixed == window:
                mixed = mixed[1:] + mixed[:1]  # guarantee the disorder the docs warn about
            shuffled.extend(mixed)
        return shuffled

    def top_media(self, tag_id: str, now: datetime) -> list[Post]:
        """What ``/{tag}/top_media`` lists at ``now``: the last 7 days, most popular first."""
        posts = self._hashtag_posts(tag_id, now - TOP_WINDOW, now)
        return sorted(posts, key=lambda p: (-p.popularity, -p.timestamp.timestamp(), p.id))

    def tagged_media(self, ig_user_id: str, now: datetime) -> list[Post]:
        """Media the account is tagged in, published by ``now``, newest first."""
        self._advance_tagging(now)
        entries = self._by_tagged.get(ig_user_id, [])
        end = bisect_right(entries, (now, _LAST_ID))
        return [
            self._posts[media_id]
            for _, media_id in reversed(entries[:end])
            if media_id not in self._withdrawn
        ]

    # -- the 30-hashtag ledger ----------------------------------------------------------------

    def spend_hashtag(self, ig_user_id: str, tag_id: str, now: datetime) -> None:
        """Count a hashtag call against the account's 30-in-7-days; raises when it is the 31st."""
        if not self.ledger.spend(ig_user_id, tag_id, now):
            raise errors.hashtag_limit_reached()

    def distinct_hashtags(self, ig_user_id: str, now: datetime) -> tuple[str, ...]:
        """Names of the hashtags holding one of the account's 30 slots at ``now``, oldest first."""
        return tuple(self._hashtag_names[tag] for tag in self.ledger.active(ig_user_id, now))

    def recently_searched(self, ig_user_id: str, now: datetime) -> tuple[str, ...]:
        """Ids of the hashtags holding a slot at ``now`` (``recently_searched_hashtags``)."""
        return tuple(self.ledger.active(ig_user_id, now))

    # -- rate limits and throttles --------------------------------------------------------------

    def admit(
        self, endpoint: str, ig_user_id: str, now: datetime, object_id: str | None = None
    ) -> None:
        """Let a call through its rate-limit scope (counting it) or raise the throttle error.

        Hashtag endpoints use the app's Platform budget; the rest use the account's BUC budget
        (§1g). A scripted throttle on "app" stops hashtag endpoints for every account; one on an
        account stops that account's calls (80002, being a BUC code, only its BUC endpoints).
        A disguised throttle answers "object missing" (100/33) for ``object_id``, the object
        the call asked about (the account itself when it named none).
        """
        if endpoint in PLATFORM_ENDPOINTS:
            for scope in ("app", ig_user_id):
                throttle = self._active_throttle(scope, now)
                if throttle is not None and throttle.code != errors.BUC_THROTTLE_CODE:
                    raise _refusal(throttle, object_id or ig_user_id)
            if self._app_calls.usage(self.config.app_calls_per_hour, now).exhausted:
                raise errors.throttled(4)
            self._app_calls.add(now)
        elif endpoint in BUC_ENDPOINTS:
            throttle = self._active_throttle(ig_user_id, now)
            if throttle is not None:
                raise _refusal(throttle, object_id or ig_user_id)
            calls = self._buc_calls.setdefault(ig_user_id, RollingCalls())
            if calls.usage(self.config.buc_calls_per_hour, now).exhausted:
                raise errors.throttled(errors.BUC_THROTTLE_CODE)
            calls.add(now)

    def app_usage(self, now: datetime) -> Usage:
        """The ``X-App-Usage`` figures at ``now``."""
        usage = self._app_calls.usage(self.config.app_calls_per_hour, now)
        return with_throttle(usage, self._active_throttle("app", now), now)

    def buc_usage(self, ig_user_id: str, now: datetime) -> Usage:
        """The account's ``X-Business-Use-Case-Usage`` figures at ``now``."""
        calls = self._buc_calls.get(ig_user_id) or RollingCalls()
        usage = calls.usage(self.config.buc_calls_per_hour, now)
        return with_throttle(usage, self._active_throttle(ig_user_id, now), now)

    def throttle(
        self, scope: Scope, code: int, minutes: float, now: datetime, *, disguised: bool = False
    ) -> datetime:
        """Script a throttle: calls in ``scope`` fail with ``code`` for ``minutes``; its end.

        ``disguised``: they fail with 100/33 instead (see `ScriptedThrottle`), the usage
        headers still saying the scope is at its limit.
        """
        if code not in errors.THROTTLE_CODES:
            raise ValueError(f"code must be one of {sorted(errors.THROTTLE_CODES)}")
        if scope == "app" and code == errors.BUC_THROTTLE_CODE:
            raise ValueError("80002 is a per-account (BUC) code; give an ig_user_id as scope")
        if scope != "app" and scope not in self._accounts:
            raise ValueError(f"scope must be 'app' or a known ig_user_id, not {scope!r}")
        until = now + timedelta(minutes=minutes)
        self._throttles[scope] = ScriptedThrottle(code=code, until=until, disguised=disguised)
        return until

    def _active_throttle(self, scope: str, now: datetime) -> ScriptedThrottle | None:
        throttle = self._throttles.get(scope)
        return throttle if throttle is not None and now < throttle.until else None

    # -- scripted faults ----------------------------------------------------------------------

    def inject_faults(
        self,
        kind: FaultKind,
        count: int = 1,
        endpoint: str | None = None,
        *,
        skip: int = 0,
        delay_s: float = 5.0,
    ) -> None:
        """After ``skip`` calls (of ``endpoint``, or any), make ``count`` suffer ``kind``.

        ``delay_s`` is how long a ``delay`` fault stalls the answer. See `faults` for the kinds.
        """
        if kind not in FAULT_KINDS:
            raise ValueError(f"kind must be one of {', '.join(sorted(FAULT_KINDS))}")
        known = PLATFORM_ENDPOINTS | BUC_ENDPOINTS | TOKEN_ENDPOINTS
        if endpoint is not None and endpoint not in known:
            raise ValueError(f"endpoint must be one of {', '.join(sorted(known))}")
        if count < 1 or skip < 0:
            raise ValueError("count must be at least 1 and skip at least 0")
        self._faults.add(Fault(kind=kind, endpoint=endpoint, delay_s=delay_s), count, skip)

    def take_fault(self, endpoint: str) -> Fault | None:
        """The fault the call about to be answered suffers, if one is queued for it."""
        return self._faults.take(endpoint, paging=endpoint in PAGING_ENDPOINTS)

    @property
    def pending_faults(self) -> int:
        """Faults still waiting for a call."""
        return len(self._faults)

    # -- paging snapshots ---------------------------------------------------------------------

    def open_snapshot(
        self, edge: str, tag_id: str, posts: Sequence[Post], first_page_size: int, now: datetime
    ) -> Snapshot:
        """Freeze a result set at its first page; older snapshots (over an hour) are dropped."""
        self._snapshots = {
            n: s for n, s in self._snapshots.items() if now - s.created_at < SNAPSHOT_TTL
        }
        self._snapshot_count += 1
        snapshot = Snapshot(
            number=self._snapshot_count,
            edge=edge,
            hashtag_id=tag_id,
            media_ids=tuple(post.id for post in posts),
            first_page_size=first_page_size,
            created_at=now,
        )
        self._snapshots[snapshot.number] = snapshot
        return snapshot

    def snapshot(self, number: int) -> Snapshot | None:
        """A snapshot still held, by number."""
        return self._snapshots.get(number)

    def trace_id(self) -> str:
        """A fresh ``fbtrace_id`` (deterministic for a given seed and call sequence)."""
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
        return "A" + "".join(self._trace_rng.choice(alphabet) for _ in range(22))

    # -- internals ----------------------------------------------------------------------------

    def _hashtag_posts(self, tag_id: str, after: datetime, until: datetime) -> list[Post]:
        """Posts of a hashtag with ``after < timestamp <= until``, oldest first."""
        name = self._hashtag_names.get(tag_id)
        if name is None:
            return []
        # Known tags cross-post into each other, so they always advance together: what exists
        # then never depends on which tag was asked for first.
        for stream_name in self._known if name in self._known else (*self._known, name):
            for post in self._streams[stream_name].advance(until):
                self._store(post)
        self._advance_tagging(until)  # tagged posts often carry the brand's hashtag too
        entries = self._by_hashtag.get(name, [])
        start = bisect_right(entries, (after, _LAST_ID))
        end = bisect_right(entries, (until, _LAST_ID))
        return [
            self._posts[media_id]
            for _, media_id in entries[start:end]
            if media_id not in self._withdrawn
        ]

    def _store(self, post: Post) -> Post:
        while post.id in self._posts:  # ids are random 18-digit numbers; collisions are freak
            post = replace(post, id=random_media_id(self._rng, "18"))
        self._posts[post.id] = post
        for tag in post.hashtags:
            insort(self._by_hashtag.setdefault(tag, []), (post.timestamp, post.id))
        for ig_user_id in post.tagged_accounts:
            insort(self._by_tagged.setdefault(ig_user_id, []), (post.timestamp, post.id))
        return post

    def _hashtag_maker(self, name: str) -> PostMaker:
        others = tuple(tag for tag in self._known if tag != name) if name in self._known else ()
        ratio = self.config.cross_post_ratio

        def make(rng: random.Random, at: datetime) -> Post:
            tags: tuple[str, ...] = (name,)
            if rng.random() < ratio and others:
                tags = (name, rng.choice(others))
            return random_post(rng, at, hashtags=tags)

        return make

    def _advance_tagging(self, until: datetime) -> None:
        for stream in self._tag_streams.values():
            for post in stream.advance(until):
                self._store(post)

    def _tagging_stream(self, account: SimAccount) -> PostStream:
        known = self._known

        def make(rng: random.Random, at: datetime) -> Post:
            mention = account.username if rng.random() < 0.5 else None
            # Half the posts that tag a brand also use one of its hashtags: their authors are
            # what /tags reveals about hashtag media.
            tags = (rng.choice(known),) if known and rng.random() < 0.5 else ()
            return random_post(
                rng, at, hashtags=tags, tagged_accounts=(account.ig_user_id,), mention=mention
            )

        return PostStream(
            f"tags|{account.ig_user_id}",
            self.config.seed,
            self.config.tag_rate_per_hour,
            self.origin,
            make,
        )


def _key(moment: datetime, object_id: str) -> tuple[int, str]:
    """A place in a time-ordered list: (epoch seconds, id)."""
    return int(moment.timestamp()), object_id


def _refusal(throttle: ScriptedThrottle, object_id: str) -> errors.GraphError:
    """The error a scripted throttle answers with."""
    return (
        errors.unknown_object(object_id) if throttle.disguised else errors.throttled(throttle.code)
    )
