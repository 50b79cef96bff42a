"""One call from request to reply: faults, authentication, rate limits, the endpoint, the record.

Checks run in the order Meta appears to run them: scripted fault → token → ``appsecret_proof``
→ expiry → the IG user the call acts for → rate limit → parameters and fields → hashtag ledger.
Every call is recorded in ``world.stats`` and answered with Meta's usage headers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime
from typing import Final
from urllib.parse import urlencode

from listener.simulator import errors
from listener.simulator.endpoints import auth, comments, cursors, hashtags, mentions, tags, tokens
from listener.simulator.endpoints.call import Call, GraphReply, GraphRequest, Json
from listener.simulator.endpoints.routing import resolve
from listener.simulator.errors import GraphError
from listener.simulator.faults import DEEP_JSON_LEVELS, MALFORMED, REPLACING, Fault
from listener.simulator.stats import CallRecord
from listener.simulator.world import BUC_ENDPOINTS, World

Endpoint = Callable[[Call], Json]

# Token endpoints authenticate in their own ways (app token, client secret), so they run first.
_TOKEN_ENDPOINTS: Final[dict[str, Endpoint]] = {
    "debug_token": tokens.debug_token,
    "oauth_access_token": tokens.oauth_access_token,
    "refresh_access_token": tokens.refresh_access_token,
}
_ENDPOINTS: Final[dict[str, Endpoint]] = {
    "ig_hashtag_search": hashtags.hashtag_search,
    "hashtag": hashtags.hashtag_node,
    "recent_media": hashtags.recent_media,
    "top_media": hashtags.top_media,
    "recently_searched_hashtags": hashtags.recently_searched_hashtags,
    "tags": tags.tags,
    "user": mentions.user_node,
    "mentioned_media": mentions.user_node,
    "mentioned_comment": mentions.user_node,
    "comment": comments.comment_node,
    "media": comments.own_media,
    "comments": comments.media_comments,
    "replies": comments.replies,
}
_EXPANSION_ID: Final = re.compile(r"\b(?:media_id|comment_id)\((\w+)\)")
_HTML_500: Final = "<html><body><h1>500 Internal Server Error</h1></body></html>"


def handle(world: World, request: GraphRequest, now: datetime) -> GraphReply:
    """Answer one Graph API call at ``now`` and record it in ``world.stats``."""
    call = Call(world, request, resolve(world, request), now)
    fault = world.take_fault(call.route.endpoint)
    if fault is not None and fault.kind in REPLACING:
        reply = _fault_reply(world, fault, now)
        _record(call, "malformed" if fault.kind in MALFORMED else "server_error", fault=fault)
        return reply
    status, body = 200, {}
    try:
        body = _run(call)
        _record(call, "ok", fault=fault)
    except GraphError as error:
        status, body = error.http_status, error.body(world.trace_id())
        _record(call, error.outcome, code=error.code, fault=fault)
    if fault is not None and fault.kind == "repeat_page" and status == 200:
        body = _repeat_page(body, call)
    delay = fault.delay_s if fault is not None and fault.kind == "delay" else 0.0
    return GraphReply(status, body, headers=_usage_headers(call), delay_s=delay)


def _run(call: Call) -> Json:
    """The endpoint's answer once the caller is who they must be and within their budget."""
    token_endpoint = _TOKEN_ENDPOINTS.get(call.route.endpoint)
    if token_endpoint is not None:
        return token_endpoint(call)
    account_id = auth.authenticate(call)
    if call.route.error is not None:
        raise call.route.error
    call.subject = auth.acting_for(call, account_id)
    call.world.admit(call.route.endpoint, call.subject, call.now, _named_object(call))
    return _ENDPOINTS[call.route.endpoint](call)


def _named_object(call: Call) -> str | None:
    """The object the call asks about: an expansion's media or comment id, else the node."""
    named = _EXPANSION_ID.search(call.query.get("fields", ""))
    if named is not None:
        return named.group(1)
    return call.route.comment_id or call.route.media_id or call.route.hashtag_id


def _record(call: Call, outcome: str, *, code: int | None = None, fault: Fault | None) -> None:
    route = call.route
    requested = call.subject or call.query.get("user_id") or route.ig_user_id or ""
    tag = call.world.hashtag_name(route.hashtag_id) if route.hashtag_id else None
    if route.endpoint == "ig_hashtag_search":
        tag = call.query.get("q")
    call.world.stats.record(
        CallRecord(
            at=call.now,
            endpoint=route.endpoint,
            ig_user_id=requested,
            outcome=outcome,
            code=code,
            fault=fault.kind if fault is not None else None,
            hashtag=tag,
        )
    )


def _usage_headers(call: Call) -> dict[str, str]:
    headers = {"X-App-Usage": _app_usage(call.world, call.now)}
    if call.route.endpoint in BUC_ENDPOINTS and call.subject is not None:
        usage = call.world.buc_usage(call.subject, call.now)
        entry = {
            "type": "instagram",
            "call_count": usage.call_count,
            "total_cputime": usage.total_cputime,
            "total_time": usage.total_time,
            "estimated_time_to_regain_access": usage.regain_minutes,
        }
        headers["X-Business-Use-Case-Usage"] = _json({call.subject: [entry]})
    return headers


def _app_usage(world: World, now: datetime) -> str:
    usage = world.app_usage(now)
    return _json(
        {
            "call_count": usage.call_count,
            "total_time": usage.total_time,
            "total_cputime": usage.total_cputime,
        }
    )


def _fault_reply(world: World, fault: Fault, now: datetime) -> GraphReply:
    """The answer of a fault that replaces the call's (the world never sees the call)."""
    if fault.kind == "http_500":
        return GraphReply(500, text=_HTML_500)
    headers = {"X-App-Usage": _app_usage(world, now)}
    if fault.kind == "malformed":
        return GraphReply(200, {"data": "oops"}, headers=headers)
    if fault.kind == "not_json":
        return GraphReply(200, text="<html><body>Please sign in to the network</body></html>")
    if fault.kind == "deep_json":
        deep = '{"data": ' + "[" * DEEP_JSON_LEVELS + "]" * DEEP_JSON_LEVELS + "}"
        return GraphReply(200, text=deep, headers=headers)
    error = errors.unknown_error() if fault.kind == "code_1" else errors.service_unavailable()
    return GraphReply(error.http_status, error.body(world.trace_id()), headers=headers)


def _repeat_page(body: Json, call: Call) -> Json:
    """Make the page point back at the request that fetched it (the ``repeat_page`` fault)."""
    found = body.get("paging")
    paging: Json = dict(found) if isinstance(found, dict) else {}
    request = call.request
    if call.route.endpoint == "tags":
        found = paging.get("cursors")
        ends: Json = dict(found) if isinstance(found, dict) else {}
        ends["after"] = request.query.get("after") or cursors.key_cursor(cursors.TOP_KEY)
        paging["cursors"] = ends
    else:
        paging["next"] = f"{request.base_url}{request.path}?{urlencode(dict(request.query))}"
    return {**body, "paging": paging}


def _json(value: object) -> str:
    return json.dumps(value, separators=(",", ":"))
