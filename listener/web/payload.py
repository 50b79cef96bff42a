"""Meta's webhook bodies read into :class:`~listener.models.WebhookEvent` values (pure).

Two shapes of change are accepted (reference §2e, §2f): the Facebook Login envelope
``{"object": "instagram", "entry": [{"id", "time", "changes": [{"field", "value"}]}]}`` and the
Instagram Login one, whose entries carry ``field``/``value`` directly. Meta's own examples
sometimes wrap the body in a list; that is accepted too.

An app that also subscribes to Instagram messaging receives entries with
``messaging: [...]`` (or ``standby: [...]``) instead of changes, in the same deliveries as
mentions. Those are read as skipped parts: counted, never stored (they are private messages
the listener has no use for), and never a reason to refuse the delivery.

A body that is none of these is refused as a whole (:class:`PayloadError`, answered 400), and
so is one nested too deeply to read or one with more than :data:`MAX_CHANGES` parts (counted
before any event is built, so a flood costs only its counting); a single change of the wrong
shape is kept as an event with a ``problem`` (a dead letter), so one bad change never costs the
others.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Final

from listener.models import WebhookEvent

MAX_CHANGES = 5000
"""Meta batches at most 1,000 updates; far more is not Meta."""
SKIPPED_LISTS: Final = ("messaging", "standby")
"""Entry keys of messaging deliveries: their items are counted, not stored."""


@dataclass(frozen=True)
class Delivery:
    """What one delivery holds: the changes to store, and the parts that are only counted."""

    events: list[WebhookEvent]
    skipped: tuple[str, ...] = ()
    """One entry per part not stored, naming its kind (``messaging`` or ``standby``)."""


class PayloadError(ValueError):
    """The body is not a webhook delivery at all."""


def event_key(ig_user_id: str, field: str, value: Any) -> str:
    """A change's identity: the same change in any delivery has the same key."""
    canonical = json.dumps([ig_user_id, field, value], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def parse_delivery(body: bytes) -> Delivery:
    """Every change of a delivery; :class:`PayloadError` when the body is not a delivery."""
    try:
        document = json.loads(body.decode("utf-8"))  # strict: no UTF-16, no encoded surrogates
    except (UnicodeDecodeError, ValueError) as exc:
        raise PayloadError(f"body is not JSON: {exc}") from None
    except RecursionError:
        raise PayloadError("body is nested too deeply to read") from None
    envelopes = document if isinstance(document, list) else [document]
    if _parts(envelopes) > MAX_CHANGES:
        raise PayloadError(f"more than {MAX_CHANGES} changes in one delivery")
    events: list[WebhookEvent] = []
    skipped: list[str] = []
    try:
        for envelope in envelopes:
            if not isinstance(envelope, Mapping):
                raise PayloadError("a delivery is an object with an 'entry' list")
            if envelope.get("object") not in (None, "instagram"):
                what = str(envelope.get("object"))[:40]
                raise PayloadError(f"object {what!r} is not 'instagram'")
            entries = envelope.get("entry")
            if not isinstance(entries, list):
                raise PayloadError("a delivery needs an 'entry' list")
            for entry in entries:
                _read_entry(entry, events, skipped)
    except RecursionError:  # a change's key is its JSON, written again
        raise PayloadError("body is nested too deeply to read") from None
    return Delivery(events, tuple(skipped))


def _parts(envelopes: list[Any]) -> int:
    """How many changes and skipped items the entries hold, counted without reading them.

    The count stops once past :data:`MAX_CHANGES`: a flood is refused for the price of
    counting that many. Shapes that are wrong are left to the reading, which refuses them.
    """
    total = 0
    for envelope in envelopes:
        entries = envelope.get("entry") if isinstance(envelope, Mapping) else None
        for entry in entries if isinstance(entries, list) else ():
            if not isinstance(entry, Mapping):
                continue
            changes = entry.get("changes")
            if isinstance(changes, list):
                total += len(changes)
            elif changes is None and "field" in entry:
                total += 1
            for key in SKIPPED_LISTS:
                items = entry.get(key)
                total += len(items) if isinstance(items, list) else 0
            if total > MAX_CHANGES:
                return total
    return total


def _read_entry(entry: Any, events: list[WebhookEvent], skipped: list[str]) -> None:
    if not isinstance(entry, Mapping) or not isinstance(entry.get("id"), str | int):
        raise PayloadError("each entry needs an 'id'")
    ig_user_id = str(entry["id"])
    sent_at = _time(entry.get("time"))
    changes = entry.get("changes")
    if changes is None and "field" in entry:
        changes = [{"field": entry.get("field"), "value": entry.get("value")}]
    lists = {key: entry[key] for key in SKIPPED_LISTS if key in entry}
    for key, items in lists.items():
        if not isinstance(items, list):
            raise PayloadError(f"'{key}' must be a list")
        skipped.extend(key for _ in items)
    if changes is None and lists:
        return
    if not isinstance(changes, list):
        raise PayloadError("each entry needs 'changes' (or 'field' and 'value', or 'messaging')")
    events.extend(_event(ig_user_id, sent_at, change) for change in changes)


def _event(ig_user_id: str, sent_at: datetime | None, change: Any) -> WebhookEvent:
    if not isinstance(change, Mapping):
        return _dead(ig_user_id, sent_at, "unknown", change, "a change is not an object")
    field = change.get("field")
    value = change.get("value")
    if not isinstance(field, str) or not field:
        return _dead(ig_user_id, sent_at, "unknown", change, "a change has no field")
    if not isinstance(value, Mapping):
        return _dead(ig_user_id, sent_at, field, change, "a change has no value object")
    base = WebhookEvent(
        key=event_key(ig_user_id, field, value),
        field=field,
        ig_user_id=ig_user_id,
        sent_at=sent_at,
        value=dict(value),
    )
    reader = _READERS.get(field)
    return base if reader is None else reader(base, value)


def _mention(event: WebhookEvent, value: Mapping[str, Any]) -> WebhookEvent:
    media_id = _id(value.get("media_id"))
    if media_id is None:
        return replace(event, problem="mention without a media_id")
    return replace(event, media_id=media_id, comment_id=_id(value.get("comment_id")))


def _comment(event: WebhookEvent, value: Mapping[str, Any]) -> WebhookEvent:
    """Instagram Login: mentions arrive inside ``comments``, with the comment and its author.

    The media id may be missing ("Webhook notifications for Comments on albums don't include
    the album ID"): the comment id is kept, and the media is read from the comment later.
    """
    media = value.get("media")
    author = value.get("from")
    comment_id = _id(value.get("id"))
    media_id = _id(media.get("id")) if isinstance(media, Mapping) else None
    if comment_id is None:
        return replace(event, problem="comment without an id")
    username = author.get("username") if isinstance(author, Mapping) else None
    return replace(
        event,
        media_id=media_id,
        comment_id=comment_id,
        username=username if isinstance(username, str) else None,
    )


_READERS: dict[str, Callable[[WebhookEvent, Mapping[str, Any]], WebhookEvent]] = {
    "mentions": _mention,
    "comments": _comment,
}


def _dead(
    ig_user_id: str, sent_at: datetime | None, field: str, raw: Any, problem: str
) -> WebhookEvent:
    value = {"raw": raw} if not isinstance(raw, Mapping) else dict(raw)
    return WebhookEvent(
        key=event_key(ig_user_id, field, value),
        field=field,
        ig_user_id=ig_user_id,
        sent_at=sent_at,
        value=value,
        problem=problem,
    )


def _id(value: Any) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str) and value.isdigit() and len(value) <= 32:
        return value
    return None


def _time(value: Any) -> datetime | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 < value < 1e11:
        return datetime.fromtimestamp(value, UTC)
    return None
