"""Caption preprocessing for sentiment: what a lexicon should read and what a language check should.

Instagram captions carry noise a sentiment lexicon misreads and signal it cannot see:

- URLs and @handles are removed: ``@killer_deals`` or ``/worst-prices`` must not score.
- Hashtags become lower-case words: ``#SoHappy`` → ``so happy``, ``#summer_vibes`` →
  ``summer vibes`` (camelCase, snake_case, letter/digit runs). An all-lower-case tag such
  as ``#sohappy`` stays one word: segmenting it with ``wordsegment`` 1.3.1 was measured on
  the 4,200 rated tweets of ``bench/sentiment_eval.py`` and changed 20 labels for no gain
  (three-class accuracy equal at the ±0.5 cut, 0.2 points lower at ±0.2), while costing
  79 MB of RAM and 2 s of start-up, and it splits brand tags badly (``#instagood`` →
  "inst a good").
- Emoji are canonicalised before lookup: variation selectors (U+FE0E, U+FE0F) and skin-tone
  modifiers (U+1F3FB–U+1F3FF) are dropped, so ``❤️`` and ``❤`` or ``👍🏽`` and ``👍`` are one
  emoji. This is the failure of vaderSentiment issue #99: VADER looks emoji up one code point
  at a time, so its lexicon's multi-code-point keys (``❤️``, ``👶🏻``, ZWJ sequences) never
  match and ``❤️`` scores 0.0 while ``❤`` scores +0.64.
- :func:`emoji_to_words` then names each whole emoji sequence (ZWJ sequences included:
  ``❤️‍🔥`` is "heart on fire", not "red heart" + "fire") with its CLDR short name from the
  ``emoji`` package, newer and more complete than VADER's 2019 emoji table.

Every function here is pure (no I/O, no state); the language gate's inputs come from
:func:`language_text`, :func:`distinct_words` and :func:`count_letters`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping

import emoji

__all__ = [
    "clean_caption",
    "count_letters",
    "distinct_words",
    "emoji_to_words",
    "expand_hashtags",
    "language_text",
    "remove_handles",
    "remove_urls",
    "split_hashtag",
    "strip_emoji_modifiers",
]

# U+FE0E/U+FE0F pick text or emoji presentation; U+1F3FB–U+1F3FF are the five skin tones.
# Neither changes what an emoji means for sentiment, and both break exact-key lookups.
_EMOJI_MODIFIERS = re.compile("[\ufe0e\ufe0f\U0001f3fb-\U0001f3ff]")
_URL = re.compile(r"(?:\bhttps?://|\bwww\.)\S+", re.IGNORECASE)
# Instagram usernames are ASCII letters, digits, "_" and "."; the look-behind spares e-mails.
_HANDLE = re.compile(r"(?<![\w.@])@[A-Za-z0-9_.]+")
_HASHTAG = re.compile(r"(?<![\w#&])#(\w+)")
_SPACES = re.compile(r"\s+")


_MAYBE_EMOJI = re.compile(
    "[\u00a9\u00ae\u2000-\u3300\ufe0f\U0001f000-\U0001faff\U000e0020-\U000e007f]"
)
"""Every emoji has a code point in these ranges; text with none of them has no emoji."""
_EMOJI_RUN = re.compile(
    "[#*0-9]?[\u00a9\u00ae\u2000-\u3300\ufe0f\U0001f000-\U0001faff\U000e0020-\U000e007f]+"
)
"""A run of such code points, with the ``#``, ``*`` or digit a keycap starts with.

Once variation selectors are stripped, every code point of an emoji sequence lies in the
ranges above except a keycap's first, so no emoji crosses the edge of a run: naming the runs
one by one names the same emoji as scanning the whole text, without walking the emoji
package's tokenizer over every letter of the caption.
"""


def strip_emoji_modifiers(text: str) -> str:
    """Drop variation selectors and skin-tone modifiers, keeping the base emoji and ZWJs."""
    return _EMOJI_MODIFIERS.sub("", text)


def remove_urls(text: str) -> str:
    """Replace ``http(s)://`` and ``www.`` links with a space."""
    return _URL.sub(" ", text)


