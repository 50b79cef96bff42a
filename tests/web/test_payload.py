"""Reading Meta's webhook bodies: both envelopes, idempotency keys, bad changes kept aside."""

from __future__ import annotations

import json
import tracemalloc
from datetime import UTC, datetime

import pytest

from listener.web.payload import PayloadError, parse_delivery


def body(document: object) -> bytes:
    return json.dumps(document).encode()


CAPTION = {
    "object": "instagram",
    "entry": [
        {
            "id": "17841405726653026",
            "time": 1520622968,
            "changes": [{"field": "mentions", "value": {"media_id": "17918195224117851"}}],
        }
    ],
}
COMMENT = {
    "object": "instagram",
    "entry": [
        {
            "id": "17841405726653026",
            "time": 1520622968,
            "changes": [
                {
                    "field": "mentions",
                    "value": {"comment_id": "17894227972186120", "media_id": "17918195224117851"},
                }
            ],
        }
    ],
}
INSTAGRAM_LOGIN = {
    "object": "instagram",
    "entry": [
        {
            "id": "17841405726653026",
            "time": 1520622968,
            "field": "comments",
            "value": {
                "id": "17894227972186120",
                "from": {"id": "232323", "username": "ana"},
                "text": "@brand hi",
                "media": {"id": "17918195224117851", "media_product_type": "FEED"},
            },
        }
    ],
}


def test_caption_mention() -> None:
    """Meta's caption-mention example gives one event with the media id and the send time."""
    [event] = parse_delivery(body(CAPTION)).events
    assert (event.field, event.ig_user_id, event.media_id, event.comment_id) == (
        "mentions",
        "17841405726653026",
        "17918195224117851",
        None,
    )
    assert event.sent_at == datetime.fromtimestamp(1520622968, UTC)
    assert event.problem is None


def test_comment_mention() -> None:
    """Meta's comment-mention example carries the comment id too."""
    [event] = parse_delivery(body(COMMENT)).events
    assert event.comment_id == "17894227972186120"


def test_instagram_login_comments_shape() -> None:
    """The flat Instagram Login entry (field/value, no changes) is read, with the author."""
    [event] = parse_delivery(body(INSTAGRAM_LOGIN)).events
    assert (event.field, event.media_id, event.comment_id, event.username) == (
        "comments",
        "17918195224117851",
        "17894227972186120",
        "ana",
    )


def test_list_wrapped_body() -> None:
    """Meta's examples sometimes wrap the delivery in a list; it is read the same."""
    assert parse_delivery(body([CAPTION])) == parse_delivery(body(CAPTION))


def test_same_change_same_key_whatever_the_delivery() -> None:
    """A retried delivery (another time stamp) has the same key: stored once."""
    retried = json.loads(json.dumps(CAPTION))
    retried["entry"][0]["time"] = 1520629999
    assert (
        parse_delivery(body(CAPTION)).events[0].key == parse_delivery(body(retried)).events[0].key
    )
    assert (
        parse_delivery(body(CAPTION)).events[0].key != parse_delivery(body(COMMENT)).events[0].key
    )


def test_bad_change_is_kept_as_a_dead_letter() -> None:
    """A change of the wrong shape is kept with its problem; its neighbours are unharmed."""
    mixed = json.loads(json.dumps(CAPTION))
    mixed["entry"][0]["changes"].append({"field": "mentions", "value": {"oops": 1}})
    mixed["entry"][0]["changes"].append("junk")
    good, missing, junk = parse_delivery(body(mixed)).events
    assert good.problem is None
    assert missing.problem == "mention without a media_id"
    assert junk.problem == "a change is not an object"


def test_unknown_fields_are_kept() -> None:
    """A field the listener does not handle is still stored (and settled as skipped later)."""
    other = json.loads(json.dumps(CAPTION))
    other["entry"][0]["changes"] = [{"field": "story_insights", "value": {"reach": 5}}]
    [event] = parse_delivery(body(other)).events
    assert (event.field, event.problem, event.media_id) == ("story_insights", None, None)


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b"\xff\xfe",
        b"42",
        b'{"object": "page", "entry": []}',
        b'{"object": "instagram"}',
        b'{"object": "instagram", "entry": [{"time": 1}]}',
        b'{"object": "instagram", "entry": [{"id": "1", "changes": "x"}]}',
        b'{"object": "instagram", "entry": [{"id": "1", "messaging": {"sender": {}}}]}',
        b"[1, 2]",
    ],
)
def test_not_a_delivery(raw: bytes) -> None:
    """Bodies that are not a delivery at all are refused whole."""
    with pytest.raises(PayloadError):
        parse_delivery(raw)


def test_messaging_items_are_counted_not_stored() -> None:
    """Messaging (and standby) items beside changes are skipped parts, one per item."""
    mixed = json.loads(json.dumps(CAPTION))
    mixed["entry"][0]["messaging"] = [{"sender": {"id": "1"}}, {"read": {"mid": "m"}}]
    mixed["entry"].append({"id": "17841405726653026", "standby": [{"sender": {"id": "2"}}]})
    delivery = parse_delivery(body(mixed))
    assert [e.field for e in delivery.events] == ["mentions"]
    assert delivery.skipped == ("messaging", "messaging", "standby")


def test_hostile_size_of_batch_is_refused() -> None:
    """More changes than Meta ever batches is refused rather than stored."""
    flood = {
        "object": "instagram",
        "entry": [
            {
                "id": "1",
                "changes": [
                    {"field": "mentions", "value": {"media_id": str(i)}} for i in range(5001)
                ],
            }
        ],
    }
    with pytest.raises(PayloadError, match="more than"):
        parse_delivery(body(flood))


@pytest.mark.parametrize(
    "raw",
    [
        b"[" * 100_000 + b"]" * 100_000,
        b'{"object": "instagram", "entry": [{"id": "1", "changes": [{"field": "mentions", '
        b'"value": ' + b'{"a": ' * 5000 + b"{}" + b"}" * 5000 + b"}]}]}",
    ],
    ids=["whole-body", "one-change"],
)
def test_nesting_too_deep_to_read_is_not_a_delivery(raw: bytes) -> None:
    """JSON nested deeper than Python recurses is refused like any body that is not a delivery."""
    with pytest.raises(PayloadError, match="nested too deeply"):
        parse_delivery(raw)


def test_a_flood_of_changes_is_refused_before_any_is_read() -> None:
    """1 MiB of 350,000 empty changes is refused for the memory its JSON takes, no more."""
    flood = (
        b'{"object": "instagram", "entry": [{"id": "1", "changes": ['
        + b",".join([b"{}"] * 350_000)
        + b"]}]}"
    )
    tracemalloc.start()
    try:
        json.loads(flood)
        decoded = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        with pytest.raises(PayloadError, match="more than 5000 changes"):
            parse_delivery(flood)
        parsed = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert parsed < decoded * 1.5


def test_the_cap_counts_every_entry_shape() -> None:
    """Flat Instagram Login entries and messaging items count towards the cap too."""
    flat = {"id": "1", "field": "mentions", "value": {"media_id": "1"}}
    messaging = {"id": "1", "messaging": [{}] * 2500}
    for entries in ([flat] * 5001, [messaging, messaging, flat]):
        with pytest.raises(PayloadError, match="more than 5000 changes"):
            parse_delivery(body({"object": "instagram", "entry": entries}))
    assert len(parse_delivery(body({"object": "instagram", "entry": [flat] * 5000})).events) == 5000
