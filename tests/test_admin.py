"""``listener check`` and ``listener token refresh`` end to end: the simulator and a real store."""

from __future__ import annotations

import hashlib
import io
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from pydantic import SecretStr
from pymongo.asynchronous.database import AsyncDatabase
from structlog.testing import capture_logs

from listener.admin import (
    check,
    describe_expiry,
    missing_scopes,
    quota,
    recheck,
    refresh_tokens,
    token_expiries,
)
from listener.enrich.draw import commit, record_draw
from listener.errors import ConfigError
from listener.graph.client import GraphClient
from listener.graph.tokens import TokenApi
from listener.metrics import Metrics
from listener.models import Media, Sighting, Source, SourceKind
from listener.ratelimit.ledger import Ledger
from listener.settings import AccountSettings, CampaignSettings, Settings
from listener.simulator import ManualClock, SimAccount, SimulatorConfig, World, serve
from listener.store.mongo import Document
from listener.store.store import Store
from listener.store.tokens import TokenRepository

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
APP_ID = "1234567890"
APP_SECRET = "app-secret-for-admin-tests"
BRAND = SimAccount(ig_user_id="17841400000000001", access_token="EAA-brand-token", username="brand")
IGBRAND = SimAccount(
    ig_user_id="17841400000000002",
    access_token="IGAA-igbrand-token",
    username="igbrand",
    login="instagram",
)
SECRETS = (BRAND.access_token, IGBRAND.access_token, APP_SECRET, f"{APP_ID}|")
BRAND_CONFIG: dict[str, Any] = {
    "name": "brand",
    "ig_user_id": BRAND.ig_user_id,
    "access_token": BRAND.access_token,
    "hashtags": ["summerdrop"],
}
IGBRAND_CONFIG: dict[str, Any] = {
    "name": "igbrand",
    "login": "instagram",
    "ig_user_id": IGBRAND.ig_user_id,
    "access_token": IGBRAND.access_token,
}


@dataclass
class Env:
    """A simulator on a manual clock, the test's database, and settings pointing at both."""

    world: World
    clock: ManualClock
    base_url: str
    mongo_uri: str
    database: AsyncDatabase[Document]
    outputs: list[str] = field(default_factory=list)

    def settings(
        self,
        *accounts: dict[str, Any],
        app_id: str = APP_ID,
        mongodb_uri: str | None = None,
        store_timeout_s: float = 5.0,
    ) -> Settings:
        """Settings for ``accounts`` (default: brand) on this simulator and database."""
        return Settings(
            graph={  # type: ignore[arg-type]
                "base_url": self.base_url,
                "instagram_base_url": self.base_url,
                "app_id": app_id,
                "app_secret": APP_SECRET,
                "timeout_s": 5,
            },
            store={  # type: ignore[arg-type]
                "mongodb_uri": mongodb_uri or self.mongo_uri,
                "database": self.database.name,
                "timeout_s": store_timeout_s,
            },
            ratelimit={"max_attempts": 1},  # type: ignore[arg-type]
            accounts=list(accounts or (BRAND_CONFIG,)),  # type: ignore[arg-type]
        )

    async def check(self, settings: Settings) -> tuple[int, list[str]]:
        """Run ``check`` at the simulator's time; (exit code, output lines)."""
        out = io.StringIO()
        code = await check(settings, out, clock=self.clock)
        self.outputs.append(out.getvalue())
        return code, out.getvalue().splitlines()

    async def refresh(
        self, settings: Settings, account: str | None = None
    ) -> tuple[int, list[str]]:
        """Run ``token refresh`` at the simulator's time; (exit code, output lines)."""
        out = io.StringIO()
        code = await refresh_tokens(settings, out, account, clock=self.clock)
        self.outputs.append(out.getvalue())
        return code, out.getvalue().splitlines()

    @property
    def tokens(self) -> TokenRepository:
        """The renewed-token repository on the test's database."""
        return TokenRepository(self.database["tokens"])


