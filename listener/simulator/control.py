"""The control API under ``/__sim/``: script an out-of-process simulator over HTTP (JSON).

- ``POST /__sim/posts`` ``{hashtags?, timestamp?, caption?, username?, like_count?,
  comments_count?, media_type?, tagged_accounts?, hide_like_count?, owner?, comments_enabled?}``
  → `World.add_post`, ``{"id"}`` (``owner``: the account that published it, for its ``/media``)
- ``POST /__sim/comments`` ``{media_id, text, username, timestamp?, like_count?, parent_id?,
  hidden?, notify?}`` → `World.add_comment`, ``{"id"}``; ``notify`` queues its ``comments``
  webhook for the post's owner
- ``POST /__sim/comments/bulk`` ``{media_id, count, start?, spacing_s?: 1, notify?}``
  → `World.publish_comments` on an account's own post (a viral giveaway), ``{"ids"}``
- ``POST /__sim/webhooks`` ``{drop_ratio}``: drop that share of queued ``comments`` webhooks at
  random; ``GET /__sim/webhooks`` → ``{"queued", "dropped"}``
- ``POST /__sim/comments_enabled`` ``{media_id, enabled}`` → `World.set_comments_enabled`
- ``POST /__sim/comments/hide`` ``{comment_id}`` → `World.hide_comment` (the account hid it)
- ``POST /__sim/throttle`` ``{scope: "app" | ig_user_id, code, minutes, disguised?}``
  → `World.throttle`, ``{"until"}``
- ``POST /__sim/withdraw`` ``{media_id}`` or ``{comment_id}`` → `World.withdraw_post` /
  `World.withdraw_comment` (deleted or private: Meta answers 100/33 for it)
- ``POST /__sim/faults`` ``{kind, count?: 1, endpoint?, skip?: 0, delay_s?: 5}``
  → `World.inject_faults`, ``{"pending"}``
- ``POST /__sim/expire`` ``{ig_user_id}`` → `World.expire_token` (every token of the account)
- ``GET /__sim/stats[?log=1]`` → `Stats.as_json` (the call log only with ``log=1``)
- ``GET /__sim/hashtags/{ig_user_id}`` → the account's busy hashtag slots and when each frees

Times are ISO 8601 (``Z``, ``+00:00`` or Meta's ``+0000``) and default to the simulator's now.
Bad input answers 400 with ``{"error": "..."}``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import cast

from aiohttp import web

from listener.simulator.content import graph_timestamp
from listener.simulator.faults import FaultKind
from listener.simulator.ledger import HASHTAG_WINDOW
from listener.simulator.state import SIMULATION


class ControlInputError(ValueError):
    """The control request's JSON is not what the route expects."""


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def routes() -> list[web.RouteDef]:
    """The control API's routes, to mount before the Graph API's catch-all."""
    return [
        web.post("/__sim/posts", _guard(add_post)),
        web.post("/__sim/comments", _guard(add_comment)),
        web.post("/__sim/comments/bulk", _guard(add_comments)),
        web.post("/__sim/comments_enabled", _guard(comments_enabled)),
        web.post("/__sim/comments/hide", _guard(hide_comment)),
        web.post("/__sim/webhooks", _guard(webhooks)),
        web.get("/__sim/webhooks", _guard(webhooks)),
        web.post("/__sim/throttle", _guard(throttle)),
        web.post("/__sim/withdraw", _guard(withdraw)),
        web.post("/__sim/faults", _guard(faults)),
        web.post("/__sim/expire", _guard(expire)),
        web.get("/__sim/stats", _guard(stats)),
        web.get("/__sim/hashtags/{ig_user_id}", _guard(hashtags)),
    ]


