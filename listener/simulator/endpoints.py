"""Graph API requests in, Meta-shaped replies out: routing, auth, fields and paging (pure).

`handle` takes a transport-free `GraphRequest` and the time, asks the `World`, and returns a
`GraphReply` (status, JSON body, headers, and how long the shell must stall for a ``delay``
fault). Checks run in the order Meta appears to run them: scripted fault → token → appsecret_proof
→ expiry → the IG user the call acts for → rate limit → parameters and fields → hashtag ledger.

Token endpoints (reference §5; rules in `tokens`), outside both rate-limit families:

- ``GET /debug_token?input_token=T&access_token=APPID|SECRET``: the app token's secret must be
  ``app_secret`` and its id ``app_id`` (either unchecked when unset), else 190; an app
  developer's valid user token is accepted too. An ``appsecret_proof``, when sent, must be the
  HMAC of the app token. A token the world never issued answers 200 with ``is_valid: false`` and
  an ``error`` inside ``data``, as Meta does; an expired one carries its dates and error 463.
  ``user_id`` is the IG user id (Meta gives the Facebook user's id for Facebook tokens).
- ``GET /oauth/access_token?grant_type=fb_exchange_token&client_id=…&client_secret=…&
  fb_exchange_token=T``: authenticated by the client id and secret alone (an ``access_token``,
  if sent, is ignored).
- ``GET /refresh_access_token?grant_type=ig_refresh_token&access_token=T``: authenticated like
  any call by the token being refreshed (and ``appsecret_proof`` when an app secret is set).

Paging, where Meta is awkward (reference §1c, §2a):

- hashtag edges: ``cursors.after`` is THE SAME on every page of a result set (it names the
  snapshot taken at page 1); ``next`` still advances, because the position travels in a separate
  opaque ``page_token`` parameter. ``after`` alone gets the page after the first. No ``before``.
- ``/tags``: ``cursors.before`` and ``cursors.after`` (positions in the newest-first list), never
  ``next`` or ``previous``; asking past the end gives ``{"data": []}``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final
from urllib.parse import urlencode

from listener.simulator import errors
from listener.simulator.content import Comment, Post, graph_timestamp
from listener.simulator.errors import GraphError
from listener.simulator.faults import DEEP_JSON_LEVELS, MALFORMED, REPLACING, Fault
from listener.simulator.fieldexpansion import FieldSpec, FieldSyntaxError, parse_fields
from listener.simulator.stats import CallRecord
from listener.simulator.tokens import DATA_ACCESS_WINDOW, SimToken
from listener.simulator.world import BUC_ENDPOINTS, World

Json = dict[str, object]

RECENT_DEFAULT_LIMIT: Final = 25  # unverified: Meta documents only the maximum (§1c)
HASHTAG_MAX_LIMIT: Final = 50  # §1c/§1d: "a maximum limit of 50 results per page"
SEARCHED_DEFAULT_LIMIT: Final = 25  # §1b: "25 results per page by default"
SEARCHED_MAX_LIMIT: Final = 30  # §1b: "up to 30 per page (limit=30)"
TAGS_DEFAULT_LIMIT: Final = 25  # unverified
TAGS_MAX_LIMIT: Final = 100  # unverified: the usual Graph edge maximum

_VERSION: Final = re.compile(r"v\d+\.\d+")
_HASHTAG_QUERY: Final = re.compile(r"\w+")  # Unicode letters, digits, underscore; no emoji, no '#'
_TOP_KEY: Final = (253402300799, "")  # a /tags cursor above every post (9999-12-31)
_USER_EDGES: Final = frozenset({"tags", "recently_searched_hashtags"})
_EXPANSION_ID: Final = re.compile(r"\b(?:media_id|comment_id)\((\w+)\)")
_HASHTAG_EDGES: Final = frozenset({"recent_media", "top_media"})

# Fields that may be asked of media on each kind of edge. Hashtag media are anonymous:
# "You cannot request the username field on returned media objects." (§1c, §1d, §1f)
HASHTAG_MEDIA_FIELDS: Final = frozenset(
    {
        "caption",
        "children",
        "comments_count",
        "id",
        "like_count",
        "media_type",
        "media_url",
        "permalink",
        "timestamp",
    }
)
FULL_MEDIA_FIELDS: Final = HASHTAG_MEDIA_FIELDS | {"username", "owner", "shortcode", "comments"}
CHILD_FIELDS: Final = frozenset({"id", "media_type", "media_url", "timestamp"})
COMMENT_FIELDS: Final = frozenset({"id", "text", "timestamp", "like_count", "username", "media"})
HASHTAG_FIELDS: Final = frozenset({"id", "name"})
USER_FIELDS: Final = frozenset({"id", "username", "mentioned_media", "mentioned_comment"})
SIM_APP_ID: Final = "1000000000000001"  # the app's id when the config names none
SIM_APP_NAME: Final = "Listener Simulator"


@dataclass(frozen=True)
class GraphRequest:
    """A Graph API GET as the world sees it: no sockets, just the parts that matter."""

    path: str  # e.g. "/v25.0/17841400000000001/tags"
    query: Mapping[str, str]
    base_url: str  # scheme and host the client used, for `next` links
    authorization: str | None = None


@dataclass(frozen=True)
class GraphReply:
    """What to send back: a JSON body (or raw text), headers, and a stall for ``delay`` faults."""

    status: int
    body: Json | None = None
    text: str | None = None  # a non-JSON body (HTML), when set
    headers: Mapping[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


@dataclass(frozen=True)
class Route:
    """Which endpoint a path names; ``error`` is raised once the caller is authenticated."""

    endpoint: str
    hashtag_id: str | None = None
    ig_user_id: str | None = None
    error: GraphError | None = None
    comment_id: str | None = None


def resolve(world: World, request: GraphRequest) -> Route:
    """Map a path (with or without a ``vX.Y`` prefix) to an endpoint of the world."""
    segments = [part for part in request.path.split("/") if part]
    if segments and _VERSION.fullmatch(segments[0]):
        segments = segments[1:]
    if not segments:
        return Route("unknown", error=errors.unknown_object(""))
    node, edges = segments[0], segments[1:]
    if node == "ig_hashtag_search" and not edges:
        return Route("ig_hashtag_search")
    token_endpoint = _TOKEN_PATHS.get("/".join(segments))
    if token_endpoint is not None:
        return Route(token_endpoint)
    return _node_route(world, node, edges, request.query.get("fields", ""))


def _node_route(world: World, node: str, edges: list[str], fields: str) -> Route:
    """The route of a node id (an account, a hashtag or a comment) and its edge, if any."""
    user = node if world.account(node) is not None else None
    tag = node if user is None and world.hashtag_name(node) is not None else None
    if user is None and tag is None:
        if world.comment(node) is None:  # unknown, deleted or private: Meta's 100/33
            return Route("unknown", error=errors.unknown_object(node))
        if edges:
            return Route("unknown", error=errors.unknown_path("/".join(edges)))
        return Route("comment", comment_id=node)
    if not edges:
        endpoint = _user_endpoint(fields) if user else "hashtag"
    elif len(edges) == 1 and edges[0] in (_USER_EDGES if user else _HASHTAG_EDGES):
        endpoint = edges[0]
    else:
        return Route("unknown", tag, user, errors.unknown_path("/".join(edges)))
    return Route(endpoint, tag, user)


def _user_endpoint(fields: str) -> str:
    """The user node is counted as the mention expansion it carries, if any."""
    for expansion in ("mentioned_media", "mentioned_comment"):
        if expansion in fields:
            return expansion
    return "user"


def handle(world: World, request: GraphRequest, now: datetime) -> GraphReply:
    """Answer one Graph API call at ``now`` and record it in ``world.stats``."""
    route = resolve(world, request)
    fault = world.take_fault(route.endpoint)
    call = _Call(world, request, route, now)
    if fault is not None and fault.kind in REPLACING:
        reply = _fault_reply(world, fault, now)
        call.record("malformed" if fault.kind in MALFORMED else "server_error", fault=fault)
        return reply
    status, body = 200, {}
    try:
        body = call.run()
        call.record("ok", fault=fault)
    except GraphError as error:
        status, body = error.http_status, error.body(world.trace_id())
        call.record(error.outcome, code=error.code, fault=fault)
    if fault is not None and fault.kind == "repeat_page" and status == 200:
        body = _repeat_page(body, request, route.endpoint)
    delay = fault.delay_s if fault is not None and fault.kind == "delay" else 0.0
    return GraphReply(status, body, headers=call.usage_headers(), delay_s=delay)


def _fault_reply(world: World, fault: Fault, now: datetime) -> GraphReply:
    headers = {"X-App-Usage": _usage_json(world, now)}
    if fault.kind == "http_500":
        html = "<html><body><h1>500 Internal Server Error</h1></body></html>"
        return GraphReply(500, text=html)
    if fault.kind == "malformed":
        return GraphReply(200, {"data": "oops"}, headers=headers)
    if fault.kind == "not_json":
        return GraphReply(200, text="<html><body>Please sign in to the network</body></html>")
    if fault.kind == "deep_json":
        deep = '{"data": ' + "[" * DEEP_JSON_LEVELS + "]" * DEEP_JSON_LEVELS + "}"
        return GraphReply(200, text=deep, headers=headers)
    error = errors.unknown_error() if fault.kind == "code_1" else errors.service_unavailable()
    return GraphReply(error.http_status, error.body(world.trace_id()), headers=headers)


def _repeat_page(body: Json, request: GraphRequest, endpoint: str) -> Json:
    """Make the page point back at the request that fetched it (the ``repeat_page`` fault)."""
    found = body.get("paging")
    paging: Json = dict(found) if isinstance(found, dict) else {}
    if endpoint == "tags":
        found = paging.get("cursors")
        cursors: Json = dict(found) if isinstance(found, dict) else {}
        cursors["after"] = request.query.get("after") or _encode_key(*_TOP_KEY)
        paging["cursors"] = cursors
    else:
        paging["next"] = f"{request.base_url}{request.path}?{urlencode(dict(request.query))}"
    return {**body, "paging": paging}


def _usage_json(world: World, now: datetime) -> str:
    usage = world.app_usage(now)
    return _json(
        {
            "call_count": usage.call_count,
            "total_time": usage.total_time,
            "total_cputime": usage.total_cputime,
        }
    )


def _json(value: object) -> str:
    return json.dumps(value, separators=(",", ":"))


class _Call:
    """One call being answered: its context, and one method per endpoint."""

    def __init__(self, world: World, request: GraphRequest, route: Route, now: datetime) -> None:
        self.world = world
        self.request = request
        self.query = request.query
        self.route = route
        self.now = now
        self.subject: str | None = None  # the IG user the call acts for, once known

    # -- the pipeline -------------------------------------------------------------------------

    def run(self) -> Json:
        token_handler = _TOKEN_HANDLERS.get(self.route.endpoint)
        if token_handler is not None:
            return token_handler(self)
        account_id = self._authenticate()
        if self.route.error is not None:
            raise self.route.error
        self.subject = self._acting_for(account_id)
        self.world.admit(self.route.endpoint, self.subject, self.now, self._named_object())
        return _HANDLERS[self.route.endpoint](self)

    def _named_object(self) -> str | None:
        """The object the call asks about: an expansion's media or comment id, else the node."""
        named = _EXPANSION_ID.search(self.query.get("fields", ""))
        if named is not None:
            return named.group(1)
        return self.route.comment_id or self.route.hashtag_id

    def record(self, outcome: str, *, code: int | None = None, fault: Fault | None = None) -> None:
        requested = self.subject or self.query.get("user_id") or self.route.ig_user_id or ""
        tag = self.world.hashtag_name(self.route.hashtag_id) if self.route.hashtag_id else None
        if self.route.endpoint == "ig_hashtag_search":
            tag = self.query.get("q")
        self.world.stats.record(
            CallRecord(
                at=self.now,
                endpoint=self.route.endpoint,
                ig_user_id=requested,
                outcome=outcome,
                code=code,
                fault=fault.kind if fault is not None else None,
                hashtag=tag,
            )
        )

    def usage_headers(self) -> dict[str, str]:
        headers = {"X-App-Usage": _usage_json(self.world, self.now)}
        if self.route.endpoint in BUC_ENDPOINTS and self.subject is not None:
            usage = self.world.buc_usage(self.subject, self.now)
            entry = {
                "type": "instagram",
                "call_count": usage.call_count,
                "total_cputime": usage.total_cputime,
                "total_time": usage.total_time,
                "estimated_time_to_regain_access": usage.regain_minutes,
            }
            headers["X-Business-Use-Case-Usage"] = _json({self.subject: [entry]})
        return headers

    def _authenticate(self) -> str:
        """The IG user id the token acts for; raises 104 / 190 / appsecret_proof errors."""
        token = self.query.get("access_token") or _bearer(self.request.authorization)
        if not token:
            raise errors.missing_token()
        found = self.world.token(token)
        if found is None:
            raise errors.invalid_token()
        secret = self.world.config.app_secret
        if secret:
            proof = self.query.get("appsecret_proof")
            if not proof:
                raise errors.appsecret_proof_missing()
            expected = hmac.new(secret.encode(), token.encode(), hashlib.sha256).hexdigest()
            if not hmac.compare_digest(proof.encode(), expected.encode()):
                raise errors.appsecret_proof_invalid()
        if not found.is_valid(self.now):
            raise errors.expired_token()
        return found.ig_user_id

    def _acting_for(self, account_id: str) -> str:
        """The IG user the call acts for, which the token must belong to (else code 10)."""
        if self.route.ig_user_id is not None:
            subject = self.route.ig_user_id
        else:
            user_id = self.query.get("user_id")
            if not user_id and self.route.endpoint not in ("hashtag", "comment"):
                raise errors.missing_parameter("user_id")
            subject = user_id or account_id  # the hashtag and comment nodes may omit it
        if subject != account_id:
            raise errors.permission_denied()
        return subject

    # -- token endpoints (§5) -------------------------------------------------------------------

    def debug_token(self) -> Json:
        app_id = self._authenticate_app()
        value = self.query.get("input_token")
        if not value:
            raise errors.missing_parameter("input_token")
        token = self.world.token(value)
        if token is None:
            unparsable = errors.unparsable_token()
            error: Json = {"code": unparsable.code, "message": unparsable.message}
            return {"data": {"error": error, "is_valid": False, "scopes": []}}
        self.subject = token.ig_user_id
        data: Json = {
            "app_id": app_id,
            "type": "USER",
            "application": SIM_APP_NAME,
            "data_access_expires_at": _epoch(token.issued_at + DATA_ACCESS_WINDOW),
            "expires_at": 0 if token.expires_at is None else _epoch(token.expires_at),
            "is_valid": token.is_valid(self.now),
            "issued_at": _epoch(token.issued_at),
            "scopes": list(token.scopes),
            "granular_scopes": [
                {"scope": scope, "target_ids": [token.ig_user_id]}
                for scope in token.scopes
                if scope.startswith("instagram_")
            ],
            "user_id": token.ig_user_id,
        }
        if not token.is_valid(self.now):
            data["error"] = _expired_detail(token, self.now)
        return {"data": data}

    def oauth_access_token(self) -> Json:
        if self.query.get("grant_type") != "fb_exchange_token":
            raise errors.unsupported_grant_type("fb_exchange_token")
        config = self.world.config
        client_id, client_secret = self.query.get("client_id"), self.query.get("client_secret")
        if not client_id:
            raise errors.missing_client_id()
        if config.app_id is not None and client_id != config.app_id:
            raise errors.invalid_client_id()
        if not client_secret:
            raise errors.missing_client_secret()
        if config.app_secret and not hmac.compare_digest(
            client_secret.encode(), config.app_secret.encode()
        ):
            raise errors.invalid_client_secret()
        value = self.query.get("fb_exchange_token")
        if not value:
            raise errors.missing_exchange_token()
        old = self.world.token(value)
        self.subject = old.ig_user_id if old is not None else None
        return _bearer_answer(self.world.exchange_token(value, self.now), self.now)

    def refresh_access_token(self) -> Json:
        self.subject = self._authenticate()
        if self.query.get("grant_type") != "ig_refresh_token":
            raise errors.unsupported_grant_type("ig_refresh_token")
        value = self.query.get("access_token") or _bearer(self.request.authorization) or ""
        return _bearer_answer(self.world.refresh_token(value, self.now), self.now)

    def _authenticate_app(self) -> str:
        """The app id of an app token ``APPID|SECRET`` (or of an app developer's user token)."""
        token = self.query.get("access_token") or _bearer(self.request.authorization)
        if not token:
            raise errors.missing_token()
        config = self.world.config
        app_id, separator, secret = token.partition("|")
        if not separator:
            self._authenticate()  # an app developer's user token: checked like any call
            return config.app_id or SIM_APP_ID
        if (
            not app_id
            or not secret
            or (config.app_id is not None and app_id != config.app_id)
            or (
                config.app_secret
                and not hmac.compare_digest(secret.encode(), config.app_secret.encode())
            )
        ):
            raise errors.invalid_app_token()
        proof = self.query.get("appsecret_proof")
        if proof and config.app_secret:
            expected = hmac.new(config.app_secret.encode(), token.encode(), hashlib.sha256)
            if not hmac.compare_digest(proof.encode(), expected.hexdigest().encode()):
                raise errors.appsecret_proof_invalid()
        return app_id

    # -- hashtag endpoints (Platform rate limits) -----------------------------------------------

    def hashtag_search(self) -> Json:
        query = self.query.get("q")
        if not query:
            raise errors.missing_parameter("q")
        if not _HASHTAG_QUERY.fullmatch(query):
            raise errors.invalid_hashtag_query(query)
        if self.world.is_sensitive(query):
            raise errors.sensitive_hashtag()
        tag_id = self.world.hashtag_id(query)
        self._spend(tag_id)
        return {"data": [{"id": tag_id}]}

    def hashtag_node(self) -> Json:
        tag_id = self._usable_hashtag()
        specs = self._fields(default="id,name")
        _check_fields(specs, HASHTAG_FIELDS, "IGHashtag")
        self._spend(tag_id)
        values = {"id": tag_id, "name": self.world.hashtag_name(tag_id)}
        return _with_id({spec.name: values[spec.name] for spec in specs}, tag_id)

    def recent_media(self) -> Json:
        return self._hashtag_edge(self.world.recent_media)

    def top_media(self) -> Json:
        return self._hashtag_edge(self.world.top_media)

    def _hashtag_edge(self, listing: Callable[[str, datetime], list[Post]]) -> Json:
        tag_id = self._usable_hashtag()
        specs = self._fields(default="id")
        _check_media_fields(specs, HASHTAG_MEDIA_FIELDS)
        limit = _limit(self.query.get("limit"), RECENT_DEFAULT_LIMIT, HASHTAG_MAX_LIMIT)
        self._spend(tag_id)
        edge = self.route.endpoint
        after, page_token = self.query.get("after"), self.query.get("page_token")
        if after is None and page_token is None:
            posts = listing(tag_id, self.now)
            snapshot = self.world.open_snapshot(edge, tag_id, posts, limit, self.now)
            offset = 0
        else:
            number, position = _decode_position(after, page_token)
            found = self.world.snapshot(number)
            if found is None or (found.edge, found.hashtag_id) != (edge, tag_id):
                raise errors.invalid_cursor("after")
            snapshot = found
            # `after` alone "can still be used to get the next page": the one after the first.
            offset = snapshot.first_page_size if position is None else position
        page_ids = snapshot.media_ids[offset : offset + limit]
        if not page_ids:
            return {"data": []}
        # A post withdrawn since the snapshot was taken is no longer served.
        shown = [media_id for media_id in page_ids if self.world.post(media_id) is not None]
        data = [self._media(media_id, specs, anonymous=True) for media_id in shown]
        cursor = _b64(f"snapshot:{snapshot.number}")
        paging: Json = {"cursors": {"after": cursor}}
        end = offset + len(page_ids)
        if end < len(snapshot.media_ids):
            paging["next"] = self._page_url(
                after=cursor, page_token=_b64(f"{snapshot.number}:{end}")
            )
        return {"data": data, "paging": paging}

    def _usable_hashtag(self) -> str:
        tag_id = self.route.hashtag_id
        assert tag_id is not None  # routed here only with a hashtag id
        if self.world.is_sensitive(self.world.hashtag_name(tag_id) or ""):
            raise errors.sensitive_hashtag()
        return tag_id

    def _spend(self, tag_id: str) -> None:
        assert self.subject is not None
        self.world.spend_hashtag(self.subject, tag_id, self.now)

    # -- account endpoints (BUC rate limits) ----------------------------------------------------

    def recently_searched_hashtags(self) -> Json:
        assert self.subject is not None
        limit = _limit(self.query.get("limit"), SEARCHED_DEFAULT_LIMIT, SEARCHED_MAX_LIMIT)
        ids = self.world.recently_searched(self.subject, self.now)
        after, before = self.query.get("after"), self.query.get("before")
        if after is not None:
            start = _decode_offset(after, "after")
        elif before is not None:
            start = max(0, _decode_offset(before, "before") - limit)
        else:
            start = 0
        page = ids[start : start + limit]
        if not page:
            return {"data": []}
        end = start + len(page)
        paging: Json = {
            "cursors": {"before": _b64(f"offset:{start}"), "after": _b64(f"offset:{end}")}
        }
        if end < len(ids):
            paging["next"] = self._page_url(after=_b64(f"offset:{end}"))
        return {"data": [{"id": tag_id} for tag_id in page], "paging": paging}

    def tags(self) -> Json:
        assert self.subject is not None
        specs = self._fields(default="id")
        _check_media_fields(specs, FULL_MEDIA_FIELDS)
        limit = _limit(self.query.get("limit"), TAGS_DEFAULT_LIMIT, TAGS_MAX_LIMIT)
        posts = self.world.tagged_media(self.subject, self.now)  # newest first
        after, before = self.query.get("after"), self.query.get("before")
        if after is not None:
            bound = _decode_key(after, "after")
            page = [p for p in posts if _key(p) < bound][:limit]
        elif before is not None:
            bound = _decode_key(before, "before")
            page = [p for p in posts if _key(p) > bound][-limit:]
        else:
            page = posts[:limit]
        if not page:
            return {"data": []}
        # Cursors only: "the response will not include previous or next fields" (§2a).
        cursors = {"before": _encode_key(*_key(page[0])), "after": _encode_key(*_key(page[-1]))}
        data = [self._media(post.id, specs, anonymous=False) for post in page]
        return {"data": data, "paging": {"cursors": cursors}}

    def user_node(self) -> Json:
        assert self.subject is not None
        account = self.world.account(self.subject)
        assert account is not None
        specs = self._fields(default="id")
        _check_fields(specs, USER_FIELDS, "IGUser")
        out: Json = {}
        for spec in specs:
            if spec.name == "id":
                out["id"] = self.subject
            elif spec.name == "username":
                out["username"] = account.username
            elif spec.name == "mentioned_media":
                out["mentioned_media"] = self._mentioned_media(spec)
            else:
                out["mentioned_comment"] = self._mentioned_comment(spec)
        return _with_id(out, self.subject)

    def _mentioned_media(self, spec: FieldSpec) -> Json:
        media_id = spec.modifier("media_id")
        if media_id is None:
            raise errors.missing_parameter("media_id")
        specs = spec.children or (FieldSpec("id"),)
        _check_media_fields(specs, FULL_MEDIA_FIELDS)
        if self.world.post(media_id) is None:
            raise errors.unknown_object(media_id)  # deleted, private or expired: 100/33
        return self._media(media_id, specs, anonymous=False)

    def _mentioned_comment(self, spec: FieldSpec) -> Json:
        comment_id = spec.modifier("comment_id")
        if comment_id is None:
            raise errors.missing_parameter("comment_id")
        specs = spec.children or (FieldSpec("id"),)
        _check_comment_fields(specs)
        comment = self.world.comment(comment_id)
        if comment is None:
            raise errors.unknown_object(comment_id)  # deleted, or its media is gone: 100/33
        if not self.world.config.mentioned_comment_media:
            specs = tuple(s for s in specs if s.name != "media")  # the captured shape
        return self._comment(comment, specs)

    def comment_node(self) -> Json:
        comment_id = self.route.comment_id
        assert comment_id is not None  # routed here only with a readable comment
        comment = self.world.comment(comment_id)
        assert comment is not None
        specs = self._fields(default="id")
        _check_comment_fields(specs)
        return self._comment(comment, specs)

    # -- rendering ----------------------------------------------------------------------------

    def _fields(self, default: str) -> tuple[FieldSpec, ...]:
        try:
            return parse_fields(self.query.get("fields") or default) or parse_fields(default)
        except FieldSyntaxError as exc:
            raise errors.field_syntax(str(exc)) from exc

    def _media(self, media_id: str, specs: tuple[FieldSpec, ...], *, anonymous: bool) -> Json:
        """Only the requested fields, plus ``id``; ``specs`` were checked for the edge already."""
        post = self.world.post(media_id)
        assert post is not None
        out: Json = {}
        for spec in specs:
            if spec.name == "children":
                if post.children:
                    child_specs = spec.children or (FieldSpec("id"),)
                    out["children"] = {
                        "data": [_child(c, post, child_specs) for c in post.children]
                    }
            elif spec.name == "comments":
                comment_specs = spec.children or (FieldSpec("id"),)
                comments = self.world.comments_on(post.id)
                out["comments"] = {"data": [self._comment(c, comment_specs) for c in comments]}
            elif spec.name in ("username", "owner"):
                # `owner` only for the app user's own media, "otherwise, username field is
                # returned instead" (§1f); simulated accounts never author media.
                if not anonymous:
                    out["username"] = post.username
            else:
                value = _MEDIA_VALUES[spec.name](post)
                if value is not None:
                    out[spec.name] = value
        return _with_id(out, post.id)

    def _comment(self, comment: Comment, specs: tuple[FieldSpec, ...]) -> Json:
        out: Json = {}
        for spec in specs:
            if spec.name == "id":
                out["id"] = comment.id
            elif spec.name == "text":
                out["text"] = comment.text
            elif spec.name == "timestamp":
                out["timestamp"] = graph_timestamp(comment.timestamp)
            elif spec.name == "like_count":
                out["like_count"] = comment.like_count
            elif spec.name == "username":  # unverified for this expansion (§2c)
                out["username"] = comment.username
            elif spec.name == "media":
                media_specs = spec.children or (FieldSpec("id"),)
                out["media"] = self._media(comment.media_id, media_specs, anonymous=False)
        return _with_id(out, comment.id)

    def _page_url(self, **cursor: str) -> str:
        """This request again with new cursor parameters (``next`` links carry the token)."""
        query = {k: v for k, v in self.query.items() if k not in ("after", "before", "page_token")}
        query.update(cursor)
        return f"{self.request.base_url}{self.request.path}?{urlencode(query)}"


