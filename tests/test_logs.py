"""Logging: JSON lines off a terminal, and secrets never written."""

from __future__ import annotations

import io
import json

import structlog

from listener.logs import REDACTED, SecretScrubber, configure_logging, remember_secret


def test_json_lines_with_event_names() -> None:
    """Off a terminal every event is one JSON line carrying its noun.verb name and fields."""
    out = io.StringIO()
    configure_logging(stream=out, json=None)
    structlog.get_logger().info("poll.failed", feed="hashtag_recent:brand:x")
    line = json.loads(out.getvalue().strip())
    assert line["event"] == "poll.failed"
    assert line["feed"] == "hashtag_recent:brand:x"
    assert line["level"] == "info"


def _fail(message: str) -> None:
    raise RuntimeError(message)


def test_known_secret_values_are_scrubbed_everywhere() -> None:
    """A configured token is removed from messages, nested values and exception text."""
    out = io.StringIO()
    configure_logging(stream=out, json=True, secrets=["EAAB-very-secret-token"])
    logger = structlog.get_logger()
    try:
        _fail("GET /x?token=EAAB-very-secret-token failed")
    except RuntimeError:
        logger.exception("graph.failed", detail={"url": "https://h/?q=EAAB-very-secret-token"})
    text = out.getvalue()
    assert "EAAB-very-secret-token" not in text
    assert REDACTED in text


def test_secret_query_parameters_and_keys_are_scrubbed() -> None:
    """access_token= and appsecret_proof= in any string, and keys named like secrets, are hidden."""
    scrub = SecretScrubber()
    event = scrub(
        None,
        "info",
        {"event": "x", "url": "/v?access_token=abc&q=1&appsecret_proof=def", "app_secret": "s"},
    )
    assert event["url"] == f"/v?access_token={REDACTED}&q=1&appsecret_proof={REDACTED}"
    assert event["app_secret"] == REDACTED


def test_a_secret_learnt_after_configuration_is_scrubbed() -> None:
    """remember_secret (a renewed token) joins the configured secrets for every later event."""
    out = io.StringIO()
    configure_logging(stream=out, json=True, secrets=["EAAB-configured-token"])
    remember_secret("EAAB-renewed-at-run-time")
    configure_logging(stream=out, json=True)  # a later configuration forgets nothing
    structlog.get_logger().warning("graph.failed", error="GET /x?q=EAAB-renewed-at-run-time")
    structlog.get_logger().warning("graph.failed", error="EAAB-configured-token")
    text = out.getvalue()
    assert "EAAB-renewed-at-run-time" not in text
    assert "EAAB-configured-token" not in text
    assert text.count(REDACTED) == 2
