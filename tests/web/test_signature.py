"""Meta's webhook signature: what counts as one."""

from __future__ import annotations

import pytest

from listener.web.signature import sign, verify

SECRET = "webhook-app-secret"
BODY = b'{"object": "instagram", "entry": []}'


def test_meta_signature_verifies() -> None:
    """The signature Meta would send for the body verifies."""
    assert verify(BODY, sign(BODY, SECRET), SECRET)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "sha1=" + "0" * 40,
        "sha256=" + "é" * 64,
        "sha256=" + "\udcff" * 64,
        "sha256=" + "０" * 64,
        sign(BODY, SECRET).upper(),
    ],
    ids=["missing", "empty", "sha1", "latin-1", "surrogates", "fullwidth", "uppercase"],
)
def test_what_is_not_a_signature_is_refused_without_error(header: str | None) -> None:
    """Missing, other-algorithm or non-ASCII headers are simply not signatures (no exception)."""
    assert not verify(BODY, header, SECRET)
