"""Sentiment of a caption: a label, a compound score and the model that produced them.

The data path is ``SentimentPipeline.score(caption) -> Sentiment``::

    caption ─┬─ language_text ─ LanguageIdentifier.rank ─ language gate ─┐
             │                                                          │ supported?
             └─ clean_caption ─ Analyzer.score ────────────────────────┴─ Sentiment

- An :class:`Analyzer` scores text in the languages it declares. The default,
  :class:`VaderAnalyzer`, is VADER (Hutto & Gilbert, ICWSM 2014) from ``vaderSentiment``,
  English only, with the paper's ±0.05 thresholds on its compound score.
- The language gate turns a caption the analyzer cannot read into ``unsupported`` instead
  of a false ``neutral`` (VADER scores "Muito obrigada pelo carinho" 0.0). Captions too
  short or too wordless to identify — "ok 👍", "🔥🔥🔥", "#tbt" — are scored, because their
  emoji and words carry sentiment any analyzer can read. The rule is :func:`gate`.
- ``Sentiment.model`` stores ``"<name>-<version>"`` with every label so that documents
  scored by an older model can be found and rescored. ``VaderAnalyzer.version`` ends in
  ``+listener-N``; bump :data:`LISTENER_REVISION` whenever this module or ``text.py``
  changes what a caption scores.

- The default identifier, :class:`FastTextIdentifier`, is fastText's compressed
  language-ID model ``lid.176.ftz`` (Joulin et al., 2016-2017; CC BY-SA 3.0), shipped in
  ``data/`` with its source and checksum in ``data/NOTICE.md`` and run by
  ``fasttext-predict``: about 6 MiB resident and 25 µs a caption.

Building a :class:`VaderAnalyzer` or :class:`FastTextIdentifier` reads the lexicon or
model that the package ships (once, in the composition root); scoring does no I/O, keeps
no state, and is safe to call from several threads on one shared pipeline. For fastText
that rests on two facts of fasttext-predict 0.9.2.4: ``FastText::predictLine`` is
``const`` and allocates its working state per call, and the binding holds the GIL for
the whole call, so threads sharing one model take turns.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib.metadata import version as distribution_version
from pathlib import Path
from typing import Final, Literal, Protocol

# fasttext-predict 0.9.2.4 and vaderSentiment 3.3.2 ship no type hints; each is used in one
# wrapper below whose results are rebuilt as typed values.
import fasttext  # type: ignore[import-untyped]  # the package ships no type information
from vaderSentiment.vaderSentiment import (  # type: ignore[import-untyped]  # the package ships no type information
    SentimentIntensityAnalyzer,
)

from listener.enrich.text import (
    clean_caption,
    count_letters,
    distinct_words,
    emoji_to_words,
    language_text,
)
from listener.errors import ModelFileError

__all__ = [
    "LID_FLOOR",
    "LID_MODEL",
    "LID_MODEL_SHA256",
    "LISTENER_REVISION",
    "MIN_CONFIDENCE",
    "MIN_LETTERS",
    "NEGATIVE_AT",
    "POSITIVE_AT",
    "SUPPORTED_MASS",
    "VADER_EMOJI_WORDS",
    "Analyzer",
    "FastTextIdentifier",
    "Label",
    "LanguageIdentifier",
    "Sentiment",
    "SentimentPipeline",
    "VaderAnalyzer",
    "gate",
    "label_for",
]

Label = Literal["positive", "negative", "neutral", "unsupported"]

#: The VADER paper's thresholds on the compound score (Hutto & Gilbert 2014, section 4).
POSITIVE_AT: Final = 0.05
NEGATIVE_AT: Final = -0.05

#: Bumped whenever preprocessing, emoji words, thresholds or the gate change a score.
LISTENER_REVISION: Final = 2

# The language gate's constants were chosen for fastText's probabilities on development data
# kept apart from the bench's caption table: the 4,200 rated tweets (six of them not English),
# 25 non-English and 20 short English captions (GATE_DEV_* in bench/sentiment_eval.py, which
# reports all three). MIN_LETTERS is the smallest value past which false "unsupported" tweets
# stop falling, MIN_CONFIDENCE the highest before non-English dev captions slip through, and
# SUPPORTED_MASS the lowest that still catches five of the six non-English tweets.
#: Latin-script text with fewer letters than this is too short to identify ("ok", "lol").
MIN_LETTERS: Final = 12
#: Below this top probability the identifier is guessing; the caption is scored.
MIN_CONFIDENCE: Final = 0.6
#: If the supported languages keep this much probability, give the caption the benefit of
#: the doubt (English-lexified text such as Nigerian Pidgin, which VADER reads fairly).
SUPPORTED_MASS: Final = 0.05
# ISO 639-3 "no linguistic content": a verdict about the text, not a language.
_NO_LANGUAGE: Final = "zxx"

#: fastText's ``lid.176.ftz`` as published (see ``data/NOTICE.md``), checked before loading.
LID_MODEL: Final = Path(__file__).parent / "data" / "lid.176.ftz"
LID_MODEL_SHA256: Final = "8f3472cfe8738a7b6099e8e999c3cbfae0dcd15696aac7d7738a8039db603e83"
#: Languages less likely than this are left out of :meth:`FastTextIdentifier.rank`.
LID_FLOOR: Final = 0.001
_LABEL: Final = "__label__"

#: Emoji whose CLDR name VADER misreads, and the VADER lexicon word that says what they
#: mean. Evidence: the Emoji Sentiment Ranking (Kralj Novak et al., PLOS ONE 2015; tweets
#: labelled by human annotators), quoted as negative / neutral / positive occurrences.
VADER_EMOJI_WORDS: Final[Mapping[str, str]] = {
    # "broken heart" scores +0.27: VADER's -2.9 idiom for it needs three words before it.
    "💔": "heartbroken",  # 136 / 96 / 96
    # "fire" is -1.4 in the lexicon; on Instagram 🔥 is praise.
    "🔥": "cool",  # 80 / 400 / 171
    # "thumbs up/down", "clapping hands", "raising hands" have no lexicon word at all.
    "👍": "approval",  # 213 / 460 / 1181
    "👎": "dislike",  # 128 / 51 / 79
    "👏": "applause",  # 243 / 634 / 1459
    "🙌": "celebrate",  # 152 / 358 / 996; Unicode: "... raising both hands in celebration"
    # Newer than the ranking (Emoji 5.0); "face vomiting" has no lexicon word; it means disgust.
    "🤮": "disgusted",
}


def _warm_emoji_tree() -> None:
    """Build the emoji package's search tree now, before any thread shares this object.

    The package fills a module-level dict in place on first use, so concurrent first calls
    could read a half-built tree; later calls only read it.
    """
    emoji_to_words("👍")


def label_for(compound: float) -> Label:
    """Map a compound score in [-1, 1] to a label with the ±0.05 thresholds."""
    if compound >= POSITIVE_AT:
        return "positive"
    if compound <= NEGATIVE_AT:
        return "negative"
    return "neutral"


@dataclass(frozen=True, slots=True)
class Sentiment:
    """A caption's sentiment as stored with the media.

    ``score`` is the analyzer's compound in [-1, 1] (0.0 when ``unsupported``); ``model``
    is ``"<analyzer name>-<analyzer version>"``; ``language`` is the identified language
    code (ISO 639-1, or 639-3 where there is none) or ``None`` when the text was too short
    or ambiguous to identify.
    """

    label: Label
    score: float
    model: str
    language: str | None = None

    def __post_init__(self) -> None:
        """Reject scores outside [-1, 1] and an unsupported label with a score."""
        if not -1.0 <= self.score <= 1.0:
            raise ValueError(f"sentiment score {self.score} is outside [-1, 1]")
        if self.label == "unsupported" and self.score != 0.0:
            raise ValueError("an unsupported caption has score 0.0")


class Analyzer(Protocol):
    """Scores cleaned caption text in the languages it declares."""

    name: str
    version: str
    languages: frozenset[str]

    def score(self, text: str) -> Sentiment:
        """Score ``text``, already cleaned by :func:`~listener.enrich.text.clean_caption`."""
        ...


class LanguageIdentifier(Protocol):
    """Ranks the languages a text may be in."""

    def rank(self, text: str) -> Sequence[tuple[str, float]]:
        """Languages with their probabilities, most likely first.

        The probabilities sum to at most 1: an identifier may leave out unlikely languages,
        which the gate then counts as 0.
        """
        ...


class VaderAnalyzer:
    """VADER with emoji read as words; English only."""

    name: str = "vader"

    def __init__(self, emoji_words: Mapping[str, str] = VADER_EMOJI_WORDS) -> None:
        """Load VADER's shipped lexicon once."""
        self.version = f"{distribution_version('vaderSentiment')}+listener-{LISTENER_REVISION}"
        self.languages = frozenset({"en"})
        self.model = f"{self.name}-{self.version}"
        self._emoji_words = dict(emoji_words)
        self._vader = SentimentIntensityAnalyzer()
        _warm_emoji_tree()

    def score(self, text: str) -> Sentiment:
        """Name each emoji in words, then take VADER's compound score."""
        words = emoji_to_words(text, self._emoji_words)
        compound = float(self._vader.polarity_scores(words)["compound"])
        return Sentiment(label=label_for(compound), score=compound, model=self.model)


