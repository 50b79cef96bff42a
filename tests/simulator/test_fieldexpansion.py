"""The Graph ``fields`` parser, by table."""

from __future__ import annotations

import pytest

from listener.simulator.fieldexpansion import FieldSpec, FieldSyntaxError, parse_fields

F = FieldSpec


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ()),
        ("   ", ()),
        ("id", (F("id"),)),
        ("id,caption,like_count", (F("id"), F("caption"), F("like_count"))),
        (" id , caption ", (F("id"), F("caption"))),
        (
            "mentioned_media.media_id(17873440459141021){caption,media_type}",
            (
                F(
                    "mentioned_media",
                    (("media_id", "17873440459141021"),),
                    (F("caption"), F("media_type")),
                ),
            ),
        ),
        (
            "mentioned_comment.comment_id(1){id,text,media{id,caption}}",
            (
                F(
                    "mentioned_comment",
                    (("comment_id", "1"),),
                    (F("id"), F("text"), F("media", children=(F("id"), F("caption")))),
                ),
            ),
        ),
        ("children{id,media_url},id", (F("children", children=(F("id"), F("media_url"))), F("id"))),
        (
            "media.limit(5).after(QVFI){id}",
            (F("media", (("limit", "5"), ("after", "QVFI")), (F("id"),)),),
        ),
        (
            "business_discovery.username(blue bottle)",
            (F("business_discovery", (("username", "blue bottle"),)),),
        ),
    ],
)
def test_parses(text: str, expected: tuple[FieldSpec, ...]) -> None:
    """Plain lists, modifiers, nested braces and whitespace parse to the expected tree."""
    assert parse_fields(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "id,,caption",
        "id,",
        ",id",
        "media{id",
        "media{}",
        "media{id}}",
        "mentioned_media.media_id(",
        "mentioned_media.media_id()",
        "mentioned_media.media_id",
        "id caption",
        "#caption",
        "caption😀",
    ],
)
def test_rejects(text: str) -> None:
    """Malformed field strings raise FieldSyntaxError with a position."""
    with pytest.raises(FieldSyntaxError) as raised:
        parse_fields(text)
    assert 0 <= raised.value.position <= len(text)


def test_modifier_lookup() -> None:
    """FieldSpec.modifier returns a modifier's argument, or None when absent."""
    (spec,) = parse_fields("mentioned_media.media_id(42){id}")
    assert spec.modifier("media_id") == "42"
    assert spec.modifier("limit") is None
