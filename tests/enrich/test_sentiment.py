"""Sentiment: caption preprocessing, the language gate, labels, the model string, determinism."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path

import pytest

from listener.enrich.sentiment import (
    LID_FLOOR,
    LID_MODEL,
    LID_MODEL_SHA256,
    LISTENER_REVISION,
    MIN_CONFIDENCE,
    VADER_EMOJI_WORDS,
    FastTextIdentifier,
    Label,
    Sentiment,
    SentimentPipeline,
    VaderAnalyzer,
    gate,
    label_for,
)
from listener.enrich.text import (
    clean_caption,
    count_letters,
    distinct_words,
    emoji_to_words,
    expand_hashtags,
    language_text,
    split_hashtag,
    strip_emoji_modifiers,
)
from listener.errors import ModelFileError

VS16 = "\ufe0f"
ZWJ = "\u200d"


@pytest.fixture(scope="module")
def pipeline() -> SentimentPipeline:
    """One English pipeline for the module: loading VADER and fastText takes about a second."""
    return SentimentPipeline(VaderAnalyzer(), languages={"en"})


# --- preprocessing -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tag", "words"),
    [
        pytest.param("#SoHappy", "so happy", id="camel-case"),
        pytest.param("#BestDayEver", "best day ever", id="camel-case-three"),
        pytest.param("#summer_vibes", "summer vibes", id="snake-case"),
        pytest.param("#Summer_VibesOnly", "summer vibes only", id="snake-and-camel"),
        pytest.param("#NYCParty", "nyc party", id="acronym-then-word"),
        pytest.param("#Top10", "top 10", id="letters-then-digits"),
        pytest.param("#2024Goals", "2024 goals", id="digits-then-letters"),
        pytest.param("#ÉtéHeureux", "été heureux", id="non-ascii-camel-case"),
        pytest.param("#sohappy", "sohappy", id="all-lower-case-stays-one-word"),
        pytest.param("#SAD", "sad", id="all-caps-is-one-word"),
        pytest.param("NoHash", "no hash", id="without-hash-sign"),
    ],
)
def test_split_hashtag(tag: str, words: str) -> None:
    """Hashtags split on case changes, underscores and digit runs, and come out lower case."""
    assert split_hashtag(tag) == words


@pytest.mark.parametrize(
    ("text", "expanded"),
    [
        pytest.param("#SoHappy today", " so happy  today", id="leading-tag"),
        pytest.param("brunch #blessed", "brunch  blessed ", id="trailing-tag"),
        pytest.param("#a#b", " a #b", id="glued-tag-is-not-a-second-tag"),
        pytest.param("C# and F#", "C# and F#", id="language-names-untouched"),
        pytest.param("it&#39;s", "it&#39;s", id="html-entity-untouched"),
    ],
)
def test_expand_hashtags(text: str, expanded: str) -> None:
    """Only a ``#`` that starts a word opens a hashtag; the tag is replaced by its words."""
    assert expand_hashtags(text) == expanded


@pytest.mark.parametrize(
    ("text", "stripped"),
    [
        pytest.param(f"\u2764{VS16}", "\u2764", id="red-heart-vs16"),
        pytest.param("\u2615\ufe0e", "\u2615", id="text-presentation-vs15"),
        pytest.param("👍🏽", "👍", id="skin-tone"),
        pytest.param("👏🏻👏🏿", "👏👏", id="two-skin-tones"),
        pytest.param(f"🤦{ZWJ}\u2640{VS16}", f"🤦{ZWJ}\u2640", id="zwj-kept"),
        pytest.param(f"👩🏽{ZWJ}💻", f"👩{ZWJ}💻", id="skin-tone-inside-zwj"),
        pytest.param("plain words", "plain words", id="no-emoji"),
    ],
)
def test_strip_emoji_modifiers(text: str, stripped: str) -> None:
    """Variation selectors and skin tones go; base emoji and zero-width joiners stay."""
    assert strip_emoji_modifiers(text) == stripped


