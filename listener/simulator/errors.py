"""The Graph API errors the simulator can answer with, in Meta's wire shape (pure).

Every failure is a `GraphError`; `GraphError.body` renders Meta's envelope::

    {"error": {"message", "type": "OAuthException", "code", "error_subcode"?,
               "is_transient"?, "fbtrace_id"}}

Codes follow the reference (/work/shared/reference/instagram-graph-api.md §4). Where Meta does
not document the answer, the choice is marked ASSUMPTION here and nowhere else:

- the 31st distinct hashtag in 7 days: code 24, no subcode, HTTP 400 (§1b: unverified);
- a sensitive hashtag: code 100 "Invalid parameter", no subcode (§1a only says "a generic error");
- a malformed hashtag query (``#``, emoji, spaces): code 100 with a specific message;
- a bad or expired paging cursor: code 100;
- ``refresh_access_token`` on an Instagram token younger than 24 hours: code 100 (the token
  still works, so it is a bad request, not an auth error), and with a bad ``grant_type``: 100;
- ``oauth/access_token`` without ``client_secret``: code 101 like a missing ``client_id``.

A media or comment that is deleted, private or expired (or an id the world never had) answers
code 100, subcode 33, ``GraphMethodException``-style text naming the id: Meta's answer as
captured (tests/fixtures/meta/issues, reference §9), also through ``mentioned_media`` and
``mentioned_comment``. A scripted *disguised* throttle answers the same for whatever a call
asked about, while the usage headers show the scope at its limit.

Token answers seen in public issue threads (not in Meta's docs): a wrong ``client_secret`` is
code 1 "Error validating client secret." with HTTP 400; a missing ``client_id`` is 101; a
missing ``fb_exchange_token`` is code 1.
"""

from __future__ import annotations

from typing import Final

THROTTLE_CODES: Final = frozenset({4, 17, 32, 613, 80002})
BUC_THROTTLE_CODE: Final = 80002

# Meta's messages for the throttle codes (§4). 80002's text is verbatim from the reference.
_THROTTLE_MESSAGES: Final = {
    4: "(#4) Application request limit reached",
    17: "(#17) User request limit reached",
    32: "(#32) Page request limit reached",
    613: "(#613) Calls to this api have exceeded the rate limit.",
    80002: (
        "There have been too many calls to this Instagram account. Wait a bit and try again. "
        "For more info, please refer to "
        "https://developers.facebook.com/docs/graph-api/overview/rate-limiting."
    ),
}

AUTH_CODES: Final = frozenset({102, 104, 190})
PERMISSION_CODES: Final = frozenset({10, *range(200, 300)})