_TOKEN_PATHS: Final = {
    "debug_token": "debug_token",
    "oauth/access_token": "oauth_access_token",
    "refresh_access_token": "refresh_access_token",
}
# Token endpoints authenticate in their own ways (app token, client secret), so they run first.
_TOKEN_HANDLERS: Final[dict[str, Callable[[_Call], Json]]] = {
    "debug_token": _Call.debug_token,
    "oauth_access_token": _Call.oauth_access_token,
    "refresh_access_token": _Call.refresh_access_token,
}

_HANDLERS: Final[dict[str, Callable[[_Call], Json]]] = {
    "ig_hashtag_search": _Call.hashtag_search,
    "hashtag": _Call.hashtag_node,
    "recent_media": _Call.recent_media,
    "top_media": _Call.top_media,
    "recently_searched_hashtags": _Call.recently_searched_hashtags,
    "tags": _Call.tags,
    "user": _Call.user_node,
    "mentioned_media": _Call.user_node,
    "mentioned_comment": _Call.user_node,
    "comment": _Call.comment_node,
}


def _check_fields(specs: tuple[FieldSpec, ...], allowed: frozenset[str], node_type: str) -> None:
    for spec in specs:
        if spec.name not in allowed:
            raise errors.nonexisting_field(spec.name, node_type)