Launch = Callable[..., Awaitable[Env]]


@asynccontextmanager
async def token_api(env: Env, metrics: Metrics) -> AsyncIterator[TokenApi]:
    """A TokenApi on the simulator, as the worker would build it, on the simulator's clock."""
    async with aiohttp.ClientSession() as session:
        client = GraphClient(
            session,
            base_url=env.base_url,
            api_version="v25.0",
            app_secret=APP_SECRET,
            timeout_s=5,
            metrics=metrics,
        )
        yield TokenApi(client, client, clock=env.clock)


@pytest.fixture
async def launch(mongo_uri: str, database: AsyncDatabase[Document]) -> AsyncIterator[Launch]:
    """Start a quiet simulator knowing the app and ``accounts`` (default: BRAND and IGBRAND).

    Afterwards, no output of the test may have shown a token or the app secret.
    """
    envs: list[Env] = []
    async with AsyncExitStack() as stack:

        async def start(*accounts: SimAccount) -> Env:
            clock = ManualClock(NOW)
            config = SimulatorConfig(
                accounts=accounts or (BRAND, IGBRAND),
                default_rate_per_hour=0.0,
                backfill_hours=0.0,
                tag_rate_per_hour=0.0,
                app_secret=APP_SECRET,
                app_id=APP_ID,
            )
            running = await stack.enter_async_context(serve(config, clock=clock))
            env = Env(running.world, clock, running.base_url, mongo_uri, database)
            envs.append(env)
            return env

        yield start
    for env in envs:
        for text in env.outputs:
            for secret in SECRETS:
                assert secret not in text


@pytest.fixture
async def env(launch: Launch) -> Env:
    """The default simulator: BRAND (Facebook Login) and IGBRAND (Instagram Login)."""
    return await launch()


# -- pure pieces ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expires_at", "text"),
    [
        (None, "never expires"),
        (NOW + timedelta(days=60), "expires 2027-01-28 (60 days left)"),
        (NOW + timedelta(days=1, hours=23), "expires 2026-12-01 (1 day left)"),
        (NOW + timedelta(hours=5), "expires 2026-11-29 (0 days left)"),
        (NOW, "expired 2026-11-29"),
    ],
)
def test_describe_expiry(expires_at: datetime | None, text: str) -> None:
    """Expiry reads as a date and whole days left, 'never expires', or 'expired'."""
    assert describe_expiry(expires_at, NOW) == text


@pytest.mark.parametrize(
    ("config", "scopes", "missing"),
    [
        (BRAND_CONFIG, ("instagram_basic", "instagram_manage_comments"), {}),
        (
            BRAND_CONFIG,
            ("instagram_basic",),
            {"instagram_manage_comments": ["tags", "mentions"]},
        ),
        (
            BRAND_CONFIG,
            (),
            {
                "instagram_basic": ["hashtags"],
                "instagram_manage_comments": ["tags", "mentions"],
            },
        ),
        ({**BRAND_CONFIG, "tags": False, "mentions": False}, ("instagram_basic",), {}),
        ({**BRAND_CONFIG, "hashtags": []}, ("instagram_manage_comments",), {}),
        (IGBRAND_CONFIG, (), {}),
    ],
)
def test_missing_scopes(
    config: dict[str, Any], scopes: tuple[str, ...], missing: dict[str, list[str]]
) -> None:
    """Each switched-on feature needs its scope; Instagram Login accounts are not judged."""
    assert missing_scopes(AccountSettings(**config), scopes) == missing


# -- listener check -------------------------------------------------------------------------------


async def test_check_all_well(env: Env) -> None:
    """Store up, token valid for 60 days with every scope: three ok lines and exit code 0."""
    code, lines = await env.check(env.settings())
    assert lines == [
        "ok: store: MongoDB answers",
        "ok: brand: token valid, expires 2027-01-28 (60 days left)",
        "check: all well",
    ]
    assert code == 0


