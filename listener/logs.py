"""Structured logging: structlog, JSON lines for machines, a readable console for people.

Events are named ``noun.verb`` (``poll.failed``, ``store.recovered``) with key-values. Secrets
are scrubbed by a processor at the end of the chain, so a token that slips into an event, a URL
or an exception text is replaced before anything is written. The process has one scrubber: it
starts with the configured secrets and learns every secret that arrives later
(:func:`remember_secret`: a token renewed at Meta, read back from MongoDB, or re-read on SIGHUP).
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable, MutableMapping
from typing import Any, TextIO

import structlog

REDACTED = "[redacted]"

_SECRET_KEYS = frozenset(
    {
        "access_token",
        "app_secret",
        "appsecret_proof",
        "token",
        "secret",
        "password",
        "client_secret",
    }
)
# Query-string secrets inside any text (URLs, exception messages).
_SECRET_PARAMS = re.compile(
    r"(?P<key>access_token|appsecret_proof|client_secret|fb_exchange_token|input_token)="
    r"(?P<value>[^&\s\"']+)"
)


class SecretScrubber:
    """A structlog processor that removes secrets from every event before it is rendered.

    It knows secrets three ways: keys that name one, ``name=value`` query parameters in any
    string, and the literal values registered at start-up (the configured tokens and secret).
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._values: list[str] = []
        self.learn(secrets)

    def learn(self, secrets: Iterable[str]) -> None:
        """Scrub ``secrets`` too from now on (longest first, so no secret is half-replaced)."""
        known = set(self._values) | {s for s in secrets if len(s) >= 4}
        self._values = sorted(known, key=len, reverse=True)

    def scrub(self, text: str) -> str:
        """``text`` with every known secret value and secret query parameter replaced."""
        for value in self._values:
            if value in text:
                text = text.replace(value, REDACTED)
        return _SECRET_PARAMS.sub(lambda m: f"{m['key']}={REDACTED}", text)

    def _clean(self, key: str, value: Any) -> Any:
        if key.lower() in _SECRET_KEYS:
            return REDACTED
        if isinstance(value, str):
            return self.scrub(value)
        if isinstance(value, dict):
            return {k: self._clean(str(k), v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self._clean("", v) for v in value]
        return value

    def __call__(
        self, logger: Any, method: str, event: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        """Scrub one event dict (structlog processor protocol)."""
        return {key: self._clean(key, value) for key, value in event.items()}


_SCRUBBER = SecretScrubber()
"""The process's scrubber: secrets it learns stay learnt, whoever configures logging."""


def remember_secret(*values: str) -> None:
    """Scrub ``values`` from every event written from now on (a secret learnt at run time)."""
    _SCRUBBER.learn(values)


def configure_logging(
    *,
    level: str = "info",
    secrets: Iterable[str] = (),
    json: bool | None = None,
    stream: TextIO | None = None,
) -> None:
    """Set structlog up for the whole process; ``json=None`` picks JSON unless on a terminal."""
    remember_secret(*secrets)
    out = stream or sys.stdout
    as_json = not out.isatty() if json is None else json
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if as_json
        else structlog.dev.ConsoleRenderer(colors=out.isatty())
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            _SCRUBBER,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]
        ),
        logger_factory=structlog.PrintLoggerFactory(out),
        cache_logger_on_first_use=False,
    )