def _check_media_fields(specs: tuple[FieldSpec, ...], allowed: frozenset[str]) -> None:
    """Media field names, recursively; on hashtag edges ``username``/``owner`` are code 100."""
    _check_fields(specs, allowed, "IGMedia")
    for spec in specs:
        if spec.name == "children" and spec.children:
            _check_fields(spec.children, CHILD_FIELDS, "IGMedia")
        elif spec.name == "comments" and spec.children:
            _check_comment_fields(spec.children)


def _check_comment_fields(specs: tuple[FieldSpec, ...]) -> None:
    _check_fields(specs, COMMENT_FIELDS, "IGComment")
    for spec in specs:
        if spec.name == "media" and spec.children:
            _check_media_fields(spec.children, FULL_MEDIA_FIELDS)


# Plain media fields; ``None`` means Meta omits the field for this media.
_MEDIA_VALUES: Final[dict[str, Callable[[Post], object]]] = {
    "id": lambda post: post.id,
    "caption": lambda post: post.caption,
    "comments_count": lambda post: post.comments_count,
    # Omitted when the owner hid like counts (v11.0+, §1c).
    "like_count": lambda post: None if post.like_count_hidden else post.like_count,
    "media_type": lambda post: post.media_type,
    # "not returned for album" (§1c).
    "media_url": lambda post: (
        None if post.media_type == "CAROUSEL_ALBUM" else _media_url(post.id, post.media_type)
    ),
    "permalink": lambda post: post.permalink,
    "timestamp": lambda post: graph_timestamp(post.timestamp),
    "shortcode": lambda post: post.shortcode,
}