@pytest.mark.parametrize(
    ("text", "words"),
    [
        pytest.param(f"\u2764{VS16}", "red heart", id="red-heart-vs16"),
        pytest.param("\u2764", "red heart", id="red-heart-bare"),
        pytest.param("☺️", "smiling face", id="smiling-face-vs16"),
        pytest.param("👍🏽", "thumbs up", id="skin-tone"),
        pytest.param("🫶🏼", "heart hands", id="emoji-14-with-skin-tone"),
        pytest.param(f"\u2764{VS16}{ZWJ}🔥", "heart on fire", id="zwj-heart-on-fire"),
        pytest.param(f"🤦{ZWJ}\u2640{VS16}", "woman facepalming", id="zwj-gendered"),
        pytest.param(f"👨{ZWJ}👩{ZWJ}👧", "family man woman girl", id="zwj-family"),
        pytest.param("so good😋", "so good face savoring food", id="glued-to-a-word"),
        pytest.param("😂😂", "face with tears of joy face with tears of joy", id="repeated"),
        pytest.param("no emoji here", "no emoji here", id="no-emoji"),
    ],
)
def test_emoji_to_words(text: str, words: str) -> None:
    """Whole emoji sequences, with or without modifiers, become their CLDR names."""
    assert emoji_to_words(text) == words


def test_emoji_overrides_apply_to_every_skin_tone() -> None:
    """An override keyed by the base emoji also replaces its skin-toned forms."""
    assert emoji_to_words("👍🏿 👍", {"👍": "approval"}) == "approval approval"


def test_vader_emoji_overrides_are_keyed_by_canonical_emoji() -> None:
    """Every override key is modifier-free, since lookup happens after stripping modifiers."""
    assert all(strip_emoji_modifiers(key) == key for key in VADER_EMOJI_WORDS)


@pytest.mark.parametrize(
    ("caption", "cleaned"),
    [
        pytest.param(
            "Great collab with @the_brand https://example.com/promo?x=1",
            "Great collab with",
            id="handle-and-url",
        ),
        pytest.param("Shop now @killer_deals link in bio", "Shop now link in bio", id="handle"),
        pytest.param("New drop www.shop.example/worst-prices now", "New drop now", id="www-url"),
        pytest.param("HTTPS://EXAMPLE.COM/x wow", "wow", id="upper-case-url"),
        pytest.param("thanks @anna.b_99.", "thanks", id="handle-with-dots"),
        pytest.param("write to me@example.com", "write to me@example.com", id="email-kept"),
        pytest.param("#SoHappy with @brand ❤️", "so happy with ❤", id="tags-handles-emoji"),
        pytest.param("  spaced \n\n out  ", "spaced out", id="whitespace-collapsed"),
    ],
)
def test_clean_caption(caption: str, cleaned: str) -> None:
    """URLs and handles are removed, hashtags become words, emoji lose their modifiers."""
    assert clean_caption(caption) == cleaned


@pytest.mark.parametrize(
    ("caption", "text"),
    [
        pytest.param("Me encanta 😍 #love @brand", "Me encanta", id="spanish-with-english-tags"),
        pytest.param("🔥🔥🔥 #ootd", "", id="emoji-and-tags-only"),
        pytest.param("今日は最高 https://t.co/x", "今日は最高", id="japanese-with-url"),
    ],
)
def test_language_text_keeps_only_words(caption: str, text: str) -> None:
    """The identifier reads no emoji, hashtags, handles or links."""
    assert language_text(caption) == text


@pytest.mark.parametrize(
    ("text", "distinct"),
    [
        pytest.param("Yay yay YAY", "yay", id="case-folded-repeats"),
        pytest.param("death death to death", "death to", id="first-occurrence-order"),
        pytest.param("", "", id="empty"),
    ],
)
def test_distinct_words(text: str, distinct: str) -> None:
    """Repeated words count once, so "yay yay yay" is as little evidence as "yay"."""
    assert distinct_words(text) == distinct


@pytest.mark.parametrize(
    ("text", "counts"),
    [
        pytest.param("ok lol", (5, 5), id="latin"),
        pytest.param("ありがとう", (5, 0), id="kana"),
        pytest.param("café 2024!", (4, 4), id="accented-latin-digits-punctuation"),
        pytest.param("", (0, 0), id="empty"),
    ],
)
def test_count_letters(text: str, counts: tuple[int, int]) -> None:
    """Letters are counted with how many are Latin script; digits and punctuation are not."""
    assert count_letters(text) == counts