async def test_check_reports_a_config_the_worker_would_refuse(env: Env) -> None:
    """A config `listener run` refuses (webhooks without a secret) is a problem, exit 1."""
    settings = env.settings()
    unsigned = settings.model_copy(
        update={"graph": settings.graph.model_copy(update={"app_secret": SecretStr("")})}
    )
    code, lines = await env.check(unsigned)
    assert code == 1
    assert (
        "problem: config: `listener run` would refuse to start: graph.app_secret is empty but "
        "accounts.0.mentions = true receives webhooks"
    ) in "\n".join(lines)


async def test_check_warns_a_token_expiring_within_a_week(launch: Launch) -> None:
    """A token with 3 days left is a warning telling what to run, and exit code 1."""
    env = await launch(replace(BRAND, token_ttl=timedelta(days=3)))
    code, lines = await env.check(env.settings())
    assert (
        "warning: brand: token valid, expires 2026-12-02 (3 days left): "
        "renew it with `listener token refresh`"
    ) in lines
    assert lines[-1] == "check: 1 warning"
    assert code == 1


async def test_check_reports_missing_scopes(launch: Launch) -> None:
    """A token without instagram_manage_comments is a problem for tags and mentions."""
    env = await launch(replace(BRAND, scopes=("instagram_basic",)))
    code, lines = await env.check(env.settings())
    assert (
        "problem: brand: token lacks instagram_manage_comments, needed for tags, mentions" in lines
    )
    assert code == 1


async def test_check_reports_an_expired_token_in_one_line(env: Env) -> None:
    """An expired token is one problem line quoting Meta's codes, with no traceback."""
    env.world.expire_token(BRAND.ig_user_id)
    code, lines = await env.check(env.settings())
    problem = next(line for line in lines if line.startswith("problem: brand:"))
    assert "token refused" in problem
    assert "code=190 subcode=463" in problem
    assert not any("Traceback" in line for line in lines)
    assert lines[-1] == "check: 1 problem"
    assert code == 1


async def test_check_without_app_id_notes_unknown_expiry(env: Env) -> None:
    """Without graph.app_id the token is still proven to work; its expiry is a note, exit 0."""
    code, lines = await env.check(env.settings(app_id=""))
    assert (
        "note: brand: token valid; token expiry unknown: set graph.app_id and graph.app_secret"
    ) in lines
    assert code == 0


async def test_check_with_a_wrong_app_id_says_which_settings_to_look_at(env: Env) -> None:
    """debug_token refusing the app token is one problem line pointing at the app settings."""
    code, lines = await env.check(env.settings(app_id="999"))
    problem = next(line for line in lines if line.startswith("problem: brand:"))
    assert "debug_token failed (are graph.app_id and graph.app_secret right?)" in problem
    assert "code=190" in problem
    assert code == 1


async def test_check_names_an_account_id_meta_does_not_know(env: Env) -> None:
    """A configured ig_user_id Meta answers "object missing" for is named, not a throttle."""
    wrong = {**BRAND_CONFIG, "ig_user_id": "17841499999999999"}
    code, lines = await env.check(env.settings(wrong))
    problem = next(line for line in lines if line.startswith("problem: brand:"))
    assert problem.startswith(
        "problem: brand: ig_user_id 17841499999999999 does not exist or this token cannot read it"
    )
    assert "code=100 subcode=33" in problem
    assert code == 1


async def test_check_reports_an_unreachable_store_and_goes_on(env: Env) -> None:
    """MongoDB down is one problem line; the accounts are still checked."""
    settings = env.settings(mongodb_uri="mongodb://127.0.0.1:1/?directConnection=true")
    settings = settings.model_copy(
        update={"store": settings.store.model_copy(update={"timeout_s": 0.2})}
    )
    code, lines = await env.check(settings)
    assert lines[0].startswith("problem: store: MongoDB ping failed")
    assert "ok: brand: token valid, expires 2027-01-28 (60 days left)" in lines
    assert code == 1


