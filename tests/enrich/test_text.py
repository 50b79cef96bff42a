"""Emoji naming by runs agrees with the emoji package scanning the whole text."""

from __future__ import annotations

import random

import emoji
import pytest

from listener.enrich.text import (
    _HASHTAG,
    _MAYBE_EMOJI,
    _SPACES,
    emoji_to_words,
    language_text,
    remove_handles,
    remove_urls,
    strip_emoji_modifiers,
)

# Every emoji the package knows, fully qualified and not (keycaps, flags, tag sequences,
# ZWJ sequences, skin tones), plus the text around emoji that could fool a run boundary.
EMOJI = sorted(emoji.EMOJI_DATA)
FILLERS = [
    "",
    " ",
    "a",
    "#",
    "*",
    "1",
    "12",
    "é",
    "日本",
    "–",
    "™",
    "\u200d",
    "\ufe0f",
    "\u20e3",
    ".",
    "#tag",
]


def whole_text_names(text: str) -> str:
    """The reference: the emoji package's tokenizer over the whole caption."""
    if not _MAYBE_EMOJI.search(text):
        return text

    def describe(found: str, data: dict[str, str]) -> str:
        return f" {data['en'].strip(':').replace('_', ' ')} "

    return _SPACES.sub(" ", emoji.replace_emoji(strip_emoji_modifiers(text), describe)).strip()


def random_captions(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [
        "".join(rng.choice(EMOJI) if rng.random() < 0.4 else rng.choice(FILLERS) for _ in range(8))
        for _ in range(count)
    ]


@pytest.mark.parametrize(
    "text",
    [
        "#️⃣ and *️⃣ and 1️⃣0️⃣",
        "12⃣ keycap after a digit",
        "#🔥 not a keycap",
        "🏴󠁧󠁢󠁥󠁮󠁧󠁿 England, 🇫🇷 France",
        "❤️‍🔥 and 👨‍👩‍👧 together",
        "a\u200db joined letters",
        "™ ® © ‼ 〰 ㊗",
        "café ☕️ — naïve 😊",
    ],
)
def test_naming_by_runs_matches_the_whole_text_scan(text: str) -> None:
    """Keycaps, flags, tag and ZWJ sequences are named as the package names them."""
    assert emoji_to_words(text) == whole_text_names(text)


def test_naming_by_runs_matches_on_random_mixtures_of_every_emoji() -> None:
    """Thousands of captions mixing all known emoji with letters, digits and joiners agree."""
    for text in random_captions(3000, seed=20261129):
        assert emoji_to_words(text) == whole_text_names(text), text


def test_language_text_drops_every_emoji_like_the_whole_text_scan() -> None:
    """The language check's text loses the same emoji either way."""
    for text in random_captions(1000, seed=7):
        words = _HASHTAG.sub(" ", remove_handles(remove_urls(text)))
        words = emoji.replace_emoji(strip_emoji_modifiers(words), " ")
        expected = _SPACES.sub(" ", words).strip()
        assert language_text(text) == expected, text