class FastTextIdentifier:
    """fastText's language-ID model ``lid.176.ftz`` (176 languages), shipped in the package.

    Codes are ISO 639-1 where one exists, else three letters (``ceb``, ``ast``). Languages
    below :data:`LID_FLOOR` are left out of a ranking: asking fastText for all of them
    doubles the cost of a call, and the gate's sums lose less than the floor per language.
    Text with no word the model knows gets its prior, English at 0.12.
    """

    def __init__(self, model: Path = LID_MODEL, sha256: str = LID_MODEL_SHA256) -> None:
        """Check the model file's SHA-256, then load it (under 0.1 s, about 6 MiB resident)."""
        try:
            data = model.read_bytes()
        except OSError as exc:
            raise ModelFileError(
                f"language model {model} cannot be read ({exc.strerror or exc}); "
                "reinstall the listener package"
            ) from exc
        digest = hashlib.sha256(data).hexdigest()
        if digest != sha256:
            raise ModelFileError(
                f"language model {model} has SHA-256 {digest}, not {sha256}: the file is "
                "altered or truncated; reinstall the listener package"
            )
        self._model = fasttext.load_model(str(model))

    def rank(self, text: str) -> list[tuple[str, float]]:
        """Languages at or above :data:`LID_FLOOR` with their probabilities, most likely first."""
        # fastText reads one line and refuses "\n"; the C++ side takes UTF-8, which a lone
        # surrogate (a caption cut inside an emoji's pair) cannot be encoded as.
        line = text.replace("\n", " ").encode("utf-8", "replace").decode("utf-8")
        labels, probabilities = self._model.predict(line, k=-1, threshold=LID_FLOOR)
        return [
            (str(label).removeprefix(_LABEL), float(p))
            for label, p in zip(labels, probabilities, strict=True)
        ]


