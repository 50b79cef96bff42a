"""Meta's webhook signature: ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>``.

Pure. The HMAC is keyed by the app secret and computed over the body bytes exactly as
received (re-serialised JSON would not match); the comparison is constant-time. A header that
is not ASCII is simply not a signature.
"""

from __future__ import annotations

import hashlib
import hmac

PREFIX = "sha256="


def sign(body: bytes, app_secret: str) -> str:
    """The header value Meta would send for ``body``."""
    return PREFIX + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def verify(body: bytes, header: str | None, app_secret: str) -> bool:
    """Whether ``header`` is Meta's signature of ``body`` under ``app_secret``."""
    if not header or not header.isascii() or not header.startswith(PREFIX):
        return False
    return hmac.compare_digest(sign(body, app_secret), header.strip())
