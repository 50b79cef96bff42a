"""Token endpoints (reference §5; rules in `listener.simulator.tokens`), outside both rate-limit
families. Each authenticates its own way, so they run before the usual user-token checks.

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
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from listener.simulator import errors
from listener.simulator.endpoints import auth
from listener.simulator.endpoints.call import Call, Json
from listener.simulator.tokens import DATA_ACCESS_WINDOW, SimToken

SIM_APP_NAME: Final = "Listener Simulator"
_SHOWN_TIME: Final = "%A, %d-%b-%y %H:%M:%S UTC"  # Meta's wording of times in token errors


def debug_token(call: Call) -> Json:
    """What the world knows of ``input_token``, asked with an app token."""
    app_id = auth.authenticate_app(call)
    value = call.query.get("input_token")
    if not value:
        raise errors.missing_parameter("input_token")
    token = call.world.token(value)
    if token is None:
        unparsable = errors.unparsable_token()
        error: Json = {"code": unparsable.code, "message": unparsable.message}
        return {"data": {"error": error, "is_valid": False, "scopes": []}}
    call.subject = token.ig_user_id
    data = _token_data(token, app_id, call.now)
    if not token.is_valid(call.now):
        data["error"] = _expired_detail(token, call.now)
    return {"data": data}


def oauth_access_token(call: Call) -> Json:
    """A Facebook token's long-lived successor, for the app's client id and secret."""
    if call.query.get("grant_type") != "fb_exchange_token":
        raise errors.unsupported_grant_type("fb_exchange_token")
    _authenticate_client(call)
    value = call.query.get("fb_exchange_token")
    if not value:
        raise errors.missing_exchange_token()
    old = call.world.token(value)
    call.subject = old.ig_user_id if old is not None else None
    return _bearer_answer(call.world.exchange_token(value, call.now), call.now)


def refresh_access_token(call: Call) -> Json:
    """An Instagram token's successor, asked with the token itself."""
    call.subject = auth.authenticate(call)
    if call.query.get("grant_type") != "ig_refresh_token":
        raise errors.unsupported_grant_type("ig_refresh_token")
    value = auth.access_token(call)
    return _bearer_answer(call.world.refresh_token(value, call.now), call.now)


def _authenticate_client(call: Call) -> None:
    """``client_id`` and ``client_secret`` must be the app's (either unchecked when unset)."""
    config = call.world.config
    client_id, client_secret = call.query.get("client_id"), call.query.get("client_secret")
    if not client_id:
        raise errors.missing_client_id()
    if config.app_id is not None and client_id != config.app_id:
        raise errors.invalid_client_id()
    if not client_secret:
        raise errors.missing_client_secret()
    if not auth.matches_secret(client_secret, config.app_secret):
        raise errors.invalid_client_secret()


def _token_data(token: SimToken, app_id: str, now: datetime) -> Json:
    """``debug_token``'s ``data`` for a token the world issued."""
    return {
        "app_id": app_id,
        "type": "USER",
        "application": SIM_APP_NAME,
        "data_access_expires_at": _epoch(token.issued_at + DATA_ACCESS_WINDOW),
        "expires_at": 0 if token.expires_at is None else _epoch(token.expires_at),
        "is_valid": token.is_valid(now),
        "issued_at": _epoch(token.issued_at),
        "scopes": list(token.scopes),
        "granular_scopes": [
            {"scope": scope, "target_ids": [token.ig_user_id]}
            for scope in token.scopes
            if scope.startswith("instagram_")
        ],
        "user_id": token.ig_user_id,
    }


def _expired_detail(token: SimToken, now: datetime) -> Json:
    """The ``error`` Meta puts inside ``debug_token`` data for a token that no longer works."""
    when = token.expires_at if token.expires_at is not None and not token.revoked else now
    return {
        "code": 190,
        "message": (
            f"Error validating access token: Session has expired on {when:{_SHOWN_TIME}}. "
            f"The current time is {now:{_SHOWN_TIME}}."
        ),
        "subcode": 463,
    }


def _bearer_answer(token: SimToken, now: datetime) -> Json:
    """Meta's answer to a token exchange or refresh."""
    assert token.expires_at is not None  # successors always expire
    expires_in = int((token.expires_at - now).total_seconds())
    return {"access_token": token.value, "token_type": "bearer", "expires_in": expires_in}


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())