def _guard(handler: Handler) -> Handler:
    """Map bad input (ours or the world's ValueError) to a 400 with a one-line reason."""

    async def guarded(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except ValueError as exc:
            return web.json_response({"error": str(exc)}, status=400)

    return guarded


async def add_post(request: web.Request) -> web.Response:
    """Publish an explicit post."""
    sim = request.app[SIMULATION]
    body = await _body(request)
    post_id = sim.world.add_post(
        timestamp=_time(body, "timestamp") or sim.clock(),
        hashtags=_strings(body, "hashtags"),
        caption=_text(body, "caption"),
        username=_text(body, "username") or "sim.user",
        like_count=_integer(body, "like_count") or 0,
        comments_count=_integer(body, "comments_count") or 0,
        media_type=_text(body, "media_type") or "IMAGE",
        tagged_accounts=_strings(body, "tagged_accounts"),
        hide_like_count=_flag(body, "hide_like_count"),
        owner=_text(body, "owner"),
        comments_enabled=body.get("comments_enabled", True) is not False,
    )
    return web.json_response({"id": post_id})


async def add_comment(request: web.Request) -> web.Response:
    """Add a comment on a known media."""
    sim = request.app[SIMULATION]
    body = await _body(request)
    comment_id = sim.world.add_comment(
        _required_text(body, "media_id"),
        _required_text(body, "text"),
        _required_text(body, "username"),
        _time(body, "timestamp") or sim.clock(),
        _integer(body, "like_count") or 0,
        parent_id=_text(body, "parent_id"),
        hidden=_flag(body, "hidden"),
    )
    owner = sim.world.post(_required_text(body, "media_id"))
    if _flag(body, "notify") and owner is not None and owner.owner is not None:
        sim.world.queue_webhook(owner.owner, comment_id)
    return web.json_response({"id": comment_id})


async def add_comments(request: web.Request) -> web.Response:
    """Publish many top-level comments on an account's own post."""
    sim = request.app[SIMULATION]
    body = await _body(request)
    count = _integer(body, "count")
    if count is None or count < 1:
        raise ControlInputError("count must be a positive integer")
    ids = sim.world.publish_comments(
        _required_text(body, "media_id"),
        count,
        start=_time(body, "start") or sim.clock(),
        spacing_s=_number(body, "spacing_s") or 1.0,
        notify=_flag(body, "notify"),
    )
    return web.json_response({"ids": ids})


async def comments_enabled(request: web.Request) -> web.Response:
    """Turn a post's comments on or off."""
    sim = request.app[SIMULATION]
    body = await _body(request)
    enabled = body.get("enabled")
    if not isinstance(enabled, bool):
        raise ControlInputError("enabled must be true or false")
    sim.world.set_comments_enabled(_required_text(body, "media_id"), enabled)
    return web.json_response({"enabled": enabled})


async def webhooks(request: web.Request) -> web.Response:
    """Set the random drop ratio of ``comments`` webhooks (POST); how many are queued, dropped."""
    sim = request.app[SIMULATION]
    if request.method == "POST":
        body = await _body(request)
        ratio = _number(body, "drop_ratio")
        if ratio is None or not 0 <= ratio <= 1:
            raise ControlInputError("drop_ratio must be a number in [0, 1]")
        sim.world.webhook_drop_ratio = ratio
    world = sim.world
    return web.json_response({"queued": len(world.outbox), "dropped": world.webhooks_dropped})


async def throttle(request: web.Request) -> web.Response:
    """Script a throttle."""
    sim = request.app[SIMULATION]
    body = await _body(request)
    code, minutes = _integer(body, "code"), _number(body, "minutes")
    if code is None or minutes is None:
        raise ControlInputError("'code' and 'minutes' are required")
    until = sim.world.throttle(
        _required_text(body, "scope"),
        code,
        minutes,
        sim.clock(),
        disguised=_flag(body, "disguised"),
    )
    return web.json_response({"until": graph_timestamp(until)})


async def hide_comment(request: web.Request) -> web.Response:
    """The account hides a comment: the owner still reads it, marked ``hidden``."""
    sim = request.app[SIMULATION]
    comment_id = _required_text(await _body(request), "comment_id")
    sim.world.hide_comment(comment_id)
    return web.json_response({"hidden": comment_id})


async def withdraw(request: web.Request) -> web.Response:
    """Delete a post or a comment (or make it private): Meta answers 100/33 for it."""
    sim = request.app[SIMULATION]
    body = await _body(request)
    media_id, comment_id = _text(body, "media_id"), _text(body, "comment_id")
    if (media_id is None) == (comment_id is None):
        raise ControlInputError("give exactly one of 'media_id' and 'comment_id'")
    if media_id is not None:
        sim.world.withdraw_post(media_id)
    else:
        sim.world.withdraw_comment(str(comment_id))
    return web.json_response({"withdrawn": media_id or comment_id})


async def faults(request: web.Request) -> web.Response:
    """Queue scripted faults."""
    sim = request.app[SIMULATION]
    body = await _body(request)
    sim.world.inject_faults(
        cast(FaultKind, _required_text(body, "kind")),  # the world checks the kind
        _integer(body, "count") or 1,
        _text(body, "endpoint"),
        skip=_integer(body, "skip") or 0,
        delay_s=_number(body, "delay_s") or 5.0,
    )
    return web.json_response({"pending": sim.world.pending_faults})


async def expire(request: web.Request) -> web.Response:
    """Expire an account's token."""
    sim = request.app[SIMULATION]
    body = await _body(request)
    sim.world.expire_token(_required_text(body, "ig_user_id"))
    return web.json_response({"expired": True})


async def stats(request: web.Request) -> web.Response:
    """Call counters, and the call log with ``?log=1``."""
    sim = request.app[SIMULATION]
    with_log = request.query.get("log", "0") not in ("0", "false", "")
    return web.json_response(sim.world.stats.as_json(with_log=with_log))


async def hashtags(request: web.Request) -> web.Response:
    """The account's busy hashtag slots (of 30) and when each frees."""
    sim = request.app[SIMULATION]
    ig_user_id = request.match_info["ig_user_id"]
    active = sim.world.ledger.active(ig_user_id, sim.clock())
    slots = [
        {
            "id": tag_id,
            "name": sim.world.hashtag_name(tag_id),
            "first_used_at": graph_timestamp(first),
            "frees_at": graph_timestamp(first + HASHTAG_WINDOW),
        }
        for tag_id, first in active.items()
    ]
    return web.json_response({"ig_user_id": ig_user_id, "used": len(slots), "hashtags": slots})


# -- JSON field readers -------------------------------------------------------------------------


async def _body(request: web.Request) -> Mapping[str, object]:
    try:
        body = await request.json()
    except ValueError as exc:
        raise ControlInputError(f"body must be a JSON object: {exc}") from exc
    if not isinstance(body, dict):
        raise ControlInputError("body must be a JSON object")
    return cast(Mapping[str, object], body)


def _text(body: Mapping[str, object], key: str) -> str | None:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise ControlInputError(f"{key!r} must be a string")
    return value


def _required_text(body: Mapping[str, object], key: str) -> str:
    value = _text(body, key)
    if value is None:
        raise ControlInputError(f"{key!r} is required")
    return value


def _integer(body: Mapping[str, object], key: str) -> int | None:
    value = body.get(key)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise ControlInputError(f"{key!r} must be an integer")
    return value


def _number(body: Mapping[str, object], key: str) -> float | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ControlInputError(f"{key!r} must be a number")
    return float(value)


def _flag(body: Mapping[str, object], key: str) -> bool:
    value = body.get(key, False)
    if not isinstance(value, bool):
        raise ControlInputError(f"{key!r} must be true or false")
    return value


def _strings(body: Mapping[str, object], key: str) -> list[str]:
    value = body.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ControlInputError(f"{key!r} must be a list of strings")
    return cast(list[str], value)


def _time(body: Mapping[str, object], key: str) -> datetime | None:
    value = _text(body, key)
    if value is None:
        return None
    moment = datetime.fromisoformat(value)  # 3.11 reads "Z", "+00:00" and "+0000"
    if moment.tzinfo is None:
        raise ControlInputError(f"{key!r} must carry a UTC offset")
    return moment
