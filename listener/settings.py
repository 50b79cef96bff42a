"""The settings tree: the only reader of configuration files, environment and secret files.

Precedence, highest first: ``LISTENER_…`` environment variables (``__`` between levels), the
TOML file, the defaults below. Secrets are ``SecretStr`` and may come from ``*_file`` keys so
container secrets never have to sit in the TOML. Every model forbids unknown keys: a typo is an
error, not a silently ignored setting. Keys that contradict each other (a polling target outside
its bounds, two budgets for one pool, two accounts with one Instagram id…) are refused too: the
configuration says what the worker will do, or it does not load. :func:`load_settings` turns
every failure into a :class:`~listener.errors.ConfigError` whose message is one line naming the
keys and the problem. :meth:`Settings.worker_refusal` adds what only the long-running worker
needs (an account, and a secret for the webhooks it receives).
"""

from __future__ import annotations

import re
import tomllib
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from listener.errors import ConfigError

MAX_HASHTAGS_PER_ACCOUNT = 30
"""Meta's rule: at most 30 distinct hashtags per account in a rolling 7 days."""

_HASHTAG = re.compile(r"^\w+$")


def _normalise_hashtag(value: str) -> str:
    """Lower-case, drop one leading '#', and refuse what Meta cannot search (spaces, emoji)."""
    tag = value.strip().removeprefix("#").lower()
    if not _HASHTAG.match(tag):
        raise ValueError(f"{value!r} is not a searchable hashtag (letters, digits and _ only)")
    return tag


def _unique(tags: list[str]) -> list[str]:
    return list(dict.fromkeys(tags))


Hashtag = Annotated[str, AfterValidator(_normalise_hashtag)]
Hashtags = Annotated[list[Hashtag], AfterValidator(_unique)]


def _read_secret_file(path: Path, key: str) -> SecretStr:
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ValueError(f"{key} {str(path)!r} cannot be read: {exc.strerror}") from None
    if not text:
        raise ValueError(f"{key} {str(path)!r} is empty")
    return SecretStr(text)


def _secret_from_file(section: BaseModel, key: str) -> None:
    """Fill the secret ``key`` from ``<key>_file`` when that is set (the file wins)."""
    path: Path | None = getattr(section, f"{key}_file")
    if path is not None:
        object.__setattr__(section, key, _read_secret_file(path, f"{key}_file"))


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def _shown(self, key: str) -> str:
        """``key = value`` as the operator wrote it, or marked as the default."""
        value = getattr(self, key)
        shown = f"{value:g}" if isinstance(value, float) else str(value)
        return f"{key} = {shown}" + ("" if key in self.model_fields_set else " (the default)")