async def test_check_with_no_accounts_is_a_problem(env: Env) -> None:
    """A configuration without accounts listens to nothing: a problem."""
    settings = env.settings().model_copy(update={"accounts": []})
    code, lines = await env.check(settings)
    assert "problem: accounts: none configured: there is nothing to listen to" in lines
    assert code == 1


# -- listener token refresh -----------------------------------------------------------------------


async def test_refresh_exchanges_and_stores_the_facebook_token(env: Env) -> None:
    """The exchanged token is stored in place of the configured one; only its expiry is shown."""
    with capture_logs() as logs:
        code, lines = await env.refresh(env.settings())
    assert lines == [
        "ok: brand: renewed, expires 2027-01-28 (59 days left)",
        "token refresh: all well",
    ]
    assert code == 0
    current = env.world.current_token(BRAND.ig_user_id).value
    assert current != BRAND.access_token
    assert await env.tokens.current("brand", BRAND.access_token) == current
    assert [entry["event"] for entry in logs] == ["token.renewed"]
    assert current not in repr(logs)
    assert current not in "\n".join(lines)


async def test_check_uses_the_stored_token_once_the_configured_one_expired(env: Env) -> None:
    """After a refresh at day 30, check at day 61 passes on the stored token (28 days left)."""
    env.clock.advance(timedelta(days=30))
    assert (await env.refresh(env.settings()))[0] == 0
    env.clock.advance(timedelta(days=31))
    code, lines = await env.check(env.settings())
    assert "ok: brand: token valid, expires 2027-02-27 (28 days left)" in lines
    assert code == 0


async def test_refresh_of_an_instagram_token_waits_for_24_hours(env: Env) -> None:
    """Too young to refresh is one problem line; a day later it renews and check learns the date."""
    settings = env.settings(IGBRAND_CONFIG)
    code, lines = await env.refresh(settings)
    assert code == 1
    assert lines[0].startswith("problem: igbrand: not renewed: ")
    assert "24 hours" in lines[0]
    assert await env.tokens.load("igbrand") is None
    _, lines = await env.check(settings)
    assert "note: igbrand: token valid; expiry unknown until `listener token refresh` runs" in lines

    env.clock.advance(timedelta(days=1))
    code, lines = await env.refresh(settings)
    assert lines[0] == "ok: igbrand: renewed, expires 2027-01-29 (60 days left)"
    assert code == 0
    code, lines = await env.check(settings)
    assert "ok: igbrand: token valid, expires 2027-01-29 (60 days left)" in lines
    assert code == 0


async def test_refresh_of_a_named_account_leaves_the_others(env: Env) -> None:
    """--account renews only that account."""
    env.clock.advance(timedelta(days=2))
    code, lines = await env.refresh(env.settings(BRAND_CONFIG, IGBRAND_CONFIG), "igbrand")
    assert [line.split(":")[1].strip() for line in lines[:-1]] == ["igbrand"]
    assert code == 0
    assert await env.tokens.load("brand") is None


async def test_refresh_of_an_unknown_account_is_a_config_error(env: Env) -> None:
    """An account name the configuration lacks is refused before anything is called."""
    with pytest.raises(ConfigError, match="unknown account 'nobody'"):
        await env.refresh(env.settings(), "nobody")
    assert env.world.stats.count() == 0


async def test_refresh_of_a_facebook_token_needs_the_app_id(env: Env) -> None:
    """Without graph.app_id the exchange is not tried: one problem line, nothing stored."""
    code, lines = await env.refresh(env.settings(app_id=""))
    assert lines[0] == (
        "problem: brand: not renewed: a Facebook token exchange needs the app: "
        "set graph.app_id and graph.app_secret"
    )
    assert code == 1
    assert env.world.stats.count(endpoint="oauth_access_token") == 0