# --- labels -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("compound", "label"),
    [
        pytest.param(1.0, "positive", id="max"),
        pytest.param(0.05, "positive", id="at-positive-threshold"),
        pytest.param(0.0499, "neutral", id="just-below-positive"),
        pytest.param(0.0, "neutral", id="zero"),
        pytest.param(-0.0499, "neutral", id="just-above-negative"),
        pytest.param(-0.05, "negative", id="at-negative-threshold"),
        pytest.param(-1.0, "negative", id="min"),
    ],
)
def test_label_for_uses_the_papers_thresholds(compound: float, label: Label) -> None:
    """Compound ≥ 0.05 is positive, ≤ -0.05 negative, between is neutral."""
    assert label_for(compound) == label


@pytest.mark.parametrize(
    ("caption", "label"),
    [
        pytest.param("I love this so much!", "positive", id="love"),
        pytest.param("This is the worst service ever.", "negative", id="worst"),
        pytest.param("The package arrived on Tuesday.", "neutral", id="factual"),
        pytest.param("Not happy with the delivery 👎", "negative", id="negated-and-thumbs-down"),
        pytest.param("Can't wait for the weekend 😍 #SummerVibes", "positive", id="emoji-tag"),
        pytest.param("Thank you @brand for the gift 🙏🏽 #blessed", "positive", id="thanks"),
        pytest.param("#SoHappy #BestDayEver", "positive", id="hashtags-only"),
        pytest.param("#NotHappy with the delivery", "negative", id="negating-hashtag"),
        pytest.param("Shop now @killer_deals link in bio", "neutral", id="handle-not-scored"),
        pytest.param("New collection https://x.example/worst-ever", "neutral", id="url-not-scored"),
        pytest.param("", "neutral", id="empty"),
    ],
)
def test_labels_on_clear_cases(pipeline: SentimentPipeline, caption: str, label: Label) -> None:
    """Unambiguous English captions get the label a reader would give."""
    assert pipeline.score(caption).label == label


@pytest.mark.parametrize(
    ("with_vs16", "without"),
    [
        pytest.param(f"\u2764{VS16}", "\u2764", id="alone"),
        pytest.param(f"Happy anniversary \u2764{VS16}", "Happy anniversary \u2764", id="sentence"),
        pytest.param(f"\u2764{VS16}\u2764{VS16}\u2764{VS16}", "\u2764\u2764\u2764", id="three"),
    ],
)
def test_red_heart_scores_the_same_with_and_without_vs16(
    pipeline: SentimentPipeline, with_vs16: str, without: str
) -> None:
    """❤️ (U+2764 U+FE0F) scores exactly like ❤ (U+2764), and positive (vaderSentiment #99)."""
    scored, bare = pipeline.score(with_vs16), pipeline.score(without)
    assert scored == bare
    assert scored.label == "positive"


@pytest.mark.parametrize(
    ("caption", "label"),
    [
        pytest.param("🔥🔥🔥", "positive", id="fire"),
        pytest.param("👍🏽", "positive", id="thumbs-up-skin-tone"),
        pytest.param("🫶🏼", "positive", id="heart-hands-skin-tone"),
        pytest.param(f"\u2764{VS16}{ZWJ}🔥", "positive", id="zwj-heart-on-fire"),
        pytest.param("😡", "negative", id="enraged"),
        pytest.param("💔", "negative", id="broken-heart"),
        pytest.param("ok 👍", "positive", id="ok-thumbs-up"),
        pytest.param("lol 😂", "positive", id="lol"),
        pytest.param(f"🤷{ZWJ}\u2642{VS16}", "neutral", id="shrug"),
        pytest.param("📸 #tbt", "neutral", id="camera-and-tag"),
    ],
)
def test_short_and_emoji_only_captions_are_scored(
    pipeline: SentimentPipeline, caption: str, label: Label
) -> None:
    """Captions with too few letters to identify are scored on their emoji and words."""
    result = pipeline.score(caption)
    assert (result.label, result.language) == (label, None)