class GraphSettings(_Section):
    """Where and how to reach the Graph API."""

    base_url: str = "https://graph.facebook.com"
    instagram_base_url: str = "https://graph.instagram.com"
    api_version: str = Field(default="v25.0", pattern=r"^v\d+\.\d+$")
    app_id: str = Field(default="", pattern=r"^\d*$")
    app_secret: SecretStr = SecretStr("")
    app_secret_file: Path | None = None
    timeout_s: float = Field(default=30.0, gt=0, le=300)

    @field_validator("base_url", "instagram_base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _secret_from_file(self) -> Self:
        _secret_from_file(self, "app_secret")
        return self


META_RETRY_WINDOW_S = 36 * 3600
"""Meta retries a webhook delivery for up to 36 hours: a settled event is kept at least as long,
so a late retry finds it and is stored as a duplicate, not hydrated a second time."""


class StoreSettings(_Section):
    """MongoDB: a URI, or ``embedded`` to start the local MongoDB-compatible server.

    Settled inbox events are deleted by a TTL index: ``inbox_done_retention_s`` after they were
    done, ``inbox_dead_retention_s`` after they became dead letters (kept longer, for reading).
    """

    mongodb_uri: SecretStr = SecretStr("mongodb://localhost:27017")
    mongodb_uri_file: Path | None = None
    embedded_path: Path = Path(".listener-data")
    database: str = Field(default="listener", pattern=r"^[A-Za-z0-9_-]{1,63}$")
    timeout_s: float = Field(default=5.0, gt=0, le=120)
    inbox_done_retention_s: float = Field(default=7 * 86400.0, ge=META_RETRY_WINDOW_S)
    inbox_dead_retention_s: float = Field(default=90 * 86400.0, ge=META_RETRY_WINDOW_S)

    @model_validator(mode="after")
    def _secret_from_file(self) -> Self:
        _secret_from_file(self, "mongodb_uri")
        return self

    @property
    def embedded(self) -> bool:
        """Whether the worker starts its own MongoDB-compatible server."""
        return self.mongodb_uri.get_secret_value() == "embedded"


class ServerSettings(_Section):
    """The HTTP server: metrics, health, readiness and the webhook receiver.

    ``webhook_unsigned`` lets a worker without ``graph.app_secret`` receive webhooks whose
    signature nobody checks: for demos only (anyone who reaches the port can fill the inbox).
    """

    host: str = "127.0.0.1"
    port: int = Field(default=9464, ge=0, le=65535)
    webhook_verify_token: SecretStr = SecretStr("")
    webhook_verify_token_file: Path | None = None
    webhook_max_bytes: int = Field(default=1024 * 1024, ge=1024, le=64 * 1024 * 1024)
    webhook_unsigned: bool = False

    @model_validator(mode="after")
    def _secret_from_file(self) -> Self:
        _secret_from_file(self, "webhook_verify_token")
        return self


class PollingSettings(_Section):
    """How often feeds are polled and how deep one poll may page.

    The intervals are targets: each feed adapts its own between ``min_interval_s`` and
    ``max_interval_s`` to its arrival rate, within its rate-limit scope's budget.
    """

    hashtag_interval_s: float = Field(default=300.0, gt=0)
    tags_interval_s: float = Field(default=600.0, gt=0)
    comments_interval_s: float = Field(default=300.0, gt=0)
    """Target interval of each ``comments = true`` account's comments poller. Not checked
    against the interval bounds: configs written before it existed must stay valid."""
    min_interval_s: float = Field(default=60.0, gt=0)
    max_interval_s: float = Field(default=3600.0, gt=0)
    adaptive: bool = True
    jitter_ratio: float = Field(default=0.1, ge=0, lt=1)
    page_size: int = Field(default=50, ge=1, le=50)
    max_pages: int = Field(default=10, ge=1, le=100)
    comment_posts: int = Field(default=10, ge=0, le=100)
    """How many of an account's most recent posts have their comments polled (``comments``)."""
    top_media: bool = True
    inbox_max_attempts: int = Field(default=8, ge=1, le=100)
    inbox_claim_s: float = Field(default=300.0, gt=0)
    inbox_workers: int = Field(default=2, ge=1, le=32)
    shutdown_grace_s: float = Field(default=5.0, gt=0, le=300)
    """After SIGTERM, work in flight (a poll, an inbox event, lease and claim releases) gets this
    long; what is still running then is cancelled. Waits (pauses, backoffs) end at once."""

    @model_validator(mode="after")
    def _targets_within_bounds(self) -> Self:
        if self.min_interval_s > self.max_interval_s:
            raise ValueError(
                f"{self._shown('min_interval_s')} is above {self._shown('max_interval_s')}: "
                "no interval can satisfy both"
            )
        for target in ("hashtag_interval_s", "tags_interval_s"):
            value = getattr(self, target)
            if value < self.min_interval_s:
                raise ValueError(
                    f"{self._shown(target)} is below {self._shown('min_interval_s')}: feeds "
                    f"would poll every {self.min_interval_s:g} s, not every {value:g} s; "
                    "lower min_interval_s or raise the target"
                )
            if value > self.max_interval_s:
                raise ValueError(
                    f"{self._shown(target)} is above {self._shown('max_interval_s')}: feeds "
                    f"would poll every {self.max_interval_s:g} s, not every {value:g} s; "
                    "raise max_interval_s or lower the target"
                )
        return self


class RateLimitSettings(_Section):
    """Budgets and thresholds of the rate-limit governor.

    Meta's formulas: platform calls (hashtag search) = 200 × app users per hour, app-wide;
    business use case calls (tags, mentions) = 4800 × the account's impressions per 24 hours.
    """

    app_users: int = Field(default=1, ge=1)
    app_calls_per_hour: float | None = Field(default=None, gt=0)
    account_impressions_24h: int = Field(default=100, ge=1)
    account_calls_per_hour: float | None = Field(default=None, gt=0)
    soft_threshold: float = Field(default=0.75, gt=0, lt=1)
    default_pause_s: float = Field(default=3600.0, gt=0)
    max_attempts: int = Field(default=4, ge=1, le=10)
    backoff_initial_s: float = Field(default=1.0, gt=0)
    backoff_max_s: float = Field(default=60.0, gt=0)

    @model_validator(mode="after")
    def _one_budget_per_pool(self) -> Self:
        for formula, direct in (
            ("app_users", "app_calls_per_hour"),
            ("account_impressions_24h", "account_calls_per_hour"),
        ):
            if formula in self.model_fields_set and getattr(self, direct) is not None:
                raise ValueError(
                    f"{formula} and {direct} are both set, and {direct} would win: "
                    "keep only one of them"
                )
        if self.backoff_initial_s > self.backoff_max_s:
            raise ValueError(
                f"{self._shown('backoff_initial_s')} is above {self._shown('backoff_max_s')}: "
                f"every backoff would be {self.backoff_max_s:g} s"
            )
        return self


class ClusterSettings(_Section):
    """Replicas sharing one MongoDB: feeds are split by leases, rate limits are shared."""

    replica: str = ""  # this replica's name; empty: host, pid and a random suffix
    lease_ttl_s: float = Field(default=60.0, ge=5, le=3600)
    sync_s: float = Field(default=2.0, gt=0, le=60)


class SimulatorSettings(_Section):
    """Demo only: serve the built-in Graph API simulator in-process."""

    enabled: bool = False
    seed: int | None = None  # None: a new world every run; a number: the same world every run
    posts_per_hour: float = Field(default=120.0, ge=0)
    mentions_per_hour: float = Field(default=120.0, ge=0)
    comments_per_hour: float = Field(default=120.0, ge=0)
    """Comments entering each comment giveaway's posts, each with its signed webhook."""
    backfill_hours: float = Field(default=30.0, ge=0)


class AccountSettings(_Section):
    """One Instagram professional account and what to listen to for it.

    ``login`` says which token it holds: ``facebook`` (a Facebook user token on
    graph.facebook.com, needed for hashtag search) or ``instagram`` (an Instagram user token
    on graph.instagram.com: tags and mentions only).
    """

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    login: Literal["facebook", "instagram"] = "facebook"
    ig_user_id: str = Field(pattern=r"^\d{1,32}$")
    username: str = Field(default="", pattern=r"^[A-Za-z0-9_.]{0,30}$")
    """The account's Instagram handle (without @): its own mentions never count as entries'."""
    access_token: SecretStr = SecretStr("")
    access_token_file: Path | None = None
    hashtags: Hashtags = []
    tags: bool = True
    mentions: bool = True
    comments: bool = False
    """Receive ``comments`` webhooks for the account's posts and poll the comments of its
    comment campaigns' posts and of its ``polling.comment_posts`` most recent posts."""

    @field_validator("hashtags")
    @classmethod
    def _at_most_thirty(cls, tags: list[str]) -> list[str]:
        if len(tags) > MAX_HASHTAGS_PER_ACCOUNT:
            raise ValueError(
                f"{len(tags)} hashtags configured but Meta allows at most "
                f"{MAX_HASHTAGS_PER_ACCOUNT} distinct hashtags per account in a rolling 7 days; "
                f"the {MAX_HASHTAGS_PER_ACCOUNT + 1}st is {tags[MAX_HASHTAGS_PER_ACCOUNT]!r}"
            )
        return tags

    @model_validator(mode="after")
    def _hashtags_need_facebook_login(self) -> Self:
        if self.hashtags and self.login == "instagram":
            raise ValueError(
                'hashtag search is only available with Facebook Login (login = "facebook")'
            )
        return self

    @model_validator(mode="after")
    def _token_from_file(self) -> Self:
        _secret_from_file(self, "access_token")
        return self


_CAMPAIGN_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_MEDIA_ID = re.compile(r"^\d{1,32}$")
_PERMALINK = re.compile(
    r"^https?://(?:www\.)?instagram\.com/(p|reel|reels|tv)/([A-Za-z0-9_-]{1,64})/?(?:[?#].*)?$"
)


def shortcode(permalink: str) -> str | None:
    """The post's shortcode in an Instagram permalink (``/p/``, ``/reel/``, ``/tv/``), or ``None``.

    Two permalinks name the same post exactly when their shortcodes are equal: Meta writes
    ``/p/`` for photos and albums and ``/reel/`` for reels, while organisers paste either.
    """
    match = _PERMALINK.match(permalink.strip())
    return match.group(2) if match else None


def _post(value: str) -> str:
    """A media id as it is, a permalink in one spelling: ``https://www.instagram.com/<kind>/<code>/``."""
    text = value.strip()
    if _MEDIA_ID.match(text):
        return text
    match = _PERMALINK.match(text)
    if match is None:
        raise ValueError(
            f"{value!r} is neither a media id (digits) nor a post permalink "
            "(https://www.instagram.com/p/SHORTCODE/)"
        )
    kind = "reel" if match.group(1) == "reels" else match.group(1)
    return f"https://www.instagram.com/{kind}/{match.group(2)}/"


Post = Annotated[str, AfterValidator(_post)]


class CampaignSettings(_Section):
    """A contest: which media are valid entries.

    The id names the field ``contests.<id>`` of every judged media in MongoDB, so it may hold
    no ``.`` (a path separator there) and nothing a shell or a file name would trip over.
    """

    id: str
    account: str
    kind: Literal["hashtags", "comments"] = "hashtags"
    """``hashtags``: media found by the account are entries; ``comments``: the top-level comments
    of ``posts`` (the brand's own posts) are."""
    posts: Annotated[list[Post], AfterValidator(_unique)] = []
    hashtags: Hashtags = []
    starts_at: datetime
    ends_at: datetime
    min_mentions: int = Field(default=0, ge=0)
    exclude_usernames: list[str] = []
    one_entry_per_user: bool = True
    unknown_authors: Literal["eligible", "ineligible"] = "eligible"
    """An entry whose author is unknown (hashtag media): still an entry, or ``author_unknown``."""

    @field_validator("id")
    @classmethod
    def _safe_id(cls, value: str) -> str:
        if not _CAMPAIGN_ID.match(value):
            raise ValueError(
                f"{value!r} is not a campaign id: use 1 to 64 letters, digits, '_' or '-' "
                "(it names a field in MongoDB, where '.' would nest it)"
            )
        return value

    @field_validator("starts_at", "ends_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("needs a time zone, e.g. 2026-06-01T00:00:00Z")
        return value

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self

    @model_validator(mode="after")
    def _posts_for_comments(self) -> Self:
        if self.kind == "comments" and not self.posts:
            raise ValueError(
                'kind = "comments" needs posts = [...]: the media ids or permalinks of the '
                "brand's posts whose comments are entries"
            )
        if self.kind == "hashtags" and self.posts:
            raise ValueError('posts is only read by kind = "comments" campaigns')
        return self


class Settings(BaseSettings):
    """The whole configuration, frozen once loaded."""

    model_config = SettingsConfigDict(
        env_prefix="LISTENER_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    graph: GraphSettings = GraphSettings()
    store: StoreSettings = StoreSettings()
    server: ServerSettings = ServerSettings()
    polling: PollingSettings = PollingSettings()
    ratelimit: RateLimitSettings = RateLimitSettings()
    cluster: ClusterSettings = ClusterSettings()
    simulator: SimulatorSettings = SimulatorSettings()
    accounts: list[AccountSettings] = []
    campaigns: list[CampaignSettings] = []

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The TOML file arrives as init arguments; the environment must win over it.
        return (env_settings, init_settings)

    @model_validator(mode="after")
    def _references(self) -> Self:
        names = [a.name for a in self.accounts]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"account names must be unique: {', '.join(duplicates)}")
        ids = [c.id for c in self.campaigns]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"campaign ids must be unique: {', '.join(duplicates)}")
        for n, campaign in enumerate(self.campaigns):
            if campaign.account not in names:
                raise ValueError(
                    f"campaign {campaign.id!r} names unknown account {campaign.account!r}"
                )
            account = self.accounts[names.index(campaign.account)]
            if campaign.kind == "comments" and not account.comments:
                raise ValueError(
                    f"campaigns.{n} ({campaign.id!r}) is a comment giveaway but account "
                    f"{account.name!r} has comments = false: set comments = true on it"
                )
        return self

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        """Refuse keys that contradict each other across sections."""
        first_of: dict[str, int] = {}
        for n, account in enumerate(self.accounts):
            earlier = first_of.setdefault(account.ig_user_id, n)
            if earlier != n:
                raise ValueError(
                    f"accounts.{n}.ig_user_id is accounts.{earlier}.ig_user_id too "
                    f"({account.ig_user_id}): webhooks and usage headers could not tell "
                    f"{self.accounts[earlier].name!r} and {account.name!r} apart"
                )
        secret = self.graph.app_secret.get_secret_value()
        if self.graph.app_id and not secret:
            raise ValueError(
                "graph.app_id is set but graph.app_secret is empty: token expiry checks and "
                "token exchange need both; set graph.app_secret (or app_secret_file)"
            )
        if self.server.webhook_unsigned and secret:
            raise ValueError(
                "server.webhook_unsigned = true but graph.app_secret is set: signatures are "
                "checked; remove server.webhook_unsigned"
            )
        return self

    @property
    def receives_webhooks(self) -> bool:
        """Whether the worker mounts its webhook receiver: some account listens to one."""
        return any(account.mentions or account.comments for account in self.accounts)

    def worker_refusal(self) -> str | None:
        """Why ``listener run`` must not start with these settings (one line), or ``None``.

        A worker with no account would idle silently. A worker that receives webhooks without
        ``graph.app_secret`` would take unsigned deliveries from anyone who reaches its port,
        each one spending the account's Graph budget: only ``server.webhook_unsigned`` allows
        it, for demos.
        """
        if not self.accounts:
            return (
                "no accounts configured: pass --config FILE with at least one [[accounts]] "
                "table (or set LISTENER_ACCOUNTS)"
            )
        unsigned = not self.graph.app_secret.get_secret_value()
        if self.receives_webhooks and unsigned and not self.server.webhook_unsigned:
            listening, key = next(
                (n, "mentions" if a.mentions else "comments")
                for n, a in enumerate(self.accounts)
                if a.mentions or a.comments
            )
            return (
                f"graph.app_secret is empty but accounts.{listening}.{key} = true receives "
                "webhooks: set graph.app_secret (or app_secret_file) to check their signatures, "
                "or server.webhook_unsigned = true for a demo"
            )
        return None

    def secrets(self) -> list[str]:
        """Every secret value of the settings, for the log scrubber."""
        uri = self.store.mongodb_uri.get_secret_value()
        values = [
            self.graph.app_secret.get_secret_value(),
            self.server.webhook_verify_token.get_secret_value(),
            uri if "@" in uri else "",  # a URI without credentials is no secret
        ]
        values += [a.access_token.get_secret_value() for a in self.accounts]
        return [v for v in values if v]

    def campaign(self, campaign_id: str) -> CampaignSettings:
        """The campaign ``campaign_id``; :class:`ConfigError` naming the known ones if none."""
        for campaign in self.campaigns:
            if campaign.id == campaign_id:
                return campaign
        known = ", ".join(c.id for c in self.campaigns) or "none configured"
        raise ConfigError(f"unknown campaign {campaign_id!r} (known: {known})")

    def account(self, name: str) -> AccountSettings:
        """The account called ``name``; :class:`ConfigError` if there is none."""
        for account in self.accounts:
            if account.name == name:
                return account
        raise ConfigError(f"unknown account {name!r}")


def _describe(exc: ValidationError) -> str:
    """One line for the first problem (and how many more), naming the key."""
    first = exc.errors()[0]
    location = ".".join(str(part) for part in first["loc"])
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        message = "unknown key"
    more = len(exc.errors()) - 1
    suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    # A problem of the whole file names its keys in full; it has no location of its own.
    return f"{location}: {message}{suffix}" if location else f"{message}{suffix}"


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"config file {str(path)!r} does not exist") from None
    except OSError as exc:
        raise ConfigError(f"config file {str(path)!r} cannot be read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {str(path)!r} is not valid TOML: {exc}") from None


def load_settings(path: Path | None) -> Settings:
    """Read the TOML file (if any) under the environment; :class:`ConfigError` on any problem."""
    data = _read_toml(path) if path is not None else {}
    where = f"config {str(path)!r}" if path is not None else "config"
    try:
        return Settings(**data)
    except ValidationError as exc:
        raise ConfigError(f"{where}: {_describe(exc)}") from None