def _child(child_id: str, parent: Post, specs: tuple[FieldSpec, ...]) -> Json:
    values: Json = {
        "id": child_id,
        "media_type": "IMAGE",
        "media_url": _media_url(child_id, "IMAGE"),
        "timestamp": graph_timestamp(parent.timestamp),
    }
    return _with_id({spec.name: values[spec.name] for spec in specs}, child_id)


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def _expired_detail(token: SimToken, now: datetime) -> Json:
    """The ``error`` Meta puts inside ``debug_token`` data for a token that no longer works."""
    when = token.expires_at if token.expires_at is not None and not token.revoked else now
    shown = "%A, %d-%b-%y %H:%M:%S UTC"
    return {
        "code": 190,
        "message": (
            f"Error validating access token: Session has expired on {when:{shown}}. "
            f"The current time is {now:{shown}}."
        ),
        "subcode": 463,
    }


def _bearer_answer(token: SimToken, now: datetime) -> Json:
    """Meta's answer to a token exchange or refresh."""
    assert token.expires_at is not None  # successors always expire
    expires_in = int((token.expires_at - now).total_seconds())
    return {"access_token": token.value, "token_type": "bearer", "expires_in": expires_in}


def _with_id(out: Json, object_id: str) -> Json:
    """Meta always returns ``id``: where asked for, else last (as in its samples)."""
    if "id" not in out:
        out["id"] = object_id
    return out


