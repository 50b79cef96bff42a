"""The one appsecret_proof check, by table: user tokens must carry it, app tokens may."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from listener.simulator.endpoints.auth import check_proof, matches_secret
from listener.simulator.errors import GraphError

SECRET = "app-secret-for-tests"
TOKEN = "brand-token"
RIGHT = hmac.new(SECRET.encode(), TOKEN.encode(), hashlib.sha256).hexdigest()
OTHER_TOKENS = hmac.new(SECRET.encode(), b"other-token", hashlib.sha256).hexdigest()
MISSING = "require an appsecret_proof"
INVALID = "Invalid appsecret_proof"


@pytest.mark.parametrize(
    ("secret", "proof", "required", "refusal"),
    [
        (SECRET, RIGHT, True, None),
        (SECRET, RIGHT, False, None),
        (SECRET, None, True, MISSING),
        (SECRET, "", True, MISSING),
        (SECRET, None, False, None),  # an app token may come without one
        (SECRET, "", False, None),
        (SECRET, "0" * 64, True, INVALID),
        (SECRET, "0" * 64, False, INVALID),  # but one sent is checked
        (SECRET, OTHER_TOKENS, True, INVALID),  # the proof of another token
        (SECRET, RIGHT.upper(), True, INVALID),  # Meta's proof is lower-case hex
        (None, None, True, None),  # no app secret: nothing to prove
        ("", "0" * 64, True, None),
    ],
)
def test_appsecret_proof(
    secret: str | None, proof: str | None, required: bool, refusal: str | None
) -> None:
    """A proof must be the HMAC-SHA256 of the token keyed by the app secret, when there is one."""
    if refusal is None:
        check_proof(secret, TOKEN, proof, required=required)
        return
    with pytest.raises(GraphError) as caught:
        check_proof(secret, TOKEN, proof, required=required)
    assert caught.value.code == 100
    assert refusal in caught.value.message


@pytest.mark.parametrize(
    ("given", "secret", "matches"),
    [(SECRET, SECRET, True), ("wrong", SECRET, False), ("", SECRET, False), ("any", None, True)],
)
def test_matches_secret(given: str, secret: str | None, matches: bool) -> None:
    """A client or app-token secret must be the app's, unless the world has none."""
    assert matches_secret(given, secret) is matches
