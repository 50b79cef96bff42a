"""The Graph request choke point against the simulator: signing, error classes, secrecy."""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
import pytest
import structlog
from structlog.testing import capture_logs

from listener.errors import (
    AuthError,
    BadRequestError,
    MalformedResponseError,
    ObjectUnavailableError,
    StoppingError,
    ThrottledError,
    TransientError,
)
from listener.graph.client import GraphClient, RetryPolicy, appsecret_proof
from listener.graph.instagram import Credentials, InstagramApi
from listener.metrics import Metrics
from listener.ratelimit.throttle import Scope
from tests.graphsim import APP_SECRET, BRAND, WHO, Graph, stoppable_api


@asynccontextmanager
async def bare_api(
    graph: Graph, metrics: Metrics, *, app_secret: str
) -> AsyncIterator[InstagramApi]:
    """An API on the same simulator with no governor (as one-shot commands have)."""
    async with aiohttp.ClientSession() as session:
        client = GraphClient(
            session,
            base_url=graph.base_url,
            api_version="v25.0",
            app_secret=app_secret,
            timeout_s=5,
            metrics=metrics,
        )
        yield InstagramApi(client)


@pytest.fixture
async def ungoverned(graph: Graph, metrics: Metrics) -> AsyncIterator[InstagramApi]:
    """An API that signs its calls but has no governor."""
    async with bare_api(graph, metrics, app_secret=APP_SECRET) as api:
        yield api


@pytest.fixture
async def unsigned(graph: Graph, metrics: Metrics) -> AsyncIterator[InstagramApi]:
    """An API on the same simulator that does not know the app secret."""
    async with bare_api(graph, metrics, app_secret="") as api:
        yield api


def requests(metrics: Metrics, endpoint: str, outcome: str) -> float:
    value = metrics.registry.get_sample_value(
        "listener_graph_requests_total", {"endpoint": endpoint, "outcome": outcome}
    )
    return value or 0.0


def test_appsecret_proof_is_meta_hmac() -> None:
    """appsecret_proof is the hex HMAC-SHA256 of the token keyed by the app secret."""
    assert appsecret_proof("token", "secret") == hmac.new(b"secret", b"token", "sha256").hexdigest()


async def test_signed_calls_pass_an_enforcing_app(graph: Graph, metrics: Metrics) -> None:
    """With the app secret set, every call carries a proof the simulator accepts."""
    assert await graph.api.hashtag_id(WHO, "summerdrop") == graph.world.hashtag_id("summerdrop")
    assert requests(metrics, "ig_hashtag_search", "ok") == 1


async def test_unsigned_calls_are_refused_as_bad_requests(unsigned: InstagramApi) -> None:
    """Without a proof an enforcing app refuses the call: a bad request, not a transient."""
    with pytest.raises(BadRequestError) as caught:
        await unsigned.hashtag_id(WHO, "summerdrop")
    assert caught.value.code == 100
    assert caught.value.fbtrace_id


async def test_invalid_token_is_an_auth_error_without_the_token(
    graph: Graph, metrics: Metrics
) -> None:
    """A bad token gives AuthError (190) whose text and logs never show the token."""
    bad = Credentials("brand", BRAND.ig_user_id, "EAAB-not-a-real-token")
    with capture_logs() as logs, pytest.raises(AuthError) as caught:
        await graph.api.hashtag_id(bad, "summerdrop")
    assert caught.value.code == 190
    assert "EAAB-not-a-real-token" not in str(caught.value)
    assert "EAAB-not-a-real-token" not in repr(logs)
    assert requests(metrics, "ig_hashtag_search", "auth_error") == 1


async def test_expired_token_keeps_meta_subcode(graph: Graph) -> None:
    """An expired token is AuthError with subcode 463, the case a human must fix."""
    graph.world.expire_token(BRAND.ig_user_id)
    with pytest.raises(AuthError) as caught:
        await graph.api.hashtag_id(WHO, "summerdrop")
    assert caught.value.subcode == 463