def remove_handles(text: str) -> str:
    """Replace ``@username`` mentions with a space; e-mail addresses are left alone."""
    return _HANDLE.sub(" ", text)


def _is_boundary(prev: str, cur: str, nxt: str) -> bool:
    """Whether a word starts at ``cur`` inside a hashtag (camelCase, acronym end, digit run)."""
    if prev.islower() and cur.isupper():
        return True
    if prev.isupper() and cur.isupper() and nxt.islower():
        return True
    return prev.isalpha() != cur.isalpha() and (prev.isdigit() or cur.isdigit())


def split_hashtag(tag: str) -> str:
    """Turn ``#SoHappy`` / ``summer_vibes`` / ``Top10`` into lower-case words."""
    words: list[str] = []
    for part in tag.lstrip("#").split("_"):
        start = 0
        for i in range(1, len(part)):
            nxt = part[i + 1] if i + 1 < len(part) else ""
            if _is_boundary(part[i - 1], part[i], nxt):
                words.append(part[start:i])
                start = i
        words.append(part[start:])
    return " ".join(word.lower() for word in words if word)


def expand_hashtags(text: str) -> str:
    """Replace every ``#tag`` in ``text`` with its words (see :func:`split_hashtag`)."""
    return _HASHTAG.sub(lambda match: f" {split_hashtag(match.group(1))} ", text)


def clean_caption(text: str) -> str:
    """The caption as a sentiment model should read it: no links or handles, tags as words."""
    cleaned = expand_hashtags(remove_handles(remove_urls(text)))
    return _SPACES.sub(" ", strip_emoji_modifiers(cleaned)).strip()


def emoji_to_words(text: str, overrides: Mapping[str, str] | None = None) -> str:
    """Replace each emoji sequence with words: ``overrides`` first, else its CLDR short name.

    ``overrides`` is keyed by canonical emoji (no variation selector, no skin tone), since
    lookup happens after :func:`strip_emoji_modifiers`.
    """
    chosen = overrides or {}

    def describe(found: str, data: dict[str, str]) -> str:
        words = chosen.get(found) or data["en"].strip(":").replace("_", " ")
        return f" {words} "

    if not _MAYBE_EMOJI.search(text):
        return text  # most captions' text parts: skip the emoji tokenizer, the costly step
    return _SPACES.sub(" ", _replace_emoji(strip_emoji_modifiers(text), describe)).strip()


def _replace_emoji(text: str, replace: str | Callable[[str, dict[str, str]], str]) -> str:
    """``emoji.replace_emoji`` over the runs that may hold emoji (see ``_EMOJI_RUN``)."""
    return _EMOJI_RUN.sub(lambda run: emoji.replace_emoji(run.group(0), replace), text)


def language_text(text: str) -> str:
    """The caption as a language identifier should read it: words only.

    Hashtags are removed rather than split because brands tag in English whatever the
    caption's language (``#love #instagood``); emoji, links and handles carry no language.
    """
    words = _HASHTAG.sub(" ", remove_handles(remove_urls(text)))
    if _MAYBE_EMOJI.search(words):
        words = _replace_emoji(strip_emoji_modifiers(words), " ")
    return _SPACES.sub(" ", words).strip()


def distinct_words(text: str) -> str:
    """Each word once, case-folded: repetition ("yay yay yay") is no extra language evidence."""
    return " ".join(dict.fromkeys(text.casefold().split()))


def count_letters(text: str) -> tuple[int, int]:
    """Return ``(letters, latin_letters)``: how much evidence a language identifier gets."""
    letters = [char for char in text if char.isalpha()]
    latin = sum(1 for char in letters if unicodedata.name(char, "").startswith("LATIN"))
    return len(letters), latin