@pytest.mark.parametrize(
    ("caption", "language"),
    [
        pytest.param("J'adore cette robe, merci 😍", "fr", id="french"),
        pytest.param("Quelle belle journée à la plage", "fr", id="french-no-emoji"),
        pytest.param("Qué día tan horrible, todo salió mal", "es", id="spanish"),
        pytest.param("Me encanta este lugar #love", "es", id="spanish-english-tag"),
        pytest.param("Muito obrigada a todos pelo carinho", "pt", id="portuguese"),
        pytest.param("今日は最高の一日でした", "ja", id="japanese"),
        pytest.param("ありがとう", "ja", id="japanese-five-kana"),
        pytest.param("Das Essen war leider kalt und teuer", "de", id="german"),
    ],
)
def test_non_english_captions_are_unsupported(
    pipeline: SentimentPipeline, caption: str, language: str
) -> None:
    """A caption identified as another language is ``unsupported`` with score 0.0, not neutral."""
    assert pipeline.score(caption) == Sentiment(
        label="unsupported", score=0.0, model=pipeline.model, language=language
    )


def test_english_captions_carry_their_language(pipeline: SentimentPipeline) -> None:
    """An identified English caption is scored and stored with ``language="en"``."""
    assert pipeline.score("Loving my new bag, thank you so much").language == "en"


def test_an_unsure_identification_is_scored(pipeline: SentimentPipeline) -> None:
    """A caption whose top language stays below MIN_CONFIDENCE is scored, not unsupported.

    fastText gives this Portuguese caption only about 0.3: a known miss of the gate.
    """
    result = pipeline.score("Adorei o presente, obrigado ❤️")
    assert (result.label, result.language) == ("positive", None)


# --- the fastText identifier ---------------------------------------------------------------


@pytest.fixture(scope="module")
def identifier() -> FastTextIdentifier:
    """The shipped model, loaded once for the module."""
    return FastTextIdentifier()


@pytest.mark.parametrize(
    ("text", "language"),
    [
        pytest.param("Trop contente de vous retrouver ce soir", "fr", id="french"),
        pytest.param("Não gostei do atendimento", "pt", id="portuguese"),
        pytest.param("Che bella serata con gli amici", "it", id="italian"),
        pytest.param("Отличный день", "ru", id="russian"),
        pytest.param("美味しかった", "ja", id="japanese"),
        pytest.param("The package arrived on Tuesday.", "en", id="english"),
    ],
)
def test_identifier_names_languages_by_iso_code(
    identifier: FastTextIdentifier, text: str, language: str
) -> None:
    """The top language is a bare ISO code (no ``__label__``) with probability above 0.9."""
    best, probability = identifier.rank(text)[0]
    assert (best, probability > 0.9) == (language, True)


@pytest.mark.parametrize(
    ("text", "one_line"),
    [
        pytest.param("Muito obrigada\na todos", "Muito obrigada a todos", id="newline"),
        pytest.param("Muito obrigada\r\na todos", "Muito obrigada\r a todos", id="crlf"),
        pytest.param("Muito obrigada\n\n\na todos", "Muito obrigada   a todos", id="blank-lines"),
        pytest.param("\n", " ", id="only-a-newline"),
    ],
)
def test_identifier_reads_newlines_as_spaces(
    identifier: FastTextIdentifier, text: str, one_line: str
) -> None:
    """Text over several lines, which fastText refuses, ranks like the same words on one line."""
    assert identifier.rank(text) == identifier.rank(one_line)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty"),
        pytest.param("   ", id="spaces"),
        pytest.param("🔥🔥🔥", id="emoji-only"),
        pytest.param("\U0001f525\ud83d", id="lone-surrogate"),
    ],
)
def test_identifier_gives_wordless_text_its_prior(
    identifier: FastTextIdentifier, text: str
) -> None:
    """Text without words gets the model's prior: English first, too unsure for the gate."""
    best, probability = identifier.rank(text)[0]
    assert best == "en"
    assert probability < MIN_CONFIDENCE


def test_identifier_ranks_likely_languages_first(identifier: FastTextIdentifier) -> None:
    """A ranking is sorted, keeps only languages at or above LID_FLOOR, and sums to at most 1."""
    ranking = identifier.rank("Bon anniversaire ma belle")
    probabilities = [p for _, p in ranking]
    assert probabilities == sorted(probabilities, reverse=True)
    assert min(probabilities) >= LID_FLOOR
    assert sum(probabilities) <= 1.0 + 1e-4  # fastText computes in float32