@pytest.mark.parametrize("code", [4, 17])
async def test_throttle_codes_raise_throttled(graph: Graph, metrics: Metrics, code: int) -> None:
    """A scripted platform throttle surfaces as ThrottledError and is counted as throttled."""
    graph.world.throttle("app", code, minutes=5, now=graph.clock())
    with pytest.raises(ThrottledError) as caught:
        await graph.api.hashtag_id(WHO, "summerdrop")
    assert caught.value.code == code
    assert requests(metrics, "ig_hashtag_search", "throttled") == 1


async def test_object_missing_for_a_subject_is_about_that_object(
    graph: Graph, metrics: Metrics
) -> None:
    """100/33 for a mention's media is ObjectUnavailableError naming it; nothing pauses."""
    media_id = graph.world.add_post(timestamp=graph.clock(), caption="@brand")
    graph.world.withdraw_post(media_id)
    with pytest.raises(ObjectUnavailableError) as caught:
        await graph.api.mentioned_media(WHO, media_id)
    assert (caught.value.object_id, caught.value.code, caught.value.subcode) == (media_id, 100, 33)
    assert not graph.governor.paused(Scope("buc", "brand"))
    assert requests(metrics, "mentioned_media", "client_error") == 1
    assert requests(metrics, "mentioned_media", "throttled") == 0


async def test_object_missing_on_the_workers_own_call_still_pauses(graph: Graph) -> None:
    """A call that names no outside object (the worker's own) reads 100/33 as a throttle."""
    with pytest.raises(ThrottledError) as caught:
        await graph.client.get(
            "17999999999999999",
            {"fields": "id"},
            token=WHO.token,
            endpoint="user",
            account="brand",
            parse=lambda body: body,
        )
    assert (caught.value.code, caught.value.subcode) == (100, 33)
    assert graph.governor.paused(Scope("buc", "brand"))


async def test_a_client_without_governor_reads_the_evidence_of_the_answer(
    graph: Graph, ungoverned: InstagramApi
) -> None:
    """Without a governor: a gone post is about the post; at-limit headers make it a throttle."""
    gone = graph.world.add_post(timestamp=graph.clock(), caption="@brand")
    live = graph.world.add_post(timestamp=graph.clock(), caption="@brand")
    graph.world.withdraw_post(gone)
    with pytest.raises(ObjectUnavailableError):
        await ungoverned.mentioned_media(WHO, gone)
    graph.world.throttle(BRAND.ig_user_id, 80002, minutes=5, now=graph.clock(), disguised=True)
    with pytest.raises(ThrottledError) as caught:
        await ungoverned.mentioned_media(WHO, live)
    assert "read as a throttle" in caught.value.message


@pytest.mark.parametrize(
    ("kind", "error", "outcome"),
    [
        ("http_500", TransientError, "server_error"),
        ("code_1", TransientError, "server_error"),
        ("code_2", TransientError, "server_error"),
        ("malformed", MalformedResponseError, "server_error"),
        ("not_json", MalformedResponseError, "server_error"),
        ("deep_json", MalformedResponseError, "server_error"),
    ],
)
async def test_persistent_faults_give_up_after_the_bound(
    graph: Graph, metrics: Metrics, kind: str, error: type[Exception], outcome: str
) -> None:
    """A fault on every attempt raises its retryable error after exactly max_attempts calls."""
    graph.world.inject_faults(kind, count=3, endpoint="ig_hashtag_search")  # type: ignore[arg-type]  # the fault kinds are parametrised as plain strings
    with pytest.raises(error):
        await graph.api.hashtag_id(WHO, "summerdrop")
    assert graph.world.stats.count(endpoint="ig_hashtag_search") == 3
    assert requests(metrics, "ig_hashtag_search", outcome) == 3
    assert len(graph.sleeps) == 2


@pytest.mark.parametrize(
    "kind", ["http_500", "code_1", "code_2", "malformed", "not_json", "deep_json"]
)
async def test_a_passing_fault_is_retried(graph: Graph, metrics: Metrics, kind: str) -> None:
    """One transient fault costs one retry after a jittered backoff, then the call succeeds."""
    graph.world.inject_faults(kind, count=1, endpoint="ig_hashtag_search")  # type: ignore[arg-type]  # the fault kinds are parametrised as plain strings
    assert await graph.api.hashtag_id(WHO, "summerdrop")
    assert requests(metrics, "ig_hashtag_search", "ok") == 1
    assert len(graph.sleeps) == 1
    assert 0 <= graph.sleeps[0] <= 1.0