class GraphError(Exception):
    """A Graph API error answer: HTTP status plus Meta's error object."""

    def __init__(
        self,
        code: int,
        message: str,
        *,
        http_status: int = 400,
        subcode: int | None = None,
        is_transient: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.http_status = http_status
        self.subcode = subcode
        self.is_transient = is_transient

    @property
    def outcome(self) -> str:
        """The stats outcome this error counts as (the worker's metric vocabulary)."""
        if self.code in THROTTLE_CODES:
            return "throttled"
        if self.code in AUTH_CODES or self.code in PERMISSION_CODES:
            return "auth_error"
        if self.http_status >= 500:
            return "server_error"
        return "client_error"

    def body(self, fbtrace_id: str) -> dict[str, object]:
        """Meta's JSON envelope for this error."""
        error: dict[str, object] = {
            "message": self.message,
            "type": "OAuthException",
            "code": self.code,
        }
        if self.subcode is not None:
            error["error_subcode"] = self.subcode
        if self.is_transient is not None:
            error["is_transient"] = self.is_transient
        error["fbtrace_id"] = fbtrace_id
        return {"error": error}


def missing_token() -> GraphError:
    """No access token at all (Meta answers 104, not 190)."""
    return GraphError(104, "An access token is required to request this resource.")


def invalid_token() -> GraphError:
    """A token that belongs to no account."""
    return GraphError(190, "Invalid OAuth access token.", subcode=467)


def expired_token() -> GraphError:
    """A token whose session has expired."""
    return GraphError(190, "Error validating access token: Session has expired.", subcode=463)


def appsecret_proof_missing() -> GraphError:
    """The app requires appsecret_proof and the call has none."""
    return GraphError(100, "API calls from the server require an appsecret_proof argument")


def appsecret_proof_invalid() -> GraphError:
    """The appsecret_proof does not match HMAC-SHA256(app_secret, access_token)."""
    return GraphError(100, "Invalid appsecret_proof provided in the API argument")


def permission_denied() -> GraphError:
    """The token does not act for the IG user the call names."""
    return GraphError(
        10, "(#10) Application does not have permission for this action", http_status=403
    )


def missing_permission(permission: str, field: str) -> GraphError:
    """The token lacks the permission a field needs (``username`` of a commenter, §10)."""
    return GraphError(
        10,
        f"(#10) Application does not have permission for this action: the {field} field "
        f"requires the {permission} permission",
        http_status=403,
    )


def unknown_object(object_id: str) -> GraphError:
    """Meta's answer for an id that does not exist or cannot be read."""
    return GraphError(
        100,
        f"Unsupported get request. Object with ID '{object_id}' does not exist, cannot be loaded "
        "due to missing permissions, or does not support this operation. Please read the Graph "
        "API documentation at https://developers.facebook.com/docs/graph-api",
        subcode=33,
    )


def unknown_path(component: str) -> GraphError:
    """An edge the node does not have."""
    return GraphError(2500, f"Unknown path components: /{component}")


def nonexisting_field(name: str, node_type: str) -> GraphError:
    """A field the node does not expose (also: ``username`` on hashtag media)."""
    return GraphError(
        100, f"(#100) Tried accessing nonexisting field ({name}) on node type ({node_type})"
    )


def missing_parameter(name: str) -> GraphError:
    """A required query parameter is absent."""
    return GraphError(100, f"(#100) The parameter {name} is required")


def invalid_parameter(message: str) -> GraphError:
    """A query parameter with a value the endpoint cannot use."""
    return GraphError(100, f"(#100) {message}")


def field_syntax(message: str) -> GraphError:
    """The ``fields`` value does not parse."""
    return GraphError(100, f"Syntax error {message}")


def sensitive_hashtag() -> GraphError:
    """ASSUMPTION: Meta's "generic error" for a hashtag it deems sensitive."""
    return GraphError(100, "Invalid parameter")


def invalid_hashtag_query(query: str) -> GraphError:
    """ASSUMPTION: ``q`` with ``#``, emoji or spaces (§1b: emojis "are not supported")."""
    return GraphError(
        100, f"(#100) Param q must be a hashtag name without '#', spaces or emoji: {query!r}"
    )


def hashtag_limit_reached() -> GraphError:
    """ASSUMPTION: the 31st distinct hashtag within 7 days (code unverified, §1b)."""
    return GraphError(24, "(#24) Hashtag search limit reached: 30 unique hashtags per 7 days")


def invalid_cursor(name: str) -> GraphError:
    """ASSUMPTION: a paging cursor the simulator did not issue or has forgotten."""
    return GraphError(100, f"(#100) The {name} cursor is invalid or has expired")


def throttled(code: int) -> GraphError:
    """A rate-limit error with Meta's message for ``code`` (4, 17, 32, 613 or 80002)."""
    return GraphError(code, _THROTTLE_MESSAGES[code])


def unknown_error() -> GraphError:
    """Code 1, "API Unknown": possibly temporary (a scripted fault)."""
    return GraphError(1, "An unknown error has occurred.", http_status=500)


def service_unavailable() -> GraphError:
    """Code 2, "API Service": temporary, retry (a scripted fault)."""
    return GraphError(
        2,
        "An unexpected error has occurred. Please retry your request later.",
        http_status=503,
        is_transient=True,
    )


def unparsable_token() -> GraphError:
    """A token the endpoint cannot read (also: the wrong kind of user token for the endpoint)."""
    return GraphError(190, "Invalid OAuth access token - Cannot parse access token")


def invalid_app_token() -> GraphError:
    """An app token ``APPID|SECRET`` whose id or secret is not the app's."""
    return GraphError(190, "Invalid OAuth access token signature.")


def missing_client_id() -> GraphError:
    """``oauth/access_token`` without ``client_id``."""
    return GraphError(101, "Missing client_id parameter.")


def invalid_client_id() -> GraphError:
    """``oauth/access_token`` naming another app."""
    return GraphError(101, "Error validating application. Invalid application ID.")


def missing_client_secret() -> GraphError:
    """ASSUMPTION: ``oauth/access_token`` without ``client_secret``."""
    return GraphError(101, "Missing client_secret parameter.")


def invalid_client_secret() -> GraphError:
    """``oauth/access_token`` with the wrong ``client_secret`` (code 1, as Meta answers)."""
    return GraphError(1, "Error validating client secret.")


def missing_exchange_token() -> GraphError:
    """``grant_type=fb_exchange_token`` without the token to exchange (code 1, as Meta answers)."""
    return GraphError(1, "fb_exchange_token parameter not specified")


def unsupported_grant_type(expected: str) -> GraphError:
    """ASSUMPTION: a token endpoint called with another ``grant_type``."""
    return GraphError(100, f"(#100) grant_type must be {expected}")


def token_too_young() -> GraphError:
    """ASSUMPTION: an Instagram token refreshed before it is 24 hours old."""
    return GraphError(
        100, "(#100) A long-lived access token can be refreshed once it is at least 24 hours old"
    )
