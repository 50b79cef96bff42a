"""Scripted transient faults, one test per kind."""

from __future__ import annotations

from datetime import timedelta

import aiohttp
import pytest

from tests.simulator.harness import BRAND, START, Client

TAGS_PATH = f"/{BRAND.ig_user_id}/tags"


async def test_http_500_answers_html(sim: Client) -> None:
    """http_500: a 500 with an HTML body (not JSON), then normal answers."""
    sim.world.inject_faults("http_500", 1)
    reply = await sim.search("summerdrop")
    assert reply.status == 500
    assert reply.body is None
    assert reply.text.startswith("<html>")
    assert (await sim.search("summerdrop")).status == 200


async def test_code_2_is_transient_503(sim: Client) -> None:
    """code_2: HTTP 503 with code 2 and is_transient true."""
    sim.world.inject_faults("code_2", 1)
    reply = await sim.search("summerdrop")
    assert reply.status == 503
    assert (reply.error["code"], reply.error["is_transient"]) == (2, True)
    assert reply.error["type"] == "OAuthException"


async def test_code_1_is_unknown_error_500(sim: Client) -> None:
    """code_1: HTTP 500 with code 1."""
    sim.world.inject_faults("code_1", 1)
    reply = await sim.search("summerdrop")
    assert (reply.status, reply.error["code"]) == (500, 1)


async def test_malformed_is_200_with_the_wrong_shape(sim: Client) -> None:
    """malformed: HTTP 200 whose data is not a list."""
    sim.world.inject_faults("malformed", 1)
    reply = await sim.media("summerdrop")
    assert (reply.status, reply.body) == (200, {"data": "oops"})


async def test_not_json_is_200_with_a_page(sim: Client) -> None:
    """not_json: HTTP 200 whose body is an HTML page, then normal answers."""
    sim.world.inject_faults("not_json", 1)
    reply = await sim.media("summerdrop")
    assert (reply.status, reply.body) == (200, None)
    assert reply.text.startswith("<html>")
    assert (await sim.media("summerdrop")).body is not None


async def test_deep_json_is_200_nested_past_any_parser(sim: Client) -> None:
    """deep_json: HTTP 200 whose JSON nests 100,000 lists inside ``data``."""
    sim.world.inject_faults("deep_json", 1)
    reply = await sim.media("summerdrop")
    assert reply.status == 200
    assert reply.text == '{"data": ' + "[" * 100_000 + "]" * 100_000 + "}"


async def test_delay_stalls_the_answer_past_a_client_timeout(sim: Client) -> None:
    """delay: the answer comes only after delay_s, so a shorter client timeout fires."""
    sim.world.inject_faults("delay", 1, delay_s=0.3)
    url = f"{sim.base_url}/v25.0{TAGS_PATH}?access_token={BRAND.access_token}"
    with pytest.raises(TimeoutError):
        async with sim.session.get(url, timeout=aiohttp.ClientTimeout(total=0.05)):
            pass
    assert (await sim.get(TAGS_PATH)).status == 200
    assert [c.fault for c in sim.world.stats.log] == ["delay", None]


async def test_repeat_page_points_next_at_the_same_request(sim: Client) -> None:
    """repeat_page: the page's next link repeats the request just made."""
    for i in range(60):
        sim.world.add_post(hashtags=["summerdrop"], timestamp=START - timedelta(minutes=i + 1))
    first = await sim.media("summerdrop", limit="50")
    sim.world.inject_faults("repeat_page", 1, endpoint="recent_media")
    second = await sim.get_url(first.body["paging"]["next"])
    assert second.body["paging"]["next"] == first.body["paging"]["next"]
    third = await sim.get_url(second.body["paging"]["next"])
    assert "next" not in third.body["paging"]  # the fault was used up: the real last page


async def test_repeat_page_on_tags_repeats_the_after_cursor(sim: Client) -> None:
    """repeat_page on /tags: the after cursor equals the one the request used."""
    for i in range(4):
        sim.world.add_post(
            timestamp=START - timedelta(hours=i + 1), tagged_accounts=[BRAND.ig_user_id]
        )
    first = await sim.get(TAGS_PATH, limit="2")
    after = first.body["paging"]["cursors"]["after"]
    sim.world.inject_faults("repeat_page", 1, endpoint="tags")
    second = await sim.get(TAGS_PATH, limit="2", after=after)
    assert second.body["paging"]["cursors"]["after"] == after


async def test_faults_target_an_endpoint_and_can_skip_calls(sim: Client) -> None:
    """A fault for one endpoint spares others; skip lets the first matching calls through."""
    sim.world.inject_faults("http_500", 2, endpoint="tags", skip=1)
    assert (await sim.search("summerdrop")).status == 200
    statuses = [(await sim.get(TAGS_PATH)).status for _ in range(4)]
    assert statuses == [200, 500, 500, 200]
    assert sim.world.stats.count(endpoint="tags", outcome="server_error") == 2


async def test_repeat_page_waits_for_a_paging_endpoint(sim: Client) -> None:
    """repeat_page for any endpoint is not used up by calls that do not page."""
    sim.world.inject_faults("repeat_page", 1)
    await sim.search("summerdrop")
    assert sim.world.pending_faults == 1
    await sim.get(TAGS_PATH)
    assert sim.world.pending_faults == 0


@pytest.mark.parametrize(
    ("kind", "count", "endpoint"), [("boom", 1, None), ("http_500", 0, None), ("code_1", 1, "nope")]
)
async def test_bad_fault_scripts_are_refused(
    sim: Client, kind: str, count: int, endpoint: str | None
) -> None:
    """Unknown kinds or endpoints and non-positive counts are script errors."""
    with pytest.raises(ValueError, match=r"kind|count|endpoint"):
        sim.world.inject_faults(kind, count, endpoint)  # type: ignore[arg-type]  # bad on purpose
