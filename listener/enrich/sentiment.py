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

Building a :class:`VaderAnalyzer` or :class:`Py3LangIdIdentifier` reads the lexicon or
model that the package ships (once, in the composition root); scoring does no I/O, keeps
no state, and is safe to call from several threads on one shared pipeline.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib.metadata import version as distribution_version
from typing import Final, Literal, Protocol

# py3langid 0.4 and vaderSentiment 3.3.2 ship no type hints; each is used in one wrapper
# below whose results are rebuilt as typed values.
from py3langid.langid import MODEL_FILE  # type: ignore[import-untyped]
from py3langid.langid import LanguageIdentifier as _LangIdModel
from vaderSentiment.vaderSentiment import (  # type: ignore[import-untyped]
    SentimentIntensityAnalyzer,
)

from listener.enrich.text import (
    clean_caption,
    count_letters,
    distinct_words,
    emoji_to_words,
    language_text,
)

__all__ = [
    "LISTENER_REVISION",
    "MIN_CONFIDENCE",
    "MIN_LETTERS",
    "NEGATIVE_AT",
    "POSITIVE_AT",
    "SUPPORTED_MASS",
    "VADER_EMOJI_WORDS",
    "Analyzer",
    "Label",
    "LanguageIdentifier",
    "Py3LangIdIdentifier",
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
LISTENER_REVISION: Final = 1

# The language gate's constants were chosen on development data kept apart from the bench's
# caption table: the 4,200 rated tweets (false "unsupported"), 25 non-English and 20 short
# English captions (GATE_DEV_* in bench/sentiment_eval.py, which reports all three).
#: Latin-script text with fewer letters than this is too short to identify ("ok", "lol").
MIN_LETTERS: Final = 10
#: Below this top probability the identifier is guessing; the caption is scored.
MIN_CONFIDENCE: Final = 0.4
#: If the supported languages keep this much probability, give the caption the benefit of
#: the doubt (English-lexified text such as Nigerian Pidgin, which VADER reads fairly).
SUPPORTED_MASS: Final = 0.1
# ISO 639-3 "no linguistic content": a verdict about the text, not a language.
_NO_LANGUAGE: Final = "zxx"

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
        """Every language with its probability (summing to 1), most likely first."""
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


class Py3LangIdIdentifier:
    """``py3langid``'s naive Bayes model (shipped in the wheel), with calibrated probabilities."""

    def __init__(self) -> None:
        """Load the 140-language model once (about 1.5 s)."""
        self._model = _LangIdModel.from_model_file(MODEL_FILE, norm_probs=True)

    def rank(self, text: str) -> list[tuple[str, float]]:
        """Every language with its probability, most likely first."""
        return [(str(code), float(p)) for code, p in self._model.rank(text)]


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
        self._identifier = identifier if identifier is not None else Py3LangIdIdentifier()
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