def _flip_last_byte(path: Path) -> None:
    data = bytearray(LID_MODEL.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))


def _truncate(path: Path) -> None:
    path.write_bytes(LID_MODEL.read_bytes()[:1000])


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        pytest.param(None, r"cannot be read \(No such file or directory\)", id="missing"),
        pytest.param(_flip_last_byte, "has SHA-256 [0-9a-f]{64}, not 8f3472cf", id="altered"),
        pytest.param(_truncate, "altered or truncated; reinstall", id="truncated"),
    ],
)
def test_identifier_refuses_a_missing_or_altered_model(
    tmp_path: Path, damage: Callable[[Path], None] | None, message: str
) -> None:
    """A model file that is not the shipped one stops start-up with an error naming the file."""
    model = tmp_path / "lid.176.ftz"
    if damage is not None:
        damage(model)
    with pytest.raises(ModelFileError, match=message) as raised:
        FastTextIdentifier(model)
    assert str(model) in str(raised.value)


def test_shipped_model_is_the_published_file() -> None:
    """The packaged lid.176.ftz has the SHA-256 that NOTICE.md and the loader both state."""
    notice = (LID_MODEL.parent / "NOTICE.md").read_text(encoding="utf-8")
    assert hashlib.sha256(LID_MODEL.read_bytes()).hexdigest() == LID_MODEL_SHA256
    assert LID_MODEL_SHA256 in notice


# --- the language gate, branch by branch ----------------------------------------------------


@dataclass
class FixedRanking:
    """A language identifier that answers one ranking and records what it was asked."""

    ranking: Sequence[tuple[str, float]]
    asked: list[str] = field(default_factory=list)

    def rank(self, text: str) -> Sequence[tuple[str, float]]:
        """The fixed ranking."""
        self.asked.append(text)
        return self.ranking


EN = frozenset({"en"})


@pytest.mark.parametrize(
    ("caption", "ranking", "decision"),
    [
        pytest.param("🔥🔥 #ootd", [("fr", 1.0)], (None, True), id="no-letters"),
        pytest.param("merci bcp", [("fr", 1.0)], (None, True), id="nine-latin-letters"),
        pytest.param("merci ciao ok", [("fr", 1.0)], (None, True), id="eleven-latin-letters"),
        pytest.param("merci bonsoir", [("fr", 1.0)], ("fr", False), id="twelve-latin-letters"),
        pytest.param("Yay yay yay yay yay", [("qu", 0.9)], (None, True), id="repetition-is-short"),
        pytest.param("merci beaucoup", [("fr", 0.9)], ("fr", False), id="confident-french"),
        pytest.param("ありがとう", [("ja", 0.9)], ("ja", False), id="short-but-not-latin"),
        pytest.param("merci beaucoup", [("fr", 0.59)], (None, True), id="unsure"),
        pytest.param("merci beaucoup", [], (None, True), id="no-ranking"),
        pytest.param("asdfghjkl qwerty", [("zxx", 0.9)], (None, True), id="no-language"),
        pytest.param("hello there friends", [("en", 0.7)], ("en", True), id="english"),
        pytest.param(
            "how far, how tings dey go",
            [("pcm", 0.65), ("en", 0.3)],
            (None, True),
            id="supported-language-still-plausible",
        ),
        pytest.param(
            "merci beaucoup",
            [("fr", 0.6), ("en", 0.049), ("it", 0.35)],
            ("fr", False),
            id="supported-language-implausible",
        ),
    ],
)
def test_gate(caption: str, ranking: list[tuple[str, float]], decision: object) -> None:
    """Unsupported needs enough letters, a confident identification and little English mass."""
    assert gate(caption, FixedRanking(ranking), EN) == decision


def test_gate_identifies_words_only() -> None:
    """The identifier is asked about the caption without emoji, hashtags, handles or links."""
    identifier = FixedRanking([("en", 1.0)])
    gate("Best brunch ever 😍 #foodie @cafe https://x.example", identifier, EN)
    assert identifier.asked == ["Best brunch ever"]