async def test_backoff_grows_and_stays_bounded(graph: Graph) -> None:
    """Backoff waits stay within initial * 2**attempt and the configured maximum."""
    graph.world.inject_faults("code_2", count=3, endpoint="ig_hashtag_search")
    with pytest.raises(TransientError):
        await graph.api.hashtag_id(WHO, "summerdrop")
    assert [s <= bound for s, bound in zip(graph.sleeps, [1.0, 2.0], strict=True)] == [True, True]


async def test_a_backoff_ends_at_the_stop(graph: Graph, metrics: Metrics) -> None:
    """A call backing off after a transient fault is abandoned at the stop, not retried."""
    stop, waiting = asyncio.Event(), asyncio.Event()
    graph.world.inject_faults("code_2", count=3, endpoint="ig_hashtag_search")
    async with stoppable_api(graph, metrics, stop, waiting) as (api, _):
        call = asyncio.create_task(api.hashtag_id(WHO, "summerdrop"))
        await asyncio.wait_for(waiting.wait(), 20)
        stop.set()
        with pytest.raises(StoppingError):
            await asyncio.wait_for(call, 20)
    assert graph.world.stats.count(endpoint="ig_hashtag_search") == 1


@pytest.mark.parametrize(
    ("answer", "error"),
    [("bad_request", BadRequestError), ("auth", AuthError)],
)
async def test_non_transient_errors_are_not_retried(
    graph: Graph, unsigned: InstagramApi, answer: str, error: type[Exception]
) -> None:
    """Bad requests and auth errors are raised at the first answer: one call, no backoff."""
    if answer == "auth":
        graph.world.expire_token(BRAND.ig_user_id)
        api = graph.api
    else:
        api = unsigned
    with pytest.raises(error):
        await api.hashtag_id(WHO, "summerdrop")
    assert graph.world.stats.count(endpoint="ig_hashtag_search") == 1
    assert graph.sleeps == []


async def test_timeout_is_transient(graph: Graph, metrics: Metrics) -> None:
    """A call slower than the timeout is a TransientError counted as a network error."""
    async with aiohttp.ClientSession() as session:
        client = GraphClient(
            session,
            base_url=graph.base_url,
            api_version="v25.0",
            app_secret=APP_SECRET,
            timeout_s=0.2,
            metrics=metrics,
            retry=RetryPolicy(max_attempts=1),
        )
        graph.world.inject_faults("delay", count=1, endpoint="ig_hashtag_search", delay_s=2.0)
        with pytest.raises(TransientError, match="timed out"):
            await InstagramApi(client).hashtag_id(WHO, "summerdrop")
    assert requests(metrics, "ig_hashtag_search", "network_error") == 1


async def test_connection_refused_is_transient(metrics: Metrics) -> None:
    """No server at the address: a TransientError that does not quote the URL or token."""
    async with aiohttp.ClientSession() as session:
        client = GraphClient(
            session,
            retry=RetryPolicy(max_attempts=1),
            base_url="http://127.0.0.1:9",
            api_version="v25.0",
            app_secret="",
            timeout_s=2,
            metrics=metrics,
        )
        with pytest.raises(TransientError) as caught:
            await InstagramApi(client).hashtag_id(WHO, "summerdrop")
    assert WHO.token not in str(caught.value)


async def test_links_to_another_host_are_not_followed(graph: Graph) -> None:
    """A next link pointing elsewhere is refused before the token could be sent there."""
    with pytest.raises(MalformedResponseError, match="another host"):
        await graph.client.request(
            "https://evil.example/v25.0/x",
            {},
            token=WHO.token,
            endpoint="recent_media",
            account="brand",
            parse=dict,
        )


def test_credentials_repr_hides_the_token() -> None:
    """Credentials can be logged: their repr omits the token."""
    assert WHO.token not in repr(WHO)
    structlog.get_logger().debug("x", who=WHO)