def _media_url(media_id: str, media_type: str) -> str:
    extension = "mp4" if media_type == "VIDEO" else "jpg"
    return f"https://scontent.cdninstagram.com/sim/{media_id}.{extension}"


def _bearer(authorization: str | None) -> str | None:
    if authorization is None:
        return None
    scheme, _, credentials = authorization.partition(" ")
    return credentials.strip() if scheme.lower() in ("bearer", "oauth") else None


def _limit(raw: str | None, default: int, maximum: int) -> int:
    """The page size: ``default`` when absent, clamped to ``maximum`` when larger."""
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise errors.invalid_parameter("limit must be a positive integer") from None
    if value < 1:
        raise errors.invalid_parameter("limit must be a positive integer")
    return min(value, maximum)


# -- cursors: opaque to clients, base64 of simple text to the simulator -----------------------


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _unb64(token: str, name: str) -> str:
    try:
        return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise errors.invalid_cursor(name) from None


def _decode_position(after: str | None, page_token: str | None) -> tuple[int, int | None]:
    """(snapshot number, offset or ``None``) from a hashtag edge's ``after`` / ``page_token``."""
    number: int | None = None
    offset: int | None = None
    if page_token is not None:
        number_text, _, offset_text = _unb64(page_token, "page_token").partition(":")
        if not (number_text.isdigit() and offset_text.isdigit()):
            raise errors.invalid_cursor("page_token")
        number, offset = int(number_text), int(offset_text)
    if after is not None:
        prefix, _, number_text = _unb64(after, "after").partition(":")
        if prefix != "snapshot" or not number_text.isdigit():
            raise errors.invalid_cursor("after")
        if number is not None and number != int(number_text):
            raise errors.invalid_cursor("after")
        number = int(number_text)
    assert number is not None  # one of the two was given
    return number, offset


def _decode_offset(cursor: str, name: str) -> int:
    prefix, _, offset = _unb64(cursor, name).partition(":")
    if prefix != "offset" or not offset.isdigit():
        raise errors.invalid_cursor(name)
    return int(offset)


def _key(post: Post) -> tuple[int, str]:
    """A post's place in a newest-first list: by time, then id."""
    return int(post.timestamp.timestamp()), post.id


def _encode_key(epoch: int, media_id: str) -> str:
    return _b64(f"{epoch}:{media_id}")


def _decode_key(cursor: str, name: str) -> tuple[int, str]:
    epoch, _, media_id = _unb64(cursor, name).partition(":")
    if not epoch.isdigit():
        raise errors.invalid_cursor(name)
    return int(epoch), media_id