def gate(
    caption: str, identifier: LanguageIdentifier, supported: frozenset[str]
) -> tuple[str | None, bool]:
    """Decide whether ``caption`` can be scored: ``(language or None, supported)``.

    Identification reads :func:`~listener.enrich.text.language_text` (no emoji, hashtags,
    handles or links). A caption is *unsupported* only when all of these hold:

    1. it has letters, and at least :data:`MIN_LETTERS` of them in distinct words if
       mostly Latin script (a few kana or hanzi identify a language; "ok lol" or
       "yay yay yay yay" does not);
    2. the identifier's top language has probability ≥ :data:`MIN_CONFIDENCE`, is a
       language (not ``zxx``) and is not supported;
    3. the supported languages together keep less than :data:`SUPPORTED_MASS`.

    Otherwise it is scored, with ``language`` set only when a supported one was identified.
    """
    text = language_text(caption)
    letters, latin = count_letters(distinct_words(text))
    if letters == 0 or (latin * 2 > letters and letters < MIN_LETTERS):
        return None, True
    ranking = identifier.rank(text)
    if not ranking:
        return None, True
    best, probability = ranking[0]
    if best == _NO_LANGUAGE or probability < MIN_CONFIDENCE:
        return None, True
    if best in supported:
        return best, True
    if sum(p for code, p in ranking if code in supported) >= SUPPORTED_MASS:
        return None, True
    return best, False


class SentimentPipeline:
    """Caption → :class:`Sentiment`: language gate, cleaning, analyzer.

    Build one per process and share it: construction loads the models, :meth:`score` is
    pure and thread-safe. ``languages`` defaults to every language the analyzer declares;
    narrowing it (``languages={"en"}``) is allowed, widening it is a configuration error.
    """

    def __init__(
        self,
        analyzer: Analyzer,
        *,
        languages: Iterable[str] | None = None,
        identifier: LanguageIdentifier | None = None,
    ) -> None:
        """Check the languages against the analyzer's and load the identifier if not given."""
        wanted = analyzer.languages if languages is None else frozenset(languages)
        if not wanted:
            raise ValueError("a sentiment pipeline needs at least one language")
        beyond = wanted - analyzer.languages
        if beyond:
            raise ValueError(
                f"analyzer {analyzer.name!r} reads {sorted(analyzer.languages)}, "
                f"not {sorted(beyond)}: configure a multilingual analyzer or drop them"
            )
        self.languages: frozenset[str] = wanted
        self._analyzer = analyzer
        self._identifier = identifier if identifier is not None else FastTextIdentifier()
        _warm_emoji_tree()

    @property
    def model(self) -> str:
        """The ``"<name>-<version>"`` stored with every result."""
        return f"{self._analyzer.name}-{self._analyzer.version}"

    def score(self, caption: str) -> Sentiment:
        """Score one caption; ``unsupported`` (score 0.0) when its language is not supported."""
        language, supported = gate(caption, self._identifier, self.languages)
        if not supported:
            return Sentiment(label="unsupported", score=0.0, model=self.model, language=language)
        result = self._analyzer.score(clean_caption(caption))
        return dataclasses.replace(result, language=language)
