"""Who is calling: user tokens, app tokens, ``appsecret_proof`` and the IG user acted for (pure).

A user token comes as ``access_token`` or an ``Authorization: Bearer``/``OAuth`` header. When the
world has an app secret, every user-token call must carry ``appsecret_proof``, the hex
HMAC-SHA256 of the token keyed by the secret (reference §5); an app token ``APPID|SECRET``
(``debug_token``) may carry one, checked when sent. The order of checks is Meta's: missing token
(104) → unknown token (190) → proof → expiry (190/463) → the IG user the call acts for (10).
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Final

from listener.simulator import errors
from listener.simulator.endpoints.call import Call

SIM_APP_ID: Final = "1000000000000001"  # the app's id when the config names none
_NODES_WITHOUT_USER_ID: Final = frozenset(
    {"hashtag", "comment", "comments", "replies"}
)  # may omit ``user_id``


def access_token(call: Call) -> str:
    """The token the call presents (query first, then the header); 104 when there is none."""
    token = call.query.get("access_token") or _bearer(call.request.authorization)
    if not token:
        raise errors.missing_token()
    return token


def check_proof(secret: str | None, token: str, proof: str | None, *, required: bool) -> None:
    """``proof`` must be the HMAC-SHA256 of ``token`` keyed by ``secret`` (unchecked unset).

    ``required``: a missing proof is refused too (user tokens); otherwise only a wrong one is.
    """
    if not secret:
        return
    if not proof:
        if required:
            raise errors.appsecret_proof_missing()
        return
    expected = hmac.new(secret.encode(), token.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(proof.encode(), expected.encode()):
        raise errors.appsecret_proof_invalid()


def matches_secret(given: str, secret: str | None) -> bool:
    """Whether ``given`` is the app secret (anything is, when the world has none)."""
    return not secret or hmac.compare_digest(given.encode(), secret.encode())


def authenticate(call: Call) -> str:
    """The IG user id a user token acts for; raises 104 / 190 / ``appsecret_proof`` errors."""
    token = access_token(call)
    found = call.world.token(token)
    if found is None:
        raise errors.invalid_token()
    proof = call.query.get("appsecret_proof")
    check_proof(call.world.config.app_secret, token, proof, required=True)
    if not found.is_valid(call.now):
        raise errors.expired_token()
    return found.ig_user_id


def authenticate_app(call: Call) -> str:
    """The app id of an app token ``APPID|SECRET`` (or of an app developer's user token)."""
    token = access_token(call)
    config = call.world.config
    app_id, separator, secret = token.partition("|")
    if not separator:
        authenticate(call)  # an app developer's user token: checked like any call
        return config.app_id or SIM_APP_ID
    if (
        not app_id
        or not secret
        or (config.app_id is not None and app_id != config.app_id)
        or not matches_secret(secret, config.app_secret)
    ):
        raise errors.invalid_app_token()
    check_proof(config.app_secret, token, call.query.get("appsecret_proof"), required=False)
    return app_id


def acting_for(call: Call, account_id: str) -> str:
    """The IG user the call acts for, which the token must belong to (else code 10)."""
    if call.route.ig_user_id is not None:
        subject = call.route.ig_user_id
    else:
        user_id = call.query.get("user_id")
        if not user_id and call.route.endpoint not in _NODES_WITHOUT_USER_ID:
            raise errors.missing_parameter("user_id")
        subject = user_id or account_id  # the hashtag and comment nodes may omit it
    if subject != account_id:
        raise errors.permission_denied()
    return subject


def scopes(call: Call) -> tuple[str, ...]:
    """The permissions granted to the token of an authenticated call."""
    found = call.world.token(access_token(call))
    return () if found is None else found.scopes


def _bearer(authorization: str | None) -> str | None:
    if authorization is None:
        return None
    scheme, _, credentials = authorization.partition(" ")
    return credentials.strip() if scheme.lower() in ("bearer", "oauth") else None