# --- the model string, configuration, the multilingual seam --------------------------------


def test_model_string_names_vader_its_version_and_our_revision(
    pipeline: SentimentPipeline,
) -> None:
    """Every result carries ``vader-<vaderSentiment version>+listener-<revision>``."""
    expected = f"vader-{version('vaderSentiment')}+listener-{LISTENER_REVISION}"
    assert pipeline.model == expected
    assert re.fullmatch(r"vader-\d+\.\d+\.\d+\+listener-\d+", expected)
    assert pipeline.score("great").model == expected
    assert pipeline.score("Muito obrigada a todos pelo carinho").model == expected


def test_pipeline_rejects_languages_the_analyzer_cannot_read() -> None:
    """Asking VADER for Spanish is a configuration error, not a silent false neutral."""
    with pytest.raises(ValueError, match=r"reads \['en'\], not \['es'\]"):
        SentimentPipeline(VaderAnalyzer(), languages={"en", "es"}, identifier=FixedRanking([]))


def test_pipeline_rejects_no_languages() -> None:
    """An empty language set would mark every identified caption unsupported."""
    with pytest.raises(ValueError, match="at least one language"):
        SentimentPipeline(VaderAnalyzer(), languages=set(), identifier=FixedRanking([]))


class MultilingualStub:
    """An analyzer that declares English and Spanish and calls everything positive."""

    name = "stub"
    version = "1"
    languages = frozenset({"en", "es"})

    def __init__(self) -> None:
        """Record the texts it was given."""
        self.texts: list[str] = []

    def score(self, text: str) -> Sentiment:
        """Always positive 0.5."""
        self.texts.append(text)
        return Sentiment(label="positive", score=0.5, model=f"{self.name}-{self.version}")


def test_a_multilingual_analyzer_scores_the_languages_it_declares() -> None:
    """With an analyzer declaring Spanish, a Spanish caption is scored, cleaned, and tagged es."""
    analyzer = MultilingualStub()
    pipeline = SentimentPipeline(analyzer)
    result = pipeline.score("Me encanta este lugar @cafe #BuenProvecho")
    assert result == Sentiment(label="positive", score=0.5, model="stub-1", language="es")
    assert analyzer.texts == ["Me encanta este lugar buen provecho"]
    assert pipeline.score("Muito obrigada a todos pelo carinho").label == "unsupported"


@pytest.mark.parametrize(
    ("label", "score"),
    [
        pytest.param("positive", 1.5, id="above-one"),
        pytest.param("negative", -1.01, id="below-minus-one"),
        pytest.param("unsupported", 0.2, id="unsupported-with-score"),
    ],
)
def test_sentiment_rejects_impossible_values(label: Label, score: float) -> None:
    """A score outside [-1, 1], or an unsupported label with a score, cannot be built."""
    with pytest.raises(ValueError, match="score"):
        Sentiment(label=label, score=score, model="m-1")


# --- determinism and sharing --------------------------------------------------------------

CAPTIONS = [
    "I love this so much!",
    f"Happy anniversary \u2764{VS16}",
    "🔥🔥🔥",
    "Qué día tan horrible, todo salió mal",
    "#NotHappy with the delivery",
    "ok 👍",
    "今日は最高の一日でした",
]


def test_scores_are_deterministic_across_calls_and_instances(pipeline: SentimentPipeline) -> None:
    """The same caption gives the same result twice, and from a freshly built pipeline."""
    first = [pipeline.score(caption) for caption in CAPTIONS]
    again = [pipeline.score(caption) for caption in CAPTIONS]
    fresh = SentimentPipeline(VaderAnalyzer(), languages={"en"})
    assert first == again == [fresh.score(caption) for caption in CAPTIONS]


def test_one_pipeline_is_safe_to_share_between_threads(pipeline: SentimentPipeline) -> None:
    """Eight threads scoring the same captions on one pipeline get the serial results."""
    serial = [pipeline.score(caption) for caption in CAPTIONS]
    with ThreadPoolExecutor(max_workers=8) as pool:
        runs = list(pool.map(lambda _: [pipeline.score(c) for c in CAPTIONS], range(32)))
    assert all(run == serial for run in runs)