async def test_refresh_asks_nothing_of_meta_while_the_store_is_down(env: Env) -> None:
    """A renewed token that cannot be stored would be lost, so none is asked for."""
    settings = env.settings(mongodb_uri="mongodb://127.0.0.1:1/?directConnection=true")
    settings = settings.model_copy(
        update={"store": settings.store.model_copy(update={"timeout_s": 0.2})}
    )
    code, lines = await env.refresh(settings)
    assert lines[0].startswith("problem: store: MongoDB ping failed")
    assert lines[1] == "problem: tokens: none renewed: a renewed token could not be stored"
    assert code == 1
    assert env.world.stats.count() == 0


# -- demo mode ------------------------------------------------------------------------------------


def demo_settings(tmp_path: Path) -> Settings:
    """The demo: in-process simulator and embedded store, app id and secret set."""
    return Settings(
        store={"mongodb_uri": "embedded", "embedded_path": tmp_path / "data"},  # type: ignore[arg-type]
        simulator={"enabled": True},  # type: ignore[arg-type]
        graph={"app_id": APP_ID, "app_secret": "demo-app-secret"},  # type: ignore[arg-type]
        accounts=[BRAND_CONFIG],  # type: ignore[list-item]
    )


async def test_check_in_demo_mode_starts_the_simulator_and_the_embedded_store(
    tmp_path: Path,
) -> None:
    """With the demo settings check starts its own simulator and store, and all is well."""
    out = io.StringIO()
    assert await check(demo_settings(tmp_path), out) == 0, out.getvalue()
    lines = out.getvalue().splitlines()
    assert lines[0] == "ok: store: MongoDB answers"
    assert lines[1].startswith("ok: brand: token valid, expires ")


async def test_refresh_in_demo_mode_stores_nothing(tmp_path: Path) -> None:
    """The in-process simulator forgets its tokens, so a demo refresh is shown, not stored."""
    out = io.StringIO()
    assert await refresh_tokens(demo_settings(tmp_path), out) == 0, out.getvalue()
    line = out.getvalue().splitlines()[0]
    assert line.startswith("note: brand: renewed, expires ")
    assert line.endswith("not stored: the built-in simulator forgets it")


# -- the worker's expiry gauge --------------------------------------------------------------------


async def test_token_expiries_from_debug_token_and_from_the_store(
    launch: Launch, metrics: Metrics
) -> None:
    """Facebook accounts via debug_token (0 = never); Instagram ones from their stored refresh."""
    forever = SimAccount(
        ig_user_id="17841400000000003", access_token="EAA-page", username="page", token_ttl=None
    )
    env = await launch(BRAND, IGBRAND, forever)
    page_config = {"name": "page", "ig_user_id": forever.ig_user_id, "access_token": "EAA-page"}
    settings = env.settings(BRAND_CONFIG, IGBRAND_CONFIG, page_config)
    async with token_api(env, metrics) as api:
        assert await token_expiries(api, settings) == {
            "brand": (NOW + timedelta(days=60)).timestamp(),
            "page": 0.0,
        }
        env.clock.advance(timedelta(days=2))
        assert (await env.refresh(settings, "igbrand"))[0] == 0
        expiries = await token_expiries(api, settings, tokens=env.tokens)
    assert expiries["igbrand"] == (NOW + timedelta(days=62)).timestamp()
    assert set(expiries) == {"brand", "igbrand", "page"}


async def test_token_expiries_of_a_revoked_token_is_now(env: Env, metrics: Metrics) -> None:
    """A token Meta calls invalid counts as expiring now, so the expiry alert fires."""
    env.world.expire_token(BRAND.ig_user_id)
    env.clock.advance(timedelta(days=1))
    async with token_api(env, metrics) as api:
        expiries = await token_expiries(api, env.settings(), clock=env.clock)
    assert expiries == {"brand": (NOW + timedelta(days=1)).timestamp()}


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
